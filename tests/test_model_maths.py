"""Published effects the model must reproduce at initialisation, causality, hooks, dtypes and inits."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from resnorm.science.config import ModelConfig, TaskConfig
from resnorm.science.model import build_model, sequence_loss
from resnorm.science.tasks import make_task
from helpers import model_configs



_cfg = model_configs(arch="decoder", layers=6, d_model=32, heads=4, d_ff=128, dtype="float64", dropout=0.0)


def _capture(model, names):
    """Attach forward hooks by name; returns the dict they fill."""
    out = {}
    for name in names:
        model.get_submodule(name).register_forward_hook(
            lambda mod, inp, o, name=name: out.__setitem__(name, o.detach()))
    return out


def _copy_batch(arch, seed, batch_size=32, seq_len=8):
    task = make_task(TaskConfig(task="copy", seq_len=seq_len), arch)
    return task, task.sample(batch_size, torch.Generator().manual_seed(seed))


# ---- Post-LN: the stream is re-normalised after every block ----------------------------------------
def test_post_ln_stream_is_normalised_after_every_block():
    task, batch = _copy_batch("decoder", 0)
    model = build_model(_cfg(norm_position="post", init="xavier"), task.vocab_size, task.max_len, seed=0)
    names = [f"blocks.{i}.hook_resid_post" for i in range(6)]
    acts = _capture(model, names)
    model(batch.inputs)
    assert set(acts) == set(names)
    for name in names:
        x = acts[name]
        mean = x.mean(-1)
        rms = x.pow(2).mean(-1).sqrt()
        assert mean.abs().max() < 1e-10, name
        assert (rms - 1).abs().max() < 1e-3, name


# ---- Pre-LN: the stream grows with depth (Xiong et al. 2020, Lemma 2) --------------------------------
def _pre_post_stats(position, seed):
    task, batch = _copy_batch("decoder", seed)
    model = build_model(_cfg(norm_position=position, init="xavier"), task.vocab_size, task.max_len, seed=seed)
    acts = _capture(model, [f"blocks.{i}.hook_resid_post" for i in range(6)])
    loss = sequence_loss(model(batch.inputs), batch.targets)
    loss.backward()
    mean_sq = [acts[f"blocks.{i}.hook_resid_post"].pow(2).mean().item() for i in range(6)]
    mlp_grad = [math.sqrt(sum(p.grad.pow(2).sum().item() for p in blk.mlp.parameters())) for blk in model.blocks]
    return mean_sq, mlp_grad


SEEDS = range(4)


@pytest.fixture(scope="module")
def pre_post():
    return {pos: [_pre_post_stats(pos, s) for s in SEEDS] for pos in ("pre", "post")}


def test_pre_ln_stream_grows_with_depth(pre_post):
    per_seed = [ms for ms, _ in pre_post["pre"]]
    avg = [sum(v) / len(v) for v in zip(*per_seed)]
    assert all(b > a for a, b in zip(avg, avg[1:])), avg
    assert avg[-1] / avg[0] > 1.5, avg
    # while the Post-LN stream stays at mean square ≈ 1 (LayerNorm with γ=1, β=0 at init)
    for ms, _ in pre_post["post"]:
        assert all(abs(v - 1) < 1e-3 for v in ms)


def test_mlp_gradient_falls_with_depth_more_for_pre_than_post(pre_post):
    ratio = {pos: sum(g[0] / g[-1] for _, g in runs) / len(runs) for pos, runs in pre_post.items()}
    assert ratio["pre"] > ratio["post"], ratio
    assert ratio["pre"] > 1.2, ratio  # Pre-LN: the first block's MLP gets the larger gradient


# ---- ReZero: identity at init ---------------------------------------------------------------------
def test_rezero_is_the_identity_at_init():
    task, batch = _copy_batch("decoder", 1, batch_size=8)
    model = build_model(_cfg(norm_position="none", residual="rezero"), task.vocab_size, task.max_len, seed=0)
    ids = batch.inputs
    logits = model(ids)
    embed_only = model.unembed(model.embed(ids) + model.pos_embed(torch.arange(ids.shape[1])))
    assert torch.equal(logits, embed_only)
    sequence_loss(logits, batch.targets).backward()
    gates, others = 0, 0
    for name, p in model.blocks.named_parameters():
        if name.rsplit(".", 1)[-1].startswith("gate_"):
            gates += 1
            assert p.grad is not None and p.grad.abs() > 0, name
        else:
            others += 1
            assert p.grad is None or torch.count_nonzero(p.grad) == 0, name
    assert gates == 2 * 6 and others > 0
    assert model.embed.weight.grad.abs().sum() > 0  # the embedding path does learn


# ---- rank collapse without skip connections (Dong et al. 2021) ----------------------------------------
def _rank_residual(x):
    """Mean over sequences of ‖X − 1·x̄ᵀ‖_F / ‖X‖_F, X the tokens × d_model stream."""
    centred = x - x.mean(dim=1, keepdim=True)
    return (centred.flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)).mean().item()


def _rank_per_block(residual):
    cfg = ModelConfig(arch="encoder", layers=6, d_model=32, heads=4, mlp=False, norm_position="none",
                      norm="none", residual=residual, dtype="float64")
    model = build_model(cfg, 12, 16, seed=0)
    names = [f"blocks.{i}.hook_resid_post" for i in range(6)]
    acts = _capture(model, names)
    model(torch.randint(0, 12, (8, 16), generator=torch.Generator().manual_seed(0)))
    return [_rank_residual(acts[n]) for n in names]


def test_attention_only_without_residual_collapses_to_rank_one():
    off = _rank_per_block("off")
    assert off[0] > 0.3  # not collapsed at the start
    assert off[3] < 1e-6, off
    assert max(off[3:]) < 1e-6, off
    assert all(b < a for a, b in zip(off[:4], off[1:4])), off  # shrinking block by block


def test_attention_only_with_residual_does_not_collapse():
    on = _rank_per_block("on")
    assert min(on) > 0.3, on


# ---- causality ---------------------------------------------------------------------------------
CAUSAL_POSITIONS = ["post", "pre", "sandwich", "deepnorm", "lns", "none"]


def _future_change(model, ids, t, dec=None):
    """Logits before and after changing token t (of the decoder input)."""
    def run(x):
        return model(ids, x) if dec is not None else model(x)

    base = dec if dec is not None else ids
    changed = base.clone()
    changed[:, t] = (changed[:, t] + 1) % model.vocab_size
    return run(base), run(changed)


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm", "dyt", "none"])
@pytest.mark.parametrize("position", CAUSAL_POSITIONS)
def test_decoder_is_causal(position, norm):
    model = build_model(_cfg(layers=2, d_model=16, heads=2, d_ff=32, norm_position=position, norm=norm), 9, 10,
                        seed=0)
    model.train()
    ids = torch.randint(0, 9, (3, 10), generator=torch.Generator().manual_seed(1))
    t = 6
    a, b = _future_change(model, ids, t)
    assert (a[:, :t] - b[:, :t]).abs().max() <= 1e-12
    assert (a[:, t:] - b[:, t:]).abs().max() > 1e-6  # the change itself is seen from position t on


@pytest.mark.parametrize("position", ["post", "pre", "deepnorm", "lns"])
def test_encoder_decoder_decoder_side_is_causal(position):
    cfg = _cfg(arch="encoder-decoder", layers=2, d_model=16, heads=2, d_ff=32, norm_position=position)
    model = build_model(cfg, 9, 10, seed=0)
    g = torch.Generator().manual_seed(2)
    src, dec = torch.randint(0, 9, (3, 10), generator=g), torch.randint(0, 9, (3, 8), generator=g)
    t = 4
    a, b = _future_change(model, src, t, dec=dec)
    assert (a[:, :t] - b[:, :t]).abs().max() <= 1e-12
    assert (a[:, t:] - b[:, t:]).abs().max() > 1e-6


def test_encoder_is_not_causal():
    model = build_model(_cfg(arch="encoder", layers=2, d_model=16, heads=2, d_ff=32), 9, 10, seed=0)
    ids = torch.randint(0, 9, (3, 10), generator=torch.Generator().manual_seed(1))
    a, b = _future_change(model, ids, 6)
    assert (a[:, :6] - b[:, :6]).abs().max() > 1e-6


def test_batchnorm_decoder_leaks_the_future_in_training_mode():
    """The documented lesson: batch statistics include future positions (and other sequences)."""
    model = build_model(_cfg(layers=2, d_model=16, heads=2, d_ff=32, norm_position="pre", norm="batchnorm"), 9, 10,
                        seed=0)
    ids = torch.randint(0, 9, (3, 10), generator=torch.Generator().manual_seed(1))
    model.train()
    a, b = _future_change(model, ids, 6)
    assert (a[:, :6] - b[:, :6]).abs().max() > 1e-8
    # in eval mode the running statistics are fixed per feature: no leak
    model.eval()
    a, b = _future_change(model, ids, 6)
    assert (a[:, :6] - b[:, :6]).abs().max() <= 1e-12


# ---- encoder-decoder ------------------------------------------------------------------------------
def test_encoder_decoder_hooks_and_dependence_on_the_source():
    cfg = _cfg(arch="encoder-decoder", layers=2, d_model=16, heads=2, d_ff=32, norm_position="pre")
    model = build_model(cfg, 9, 10, seed=0)
    names = set(model.hook_names())
    for name in ["dec.blocks.0.cross_attn.hook_pattern", "dec.blocks.1.cross_attn.hook_pattern",
                 "enc.blocks.0.attn.hook_pattern", "dec.blocks.0.attn.hook_pattern",
                 "enc.blocks.1.hook_resid_post", "dec.blocks.1.hook_resid_post"]:
        assert name in names
    assert not any(n.startswith("enc.") and "cross_attn" in n for n in names)
    g = torch.Generator().manual_seed(3)
    src, dec = torch.randint(0, 9, (2, 10), generator=g), torch.randint(0, 9, (2, 7), generator=g)
    acts = _capture(model, ["dec.blocks.0.cross_attn.hook_pattern", "dec.blocks.0.attn.hook_pattern"])
    out = model(src, dec)
    cross, self_ = acts["dec.blocks.0.cross_attn.hook_pattern"], acts["dec.blocks.0.attn.hook_pattern"]
    assert cross.shape == (2, 2, 7, 10)  # batch, head, decoder query, encoder key
    torch.testing.assert_close(cross.sum(-1), torch.ones(2, 2, 7, dtype=torch.float64))
    assert (cross > 0).all()  # cross-attention is not masked
    assert torch.equal(self_.triu(1), torch.zeros_like(self_))  # the decoder's self-attention is
    src2 = src.clone()
    src2[:, -1] = (src2[:, -1] + 1) % 9  # change the last source token only
    out2 = model(src2, dec)
    assert ((out - out2).abs().amax(-1) > 1e-6).all()  # every decoder position sees it


def test_attention_patterns_are_causal_softmaxes():
    model = build_model(_cfg(layers=2, d_model=16, heads=2, d_ff=32), 9, 10, seed=0)
    acts = _capture(model, ["blocks.1.attn.hook_pattern"])
    model(torch.randint(0, 9, (2, 10), generator=torch.Generator().manual_seed(0)))
    p = acts["blocks.1.attn.hook_pattern"]
    assert p.shape == (2, 2, 10, 10)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, 2, 10, dtype=torch.float64))
    assert torch.equal(p.triu(1), torch.zeros_like(p))


def test_branch_output_hooks_see_the_branch():
    model = build_model(_cfg(layers=2, d_model=16, heads=2, d_ff=32, norm_position="none"), 9, 10, seed=0)
    acts = _capture(model, ["blocks.1.hook_resid_pre", "blocks.1.hook_attn_out", "blocks.1.hook_mlp_out",
                            "blocks.1.hook_resid_post"])
    model(torch.randint(0, 9, (2, 10), generator=torch.Generator().manual_seed(0)))
    x = acts["blocks.1.hook_resid_pre"]
    torch.testing.assert_close(acts["blocks.1.hook_resid_post"],
                               x + acts["blocks.1.hook_attn_out"] + acts["blocks.1.hook_mlp_out"],
                               rtol=1e-12, atol=1e-12)


# ---- dtypes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,torch_dtype", [("float64", torch.float64), ("bfloat16", torch.bfloat16),
                                               ("float32", torch.float32)])
@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm", "dyt", "batchnorm"])
def test_dtypes_forward_backward(dtype, torch_dtype, norm):
    cfg = _cfg(layers=2, d_model=16, heads=2, d_ff=32, dtype=dtype, norm=norm)
    model = build_model(cfg, 9, 10, seed=0)
    assert all(p.dtype == torch_dtype for p in model.parameters())
    ids = torch.randint(0, 9, (2, 10), generator=torch.Generator().manual_seed(0))
    out = model(ids)
    assert out.dtype == torch_dtype and torch.isfinite(out.float()).all()
    loss = sequence_loss(out, ids)
    assert loss.dtype in (torch.float32, torch.float64) and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or torch.isfinite(p.grad.float()).all() for p in model.parameters())


# ---- inits -------------------------------------------------------------------------------------
def test_gpt2_init_scales_residual_output_projections():
    L = 6
    model = build_model(_cfg(layers=L, d_model=64, heads=4, d_ff=256, init="gpt2"), 20, 16, seed=0)
    target = 0.02 / math.sqrt(2 * L)
    for blk in model.blocks:
        for w in (blk.attn.W_O.weight, blk.mlp.W_2.weight):
            assert abs(w.std().item() / target - 1) < 0.06
            assert abs(w.mean().item()) < 3 * target / math.sqrt(w.numel())
        for w in (blk.attn.W_Q.weight, blk.attn.W_K.weight, blk.attn.W_V.weight, blk.mlp.W_1.weight):
            assert abs(w.std().item() / 0.02 - 1) < 0.06
        for lin in (blk.attn.W_Q, blk.attn.W_O, blk.mlp.W_1, blk.mlp.W_2):
            assert torch.count_nonzero(lin.bias) == 0
    for w in (model.embed.weight, model.pos_embed.weight, model.unembed.weight):
        assert abs(w.std().item() / 0.02 - 1) < 0.15


def test_xavier_init():
    model = build_model(_cfg(layers=2, d_model=64, heads=4, d_ff=256, init="xavier"), 20, 300, seed=0)
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            fan_out, fan_in = m.weight.shape
            bound = math.sqrt(6 / (fan_in + fan_out))  # Glorot & Bengio: U(-bound, bound)
            w = m.weight
            assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound, name
            assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.08, name
            assert torch.count_nonzero(m.bias) == 0, name
    for w in (model.embed.weight, model.pos_embed.weight):
        assert abs(w.std().item() - 1) < 0.05 and abs(w.mean().item()) < 0.05


def test_deepnorm_init_scales_value_output_and_mlp_by_beta():
    L = 4
    kw = dict(layers=L, d_model=32, heads=4, d_ff=64, init="xavier")
    deep = build_model(_cfg(norm_position="deepnorm", **kw), 20, 16, seed=5)
    post = build_model(_cfg(norm_position="post", **kw), 20, 16, seed=5)  # the same draws, no scaling
    beta = (8 * L) ** -0.25
    for bd, bp in zip(deep.blocks, post.blocks):
        for name in ("attn.W_V", "attn.W_O", "mlp.W_1", "mlp.W_2"):
            wd, wp = bd.get_submodule(name).weight, bp.get_submodule(name).weight
            torch.testing.assert_close(wd, beta * wp, rtol=1e-6, atol=0)  # scaled in float32, then cast
            bound = math.sqrt(6 / sum(wd.shape))
            assert wd.abs().max() <= beta * bound * (1 + 1e-6)
        for name in ("attn.W_Q", "attn.W_K"):
            assert torch.equal(bd.get_submodule(name).weight, bp.get_submodule(name).weight)
    assert torch.equal(deep.unembed.weight, post.unembed.weight)
    assert torch.equal(deep.embed.weight, post.embed.weight)


def test_deepnorm_encoder_decoder_constants():
    """DeepNet Table 1 (N encoder, M decoder layers): encoder β = 0.87 (N⁴M)^(-1/16), decoder β = (12M)^(-1/4)."""
    L = 3
    kw = dict(arch="encoder-decoder", layers=L, d_model=16, heads=2, d_ff=32, init="xavier")
    deep = build_model(_cfg(norm_position="deepnorm", **kw), 9, 8, seed=2)
    post = build_model(_cfg(norm_position="post", **kw), 9, 8, seed=2)
    beta = {"enc": 0.87 * (L**4 * L) ** (-1 / 16), "dec": (12 * L) ** -0.25}
    for stack in ("enc", "dec"):
        for i in range(L):
            subs = ["attn.W_V", "attn.W_O", "mlp.W_1", "mlp.W_2"]
            if stack == "dec":
                subs += ["cross_attn.W_V", "cross_attn.W_O"]
            for name in subs:
                full = f"{stack}.blocks.{i}.{name}"
                torch.testing.assert_close(deep.get_submodule(full).weight,
                                           beta[stack] * post.get_submodule(full).weight, rtol=1e-6, atol=0)
