"""The variant table of docs/ARCHITECTURE.md §2, checked on real blocks against the formulas written out by hand.

The hand formulas below call the block's own submodules (attention, MLP, norms, gates) but compose
them independently of ``resnorm.science.variants.update``.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from resnorm.science.config import ConfigError, ModelConfig
from resnorm.science.model import build_model
from resnorm.science.variants import NORM_POSITIONS, NORM_TYPES, RESIDUAL_MODES, block_dot, block_latex
from helpers import model_configs

POSITIONS = ["post", "pre", "sandwich", "deepnorm", "lns", "none"]
RESIDUALS = ["on", "off", "rezero", "scaled"]
NORMS = ["layernorm", "rmsnorm", "dyt", "derf", "batchnorm", "none"]  # derf: issue 18
ARCHS = ["decoder", "encoder", "encoder-decoder"]
FINAL_NORM = {"pre", "sandwich", "lns"}  # positions with a last N before the head (docs/ARCHITECTURE.md §2)

D, H, DFF, L, V, T, B = 16, 2, 32, 3, 11, 6, 4



_cfg = model_configs(arch="decoder", layers=L, d_model=D, heads=H, d_ff=DFF, dtype="float64", dropout=0.0)


def _randomise(model: nn.Module, seed: int = 3) -> nn.Module:
    """Random γ/β (and DyT's a) in every norm, and distinct non-zero ReZero gates."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            in_norm = ".norm_" in name or name.startswith("norm_")
            if leaf.startswith("gate_"):
                p.fill_(float(torch.rand((), generator=g)) * 1.5 + 0.2)
            elif in_norm and leaf == "weight":
                p.copy_(torch.rand(p.shape, generator=g, dtype=p.dtype) + 0.5)
            elif in_norm and leaf == "bias":
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
            elif in_norm and leaf == "alpha":
                p.fill_(float(torch.rand((), generator=g)) + 0.3)
    return model


def _x(seed=0, shape=(B, T, D)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def hand_block(block, x, *, position, residual, ell, n_layers, alpha, causal, memory=None, mlp=True):
    """One block, composed from the docs/ARCHITECTURE.md §2 table."""
    subs = [("attn", lambda h: block.attn(h, causal=causal))]
    if memory is not None:
        subs.append(("cross_attn", lambda h: block.cross_attn(h, memory)))
    if mlp:
        subs.append(("mlp", lambda h: block.mlp(h)))
    for name, F in subs:
        N = getattr(block, f"norm_{name}")
        if position == "deepnorm":
            x = N(alpha * x + F(x))
            continue
        r = torch.zeros_like(x) if residual == "off" else x  # r(x)
        if residual == "rezero":
            gate = getattr(block, f"gate_{name}")
            b = lambda y, gate=gate: gate * y  # noqa: E731
        elif residual == "scaled":
            b = lambda y: y * (1.0 / math.sqrt(2 * n_layers))  # noqa: E731
        else:
            b = lambda y: y  # noqa: E731
        if position == "post":
            x = N(r + b(F(x)))
        elif position == "pre":
            x = r + b(F(N(x)))
        elif position == "sandwich":
            N_out = getattr(block, f"norm_{name}_out")
            x = r + b(N_out(F(N(x))))
        elif position == "lns":
            x = r + b(F(N(x) * (1.0 / math.sqrt(ell))))
        elif position == "none":
            x = r + b(F(x))
        else:
            raise AssertionError(position)
    return x


VALID = [(p, r) for p in POSITIONS for r in RESIDUALS if p != "deepnorm" or r == "on"]


@pytest.mark.parametrize("position,residual", VALID)
def test_block_matches_hand_formula(position, residual):
    model = _randomise(build_model(_cfg(norm_position=position, residual=residual), V, T, seed=0))
    model.eval()
    alpha = (2 * L) ** 0.25
    for i, block in enumerate(model.blocks):
        x = _x(seed=i)
        got = block(x)
        want = hand_block(block, x, position=position, residual=residual, ell=i + 1, n_layers=L,
                          alpha=alpha, causal=True)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        # the residual path is really there (or really absent): compare with the other choice
        if residual == "on" and position in ("pre", "none", "sandwich", "lns"):
            no_skip = hand_block(block, x, position=position, residual="off", ell=i + 1, n_layers=L,
                                 alpha=alpha, causal=True)
            assert (got - no_skip).abs().max() > 1e-3


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm", "dyt", "derf", "batchnorm"])
@pytest.mark.parametrize("position", ["post", "pre", "sandwich", "deepnorm", "lns"])
def test_block_formula_each_norm_type(position, norm):
    model = _randomise(build_model(_cfg(norm_position=position, norm=norm, arch="encoder"), V, T, seed=1))
    model.train()  # batchnorm: batch statistics; every other part is deterministic with dropout 0
    block = model.blocks[1]
    x = _x(seed=7)
    want = hand_block(block, x, position=position, residual="on", ell=2, n_layers=L,
                      alpha=(2 * L) ** 0.25, causal=False)
    torch.testing.assert_close(block(x), want, rtol=1e-12, atol=1e-12)


def test_sandwich_has_two_distinct_norms_and_none_has_no_norm():
    m = build_model(_cfg(norm_position="sandwich"), V, T, seed=0)
    blk = m.blocks[0]
    assert blk.norm_attn is not blk.norm_attn_out
    assert isinstance(blk.norm_attn, nn.LayerNorm) and isinstance(blk.norm_attn_out, nn.LayerNorm)
    m = build_model(_cfg(norm_position="none", norm="layernorm"), V, T, seed=0)
    assert not any(isinstance(mod, nn.LayerNorm) for mod in m.modules())


def test_rezero_gates_start_at_zero_one_per_sublayer():
    m = build_model(_cfg(norm_position="none", residual="rezero"), V, T, seed=0)
    for blk in m.blocks:
        gates = {n: p for n, p in blk.named_parameters() if n.startswith("gate_")}
        assert set(gates) == {"gate_attn", "gate_mlp"}
        assert all(p.shape == () and p.item() == 0.0 for p in gates.values())


@pytest.mark.parametrize("position", POSITIONS)
def test_whole_decoder_matches_hand_pipeline(position):
    model = _randomise(build_model(_cfg(norm_position=position), V, T, seed=2))
    model.eval()
    ids = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(0))
    h = model.embed(ids) + model.pos_embed(torch.arange(T))
    for i, blk in enumerate(model.blocks):
        h = hand_block(blk, h, position=position, residual="on", ell=i + 1, n_layers=L,
                       alpha=(2 * L) ** 0.25, causal=True)
    if position in FINAL_NORM:
        assert isinstance(model.norm_final, nn.LayerNorm)
        h = model.norm_final(h)
    else:
        assert isinstance(model.norm_final, nn.Identity)
    torch.testing.assert_close(model(ids), model.unembed(h), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("position,residual", [("post", "on"), ("pre", "scaled"), ("sandwich", "rezero"),
                                               ("deepnorm", "on"), ("lns", "on"), ("none", "off")])
def test_encoder_decoder_matches_hand_pipeline(position, residual):
    cfg = _cfg(arch="encoder-decoder", norm_position=position, residual=residual)
    model = _randomise(build_model(cfg, V, T, seed=4))
    model.eval()
    g = torch.Generator().manual_seed(1)
    src, tgt = torch.randint(0, V, (B, T), generator=g), torch.randint(0, V, (B, T - 1), generator=g)
    n = m = L  # DeepNet Table 1, encoder-decoder constants
    a_enc, a_dec = 0.81 * (n**4 * m) ** (1 / 16), (3 * m) ** 0.25
    final = (lambda s: s.norm_final) if position in FINAL_NORM else (lambda s: (lambda y: y))
    h = model.embed(src) + model.pos_embed(torch.arange(T))
    for i, blk in enumerate(model.enc.blocks):
        h = hand_block(blk, h, position=position, residual=residual, ell=i + 1, n_layers=L, alpha=a_enc,
                       causal=False)
    memory = final(model.enc)(h)
    h = model.embed(tgt) + model.pos_embed(torch.arange(T - 1))
    for i, blk in enumerate(model.dec.blocks):
        h = hand_block(blk, h, position=position, residual=residual, ell=i + 1, n_layers=L, alpha=a_dec,
                       causal=True, memory=memory)
    want = model.unembed(final(model.dec)(h))
    torch.testing.assert_close(model(src, tgt), want, rtol=1e-11, atol=1e-11)


def test_attention_only_block_has_no_mlp():
    model = _randomise(build_model(_cfg(mlp=False, norm_position="pre"), V, T, seed=0))
    blk = model.blocks[0]
    assert not hasattr(blk, "mlp")
    x = _x()
    want = hand_block(blk, x, position="pre", residual="on", ell=1, n_layers=L, alpha=1.0, causal=True,
                      mlp=False)
    torch.testing.assert_close(blk(x), want, rtol=1e-12, atol=1e-12)


# ---- refused combinations and the full grid ------------------------------------------------------
def test_deepnorm_without_residual_is_refused():
    with pytest.raises(ConfigError) as e:
        ModelConfig(norm_position="deepnorm", residual="off")
    assert "residual" in e.value.by_field()
    assert "residual" in str(e.value)


def test_every_combination_builds_and_trains_or_is_refused():
    built, refused = [], []
    gen = torch.Generator().manual_seed(0)
    # the issue-18 records (mixln, ngpt; admin, depthmup, hyper, mhc) have their own grid in
    # tests/test_variants_2026.py
    for position, residual, norm, arch in itertools.product(POSITIONS, RESIDUALS, NORM_TYPES, ARCHS):
        try:
            cfg = ModelConfig(arch=arch, layers=2, d_model=8, heads=2, d_ff=16, norm_position=position,
                              residual=residual, norm=norm)
        except ConfigError as e:
            assert e.problems and all(f and msg for f, msg in e.problems)
            refused.append((position, residual, norm, arch))
            continue
        model = build_model(cfg, 7, 5, seed=0)
        ids = torch.randint(0, 7, (3, 5), generator=gen)
        out = model(ids, ids[:, :4]) if arch == "encoder-decoder" else model(ids)
        assert out.shape == ((3, 4, 7) if arch == "encoder-decoder" else (3, 5, 7))
        assert torch.isfinite(out).all(), (position, residual, norm, arch)
        out.pow(2).mean().backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), (position, residual, norm, arch)
        built.append((position, residual, norm, arch))
    assert set(POSITIONS) <= set(NORM_POSITIONS) and set(RESIDUALS) <= set(RESIDUAL_MODES)
    assert set(NORM_TYPES) == set(NORMS)
    # only deepnorm (which defines its own skip path) may be refused
    assert refused and all(p == "deepnorm" and r != "on" for p, r, _, _ in refused)
    assert len(built) + len(refused) == len(POSITIONS) * len(RESIDUALS) * len(NORMS) * 3
    assert all((p, r, n, a) in built for p, r, n, a in itertools.product(
        [p for p in POSITIONS if p != "deepnorm"], RESIDUALS, NORMS, ARCHS))


# ---- what the UI shows -----------------------------------------------------------------------
@pytest.mark.parametrize("residual", RESIDUALS)
@pytest.mark.parametrize("norm", NORMS)
def test_block_latex_distinct_per_position(residual, norm):
    positions = [p for p in POSITIONS if p != "deepnorm" or residual == "on"]
    latex = {p: block_latex(p, residual, norm) for p in positions}
    assert all(isinstance(s, str) and s.startswith(r"x \leftarrow") for s in latex.values())
    if norm == "none":  # without a norm, post/pre/sandwich/none are all the same update
        same = {latex[p] for p in ("post", "pre", "sandwich", "none")}
        assert same == {r"x \leftarrow " + {"on": "x + ", "off": "", "rezero": r"x + \alpha_{\mathrm{rz}}\,",
                                             "scaled": r"x + \tfrac{1}{\sqrt{2L}}\,"}[residual] + "F(x)"}
        positions = [p for p in positions if p not in ("pre", "sandwich", "none")]
        latex = {p: latex[p] for p in positions}
    assert len(set(latex.values())) == len(positions), latex
    sym = NORM_TYPES[norm].symbol
    for p, s in latex.items():
        if sym and p != "none":
            assert sym in s
        if p == "none":  # no norm in the 'none' position
            assert not any(t.symbol and t.symbol in s for t in NORM_TYPES.values())


@pytest.mark.parametrize("position", [p for p in POSITIONS if p != "deepnorm"])
def test_block_latex_distinct_per_residual(position):
    assert len({block_latex(position, r, "layernorm") for r in RESIDUALS}) == len(RESIDUALS)


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("norm", NORMS)
def test_block_dot_norm_nodes(position, norm):
    residual = "on"
    dot = block_dot(position, residual, norm)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    other_names = [n for n in NORMS if n != "none"]
    if norm != "none" and position != "none":
        count = dot.count(f'label="{norm}')
        assert count == (2 if position == "sandwich" else 1), dot
    else:
        assert "#dbe9f6" not in dot  # the norm node colour
        assert not any(f'label="{n}' in dot for n in other_names)
    assert "->" in dot and 'label="+"' in dot


def test_block_dot_residual_off_has_no_add_and_rezero_has_gate():
    assert 'label="+"' not in block_dot("pre", "off", "layernorm")
    assert 'label="+"' in block_dot("pre", "on", "layernorm")
    assert "α" in block_dot("pre", "rezero", "layernorm")
    assert "2L" in block_dot("pre", "scaled", "layernorm")
