"""The bench's modes that can be checked without a GPU and without timing anything: which configs
and thread settings it measures, the whole-process commands, and the worker processes that share
a device (on the CPU; on CUDA the same function adds each process's memory cap)."""
import json
import math
import re
import sys

import pytest
import torch

from resnorm import bench, bench_process, bench_share
from resnorm.science.config import RunConfig
from helpers import ROOT, TINY, configs


def test_bench_measures_the_readme_examples():
    """The README's stdlib-lm command and its 12-layer link are bench configs, as the README writes them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--task stdlib-lm --seq-len 64" in readme
    assert bench.CONFIGS["README stdlib-lm"] == {"task": "stdlib-lm", "seq_len": 64}
    assert bench_process.PROCESS_CONFIGS["README stdlib-lm"] == ["--task", "stdlib-lm", "--seq-len", "64"]
    link = re.search(r"/\?norm_position=post&layers=12&lr=0\.0003", readme)
    assert link and bench.CONFIGS["README 12-layer Post-LN"] == {"norm_position": "post", "layers": 12, "lr": 3e-4}
    for extra in bench.CONFIGS.values():
        RunConfig.from_flat(extra)  # valid


def test_thread_settings_and_their_labels(monkeypatch):
    monkeypatch.setattr(bench, "TORCH_DEFAULT_THREADS", 4)
    assert bench.thread_settings("1,default") == [1, 4]
    assert bench.thread_settings("default,4,2") == [4, 2]
    assert bench.threads_label(1) == "1 thread" and bench.threads_label(4) == "4 threads (torch default)"
    with pytest.raises(ValueError):
        bench.thread_settings("0")


def test_each_row_says_which_threads_it_used(capsys, monkeypatch):
    monkeypatch.setattr(bench, "TORCH_DEFAULT_THREADS", 2)
    monkeypatch.setitem(bench.CONFIGS, "tiny", TINY)
    used = []
    real = bench.trainer_rate

    def spy(cfg, warmup, steps, threads=None):
        used.append(threads)
        return real(cfg, warmup, steps, threads=threads)

    monkeypatch.setattr(bench, "trainer_rate", spy)
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--configs", "tiny", "--steps", "2", "--warmup", "1", "--repeats", "1", "--json"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = json.loads(capsys.readouterr().out)
    assert list(out["rates"]["tiny"]) == ["1 thread", "2 threads (torch default)"] == out["threads"]
    assert used == [1, 1, 1, 2, 2, 2]  # three trainer cases per setting, each at its own thread count
    assert "share" not in out  # no CUDA: no sharing table unless asked
    table = bench.table(out["rates"])
    assert "| tiny | 2 threads (torch default) | probes | " in table
    assert bench.main(["--configs", "nope"]) == 2


def test_the_sharing_table_is_on_by_default_only_on_cuda():
    assert bench.share_counts("auto", torch.device("cpu")) == []
    assert bench.share_counts("auto", torch.device("cuda")) == [1, 2, 4, 8]
    assert bench.share_counts("1,3", torch.device("cpu")) == [1, 3]
    assert bench.share_counts("none", torch.device("cuda")) == []
    with pytest.raises(ValueError):
        bench.share_counts("0,2", torch.device("cpu"))


def test_whole_process_commands_are_the_readme_command_and_a_bare_loop(tmp_path):
    cases = bench_process.commands(["--task", "stdlib-lm", "--seq-len", "64"], 200, "cpu", str(tmp_path))
    assert list(cases) == ["bare loop", "train", "train --probe-every 0"]
    assert cases["train"][1:] == ["-m", "resnorm", "train", "--task", "stdlib-lm", "--seq-len", "64", "--steps", "200",
                                  "--device", "cpu", "--quiet", "--out", str(tmp_path / "a")]  # torch's default threads
    assert "--probe-every" in cases["train --probe-every 0"]
    assert json.loads(cases["bare loop"][-1]) == {"task": "stdlib-lm", "seq_len": 64, "steps": 200, "device": "cpu"}
    one = bench_process.commands(["--task", "stdlib-lm"], 10, "cpu", str(tmp_path), threads=1)
    assert one["train"][-4:-2] == ["--threads", "1"] and one["bare loop"][-1] == "1"


def test_the_bare_loop_script_trains(monkeypatch):
    """``BARE`` as its process runs it (here in this process, a tiny config): it trains."""
    from resnorm.science import model

    losses = []
    real = model.sequence_loss

    def spy(logits, targets):
        loss = real(logits, targets)
        losses.append(loss.item())
        return loss

    monkeypatch.setattr(model, "sequence_loss", spy)
    monkeypatch.setattr(sys, "argv", ["-c", json.dumps({**TINY, "steps": 30, "lr": 1e-2}), "1"])
    threads = torch.get_num_threads()
    try:
        exec(compile(bench_process.BARE, "BARE", "exec"), {"__name__": "__main__"})
    finally:
        torch.set_num_threads(threads)
    assert len(losses) == 30 and all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


def test_process_table_ratios():
    t = bench_process.table({"c": {"1": {"bare loop": 10.0, "train": 11.0},
                                   "torch default (2)": {"bare loop": 5.0, "train": 10.0}}}, 200, 3)
    assert "| c | 1 | train | 11.00 | 1.100 |" in t and "| c | torch default (2) | train | 10.00 | 2.000 |" in t


@pytest.mark.slow
def test_worker_processes_share_the_device_and_report_each_run():
    cfg = configs(TINY, device="cpu")()
    row = bench_share.shared_rates(cfg, 2, warmup=2, steps=10, timeout=300)
    assert row["processes"] == 2 and row["memory_fraction"] is None  # no CUDA: nothing to cap
    assert row["per_run_min"] <= row["per_run_median"] and row["aggregate_steps_s"] >= 2 * row["per_run_min"] > 0
    assert row["peak_mb_max"] > 0
    assert "| x | 2 | " in bench_share.table({"x": [row]}, "cpu")


@pytest.mark.slow
def test_a_failing_worker_fails_the_row_instead_of_hanging():
    cfg = configs(TINY, device="cpu")(lr=1000, optimizer="sgd", grad_clip=0.0, init="torch", norm_position="none",
                                      norm="none", layers=4)  # diverges (as in test_cli)
    with pytest.raises(RuntimeError, match=r"processes failed: (RuntimeError: run ended diverged|BrokenBarrierError)"):
        bench_share.shared_rates(cfg, 2, warmup=2, steps=200, timeout=300)


@pytest.mark.slow
def test_worker_processes_do_not_rerun_the_parents_main_script(tmp_path, monkeypatch):
    """After a Streamlit AppTest, the parent's __main__ is the app: a spawned bench worker must not run it
    (it did, died without a word, and the bench waited for its result until the time-out)."""
    import sys
    import types

    app = tmp_path / "app_like.py"
    app.write_text("raise SystemExit('the main script ran in the child')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(app)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    row = bench_share.shared_rates(configs(TINY, device="cpu")(), 1, warmup=2, steps=5, timeout=120)
    assert row["processes"] == 1 and row["per_run_median"] > 0


def test_sweep_bench_measures_warm_and_batched_workers_against_the_ideal():
    from resnorm import bench_sweep

    res = bench_sweep.measure_grid("small", cells=2, steps=12, workers=1, ray=False, processes=False)
    assert res["cells"] == 2 and set(res["rows"]) == {"single run", "warm workers", "batched"}
    ideal = res["rows"]["single run"]["ideal_cells_per_s"]
    assert ideal == pytest.approx(res["rows"]["single run"]["steps_per_s"] / 12)
    for mode in ("warm workers", "batched"):
        r = res["rows"][mode]
        assert r["wall_s"] > 0 and r["cells_per_s"] == pytest.approx(2 / r["wall_s"])
        assert r["overhead"] == pytest.approx(ideal / r["cells_per_s"] - 1)
    text = bench_sweep.table(res)
    assert text.startswith("small config: 2 cells x 12 steps, 1 workers") and "batched" in text
