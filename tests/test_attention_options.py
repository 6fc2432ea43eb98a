"""Issue 18, attention and loss options (QK-norm, logit soft-cap, gated attention, z-loss) and the
diagnostics (max logit, attention sink, massive activations, angular distance, learned parameters,
layer pruning): each against a hand computation in float64, the probes leaving the maths unchanged,
nonsense refused naming both fields, and the options training on a small task."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from torch import nn

from resnorm import i18n as I
from resnorm.science.config import ConfigError, RunConfig, parse_value, to_cli
from resnorm.science.model import Attention, build_model, log_z_squared, sequence_loss
from resnorm.science.probes import (SINK_THRESHOLD, ActivationProbe, LearnedParams, attention_extra,
                                    layer_pruning, stream_extra)
from resnorm.science.trainer import train
from resnorm.science.variants import ATTENTION_OPTIONS, active_options
from resnorm.studies import figures as F
from resnorm.studies import signal as S
from resnorm.studies.scurves import s_curves
from helpers import configs, model_configs

D, H, T, B, V = 8, 2, 5, 3, 7
DH = D // H
_cfg = model_configs(layers=3, d_model=D, heads=H, d_ff=16, dtype="float64")
TINY = dict(layers=2, d_model=32, heads=2, d_ff=64, steps=150, batch_size=32, lr=3e-3, attention_every=0,
            eval_every=0, seq_len=6, vocab_size=6)


def _x(seed=0, shape=(B, T, D), scale=1.0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


def _randomise(module: nn.Module, seed=1, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
    return module


def hand_attention(att: Attention, x, *, causal, qk_norm, cap, gate):
    """The attention of one batch element after another, head by head, every step written out."""
    W = {n: (getattr(att, n).weight.detach().numpy(), getattr(att, n).bias.detach().numpy())
         for n in ("W_Q", "W_K", "W_V", "W_O") + (("W_g",) if gate else ())}
    lin = lambda n, v: v @ W[n][0].T + W[n][1]  # noqa: E731
    out = np.zeros((B, T, D))
    for b in range(B):
        xb = x[b].numpy()
        q, k, v = lin("W_Q", xb), lin("W_K", xb), lin("W_V", xb)
        z = np.zeros((T, D))
        for h in range(H):
            sl = slice(h * DH, (h + 1) * DH)
            qh, kh, vh = q[:, sl], k[:, sl], v[:, sl]
            if qk_norm:
                def ln(a, m):
                    mu, var = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
                    return (a - mu) / np.sqrt(var + m.eps) * m.weight.detach().numpy() + m.bias.detach().numpy()
                qh, kh = ln(qh, att.q_norm), ln(kh, att.k_norm)
            s = np.array([[qh[i] @ kh[j] / math.sqrt(DH) for j in range(T)] for i in range(T)])
            if cap:
                s = cap * np.tanh(s / cap)
            if causal:
                s = np.where(np.triu(np.ones((T, T)), 1) > 0, -np.inf, s)
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            z[:, sl] = p @ vh
        if gate:
            z = z * (1 / (1 + np.exp(-lin("W_g", xb))))
        out[b] = lin("W_O", z)
    return torch.from_numpy(out)


@pytest.mark.parametrize("qk_norm,cap,gate", [(True, 0.0, False), (False, 1.5, False), (False, 0.0, True),
                                              (True, 2.0, True)])
@pytest.mark.parametrize("causal", [True, False])
def test_attention_options_against_the_hand_computation(qk_norm, cap, gate, causal):
    att = _randomise(Attention(D, H, 0.0, qk_norm=qk_norm, softcap=cap, gate=gate).double())
    x = _x()
    want = hand_attention(att, x, causal=causal, qk_norm=qk_norm, cap=cap, gate=gate)
    torch.testing.assert_close(att(x, causal=causal), want, rtol=1e-10, atol=1e-12)


def test_the_model_builds_the_options_into_every_attention_sublayer():
    m = build_model(_cfg(arch="encoder-decoder", qk_norm=True, logit_softcap=3.0, attn_gate=True), V, T, seed=0)
    atts = [mod for mod in m.modules() if isinstance(mod, Attention)]
    assert len(atts) == 3 * 3  # encoder self, decoder self and cross
    assert all(hasattr(a, "q_norm") and hasattr(a, "W_g") and a.softcap == 3.0 for a in atts)
    plain = build_model(_cfg(), V, T, seed=0)
    assert not any(hasattr(a, "q_norm") or hasattr(a, "W_g") or a.softcap for a in plain.modules()
                   if isinstance(a, Attention))


def test_softcap_and_qk_norm_bound_the_largest_logit_that_max_logit_records():
    """Large weights: without either, logits reach hundreds; a cap C keeps them below C; QK-norm
    (γ = 1, β = 0) below √d_head, since ‖LN(q)‖ = ‖LN(k)‖ = √d_head and |q·k|/√d_head ≤ √d_head."""
    def max_logit(**kw):
        m = build_model(_cfg(**kw), V, T, seed=0)
        with torch.no_grad():
            for name, p in m.named_parameters():
                if name.endswith(("W_Q.weight", "W_K.weight")):
                    p.mul_(30)
        probe = ActivationProbe(m)
        with probe.capture():
            m(torch.arange(T).repeat(B, 1) % V)
        return max(v for k, v in probe.pop().items() if k.endswith("attn.max_logit"))

    assert max_logit() > 50
    assert max_logit(logit_softcap=5.0) <= 5.0
    assert max_logit(qk_norm=True) <= math.sqrt(DH) + 1e-6


def test_log_z_squared_by_hand_ignores_unscored_positions():
    logits = _x(seed=4, shape=(2, 3, V), scale=3.0)
    targets = torch.tensor([[1, -100, 2], [0, 3, -100]])
    want = [math.log(sum(math.exp(v) for v in logits[b, t].tolist())) ** 2
            for b in range(2) for t in range(3) if targets[b, t] != -100]
    assert log_z_squared(logits, targets).item() == pytest.approx(sum(want) / len(want), rel=1e-12)


def test_z_loss_adds_c_times_log_z_squared_to_what_is_minimised():
    """One step of plain SGD (no momentum effect at step 1, no clipping) moves the weights by
    −lr·∇(CE + c·mean log²Z): compare with the gradient computed by hand on the same batch."""
    base = dict(TINY, steps=1, optimizer="sgd", lr=0.1, grad_clip=0.0, probe_every=0, dtype="float64", z_loss=0.01)
    tr = train(configs(base)())
    ref_cfg = configs(base)()
    from resnorm.science.seeds import stream_seed
    from resnorm.science.tasks import make_task
    task = make_task(ref_cfg.task, "decoder")
    model = build_model(ref_cfg.model, task.vocab_size, task.max_len, seed=ref_cfg.train.seed)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    batch = task.sample(ref_cfg.train.batch_size, torch.Generator().manual_seed(stream_seed(0, "train")), "train")
    logits = model(*batch.model_args())
    (sequence_loss(logits, batch.targets) + 0.01 * log_z_squared(logits, batch.targets)).backward()
    for n, p in tr.model.named_parameters():
        torch.testing.assert_close(p.detach(), before[n] - 0.1 * dict(model.named_parameters())[n].grad,
                                   rtol=1e-9, atol=1e-12)
    assert tr.store.series("train/z_loss")[1][0] == pytest.approx(log_z_squared(logits, batch.targets).item())


def test_z_loss_keeps_log_z_near_zero_and_train_loss_stays_the_cross_entropy():
    runs = {c: train(configs(TINY, probe_every=0, steps=120)(z_loss=c)) for c in (0.0, 0.1)}
    z = {c: float(np.mean(tr.store.series("train/z_loss")[1][-20:])) for c, tr in runs.items()}
    assert z[0.1] < 0.5 * z[0.0], z
    first = {c: tr.store.series("train/loss")[1][0] for c, tr in runs.items()}
    assert first[0.0] == first[0.1]  # same weights and batch at step 1: the recorded loss is the CE alone


# ---- refused combinations, schema, translations, formulas -------------------------------------------------
def test_qk_norm_with_one_feature_per_head_is_refused_naming_both_fields():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"qk_norm": True, "d_model": 8, "heads": 8})
    (field, why), = e.value.problems
    assert field == "qk_norm" and "heads=8" in why and "d_model=8" in why
    RunConfig.from_flat({"qk_norm": True, "d_model": 8, "heads": 4})
    with pytest.raises(ConfigError):
        RunConfig.from_flat({"logit_softcap": -1.0})
    with pytest.raises(ConfigError):
        RunConfig.from_flat({"z_loss": 2.0})


def test_options_travel_through_url_cli_and_both_languages_with_formula_and_paper():
    cfg = RunConfig.from_flat({"qk_norm": True, "logit_softcap": 30.0, "attn_gate": True, "z_loss": 1e-4})
    cli = to_cli(cfg)
    assert "--qk-norm" in cli and "--logit-softcap 30.0" in cli and "--attn-gate" in cli and "--z-loss 0.0001" in cli
    assert parse_value("qk_norm", "on") is True and parse_value("logit_softcap", "30") == 30.0
    assert [o.field for o in active_options(cfg.to_flat())] == ["qk_norm", "logit_softcap", "attn_gate", "z_loss"]
    assert active_options(RunConfig().to_flat()) == []
    assert "Qiu et al. 2025" in ATTENTION_OPTIONS["attn_gate"].source
    assert "Henry et al. 2020" in ATTENTION_OPTIONS["qk_norm"].source
    for name in ATTENTION_OPTIONS:
        for lang in ("en", "zh"):
            assert I.has(f"field.{name}.label", lang) and I.has(f"field.{name}.help", lang)


# ---- diagnostics: the reductions by hand ---------------------------------------------------------------------
def test_max_logit_ignores_masked_entries():
    s = torch.tensor([[[[1.0, -math.inf], [7.5, -2.0]]]], dtype=torch.float64)
    assert attention_extra(scores=s).item() == 7.5


def test_max_logit_is_the_largest_finite_logit_even_after_an_overflow():
    s = torch.tensor([[[[1.0, -math.inf], [math.inf, 3.0], [math.nan, -2.0]]]])
    assert attention_extra(scores=s).item() == 3.0  # +inf and NaN are not logits the softmax can use


def test_stream_std_is_the_sample_std_even_with_a_large_mean():
    from resnorm.science.probes import RESID_STATS, stream_stats

    x = (_x(seed=3, shape=(4, 16, 32)) + 1000.0).float()  # mean/std ≈ 1000: where one-pass E[x²]−x̄² fails
    got = dict(zip(RESID_STATS, stream_stats(x).tolist()))
    assert got["std"] == pytest.approx(x.double().std().item(), rel=1e-4)
    assert got["mean"] == pytest.approx(x.double().mean().item(), rel=1e-6)


def test_sink_is_the_share_of_heads_above_the_threshold_on_the_first_key():
    p = torch.zeros(2, 4, 3, 3, dtype=torch.float64)  # batch, heads, query, key
    p[..., 1] = 1.0                                    # heads 2, 3: all attention on key 1
    p[:, 0, :, 0], p[:, 0, :, 1] = 1.0, 0.0            # head 0: all on the first key
    p[:, 1, :, 0], p[:, 1, :, 1] = SINK_THRESHOLD - 0.01, 1 - SINK_THRESHOLD + 0.01  # head 1: just below
    assert attention_extra(pattern=p).item() == pytest.approx(0.25)


def test_massive_and_angular_distance_by_hand():
    x_in = _x(seed=1, shape=(2, 3, 4))
    x_out = _x(seed=2, shape=(2, 3, 4))
    x_out[1, 2, 3] = 1000.0
    a = x_out.abs().flatten().tolist()
    massive = max(a) / sorted(a)[(len(a) - 1) // 2]  # torch's median: the lower of the two middle values
    ang = [math.acos(max(-1, min(1, float(torch.dot(x_in[b, t], x_out[b, t])
                                       / (x_in[b, t].norm() * x_out[b, t].norm()))))) / math.pi
           for b in range(2) for t in range(3)]
    got = stream_extra(x_in, x_out)
    assert got[0].item() == pytest.approx(massive, rel=1e-12)
    assert got[1].item() == pytest.approx(sum(ang) / len(ang), rel=1e-12)
    assert stream_extra(x_in, 3.0 * x_in)[1].item() == pytest.approx(0.0, abs=1e-7)  # a rescaling turns nothing
    assert stream_extra(x_in, -x_in)[1].item() == pytest.approx(1.0, abs=1e-7)


def test_probed_block_metrics_match_the_hooked_tensors():
    """The recorded angular distance of block 1 is stream_extra of its input and output streams."""
    m = build_model(_cfg(), V, T, seed=0)
    ids = torch.arange(T).repeat(B, 1) % V
    seen = {}
    h1 = m.blocks[1].hook_resid_pre.register_forward_hook(lambda mod, a, out: seen.setdefault("in", out.clone()))
    h2 = m.blocks[1].hook_resid_post.register_forward_hook(lambda mod, a, out: seen.setdefault("out", out.clone()))
    probe = ActivationProbe(m)
    with probe.capture():
        m(ids)
    h1.remove(), h2.remove()
    got = probe.pop()
    massive, angle = stream_extra(seen["in"], seen["out"]).tolist()
    assert got["blocks.1.angular_distance"] == angle and got["blocks.1.resid_post.massive"] == massive


@pytest.mark.parametrize("arch", ["decoder", "encoder", "encoder-decoder"])
def test_probes_do_not_change_the_logits(arch):
    m = build_model(_cfg(arch=arch, norm="derf", residual="rezero", qk_norm=True, logit_softcap=3.0, attn_gate=True),
                    V, T, seed=0)
    args = (torch.arange(T).repeat(B, 1) % V,) * (2 if arch == "encoder-decoder" else 1)
    bare = m(*args)
    probe = ActivationProbe(m)
    with probe.capture():
        probed = m(*args)
    assert torch.equal(bare, probed)
    got = probe.pop()
    stack = "dec." if arch == "encoder-decoder" else ""
    for key in ("attn.max_logit", "attn.sink", "resid_post.massive", "angular_distance"):
        assert f"{stack}blocks.2.{key}" in got
    if arch == "encoder-decoder":
        assert "dec.blocks.0.cross_attn.max_logit" in got and "dec.blocks.0.cross_attn.sink" in got


def test_learned_params_follow_the_name_rule():
    m = build_model(_cfg(norm="derf", residual="rezero"), V, T, seed=0)
    m.blocks[0].register_parameter("hc_mix", nn.Parameter(torch.arange(6, dtype=torch.float64).reshape(2, 3)))
    m.blocks[0].register_parameter("big_mix", nn.Parameter(torch.zeros(9, 9, dtype=torch.float64)))  # > 64 entries
    m.blocks[2].register_parameter("alpha_attn", nn.Parameter(torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64)))
    with torch.no_grad():
        m.blocks[1].gate_mlp.fill_(0.25)
    got = LearnedParams(m).values()
    assert got["blocks.1.param.gate_mlp"] == 0.25
    assert got["blocks.0.param.norm_attn.alpha"] == 0.5 and got["blocks.2.param.norm_mlp.shift"] == 0.0
    assert got["param/norm_final.alpha"] == 0.5
    assert [got[f"blocks.0.param.hc_mix.{r}_{c}"] for r in range(2) for c in range(3)] == [0, 1, 2, 3, 4, 5]
    assert not any("big_mix" in k for k in got)
    assert got["blocks.2.param.alpha_attn.mean"] == 3.0  # a per-feature step size: its mean
    assert not any(k.endswith(("weight", "bias")) for k in got)  # vectors and matrices are not scalars


@pytest.mark.parametrize("extra", [{}, dict(value_residual=True), dict(residual="hyper", streams=2)])
def test_layer_pruning_by_hand(extra):
    """Each block replaced by the identity, the stack written out here. With the value residual a
    removed block still supplies V₁ to the later blocks (the stack's rule); with hyper-connections the
    removed block passes all n streams through."""
    m = _randomise(build_model(_cfg(**extra), V, T, seed=0), seed=4, scale=0.3)
    ids = torch.arange(T).repeat(B, 1) % V
    targets = (ids + 2) % V

    class Batch:
        def model_args(self):
            return (ids,)
    loss_of = lambda model, b: sequence_loss(model(*b.model_args()), targets)  # noqa: E731

    def without(skip):
        x, values, n = m._embed(ids), {}, m.blocks[0].streams
        if n:
            x = x.unsqueeze(-2).expand(*x.shape[:-1], n, x.shape[-1])
        for i, blk in enumerate(m.blocks):
            y = blk(x, None, values)  # run even when removed: V₁ comes from the first block
            x = x if i == skip else y
        x = x.sum(-2) if n else x
        return sequence_loss(m.unembed(m.norm_final(x)), targets).item()

    full = without(None)  # no dropout: train and eval mode compute the same
    got = layer_pruning(m, [Batch()], loss_of)
    for i in range(3):
        assert got[f"blocks.{i}.prune_dloss"] == pytest.approx(without(i) - full, rel=1e-9, abs=1e-12)
    assert any(abs(v) > 1e-6 for v in got.values())  # the blocks matter: a pruning that did nothing would fail
    assert m.training  # the mode is restored
    assert layer_pruning(m, [Batch()], loss_of, base=full + 1.0) == pytest.approx(
        {k: v - 1.0 for k, v in got.items()}, rel=1e-9, abs=1e-9)  # a given base is used as is


def test_diagnostics_are_defined_at_initialisation():
    cfg = configs(dict(layers=3, d_model=16, heads=2, d_ff=32, batch_size=4))(qk_norm=True)
    values = S.init_metrics(cfg, seed=0)
    for key in S.DIAGNOSTICS:
        assert "blocks.2." + key in values
    layer, stack, metric, value = S._reshape(values)
    assert set(S.DIAGNOSTICS) <= set(metric)


# ---- training with the options, and the charts --------------------------------------------------------------
def test_all_options_together_train_and_record_their_diagnostics():
    tr = train(configs(TINY, probe_every=10, eval_every=50)(qk_norm=True, logit_softcap=10.0, attn_gate=True,
                                                            z_loss=1e-4, norm="derf", residual="rezero"))
    assert tr.summary.status == "completed"
    loss = tr.store.series("train/loss")[1]
    assert loss[-1] < 0.5 * loss[0], (loss[0], loss[-1])
    series = tr.store.all_series()
    assert max(series["blocks.1.attn.max_logit"][1]) <= 10.0
    assert set(tr.summary.to_dict()["prune_dloss"]) == {"blocks.0.prune_dloss", "blocks.1.prune_dloss"}
    assert series["blocks.0.prune_dloss"][0][-1] == 150  # recorded at the last step
    assert len(series["blocks.0.param.gate_attn"][1]) > 1
    for key in ("diag", "prune", "learned", "mixing"):
        d = F.run_charts()[key].build(series, [], 1.0, I.EN, "u", False)
        go.Figure(d)  # a valid Plotly figure
    diag = F.diagnostics_figure(series)
    assert {t["name"] for t in diag["data"]} == {"L0", "L1"} and len(diag["data"]) == 8
    prune = F.pruning_figure(series)
    assert list(prune["data"][0]["y"]) == pytest.approx([tr.summary.extra["prune_dloss"][f"blocks.{i}.prune_dloss"]
                                                          for i in range(2)], abs=1e-6)
    learned = F.learned_figure(series)
    assert "L0 gate_attn" in {t["name"] for t in learned["data"]}


def test_mixing_heatmap_and_s_curves():
    steps = np.array([1, 2, 3])
    series = {f"blocks.0.param.hc_mix.{r}_{c}": (steps, np.full(3, r - c, float)) for r in range(2) for c in range(2)}
    fig = F.mixing_figure(series)
    go.Figure(fig)
    assert len(fig["data"][0]["y"]) == 4
    m = build_model(_cfg(norm="derf", dyt_alpha=0.25), V, T, seed=0)
    samples = s_curves(m, (torch.arange(T).repeat(B, 1) % V,), max_points=50)
    assert list(samples)[0] == "blocks.0.norm_attn" and len(samples) == 3 * 2 + 1
    x, y = samples["blocks.0.norm_attn"]
    np.testing.assert_allclose(y, np.vectorize(math.erf)(0.25 * x), rtol=1e-12, atol=1e-12)  # γ = 1, β = 0, s = 0
    go.Figure(F.s_curve_figure(samples))
    assert s_curves(build_model(_cfg(), V, T, seed=0), (torch.zeros(1, T, dtype=torch.long),)) == {}
