"""Trainer behaviour: learning, determinism, control, divergence, schedules and the store."""
import math
import threading
import time

import numpy as np
import pytest
import torch

from resnorm.config import RunConfig
from resnorm.schedules import lr_factor
from resnorm.store import MetricStore
from resnorm.trainer import Trainer, train
from helpers import configs


small = configs(layers=2, d_model=32, heads=4, d_ff=64, steps=30, batch_size=16, probe_every=5,
                attention_every=10, eval_every=10)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_pre_ln_decoder_learns_sequence_task(task):
    """A 4-layer Pre-LN decoder learns copy / reverse to >95 % validation token accuracy."""
    cfg = RunConfig.from_flat(dict(task=task, arch="decoder", norm_position="pre", layers=4, d_model=64,
                                   heads=4, d_ff=256, seq_len=8, steps=700, batch_size=32, lr=1e-3,
                                   probe_every=0, attention_every=0, eval_every=100, seed=0))
    tr = train(cfg)
    assert tr.summary.status == "completed"
    assert tr.store.latest("val/accuracy") > 0.95


def test_same_config_and_seed_give_identical_metrics():
    cfg = small(steps=20, dropout=0.1)
    a, b = train(cfg).store.frame(), train(cfg).store.frame()
    assert len(a) > 100
    assert a.equals(b)
    c = train(cfg.replace(seed=1)).store.frame()
    assert not np.allclose(a[a.name == "train/loss"].value, c[c.name == "train/loss"].value)


def test_metric_names_follow_design_section_3():
    tr = train(small(steps=10, layers=2, probe_every=5))
    names = set(tr.store.names())
    for i in range(2):
        for stat in ("rms", "mean", "std", "absmax"):
            assert f"blocks.{i}.resid_post.{stat}" in names
        for n in ("attn_out.rms", "mlp_out.rms", "grad_norm", "attn.grad_norm", "mlp.grad_norm",
                  "update_ratio", "attn.entropy", "attn.head0.entropy", "attn.head3.entropy", "rank_residual"):
            assert f"blocks.{i}.{n}" in names, n
    for n in ("train/loss", "val/loss", "train/accuracy", "val/accuracy", "lr", "grad/total_norm"):
        assert n in names
    snaps = tr.store.attention()
    assert snaps and set(snaps[-1].maps) == {"blocks.0.attn", "blocks.1.attn"}
    m = snaps[-1].maps["blocks.0.attn"]
    q, k = snaps[-1].labels["blocks.0.attn"]
    assert m.shape == (4, len(q), len(k)) and q == k
    np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-5)  # rows are distributions
    assert np.allclose(np.triu(m, 1), 0.0)  # causal: no weight on future keys


def test_encoder_decoder_metric_names():
    tr = train(small(arch="encoder-decoder", task="add", seq_len=3, steps=5, probe_every=5, attention_every=5))
    names = set(tr.store.names())
    for stack in ("enc", "dec"):
        assert f"{stack}.blocks.1.resid_post.rms" in names
    assert "dec.blocks.0.cross_attn.grad_norm" in names
    assert "dec.blocks.0.cross_attn.entropy" in names
    assert "dec.blocks.0.cross_attn_out.rms" in names
    assert "enc.blocks.0.cross_attn.grad_norm" not in names
    snap = tr.store.attention()[-1]
    batch = tr.probe_cpu
    for layer, m in snap.maps.items():  # every map's axes carry the tokens it attends between
        q, k = snap.labels[layer]
        assert m.shape[1:] == (len(q), len(k)), layer
    assert snap.labels["dec.blocks.0.cross_attn"] == (tr.task.tokens(batch.dec_inputs[0]), tr.task.tokens(batch.inputs[0]))
    assert snap.labels["enc.blocks.1.attn"][1] == tr.task.tokens(batch.inputs[0])


def test_probe_grad_and_update_norms_match_direct_computation():
    """The probe's per-block gradient norm and update ratio equal the definitions evaluated by hand."""
    cfg = small(steps=1, probe_every=1, grad_clip=0.0, optimizer="sgd", lr=0.1)
    tr = Trainer(cfg)
    tr._setup()
    block = tr.model.blocks[1]
    before = [p.detach().clone() for p in block.parameters()]
    tr._step(1)
    grads = torch.cat([p.grad.flatten() for p in block.parameters()])
    assert tr.store.latest("blocks.1.grad_norm") == pytest.approx(grads.norm().item(), rel=1e-5)
    attn_grads = torch.cat([p.grad.flatten() for p in block.attn.parameters()])
    assert tr.store.latest("blocks.1.attn.grad_norm") == pytest.approx(attn_grads.norm().item(), rel=1e-5)
    after = torch.cat([p.detach().flatten() for p in block.parameters()])
    old = torch.cat([p.flatten() for p in before])
    assert tr.store.latest("blocks.1.update_ratio") == pytest.approx(((after - old).norm() / old.norm()).item(), rel=1e-4)
    # SGD with momentum, first step: Δθ = −lr·g exactly
    assert ((after - old).norm() / grads.norm()).item() == pytest.approx(0.1, rel=1e-4)


def test_probes_do_not_change_the_maths():
    """Training with every probe on gives the same losses as training with probes off."""
    on = train(small(steps=12, probe_every=1, attention_every=1)).store
    off = train(small(steps=12, probe_every=0, attention_every=0)).store
    np.testing.assert_array_equal(on.series("train/loss")[1], off.series("train/loss")[1])


def test_pause_resume_stop_take_effect_within_one_step():
    cfg = small(steps=100_000, probe_every=0, attention_every=0, eval_every=0)
    gate = threading.Event()
    tr = Trainer(cfg, on_step=lambda step, t: gate.set() if step >= 3 else None).start()
    assert gate.wait(60)
    tr.pause()
    deadline = time.time() + 30
    while tr.status != "paused" and time.time() < deadline:
        time.sleep(0.01)
    assert tr.status == "paused"
    s1 = tr.step
    time.sleep(0.3)
    assert tr.step <= s1 + 1  # at most the step in flight completes
    s2 = tr.step
    tr.resume()
    deadline = time.time() + 30
    while tr.step < s2 + 3 and time.time() < deadline:
        time.sleep(0.01)
    assert tr.step >= s2 + 3
    tr.stop()
    assert tr.join(30)
    assert tr.status == "stopped"
    n = tr.step
    assert tr.store.series("train/loss")[0][-1] == n  # metrics kept to the last completed step


def test_stop_while_paused():
    tr = Trainer(small(steps=100_000, probe_every=0), on_step=None).start()
    deadline = time.time() + 30
    while tr.step < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert tr.status == "running" and tr.step >= 2
    tr.pause()
    while tr.status != "paused" and time.time() < deadline:
        time.sleep(0.01)
    assert tr.status == "paused"
    paused_at = tr.step
    tr.stop()
    assert tr.join(30)
    assert tr.status == "stopped" and tr.step <= paused_at + 1  # stopped from the pause, not resumed


def test_non_finite_gradient_ends_run_as_diverged_and_keeps_metrics():
    """A gradient that becomes inf at step 4 stops the run there; steps 1-3 are kept."""
    cfg = small(steps=50, probe_every=1)
    poison = {"on": False}

    def on_step(step, tr):
        if step == 3 and not poison["on"]:
            poison["on"] = True
            p = tr.model.blocks[0].attn.W_Q.weight
            p.register_hook(lambda g: g * float("inf") if poison["on"] else g)

    tr = train(cfg, on_step=on_step)
    assert tr.summary.status == "diverged"
    assert tr.summary.diverged_step == 4
    assert "gradient norm" in tr.summary.reason and "step 4" in tr.summary.reason
    steps, losses = tr.store.series("train/loss")
    assert list(steps) == [1, 2, 3, 4] and np.isfinite(losses).all()
    assert not math.isfinite(tr.store.latest("grad/total_norm"))
    assert [m.kind for m in tr.store.markers()] == ["diverged"]
    # the poisoned step was not applied: weights stay finite
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_non_finite_loss_is_divergence():
    tr = train(small(steps=50, lr=1e3, optimizer="sgd", grad_clip=0.0, init="torch", norm_position="none",
                     norm="none", layers=4))
    assert tr.summary.status == "diverged", tr.summary
    assert tr.summary.steps == tr.summary.diverged_step < 50


def test_failure_in_worker_becomes_status_failed(monkeypatch):
    tr = Trainer(small(steps=10))
    monkeypatch.setattr(tr, "_step", lambda step: (_ for _ in ()).throw(RuntimeError("boom")))
    tr.start()
    assert tr.join(30)
    assert tr.status == "failed" and "boom" in tr.reason


@pytest.mark.parametrize("opt", ["adamw", "adam", "sgd"])
@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine", "noam"])
def test_optimizers_and_schedules_train(opt, schedule):
    tr = train(small(steps=8, optimizer=opt, schedule=schedule, warmup=3, probe_every=0))
    assert tr.summary.status == "completed"
    steps, lrs = tr.store.series("lr")
    for s, lr in zip(steps, lrs):
        assert lr == pytest.approx(1e-3 * lr_factor(schedule, int(s), 3, 8), rel=1e-6)


def test_schedules_against_formulas():
    T, w = 100, 10
    assert [lr_factor("constant", t, w, T) for t in (1, 5, 10, 50)] == [0.1, 0.5, 1.0, 1.0]
    assert lr_factor("linear", 55, w, T) == pytest.approx(0.5)
    assert lr_factor("linear", T, w, T) == pytest.approx(0.0)
    assert lr_factor("cosine", 55, w, T) == pytest.approx(0.5)
    assert lr_factor("cosine", w + 1, w, T) == pytest.approx(0.5 * (1 + math.cos(math.pi / 90)))
    # noam ∝ Vaswani eq. 3: d^-0.5 · min(t^-0.5, t·w^-1.5), scaled so the peak (t = w) is 1
    d = 512
    eq3 = lambda t: d**-0.5 * min(t**-0.5, t * w**-1.5)  # noqa: E731
    ratios = [lr_factor("noam", t, w, T) / eq3(t) for t in (1, 3, 10, 40, 100)]
    assert max(ratios) == pytest.approx(min(ratios))
    assert lr_factor("noam", w, w, T) == pytest.approx(1.0)


def test_store_is_bounded_keeps_newest_and_markers():
    st = MetricStore(max_points=100)
    st.mark(17, "diverged", "x")
    for s in range(1, 20_001):
        st.add(s, {"a": s})
    steps, vals = st.series("a")
    assert len(steps) <= 100
    assert list(steps[-50:]) == list(range(19_951, 20_001))  # newest at full resolution
    assert 17 in steps and 1 in steps  # marked step and the start survive
    assert np.all(np.diff(steps) > 0)
    np.testing.assert_array_equal(steps, vals)
    # before the newest points: an even sample of the whole history, not just of its start
    # (the last fifth may be denser: points that left the newest half since the last thinning)
    counts = np.histogram(steps[:-50], bins=5, range=(1, 19_950))[0]
    assert counts[:4].min() >= 0.5 * counts[:4].max() and counts.min() >= 3, counts


def test_store_snapshot_while_writing_from_another_thread():
    st = MetricStore(max_points=500)
    stop = threading.Event()

    def writer():
        s = 0
        while not stop.is_set():
            s += 1
            st.add(s, {"x": s, "y": -s})

    th = threading.Thread(target=writer)
    th.start()
    try:
        for _ in range(50):
            df = st.frame()
            for name in ("x", "y"):
                part = df[df.name == name]
                assert (part.step.diff().dropna() > 0).all()
    finally:
        stop.set()
        th.join()
    assert list(st.frame().columns) == ["step", "name", "value"]


def test_branch_to_stream_ratio_is_branch_norm_over_input_stream_norm():
    """‖F(x)‖/‖x‖ with x the stream entering the sublayer, computed by hand with plain hooks."""
    from resnorm.probes import ActivationProbe

    cfg = small(steps=1)
    tr = Trainer(cfg)
    tr._setup()
    model, seen = tr.model, {}
    names = ["blocks.1.hook_resid_pre", "blocks.1.hook_attn_out", "blocks.1.hook_resid_after_attn",
             "blocks.1.hook_mlp_out"]
    handles = [model.get_submodule(n).register_forward_hook(lambda m, a, o, n=n: seen.__setitem__(n, o.detach()))
               for n in names]
    batch = tr.task.sample(4, torch.Generator().manual_seed(0))
    probe = ActivationProbe(model)
    with probe.capture():
        model(*batch.model_args())
    for h in handles:
        h.remove()
    got = probe.pop()
    attn = seen["blocks.1.hook_attn_out"].norm() / seen["blocks.1.hook_resid_pre"].norm()
    mlp = seen["blocks.1.hook_mlp_out"].norm() / seen["blocks.1.hook_resid_after_attn"].norm()
    assert got["blocks.1.attn_out.ratio"] == pytest.approx(attn.item(), rel=1e-5)
    assert got["blocks.1.mlp_out.ratio"] == pytest.approx(mlp.item(), rel=1e-5)
    assert not any(isinstance(v, torch.Tensor) for v in got.values())
    # no hook stays attached after the probed pass
    assert all(not model.get_submodule(n)._forward_hooks for n in model.hook_names())


def test_concurrent_runs_with_dropout_match_a_run_alone():
    """Each run draws its weights and dropout masks from its own seed, whatever else is running."""
    cfg = small(steps=25, dropout=0.2, probe_every=0, attention_every=0, eval_every=0)
    alone = train(cfg).store.series("train/loss")[1]
    a, b = Trainer(cfg), Trainer(cfg.replace(seed=5))
    a.start(), b.start()
    assert a.join(60) and b.join(60)
    np.testing.assert_array_equal(a.store.series("train/loss")[1], alone)
    assert not np.array_equal(b.store.series("train/loss")[1], alone)


def test_probe_statistics_match_their_definitions_in_float64():
    """resid_post stats, rank residual and attention entropy from the probe equal the §3 formulas
    evaluated by hand on the hooked tensors (float64: a rank collapse to 1e-16 stays visible)."""
    from resnorm.signal import init_metrics

    cfg = RunConfig.from_flat(dict(arch="encoder", mlp=False, residual="off", norm_position="none", norm="none",
                                   dtype="float64", layers=6, task="copy", seq_len=16, batch_size=8))
    m = init_metrics(cfg, seed=0)
    assert m["blocks.5.rank_residual"] < 1e-12  # Dong et al. 2021: attention alone collapses to rank one
    tr = Trainer(small(steps=1))
    tr._setup()
    model, seen = tr.model, {}
    for n in ("blocks.1.hook_resid_post", "blocks.1.attn.hook_pattern"):
        model.get_submodule(n).register_forward_hook(lambda mod, a, o, n=n: seen.__setitem__(n, o.detach().double()))
    from resnorm.probes import ActivationProbe

    probe = ActivationProbe(model)
    with probe.capture():
        model(*tr.task.sample(6, torch.Generator().manual_seed(3)).model_args())
    got = probe.pop()
    x = seen["blocks.1.hook_resid_post"]
    assert got["blocks.1.resid_post.rms"] == pytest.approx(x.pow(2).mean().sqrt().item(), rel=1e-6)
    assert got["blocks.1.resid_post.mean"] == pytest.approx(x.mean().item(), rel=1e-5, abs=1e-7)
    assert got["blocks.1.resid_post.std"] == pytest.approx(x.std().item(), rel=1e-6)
    assert got["blocks.1.resid_post.absmax"] == pytest.approx(x.abs().max().item(), rel=1e-6)
    ratio = [(X - X.mean(0)).norm() / X.norm() for X in x]
    assert got["blocks.1.rank_residual"] == pytest.approx(torch.stack(ratio).mean().item(), rel=1e-6)
    p = seen["blocks.1.attn.hook_pattern"]  # (batch, head, query, key)
    for h in range(p.shape[1]):
        rows = p[:, h]
        ent = -(rows * torch.where(rows > 0, rows.log(), torch.zeros_like(rows))).sum(-1).mean()
        assert got[f"blocks.1.attn.head{h}.entropy"] == pytest.approx(ent.item(), rel=1e-5)
    causal_max = torch.log(torch.arange(1, p.shape[-1] + 1, dtype=torch.float64)).mean()
    assert 0 < got["blocks.1.attn.entropy"] <= causal_max.item() + 1e-9  # at most uniform over visible keys


def test_cli_reports_a_failed_run_in_one_line(monkeypatch, tmp_path, capsys):
    from resnorm import cli

    monkeypatch.setattr(Trainer, "_step", lambda self, step: (_ for _ in ()).throw(RuntimeError("out of memory\nmore")))
    rc = cli.main(["train", "--out", str(tmp_path / "f"), "--steps", "3", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err == ["error: the run failed at step 1: RuntimeError: out of memory"]
    import json

    assert json.loads((tmp_path / "f" / "summary.json").read_text())["status"] == "failed"
