"""GPU settings (issue 5) that can be checked without a GPU: bf16 autocast on the CPU (the same
``torch.autocast`` the trainer uses on CUDA), the per-process CUDA memory fraction (CUDA faked),
and the bench's autocast rows."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnorm import bench, cli
from resnorm import device as D
from resnorm.config import ConfigError, RunConfig, parse_value, to_cli
from resnorm.model import sequence_loss
from resnorm.trainer import Trainer, train
from helpers import TINY, configs

cfg = configs(TINY, lr=3e-3)


# ---- the setting ---------------------------------------------------------------------------------------
def test_autocast_is_a_schema_field_off_by_default():
    assert RunConfig().train.autocast == "off"
    assert cfg(autocast="bf16").train.autocast == "bf16"
    assert parse_value("autocast", " bf16 ") == "bf16"
    with pytest.raises(ConfigError) as e:
        parse_value("autocast", "fp16")
    assert e.value.by_field()["autocast"].startswith("unknown option 'fp16'; choose one of: off, bf16")
    assert "--autocast bf16" in to_cli(cfg(autocast="bf16"))
    assert "--autocast" not in to_cli(cfg())


@pytest.mark.parametrize("dtype", ["bfloat16", "float64"])
def test_autocast_needs_float32_weights(dtype):
    with pytest.raises(ConfigError) as e:
        cfg(autocast="bf16", dtype=dtype)
    msg = e.value.by_field()["autocast"]
    assert f"with dtype {dtype}" in msg and "use dtype float32, or autocast off" in msg
    cfg(autocast="off", dtype=dtype)  # each alone is fine


def test_cli_refuses_autocast_with_bfloat16_weights_naming_the_option(tmp_path, capsys):
    assert cli.main(["train", "--out", str(tmp_path), "--autocast", "bf16", "--dtype", "bfloat16"]) == 2
    assert capsys.readouterr().err.startswith("error: --autocast: bf16 autocast lowers float32")


# ---- training under autocast ---------------------------------------------------------------------------
def test_bf16_autocast_trains_with_float32_master_weights():
    tr = train(cfg(autocast="bf16", steps=8, probe_every=2, attention_every=4, eval_every=4))
    assert tr.summary.status == "completed"
    losses = tr.store.series("train/loss")[1]
    assert len(losses) == 8 and np.isfinite(losses).all()
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())
    assert all(p.grad.dtype == torch.float32 for p in tr.model.parameters() if p.grad is not None)
    for name in ("val/loss", "blocks.1.resid_post.rms", "blocks.0.attn.entropy", "blocks.1.update_ratio"):
        assert math.isfinite(tr.store.latest(name)), name
    maps = tr.store.attention()[-1].maps["blocks.0.attn"]
    assert maps.dtype == np.float32
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=2e-2)  # rows of bfloat16 probabilities


def test_linear_layers_compute_in_bfloat16_from_float32_weights():
    """Inside a training step, a Linear's output is exactly W and x rounded to bfloat16 and multiplied
    there (the definition of bf16 autocast), while the stream and the loss stay float32."""
    tr = Trainer(cfg(autocast="bf16", steps=3, probe_every=1))
    tr.prepare()
    seen = {}
    lin = tr.model.get_submodule("blocks.0.attn.W_O")

    def on_linear(m, args, out):
        seen["linear"] = (args[0].detach().clone(), m.weight.detach().clone(), m.bias.detach().clone(), out.detach())

    def on_hook(name):
        return lambda m, a, out: seen.setdefault(name, out.detach())

    handles = [lin.register_forward_hook(on_linear)]
    for name in ("blocks.0.hook_attn_out", "blocks.0.hook_resid_post", "hook_embed"):
        handles.append(tr.model.get_submodule(name).register_forward_hook(on_hook(name)))
    assert tr.advance()
    for h in handles:
        h.remove()
    x, w, b, out = seen["linear"]
    assert w.dtype == torch.float32 and out.dtype == torch.bfloat16
    expected = F.linear(x.to(torch.bfloat16), w.to(torch.bfloat16), b.to(torch.bfloat16))
    assert torch.equal(out, expected)
    assert not torch.equal(out.float(), F.linear(x.float(), w, b))  # float32 maths would differ
    assert seen["blocks.0.hook_attn_out"].dtype == torch.bfloat16  # a branch output: a matmul's
    assert seen["hook_embed"].dtype == torch.float32               # embeddings are lookups
    assert seen["blocks.0.hook_resid_post"].dtype == torch.float32  # x + F(x): float32 + bfloat16


def test_first_loss_differs_from_float32_by_bfloat16_rounding_only():
    """Same weights, same batch: the bf16 loss is off by rounding (bfloat16 keeps 8 significant bits,
    relative error ~2⁻⁸ per operation), never identical and never far."""
    f32 = train(cfg(steps=1, probe_every=0, attention_every=0, eval_every=0))
    bf16 = train(cfg(steps=1, probe_every=0, attention_every=0, eval_every=0, autocast="bf16"))
    a, b = f32.store.latest("train/loss"), bf16.store.latest("train/loss")
    assert a != b and abs(a - b) < 0.05 * a


def test_probe_statistics_are_float32_of_the_bf16_activations():
    """A branch output under autocast is bfloat16; its recorded RMS is the float32 RMS of those values
    (not a bfloat16 reduction, whose rounding would show at this tolerance)."""
    tr = Trainer(cfg(autocast="bf16", steps=1, probe_every=1, d_model=64, heads=4, d_ff=128, seq_len=12))
    tr.prepare()
    seen = {}
    h = tr.model.get_submodule("blocks.1.hook_mlp_out").register_forward_hook(
        lambda m, a, out: seen.setdefault("out", out.detach().clone()))
    tr.advance()
    h.remove()
    out = seen["out"]
    assert out.dtype == torch.bfloat16
    rms64 = out.double().square().mean().sqrt().item()
    assert tr.store.latest("blocks.1.mlp_out.rms") == pytest.approx(rms64, rel=1e-5)
    assert abs(out.square().mean().sqrt().item() - rms64) > 1e-5 * rms64  # what a bf16 reduction gives


def test_validation_runs_in_the_training_precision():
    tr = train(cfg(autocast="bf16", steps=4, probe_every=0, attention_every=0, eval_every=4))
    recorded = tr.store.latest("val/loss")
    assert tr.evaluate()["val/loss"] == recorded  # deterministic, same weights
    tr.model.eval()
    with torch.no_grad():  # the same weights without autocast
        f32 = torch.stack([sequence_loss(tr.model(*b.model_args()), b.targets) for b in tr.val_batches]).mean().item()
    assert f32 != recorded and abs(f32 - recorded) < 0.05 * f32


def test_same_config_and_seed_give_identical_curves_under_autocast():
    c = cfg(autocast="bf16", steps=6, probe_every=2, attention_every=3, eval_every=3, dropout=0.1)
    a, b = train(c).store.frame(), train(c).store.frame()
    assert len(a) > 50 and a.equals(b)


# ---- per-process CUDA memory fraction (CUDA faked) -------------------------------------------------------
@pytest.fixture
def fake_cuda(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, d=None: calls.append((f, d)))
    monkeypatch.delenv(D.MEMORY_FRACTION_ENV, raising=False)
    monkeypatch.delenv("RESNORM_MAX_TRAININGS", raising=False)
    return calls


def test_memory_fraction_defaults_to_one_share_per_training_slot(fake_cuda, monkeypatch):
    assert D.limit_cuda_memory("cuda", capacity=4) == 0.25
    assert D.limit_cuda_memory("auto", capacity=1) == 1.0
    monkeypatch.setenv("RESNORM_MAX_TRAININGS", "3")  # the slot cap (resnorm.slots.default_capacity)
    assert D.limit_cuda_memory() == pytest.approx(1 / 3)
    assert D.limit_cuda_memory(torch.device("cuda", 1), capacity=2) == 0.5
    assert fake_cuda == [(0.25, 0), (1.0, 0), (pytest.approx(1 / 3), 0), (0.5, 1)]


def test_memory_fraction_from_the_environment(fake_cuda, monkeypatch):
    monkeypatch.setenv(D.MEMORY_FRACTION_ENV, " 0.4 ")
    assert D.limit_cuda_memory("cuda:0", capacity=8) == 0.4
    monkeypatch.setenv(D.MEMORY_FRACTION_ENV, "1")
    assert D.limit_cuda_memory("cuda") == 1.0
    monkeypatch.setenv(D.MEMORY_FRACTION_ENV, "")  # empty: not set
    assert D.limit_cuda_memory("cuda", capacity=2) == 0.5
    assert fake_cuda == [(0.4, 0), (1.0, 0), (0.5, 0)]


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "nan", "inf", "half", "1e400", "0x1"])
def test_bad_memory_fraction_is_refused_naming_the_variable(fake_cuda, monkeypatch, value):
    monkeypatch.setenv(D.MEMORY_FRACTION_ENV, value)
    with pytest.raises(ConfigError) as e:
        D.limit_cuda_memory("cuda", capacity=2)
    assert str(e.value) == (f"RESNORM_CUDA_MEMORY_FRACTION: must be a number greater than 0 and at most 1 "
                            f"(the share of the GPU's memory per training process, e.g. 0.25), not {value!r}")
    assert fake_cuda == []


def test_memory_fraction_is_left_alone_without_a_cuda_device(fake_cuda, monkeypatch):
    monkeypatch.setenv(D.MEMORY_FRACTION_ENV, "bad")  # not even read: nothing to cap
    assert D.limit_cuda_memory("cpu") is None
    assert D.limit_cuda_memory(torch.device("cpu"), capacity=2) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert D.limit_cuda_memory("auto") is None and D.limit_cuda_memory("cuda") is None
    assert fake_cuda == []


def test_memory_fraction_capacity_must_be_positive(monkeypatch):
    monkeypatch.delenv(D.MEMORY_FRACTION_ENV, raising=False)
    with pytest.raises(ValueError):
        D.cuda_memory_fraction(0)


# ---- bench -----------------------------------------------------------------------------------------------
def test_bench_autocast_rows_only_when_asked():
    assert bench.bench_configs(False) == bench.CONFIGS
    rows = bench.bench_configs(True)
    assert rows["default, bf16 autocast"] == {"autocast": "bf16"}
    assert rows["deep (24 layers), bf16 autocast"] == {"layers": 24, "autocast": "bf16"}
    assert list(rows)[:len(bench.CONFIGS)] == list(bench.CONFIGS)


def test_bench_bare_loop_runs_under_autocast_and_names_the_device(monkeypatch):
    seen = []
    real = bench.sequence_loss

    def spy(logits, targets):
        seen.append(logits.dtype)
        return real(logits, targets)

    monkeypatch.setattr(bench, "sequence_loss", spy)
    rate = bench.bare_loop(cfg(autocast="bf16"), warmup=1, steps=2)
    assert seen == [torch.bfloat16] * 3 and math.isfinite(rate) and rate > 0  # every step, in bf16
    seen.clear()
    bench.bare_loop(cfg(), warmup=1, steps=2)
    assert seen == [torch.float32] * 3  # and without autocast, float32
    assert "device cpu," in bench.machine(torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_bench_refuses_cuda_without_cuda(capsys):
    assert bench.main(["--device", "cuda"]) == 2
    assert capsys.readouterr().err.startswith("error: --device: CUDA was requested")


def test_bench_charts_times_every_live_chart_with_each_json_engine(capsys):
    assert bench.main(["--charts", "--points", "50", "--repeats", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["engines"][0] == "json" and out["points"] == 50
    assert {"loss", "gradients", "attention (all heads)", "rank"} <= set(out["charts"])
    cols = ["dict build", *(f"{route} {e}" for route in ("dict", "validated") for e in out["engines"])]
    for row in out["charts"].values():
        assert all(math.isfinite(row[c]) and row[c] > 0 for c in cols) and row["kB"] > 0
    assert bench.main(["--charts", "--points", "1"]) == 2
