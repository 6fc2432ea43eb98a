"""The command line, run as a user runs it.

Most tests call ``resnorm.cli.main`` in this process (what a subprocess would run, without paying
for a fresh interpreter and torch import each time); ``run_process`` runs the real
``python -m resnorm`` for the few tests that check what only a process shows: its exit status and
that a usage error is one ``error:`` line on stderr and nothing else.
"""
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from resnorm import cli
from helpers import ROOT

SMALL = ["--layers", "2", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--batch-size", "8"]


def run(*args):
    """``python -m resnorm ARGS`` in this process: its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as e:  # argparse's --help
            code = e.code if isinstance(e.code, int) else 1
    torch.set_num_threads(threads)  # the CLI may choose its own thread count
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def run_process(*args, timeout=120):
    """``python -m resnorm ARGS`` as a separate process, from the repository folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "resnorm", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_import_does_not_pull_in_streamlit():
    code = "import resnorm, resnorm.cli, resnorm.science.trainer, resnorm.studies.signal, sys; assert 'streamlit' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
    for dirpath, _, files in os.walk(os.path.join(ROOT, "resnorm")):
        for f in files:
            if f.endswith(".py"):
                src = open(os.path.join(dirpath, f), encoding="utf-8").read()
                assert "import streamlit" not in src and "from streamlit" not in src, f


def test_help_explains_every_option():
    out = run("train", "--help").stdout
    for opt in ["--arch", "--layers", "--d-model", "--heads", "--d-ff", "--norm-position", "--norm", "--residual",
                "--mlp", "--no-mlp", "--init", "--task", "--text-file", "--seq-len", "--batch-size", "--lr",
                "--warmup", "--schedule", "--optimizer", "--weight-decay", "--grad-clip", "--seed", "--device",
                "--dtype", "--probe-every", "--steps", "--out"]:
        assert opt in out, opt
    assert "must divide d_model" in out and "Vaswani" in out
    assert "--seeds" in run("init-stats", "--help").stdout


@pytest.mark.parametrize("args,field", [
    (["--layers", "0"], "--layers"),
    (["--layers", "97"], "--layers"),
    (["--d-model", "30", "--heads", "4"], "--heads"),
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--lr", "fast"], "--lr"),
    (["--layers", "abc"], "--layers"),
    (["--norm", "groupnorm"], "--norm"),
    (["--norm-position", "middle"], "--norm-position"),
    (["--norm-position", "deepnorm", "--residual", "off"], "--residual"),
    (["--task", "add", "--arch", "encoder"], "--task"),
    (["--task", "text-lm"], "--text-file"),
    (["--task", "text-lm", "--text-file", "/no/such/file.txt"], "--text-file"),
    (["--seq-len", "0"], "--seq-len"),
    (["--warmup", "-3"], "--warmup"),
    (["--schedule", "noam", "--warmup", "0"], "--warmup"),
    (["--device", "tpu"], "--device"),
    (["--dropout", "2"], "--dropout"),
    (["--norm", "batchnorm", "--batch-size", "1"], "--batch-size"),
    (["--bogus-option", "1"], "--bogus-option"),
])
def test_invalid_input_exits_2_with_one_error_line_naming_the_field(args, field, tmp_path):
    r = run("train", "--out", str(tmp_path / "o"), "--steps", "1", *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:") and field in lines[0], lines[0]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args,field", [
    (["--layers", "0"], "--layers"),
    (["--norm-position", "deepnorm", "--residual", "off"], "--residual"),
    (["--bogus-option", "1"], "--bogus-option"),
])
def test_a_real_process_exits_2_with_only_one_error_line(args, field, tmp_path):
    r = run_process("train", "--out", str(tmp_path / "o"), "--steps", "1", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:") and field in r.stderr, r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # nothing written


def test_a_real_process_trains_and_exits_0(tmp_path):
    r = run_process("train", "--out", str(tmp_path / "o"), "--steps", "3", "--quiet", *SMALL)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["steps"] == 3


def test_a_bad_thread_setting_is_a_usage_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNORM_CPU_THREADS", "abc")
    r = run("train", "--out", str(tmp_path / "o"), "--steps", "1")
    assert r.returncode == 2 and r.stderr.strip() == "error: RESNORM_CPU_THREADS: must be a whole number from 1 to 1024, not 'abc'"


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = run("train", "--out", str(tmp_path / "o"), "--device", "cuda", "--steps", "1")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("error: --device")


def test_config_file_that_is_not_utf8_json(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_bytes(b"\xff\xfe\x00binary")
    r = run("train", "--out", str(tmp_path / "o"), "--config", str(bad))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("error: --config") and "UTF-8" in r.stderr
    bad.write_text('{"model": {"layers": 0}, "extra": 1}')
    r = run("train", "--out", str(tmp_path / "o"), "--config", str(bad))
    assert r.returncode == 2 and "extra" in r.stderr and "Traceback" not in r.stderr


def test_init_stats_checks_output_before_computing(tmp_path):
    r = run("init-stats", "--seeds", "2", "--out", str(tmp_path / "missing" / "x.csv"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == ["error: --out: folder " + str(tmp_path / "missing") + " does not exist"]


def test_output_folder_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run("train", "--out", str(f), "--steps", "1")
    assert r.returncode == 2 and r.stderr.startswith("error: --out")


def test_train_writes_config_metrics_summary(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--out", str(out), "--steps", "20", "--norm-position", "post", "--probe-every", "5", *SMALL)
    assert r.returncode == 0, r.stderr
    assert "20/20" in r.stderr  # the progress bar reached the end
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["norm_position"] == "post" and cfg["train"]["steps"] == 20
    m = pd.read_csv(out / "metrics.csv")
    assert list(m.columns) == ["step", "name", "value"]
    assert set(m[m.name == "train/loss"].step) == set(range(1, 21))
    assert "blocks.1.resid_post.rms" in set(m.name)
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "completed" and s["steps"] == 20
    import torch

    weights = torch.load(out / "weights.pt", weights_only=True)  # plain tensors, no pickled code
    assert "blocks.1.mlp.W_2.weight" in weights and weights["embed.weight"].shape[1] == 16
    assert s["final_loss"] == pytest.approx(m[m.name == "train/loss"].value.iloc[-1], rel=1e-6)
    # the written config reproduces the run
    r2 = run("train", "--out", str(tmp_path / "again"), "--config", str(out / "config.json"), "--quiet")
    assert r2.returncode == 0
    assert pd.read_csv(tmp_path / "again" / "metrics.csv").equals(m)


def test_diverged_run_is_a_result_not_a_crash(tmp_path):
    out = tmp_path / "div"
    r = run("train", "--out", str(out), "--steps", "60", "--lr", "1000", "--optimizer", "sgd", "--grad-clip", "0",
            "--init", "torch", "--norm-position", "none", "--norm", "none", "--layers", "4", "--quiet")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "diverged" and s["steps"] < 60 and "non-finite" in s["reason"]
    assert s["final_loss"] is None
    m = pd.read_csv(out / "metrics.csv")
    assert m.step.max() == s["steps"]


def test_init_stats_csv(tmp_path):
    out = tmp_path / "init.csv"
    r = run("init-stats", "--seeds", "2", "--layers", "3", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == ["seed", "name", "value"]
    assert set(df.seed) == {0, 1}
    for i in range(3):
        assert f"blocks.{i}.resid_post.rms" in set(df.name) and f"blocks.{i}.mlp.grad_norm" in set(df.name)
    assert "lr" not in set(df.name)  # no optimizer step at initialisation


def test_init_stats_bad_seeds():
    r = run("init-stats", "--seeds", "0")
    assert r.returncode == 2 and r.stderr.startswith("error: --seeds")


@pytest.mark.parametrize("env, option, expected", [
    (None, None, 3),  # torch's default (faked here as 3): one person, one command
    ("1", None, 1),   # RESNORM_CPU_THREADS says otherwise
    ("1", "2", 2),    # --threads wins over the variable
])
def test_train_and_init_stats_use_torch_default_threads_unless_told(tmp_path, monkeypatch, env, option, expected):
    from resnorm.studies import signal
    from resnorm.science import trainer

    signal.cache_clear()  # init-stats computes (and so sets its threads) only on a cache miss
    monkeypatch.setattr(trainer, "TORCH_DEFAULT_THREADS", 3)
    if env is None:
        monkeypatch.delenv("RESNORM_CPU_THREADS", raising=False)
    else:
        monkeypatch.setenv("RESNORM_CPU_THREADS", env)
    seen = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)  # record, change nothing in this process
    extra = ["--threads", option] if option else []
    r = run("train", "--out", str(tmp_path / "t"), "--steps", "2", *SMALL, "--device", "cpu", "--quiet", *extra)
    assert r.returncode == 0, r.stderr
    r = run("init-stats", "--seeds", "1", "--layers", "2", "--out", str(tmp_path / "i.csv"), "--quiet", *extra)
    assert r.returncode == 0, r.stderr
    assert seen[0::2] == [expected, expected]  # train, init-stats (each followed by run()'s restore)


def test_the_server_trainer_keeps_one_thread_by_default(monkeypatch):
    from resnorm.science import trainer

    monkeypatch.setattr(trainer, "TORCH_DEFAULT_THREADS", 3)
    monkeypatch.delenv("RESNORM_CPU_THREADS", raising=False)
    seen = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    trainer.Trainer(trainer.RunConfig.from_flat(dict(layers=1, d_model=16, heads=2, d_ff=32, batch_size=4,
                                                     steps=1, device="cpu"))).run()
    assert seen == [1]


def test_threads_below_one_is_a_usage_error(tmp_path):
    r = run("train", "--out", str(tmp_path / "t"), "--threads", "0", "--quiet")
    assert r.returncode == 2 and r.stderr.startswith("error: --threads: must be at least 1")


def test_train_and_sweep_in_process_leave_sigterm_as_they_found_it(tmp_path):
    """``main`` ignores SIGTERM while it saves; a caller that goes on (a test, a script) must get its
    handler back, or every process it starts later inherits the ignored signal and survives
    ``terminate()`` (that hung pytest's exit on the warm workers)."""
    import signal

    before = signal.getsignal(signal.SIGTERM)
    tiny = ["--layers", "1", "--d-model", "8", "--heads", "1", "--d-ff", "16", "--seq-len", "4",
            "--batch-size", "2", "--device", "cpu", "--quiet"]
    assert run("train", *tiny, "--steps", "2", "--out", str(tmp_path / "t")).returncode == 0
    assert signal.getsignal(signal.SIGTERM) == before
    assert run("sweep", *tiny, "--steps", "2", "--axis", "lr=1e-3", "--workers", "1",
               "--out", str(tmp_path / "s")).returncode == 0
    assert signal.getsignal(signal.SIGTERM) == before
