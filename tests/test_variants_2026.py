"""Issue 18's residual / norm-position records (Peri-LN, Mix-LN, nGPT, Admin, depth-μP/CompleteP,
hyper-connections, mHC, T-Fixup, value residual), each checked in float64 against the update written
out by hand, refused where it makes no sense, and trained on a small task.

The hand formulas call the model's own weights (``nn.Linear`` modules, norms, parameters) but compose
attention, the streams and the updates themselves, independently of ``variants.update`` and of the
model's forward code.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as Fn
from torch import nn

from resnorm import i18n as I
from resnorm.science import variants
from resnorm.science.config import ConfigError, ModelConfig, RunConfig, parse_value, to_cli
from resnorm.science.model import build_model
from resnorm.science.trainer import Trainer
from resnorm.science.variants import NORM_POSITIONS, RESIDUAL_MODES, block_dot, block_latex
from helpers import TINY, model_configs

D, H, DFF, L, V, T, B = 16, 2, 32, 4, 11, 6, 3
_cfg = model_configs(arch="decoder", layers=L, d_model=D, heads=H, d_ff=DFF, dtype="float64", dropout=0.0)
NEW_POSITIONS = ["mixln", "ngpt"]
NEW_RESIDUALS = ["admin", "depthmup", "hyper", "mhc"]


def _ids(seed=0, shape=(B, T)):
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


def _randomise(model: nn.Module, seed: int = 3) -> nn.Module:
    """Random norm gains/biases and random values for every issue-18 parameter (ω, step sizes,
    mixing matrices, λ, s_qk, s_u, s_z), so the hand formulas are tested away from their init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            r = torch.rand(p.shape, generator=g, dtype=p.dtype)
            if (".norm_" in name or name.startswith("norm_")) and leaf in ("weight", "bias"):
                p.copy_(r + 0.5 if leaf == "weight" else r - 0.5)
            elif leaf.startswith(("omega_", "ngpt_alpha_", "ngpt_s_")) or leaf == "value_lambdas":
                p.copy_(r * 0.8 + 0.2)
            elif ".hc_" in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + (1.0 if leaf == "depth" else 0.0))
    return model


# ---- hand-written pieces ---------------------------------------------------------------------------
def lin(m: nn.Linear, x):
    return x @ m.weight.T + m.bias


def hand_attention(att, x, *, causal=True, ngpt=False, v_mix=None, v1_out=None):
    """softmax(q kᵀ/√d_h + mask) v per head, then W_O; nGPT: q, k unit per head × s_qk, logits × √d_h.
    ``v_mix`` = (λ₁, λ₂, V₁) mixes the values; ``v1_out`` (a list) receives this layer's V."""
    Bn, Tn, Dn = x.shape
    dh = Dn // att.heads

    def split(t):
        return t.reshape(Bn, Tn, att.heads, dh).permute(0, 2, 1, 3)
    q, k, v = split(lin(att.W_Q, x)), split(lin(att.W_K, x)), split(lin(att.W_V, x))
    if v1_out is not None:
        v1_out.append(v)
    if v_mix is not None:
        v = v_mix[0] * v + v_mix[1] * v_mix[2]
    if ngpt:
        q = q / q.norm(dim=-1, keepdim=True) * att.ngpt_s_qk
        k = k / k.norm(dim=-1, keepdim=True) * att.ngpt_s_qk
        s = q @ k.transpose(-1, -2) * math.sqrt(dh)
    else:
        s = q @ k.transpose(-1, -2) / math.sqrt(dh)
    if causal:
        s = s + torch.full((Tn, Tn), float("-inf"), dtype=x.dtype).triu(1)
    z = (s.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(Bn, Tn, Dn)
    return lin(att.W_O, z)


def hand_mlp(mlp, x, ngpt=False):
    u = lin(mlp.W_1, x)
    if ngpt:
        u = u * mlp.ngpt_s_u * math.sqrt(x.shape[-1])
    return lin(mlp.W_2, Fn.gelu(u))


def ln(norm, x):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def embed(model, ids):
    return model.embed.weight[ids] + model.pos_embed.weight[torch.arange(ids.shape[1])]


# ---- Peri-LN: the sandwich position under its 2025 name ----------------------------------------------
def test_peri_is_an_alias_of_sandwich_everywhere():
    assert ModelConfig(norm_position="peri").norm_position == "sandwich"
    assert parse_value("norm_position", "peri") == "sandwich"  # a link
    cfg = RunConfig.from_dict({"model": {"norm_position": "peri"}})  # a saved config.json
    assert cfg.model.norm_position == "sandwich" and "sandwich" in to_cli(cfg)
    assert ModelConfig(norm_position="sandwich").norm_position == "sandwich"  # the old name still works
    assert I.translate("name.position.sandwich", "en") == "Peri-LN / Sandwich-LN"
    assert "Peri-LN" in I.translate("name.position.sandwich", "zh")
    assert "Kim et al. 2025" in NORM_POSITIONS["sandwich"].source and "Peri-LN" in NORM_POSITIONS["sandwich"].source


def test_peri_on_the_command_line():
    from resnorm import cli

    ns = cli.build_parser().parse_args(["train", "--out", "x", "--norm-position", "peri"])
    assert ns.norm_position == "peri"
    assert RunConfig.from_flat({"norm_position": ns.norm_position}).model.norm_position == "sandwich"


# ---- Mix-LN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha,n_post", [(0.25, 1), (0.5, 2), (0.0, 0), (1.0, 4), (0.49, 1)])
def test_mixln_is_post_then_pre(alpha, n_post):
    model = _randomise(build_model(_cfg(norm_position="mixln", mixln_alpha=alpha), V, T, seed=0)).eval()
    ids = _ids()
    h = embed(model, ids)
    for i, blk in enumerate(model.blocks):
        post = i + 1 <= math.floor(alpha * L)
        assert post == (i < n_post)
        for sub, F in (("attn", lambda y: hand_attention(blk.attn, y)), ("mlp", lambda y: hand_mlp(blk.mlp, y))):
            N = getattr(blk, f"norm_{sub}")
            h = ln(N, h + F(h)) if post else h + F(ln(N, h))
    want = lin(model.unembed, ln(model.norm_final, h))  # Mix-LN keeps the final norm of its Pre-LN part
    torch.testing.assert_close(model(ids), want, rtol=1e-11, atol=1e-11)


# ---- nGPT ----------------------------------------------------------------------------------------------
def _unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def test_ngpt_matches_hand_pipeline_and_lives_on_the_sphere():
    model = _randomise(build_model(_cfg(norm_position="ngpt"), V, T, seed=1)).eval()
    ids = _ids(1)
    seen = []
    for blk in model.blocks:
        blk.hook_resid_post.register_forward_hook(lambda m, i, o: seen.append(o.norm(dim=-1)))
    h = _unit(embed(model, ids))
    for blk in model.blocks:
        for sub, F in (("attn", lambda y: hand_attention(blk.attn, y, ngpt=True)),
                       ("mlp", lambda y: hand_mlp(blk.mlp, y, ngpt=True))):
            a = getattr(blk, f"ngpt_alpha_{sub}")
            h = _unit(h + a * (_unit(F(h)) - h))
    want = lin(model.unembed, h) * model.ngpt_s_z
    torch.testing.assert_close(model(ids), want, rtol=1e-11, atol=1e-11)
    assert len(seen) == L and all(torch.allclose(n, torch.ones_like(n), atol=1e-12) for n in seen)
    assert not any(isinstance(m, nn.LayerNorm) for m in model.modules())  # the norm type is not used


def _sphere_norms(model):
    """Norms of every weight vector along the model dimension (nGPT keeps each at 1)."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Embedding) or (isinstance(m, nn.Linear) and not name.endswith((".W_O", ".W_2"))):
            out.append(m.weight.norm(dim=1))
        elif isinstance(m, nn.Linear):
            out.append(m.weight.norm(dim=0))
    return torch.cat(out)


def test_ngpt_weights_start_on_the_sphere_and_the_trainer_keeps_them_there():
    model = build_model(_cfg(norm_position="ngpt"), V, T, seed=0)
    n = _sphere_norms(model)
    torch.testing.assert_close(n, torch.ones_like(n), rtol=0, atol=1e-12)
    tr = Trainer(RunConfig.from_flat({**TINY, "norm_position": "ngpt", "steps": 3, "lr": 0.05, "probe_every": 0,
                                      "eval_every": 0, "attention_every": 0}))
    tr.run()
    n = _sphere_norms(tr.model)
    assert torch.allclose(n, torch.ones_like(n), atol=1e-5)  # float32, after 3 optimiser steps
    steps_moved = [p for name, p in tr.model.named_parameters() if "ngpt_alpha" in name]
    assert steps_moved and any((p - 0.05).abs().max() > 0 for p in steps_moved)  # the step sizes learn


# ---- Admin ---------------------------------------------------------------------------------------------
def test_admin_omega_from_the_profiling_pass_by_hand():
    """ω of block 1's attention is 1 (nothing before it); ω of its MLP is √(1 + Var F_attn), the variance
    of the first attention's output on the profiling batch — by hand, from the embedding."""
    cfg = _cfg(norm_position="post", residual="admin")
    model = build_model(cfg, V, T, seed=0).eval()
    blk = model.blocks[0]
    torch.testing.assert_close(blk.omega_attn, torch.ones(D, dtype=torch.float64))
    ids = torch.randint(0, V, (8, min(16, T)), generator=torch.Generator().manual_seed(0))
    f1 = hand_attention(blk.attn, embed(model, ids))
    var1 = f1.var(unbiased=False).item()
    torch.testing.assert_close(blk.omega_mlp, torch.full((D,), math.sqrt(1 + var1), dtype=torch.float64))
    # and ω grows along depth (it accumulates the branch variances) and is deterministic
    omegas = [getattr(b, f"omega_{s}")[0].item() for b in model.blocks for s in b.sublayers]
    assert all(a < b for a, b in zip(omegas, omegas[1:]))
    again = build_model(cfg, V, T, seed=0)
    assert [getattr(b, f"omega_{s}")[0].item() for b in again.blocks for s in b.sublayers] == omegas


def test_admin_update_by_hand():
    model = _randomise(build_model(_cfg(norm_position="post", residual="admin"), V, T, seed=2)).eval()
    ids = _ids(2)
    h = embed(model, ids)
    for blk in model.blocks:
        h = ln(blk.norm_attn, blk.omega_attn * h + hand_attention(blk.attn, h))
        h = ln(blk.norm_mlp, blk.omega_mlp * h + hand_mlp(blk.mlp, h))
    torch.testing.assert_close(model(ids), lin(model.unembed, h), rtol=1e-11, atol=1e-11)


# ---- depth-μP / CompleteP ------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 0.3])
def test_depthmup_scales_the_branch_by_L_to_minus_alpha(alpha):
    model = _randomise(build_model(_cfg(residual="depthmup", residual_alpha=alpha), V, T, seed=0)).eval()
    ids = _ids()
    h = embed(model, ids)
    for blk in model.blocks:
        h = h + L ** -alpha * hand_attention(blk.attn, ln(blk.norm_attn, h))
        h = h + L ** -alpha * hand_mlp(blk.mlp, ln(blk.norm_mlp, h))
    torch.testing.assert_close(model(ids), lin(model.unembed, ln(model.norm_final, h)), rtol=1e-11, atol=1e-11)
    if alpha == 0.0:  # L^0 = 1: exactly plain Pre-LN with the same weights
        plain = _randomise(build_model(_cfg(residual="on"), V, T, seed=0)).eval()
        torch.testing.assert_close(model(ids), plain(ids), rtol=1e-12, atol=1e-12)


def test_scaled_is_kept():
    assert "2L" in block_latex("pre", "scaled", "layernorm")
    assert variants.depth_scale(8, 0.5) == pytest.approx(8 ** -0.5)


# ---- hyper-connections and mHC -------------------------------------------------------------------------
def _hand_hc(model, ids, *, mhc=False, dynamic=False):
    """n streams H = n copies of the embedding; per sublayer h = A_mᵀH, y = F(N(h)),
    H'_j = Σ_i A_r[i, j] H_i + B_j y; the head reads N_final(Σ_i H_i)."""
    x = embed(model, ids)
    n = model.cfg.streams
    Hs = x.unsqueeze(-2).repeat(1, 1, n, 1)
    for blk in model.blocks:
        for sub, F in (("attn", lambda y: hand_attention(blk.attn, y)), ("mlp", lambda y: hand_mlp(blk.mlp, y))):
            hc = getattr(blk, f"hc_{sub}")
            a_m, a_r, b = hc.width, hc.res, hc.depth
            if dynamic:
                U = Hs / torch.sqrt((Hs ** 2).mean(-1, keepdim=True) + 1e-6)
                a_m = a_m + hc.s_width * torch.tanh(U @ hc.W_width)
                b = b + hc.s_depth * torch.tanh(U @ hc.W_depth)
                a_r = a_r + hc.s_res * torch.tanh(U @ hc.W_res)
            if mhc:
                a_m, b = torch.sigmoid(a_m), 2 * torch.sigmoid(b)
                e = torch.exp(a_r - a_r.amax(dim=(-2, -1), keepdim=True))
                for _ in range(20):
                    e = e / e.sum(-1, keepdim=True)
                    e = e / e.sum(-2, keepdim=True)
                a_r = e
            h = torch.einsum("...i,...id->...d", a_m.expand(Hs.shape[:-1]), Hs)
            y = F(ln(getattr(blk, f"norm_{sub}"), h))
            Hs = torch.einsum("...ij,...id->...jd", a_r.expand(*Hs.shape[:-1], n), Hs) + b.unsqueeze(-1) * y.unsqueeze(-2)
    return lin(model.unembed, ln(model.norm_final, Hs.sum(-2)))


@pytest.mark.parametrize("residual,dynamic", [("hyper", False), ("hyper", True), ("mhc", False), ("mhc", True)])
def test_hyper_connections_by_hand(residual, dynamic):
    model = _randomise(build_model(_cfg(residual=residual, streams=3, hc_dynamic=dynamic), V, T, seed=5), seed=7).eval()
    if dynamic:  # W = 0 at init; give the input-dependent part something to do
        with torch.no_grad():
            g = torch.Generator().manual_seed(9)
            for name, p in model.named_parameters():
                if ".W_width" in name or ".W_depth" in name or ".W_res" in name:
                    p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
                elif ".s_" in name and ".hc_" in name:
                    p.fill_(0.3)
    ids = _ids(3)
    torch.testing.assert_close(model(ids), _hand_hc(model, ids, mhc=residual == "mhc", dynamic=dynamic),
                               rtol=1e-10, atol=1e-10)


def test_one_stream_hyper_connection_is_pre_ln_and_init_is_the_papers():
    ids = _ids()
    one = build_model(_cfg(residual="hyper", streams=1), V, T, seed=0).eval()
    pre = build_model(_cfg(residual="on"), V, T, seed=0).eval()
    torch.testing.assert_close(one(ids), pre(ids), rtol=1e-12, atol=1e-12)
    m = build_model(_cfg(residual="hyper", streams=4), V, T, seed=0)
    blk = m.blocks[1]  # sublayer index k = (ℓ-1)·2 + j reads stream k mod n
    assert blk.hc_attn.width.tolist() == [0, 0, 1, 0] and blk.hc_mlp.width.tolist() == [0, 0, 0, 1]
    assert torch.equal(blk.hc_attn.res, torch.eye(4, dtype=torch.float64)) and blk.hc_attn.depth.tolist() == [1] * 4
    dyn = build_model(_cfg(residual="hyper", streams=4, hc_dynamic=True), V, T, seed=0).eval()
    torch.testing.assert_close(dyn(ids), m.eval()(ids), rtol=1e-12, atol=1e-12)  # dynamic starts static


def test_hooks_see_the_sum_of_the_streams():
    model = build_model(_cfg(residual="hyper", streams=3), V, T, seed=0).eval()
    got = {}
    model.blocks[-1].hook_resid_post.register_forward_hook(lambda m, i, o: got.setdefault("post", o))
    model.hook_final.register_forward_hook(lambda m, i, o: got.setdefault("final", o))
    model(_ids())
    assert got["post"].shape == (B, T, D)
    torch.testing.assert_close(model.norm_final(got["post"]), got["final"])


def test_sinkhorn_two_by_two_limit_by_hand():
    """The doubly stochastic scaling of exp(Θ) for 2×2 is [[p, 1−p], [1−p, p]] with
    p/(1−p) = √(e^{Θ11+Θ22−Θ12−Θ21}) (the cross ratio is invariant under row/column scaling)."""
    theta = torch.tensor([[0.3, -1.2], [0.7, 2.0]], dtype=torch.float64)
    s = math.exp((0.3 + 2.0 + 1.2 - 0.7) / 2)
    p = s / (1 + s)
    want = torch.tensor([[p, 1 - p], [1 - p, p]], dtype=torch.float64)
    torch.testing.assert_close(variants.sinkhorn(theta, iters=200), want, rtol=1e-12, atol=1e-12)
    m = build_model(_cfg(residual="mhc", streams=4), V, T, seed=0)
    a_m, a_r, b = m.blocks[0].hc_attn.matrices()
    assert torch.allclose(a_r.sum(0), torch.ones(4, dtype=a_r.dtype)) and torch.allclose(a_r.sum(1), torch.ones(4, dtype=a_r.dtype))
    assert (a_r.diagonal() > 0.9).all()  # near the identity at init


# ---- value residual -----------------------------------------------------------------------------------
def test_value_residual_by_hand():
    model = _randomise(build_model(_cfg(value_residual=True), V, T, seed=0)).eval()
    assert model.blocks[0].attn.value_lambdas is None
    assert all(b.attn.value_lambdas is not None for b in model.blocks[1:])
    ids = _ids()
    h = embed(model, ids)
    v1 = []
    for i, blk in enumerate(model.blocks):
        lam = blk.attn.value_lambdas
        mix = None if i == 0 else (lam[0], lam[1], v1[0])
        h = h + hand_attention(blk.attn, ln(blk.norm_attn, h), v_mix=mix, v1_out=v1 if i == 0 else None)
        h = h + hand_mlp(blk.mlp, ln(blk.norm_mlp, h))
    torch.testing.assert_close(model(ids), lin(model.unembed, ln(model.norm_final, h)), rtol=1e-11, atol=1e-11)
    fresh = build_model(_cfg(value_residual=True), V, T, seed=0)
    assert fresh.blocks[1].attn.value_lambdas.tolist() == [0.5, 0.5]


# ---- T-Fixup -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["decoder", "encoder", "encoder-decoder"])
def test_tfixup_scales_xavier_weights_by_the_papers_factors(arch):
    """T-Fixup draws what Xavier draws (same generator calls), so its weights are Xavier's times the
    paper's factors: W_V, W_O, W_1, W_2 × (9L)^-1/4 in decoder stacks, × 0.67 L^-1/4 in encoder
    stacks; embeddings N(0,1) → N(0, d^-1/2) × (9L)^-1/4; W_Q, W_K, the head unchanged."""
    base = dict(arch=arch, norm_position="none", layers=L)
    t = dict(build_model(_cfg(init="tfixup", **base), V, T, seed=0).named_parameters())
    x = dict(build_model(_cfg(init="xavier", **base), V, T, seed=0).named_parameters())
    dec, enc = (9 * L) ** -0.25, 0.67 * L ** -0.25
    for name, p in t.items():
        if name.endswith(("W_V.weight", "W_O.weight", "W_1.weight", "W_2.weight")):
            f = enc if (arch == "encoder" or name.startswith("enc.")) else dec
            torch.testing.assert_close(p, x[name] * f, rtol=2e-7, atol=0)  # drawn in float32, then float64
        elif name.startswith(("embed", "pos_embed")):
            torch.testing.assert_close(p, x[name] * D ** -0.5 * dec, rtol=2e-7, atol=0)
        else:
            torch.testing.assert_close(p, x[name], rtol=0, atol=0)


# ---- refusals: each names both fields ------------------------------------------------------------------
@pytest.mark.parametrize("kw,field,names", [
    (dict(residual="hyper", norm_position="post"), "residual", ("residual", "norm_position")),
    (dict(residual="mhc", norm_position="deepnorm"), "residual", ("residual", "deepnorm")),
    (dict(residual="hyper", norm_position="mixln"), "residual", ("residual", "norm_position")),
    (dict(residual="admin", norm_position="pre"), "residual", ("residual", "norm_position")),
    (dict(init="tfixup", norm_position="pre", norm="rmsnorm"), "init", ("init", "norm_position", "norm")),
    (dict(init="tfixup", norm_position="ngpt"), "init", ("init", "norm_position")),
    (dict(init="tfixup", norm_position="none", residual="rezero"), "init", ("init", "residual")),
    (dict(norm_position="ngpt", residual="rezero"), "residual", ("residual", "norm_position ngpt")),
])
def test_nonsense_is_refused_naming_both_fields(kw, field, names):
    with pytest.raises(ConfigError) as e:
        ModelConfig(**kw)
    got = e.value.by_field()
    assert field in got
    assert all(n in got[field] or n == field for n in names), got[field]
    assert I.render(got[field], "zh") != got[field]  # the message has its Chinese text


def test_tfixup_refuses_warmup_naming_both():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"init": "tfixup", "norm_position": "none", "warmup": 10})
    msg = e.value.by_field()["warmup"]
    assert "init tfixup" in msg and "warmup" in msg
    RunConfig.from_flat({"init": "tfixup", "norm_position": "none", "warmup": 0})
    RunConfig.from_flat({"init": "tfixup", "norm_position": "post", "norm": "none"})  # no norm: fine


def test_new_records_grid_builds_or_is_refused_with_a_reason():
    built, refused = 0, set()
    gen = torch.Generator().manual_seed(0)
    positions, residuals = list(NORM_POSITIONS), list(RESIDUAL_MODES)
    for position, residual, norm, arch in itertools.product(positions, residuals, ["layernorm", "rmsnorm", "none"],
                                                          ["decoder", "encoder-decoder"]):
        if position not in NEW_POSITIONS and residual not in NEW_RESIDUALS:
            continue  # tests/test_variants.py covers the old grid
        try:
            cfg = ModelConfig(arch=arch, layers=2, d_model=8, heads=2, d_ff=16, norm_position=position,
                              residual=residual, norm=norm, streams=2)
        except ConfigError as e:
            assert e.problems and all(f and m for f, m in e.problems)
            refused.add((position, residual))
            continue
        model = build_model(cfg, 7, 5, seed=0)
        ids = torch.randint(0, 7, (3, 5), generator=gen)
        out = model(ids, ids[:, :4]) if arch == "encoder-decoder" else model(ids)
        assert torch.isfinite(out).all(), (position, residual, norm, arch)
        out.pow(2).mean().backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        built += 1
    assert built > 0
    want_refused = {(p, r) for p in positions for r in residuals
                    if (RESIDUAL_MODES[r].streams and p in ("post", "deepnorm", "mixln", "ngpt"))
                    or (r == "admin" and p != "post") or (p in ("deepnorm", "ngpt") and r != "on")}
    want_refused = {(p, r) for p, r in want_refused if p in NEW_POSITIONS or r in NEW_RESIDUALS}
    assert refused == want_refused


# ---- what the UI and the CLI show ----------------------------------------------------------------------
def test_formulas_sources_and_diagrams():
    seen = set()
    for p in ["mixln", "ngpt", "post", "pre", "sandwich"]:
        for r in ["on", "admin", "depthmup", "hyper", "mhc"]:
            try:
                ModelConfig(norm_position=p, residual=r)
            except ConfigError:
                continue
            latex = block_latex(p, r, "layernorm")
            dot = block_dot(p, r, "layernorm")
            assert dot.startswith("digraph") and dot.rstrip().endswith("}")
            seen.add(latex)
    assert r"\lfloor \alpha_{\mathrm{mix}} L \rfloor" in block_latex("mixln", "on", "layernorm")
    assert r"\omega \odot x" in block_latex("post", "admin", "layernorm")
    assert r"L^{-\alpha}" in block_latex("pre", "depthmup", "layernorm")
    assert r"\mathcal{S}(A_r)" in block_latex("pre", "mhc", "layernorm") and "A_r" in block_latex("pre", "hyper", "layernorm")
    assert "U(F(x))" in block_latex("ngpt", "on", "layernorm")
    assert "n streams" in block_dot("pre", "hyper", "layernorm")
    for key, source in variants.SOURCES.items():
        assert "20" in source and '"' in source, key  # authors, year and title
    notes = variants.variant_notes({"norm_position": "mixln", "residual": "hyper", "init": "tfixup",
                                    "value_residual": True})
    assert [n[0] for n in notes] == ["norm_position", "residual", "init", "value_residual"]
    for _, key, _ in notes:
        assert I.has(key, "en") and I.has(key, "zh") and I.translate(key, "zh") != I.translate(key, "en")


def test_cli_help_lists_the_new_choices():
    from resnorm import cli

    text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for word in ("mixln", "ngpt", "admin", "depthmup", "hyper", "mhc", "tfixup", "--residual-alpha",
                 "--mixln-alpha", "--streams", "--hc-dynamic", "--value-residual"):
        assert word in text, word


def test_init_stats_supports_the_variants(tmp_path):
    """init-stats (one forward/backward at initialisation) works for variants defined at init."""
    from resnorm.studies import signal

    for flat in ({"norm_position": "mixln"}, {"norm_position": "post", "residual": "admin"},
                 {"residual": "hyper", "streams": 2}, {"init": "tfixup", "norm_position": "none"},
                 {"norm_position": "ngpt"}):
        cfg = RunConfig.from_flat({**TINY, **flat, "layers": 3})
        df = signal.init_stats(cfg, seeds=[0])
        names = set(df.name)
        assert all(f"blocks.{i}.resid_post.rms" in names for i in range(3)), flat
        assert df.value.notna().all()


# ---- each trains on a small task -----------------------------------------------------------------------
@pytest.mark.parametrize("flat", [
    {"norm_position": "sandwich"}, {"norm_position": "mixln", "mixln_alpha": 0.5},
    {"norm_position": "ngpt", "lr": 0.01}, {"norm_position": "post", "residual": "admin"},
    {"residual": "depthmup", "residual_alpha": 1.0}, {"residual": "hyper", "streams": 2},
    {"residual": "hyper", "streams": 2, "hc_dynamic": True}, {"residual": "mhc", "streams": 2},
    {"value_residual": True}, {"init": "tfixup", "norm_position": "none"},
], ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()))
def test_each_variant_trains(flat):
    cfg = RunConfig.from_flat({**TINY, "task": "copy", "vocab_size": 5, "seq_len": 4, "batch_size": 16,
                               "steps": 80, "lr": 3e-3, "probe_every": 0, "eval_every": 0,
                               "attention_every": 0, **flat})
    tr = Trainer(cfg)
    summary = tr.run()
    assert summary.status == "completed", summary.reason
    _, loss = tr.store.series("train/loss")
    first, last = loss[:5].mean(), loss[-5:].mean()
    assert last < 0.85 * first, (first, last)
