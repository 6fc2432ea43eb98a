"""Sweeps (issue 17): the spec and its cells, the at-initialisation predictors and their rank
correlation (against hand computations), and real local sweeps in warm worker processes — same
losses as a single run, resumable, incremental, diverged and failed cells as rows, the slot cap,
the command line's errors."""
from __future__ import annotations

import math
import subprocess
import sys
import threading

import pandas as pd
import pytest

from helpers import ROOT, TINY, configs, wait
from resnorm.science.config import ConfigError, RunConfig
from resnorm.serving.slots import TrainingSlots
from resnorm.serving.sweep import ROW_COLUMNS, SweepJob, read_sweep, run_sweep
from resnorm.studies import predictors
from resnorm.studies.sweep_spec import MAX_AXES, SweepSpec, cell_key, cells, parse_axis, replace_axes

QUIET = dict(probe_every=0, attention_every=0, eval_every=0)
base = configs(TINY, QUIET)


# ---- the spec ---------------------------------------------------------------------------------------
def test_parse_axis_reads_values_by_the_field_schema():
    assert parse_axis("lr=3e-4,1e-3") == ("lr", (3e-4, 1e-3))
    assert parse_axis("layers=2, 4,8") == ("layers", (2, 4, 8))
    assert parse_axis("norm-position=pre,post") == ("norm_position", ("pre", "post"))
    assert parse_axis("mlp=true,false") == ("mlp", (True, False))


@pytest.mark.parametrize("text, axis, words", [
    ("lr=1e-3,x", "lr", "not a number"),
    ("lr=0", "lr", "0"),
    ("layers=2,2", "layers", "twice"),
    ("layers=", "layers", "values"),
    ("layers=2,,4", "layers", "values"),
    ("bogus=1,2", "bogus", "not a config field"),
    ("norm=layernorm,zzz", "norm", "zzz"),
    ("text_file=a,b", "text_file", "not swept"),
    ("lr", "axis", "NAME=V1"),
])
def test_a_bad_axis_is_an_error_naming_it(text, axis, words):
    with pytest.raises(ConfigError) as e:
        parse_axis(text)
    assert e.value.problems[0][0] == axis and words in e.value.problems[0][1]


def test_cells_are_the_product_in_order_with_full_configs_and_stable_keys():
    spec = SweepSpec(base(), {"layers": (1, 2), "lr": (1e-3, 1e-2, 3e-2)}, steps=7)
    cs = cells(spec)
    assert [c.values for c in cs] == [{"layers": l, "lr": r} for l in (1, 2) for r in (1e-3, 1e-2, 3e-2)]
    for c in cs:
        assert c.config == base(layers=c.values["layers"], lr=c.values["lr"], steps=7, max_points=10)
        assert c.key == cell_key(c.config) and len(c.key) == 16
    assert len({c.key for c in cs}) == 6
    # the key is the config's: the same cell in another sweep (other axis order) has the same key
    other = cells(SweepSpec(base(), {"lr": (1e-2,), "layers": (2,)}, steps=7))
    assert other[0].key == cs[4].key


def test_spec_limits_and_invalid_combinations():
    with pytest.raises(ConfigError, match="1 to 3 axes"):
        SweepSpec(base(), {})
    with pytest.raises(ConfigError, match="1 to 3 axes"):
        SweepSpec(base(), {k: (1, 2) for k in ("layers", "seed", "warmup", "heads")[: MAX_AXES + 1]})
    with pytest.raises(ConfigError) as e:
        cells(SweepSpec(base(), {"seed": tuple(range(20)), "layers": tuple(range(1, 21))}), max_cells=399)
    assert "400 cells" in str(e.value)
    with pytest.raises(ConfigError) as e:  # heads=2 does not divide 15: named by the axis
        cells(SweepSpec(base(), {"d_model": (16, 15)}))
    assert e.value.problems[0][0] == "d_model" and "d_model=15" in e.value.problems[0][1]
    with pytest.raises(ConfigError) as e:
        SweepSpec(base(), {"lr": (1e-3,)}, target=-1.0)
    assert e.value.problems[0][0] == "target"


def test_spec_json_round_trip_and_cli():
    spec = SweepSpec(base(), {"norm_position": ("pre", "post"), "lr": (1e-3, 1e-2)}, steps=30, target=1.5)
    assert SweepSpec.from_json(spec.to_json()) == spec
    cli = spec.to_cli("out/s")
    assert cli.startswith("python -m resnorm sweep ") and "--axis norm_position=pre,post" in cli
    assert "--axis lr=0.001,0.01" in cli and "--steps 30" in cli and "--target 1.5" in cli and cli.endswith("--out out/s")
    other = SweepSpec(base(steps=50), {"lr": (1e-3,)}, steps=30).to_cli("o")  # the spec's steps, once
    assert other.count("--steps") == 1 and "--steps 30" in other
    assert "--steps 50" in SweepSpec(base(steps=50), {"lr": (1e-3,)}).to_cli("o")


# ---- predictors ----------------------------------------------------------------------------------------
def test_spearman_against_hand_computations():
    # no ties: 1 - 6 Σd² / (n(n²-1)) with ranks y = 3,1,2,5,4, d = (-2,1,1,-1,1), Σd² = 8 → 1 - 48/120
    assert predictors.spearman([10, 20, 30, 40, 50], [3, 1, 2, 5, 4]) == pytest.approx(0.6, abs=1e-12)
    # ties get their mean rank: y ranks (1, 2, 3.5, 5, 3.5); Pearson of the ranks = 8 / √(10 · 9.5)
    assert predictors.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95), abs=1e-12)
    assert predictors.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # pairs with a non-finite side are left out; under 3 pairs or a constant side: NaN
    assert predictors.spearman([1, 2, float("nan"), 3, 4], [1, 2, 9, 4, 3]) == pytest.approx(0.8)
    assert math.isnan(predictors.spearman([1, 2], [2, 1]))
    assert math.isnan(predictors.spearman([1, 1, 1], [1, 2, 3]))


def test_predictors_from_metrics_by_hand():
    m = {"blocks.0.grad_norm": 2.0, "blocks.1.grad_norm": 5.0, "blocks.2.grad_norm": 6.0,
         "blocks.0.resid_post.rms": 1.0, "blocks.2.resid_post.rms": 3.0,
         "blocks.0.rank_residual": 0.9, "blocks.2.rank_residual": 0.4,
         "blocks.0.attn.entropy": 1.0, "blocks.1.attn.entropy": 2.0, "blocks.2.attn.entropy": 3.0,
         "blocks.2.attn.head0.entropy": 99.0, "train/loss": 2.3}
    assert predictors.from_metrics(m) == {"pred_rank_residual": 0.4, "pred_grad_ratio": 3.0,
                                          "pred_resid_growth": 9.0, "pred_attn_entropy": 2.0}
    # encoder-decoder: the decoder stack, the one the loss is read from
    ed = {"enc.blocks.0.grad_norm": 1.0, "enc.blocks.1.grad_norm": 100.0,
          "dec.blocks.0.grad_norm": 4.0, "dec.blocks.1.grad_norm": 2.0}
    assert predictors.from_metrics(ed)["pred_grad_ratio"] == 0.5
    assert all(math.isnan(v) for v in predictors.from_metrics({"train/loss": 1.0}).values())


def test_predictor_correlation_ranks_diverged_last_and_drops_failed():
    rows = [dict(status="completed", final_loss=1.0, pred_grad_ratio=1.0, pred_rank_residual=0.9),
            dict(status="completed", final_loss=2.0, pred_grad_ratio=2.0, pred_rank_residual=0.5),
            dict(status="completed", final_loss=3.0, pred_grad_ratio=3.0, pred_rank_residual=0.7),
            dict(status="diverged", final_loss=None, pred_grad_ratio=4.0, pred_rank_residual=0.1),
            dict(status="failed", final_loss=None, pred_grad_ratio=0.5, pred_rank_residual=0.2)]
    out = predictors.predictor_correlation(rows).set_index("predictor")
    assert list(out.index) == list(predictors.PREDICTORS)
    assert out.loc["grad_ratio", "spearman"] == pytest.approx(1.0) and out.loc["grad_ratio", "n"] == 4
    # rank residual ranks (4, 2, 3, 1) against outcome ranks (1, 2, 3, 4): Σd² = 9+0+0+9 → 1 - 6·18/60
    assert out.loc["rank_residual", "spearman"] == pytest.approx(1 - 6 * 18 / 60)
    assert out.loc["attn_entropy", "n"] == 0 and math.isnan(out.loc["attn_entropy", "spearman"])


# ---- real sweeps on local warm workers ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """A 2×2 local sweep (lr × seed, 12 steps) on two warm workers, with a target."""
    out = tmp_path_factory.mktemp("sweep")
    spec = SweepSpec(base(), {"lr": (1e-3, 1e-2), "seed": (0, 1)}, steps=12, target=2.25)
    seen = []
    rows = run_sweep(spec, out, workers=2, on_cell=seen.append)
    return spec, out, rows, seen


def test_a_local_sweep_writes_the_table_and_one_train_folder_per_cell(small_sweep):
    from resnorm.serving.runs import load_run

    spec, out, rows, seen = small_sweep
    assert len(rows) == 4 and len(seen) == 4 and not any(r.skipped for r in seen)
    table = pd.read_csv(out / "cells.csv")
    assert list(table.columns) == ["lr", "seed"] + ROW_COLUMNS
    assert list(zip(table["lr"], table["seed"])) == [(1e-3, 0), (1e-3, 1), (1e-2, 0), (1e-2, 1)]
    assert set(table["status"]) == {"completed"} and (table["steps"] == 12).all()
    for c, row in zip(cells(spec), table.to_dict("records")):
        assert row["key"] == c.key
        run = load_run(c.key, root=out / "cells")  # the same files train --out writes, readable as a run
        assert run.config == c.config and run.summary["final_loss"] == pytest.approx(row["final_loss"], abs=0)
        losses = run.frame[run.frame["name"] == "train/loss"].set_index("step")["value"]
        assert row["min_loss"] == pytest.approx(losses.min(), abs=1e-12)
        hit = losses[losses <= spec.target]
        assert (row["steps_to_target"] == hit.index[0]) if len(hit) else math.isnan(row["steps_to_target"])
    assert SweepSpec.from_json((out / "sweep.json").read_text()) == spec


def test_cells_equal_single_runs_and_their_predictors_the_init_analysis(small_sweep):
    from resnorm.science.trainer import Trainer
    from resnorm.studies.signal import init_metrics

    spec, out, rows, _ = small_sweep
    for c, row in zip(cells(spec)[:2], rows[:2]):  # same seed → same losses as a plain one-thread run
        summary = Trainer(c.config, threads=1).run()
        assert row["final_loss"] == pytest.approx(summary.final_loss, abs=1e-6)
        want = predictors.from_metrics(init_metrics(c.config, c.config.train.seed))
        for k, v in want.items():
            assert row[k] == pytest.approx(v, rel=1e-6)
    # the predictors depend on the initialisation, not the learning rate
    assert rows[0]["pred_grad_ratio"] == rows[2]["pred_grad_ratio"] != rows[1]["pred_grad_ratio"]


def test_rerun_skips_finished_cells_and_an_extended_axis_runs_only_new_cells(small_sweep, tmp_path):
    import shutil

    spec, out, rows, _ = small_sweep
    copy = tmp_path / "again"
    shutil.copytree(out, copy)
    seen = []
    again = run_sweep(spec, copy, workers=2, on_cell=seen.append)
    assert [r.skipped for r in seen] == [True] * 4 and again == rows
    seen.clear()
    bigger = replace_axes(spec, lr=(1e-3, 1e-2, 3e-2))
    rows3 = run_sweep(bigger, copy, workers=2, on_cell=seen.append)
    ran = [r.cell.values for r in seen if not r.skipped]
    assert sorted(map(tuple, (d.values() for d in ran))) == [(3e-2, 0), (3e-2, 1)]
    assert len(rows3) == 6 and rows3[:4] == rows
    assert read_sweep(copy).rows.to_csv(index=False) == (copy / "cells.csv").read_text()  # rebuilt from the folders


def test_diverged_and_failed_cells_are_rows_and_the_sweep_goes_on(tmp_path):
    # layers=96 is a valid config; with d_model 1024 and d_ff 8192 it cannot train here (memory): failed
    spec = SweepSpec(base(grad_clip=0.0, d_model=1024, heads=2, d_ff=8192),
                     {"lr": (1e-3, 10.0), "layers": (1, 96)}, steps=6)
    rows = {(r["lr"], r["layers"]): r for r in run_sweep(spec, tmp_path, workers=2)}
    assert rows[(1e-3, 1)]["status"] == "completed"
    assert rows[(10.0, 1)]["status"] == "diverged" and rows[(10.0, 1)]["final_loss"] is None
    assert rows[(1e-3, 96)]["status"] == rows[(10.0, 96)]["status"] == "failed"
    assert "too large" in rows[(1e-3, 96)]["reason"]
    back = read_sweep(tmp_path).rows
    assert list(back["status"]) == ["completed", "failed", "diverged", "failed"]
    seen = []  # a rerun keeps the completed and diverged cells and tries the failed ones again
    run_sweep(spec, tmp_path, workers=2, on_cell=seen.append)
    assert sorted((r.cell.values["layers"], r.skipped) for r in seen) == [(1, True), (1, True), (96, False), (96, False)]


def test_a_sweep_from_the_app_shares_the_slot_cap(tmp_path):
    slots = TrainingSlots(capacity=2)
    held = slots.acquire()
    spec = SweepSpec(base(), {"seed": (0, 1, 2)}, steps=3)
    job = SweepJob(spec, tmp_path, workers=3, slots=slots)
    assert job.progress()["total"] == 3
    other = slots.acquire()  # every slot busy: the sweep waits its turn in the queue
    job.start()
    assert wait(lambda: job.progress()["queue_position"] == 1, timeout=10)
    assert job.progress()["status"] == "queued" and job.done == 0
    slots.release(held)  # its first slot; `other` is still held, so it runs with one worker
    assert job.join(300) and job.status == "completed"
    assert job.workers == 1 and job.done == 3 and slots.busy == 1
    slots.release(other)
    assert slots.busy == 0 and job.eta_s() == 0.0


def test_stopping_a_queued_sweep_leaves_the_queue(tmp_path):
    slots = TrainingSlots(capacity=1)
    held = slots.acquire()
    stop = threading.Event()
    job = SweepJob(SweepSpec(base(), {"seed": (0, 1)}, steps=3), tmp_path, slots=slots, stop_event=stop).start()
    assert wait(lambda: slots.queued == 1, timeout=10)
    stop.set()
    assert job.join(30) and job.status == "stopped" and slots.queued == 0
    slots.release(held)
    assert slots.busy == 0


@pytest.mark.slow
def test_stopping_a_running_sweep_abandons_the_cells_in_flight_and_a_rerun_finishes(tmp_path):
    spec = SweepSpec(base(), {"seed": (0, 1, 2, 3)}, steps=3000)
    job = SweepJob(spec, tmp_path, workers=2).start()
    assert wait(lambda: job.status == "running", timeout=60)
    job.stop()
    assert job.join(60) and job.status == "stopped" and job.done < 4
    seen = []
    short = SweepSpec(base(), {"seed": (0, 1)}, steps=3)  # another sweep into the same folder: its own cells
    run_sweep(short, tmp_path, workers=2, on_cell=seen.append)
    assert [r.row["status"] for r in seen] == ["completed"] * 2


def test_bad_backend_workers_or_folder_fail_before_running(tmp_path):
    spec = SweepSpec(base(), {"seed": (0,)}, steps=2)
    for kw, field in [(dict(backend="slurm"), "backend"), (dict(workers=0), "workers"), (dict(threads=0), "threads")]:
        with pytest.raises(ConfigError) as e:
            SweepJob(spec, tmp_path, **kw)
        assert e.value.problems[0][0] == field
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError) as e:
        SweepJob(spec, tmp_path / "file")
    assert e.value.problems[0][0] == "out"


def test_slots_take_takes_only_free_slots_and_never_jumps_the_queue():
    s = TrainingSlots(capacity=3)
    a = s.take(2)
    assert len(a) == 2 and s.busy == 2
    assert len(s.take(5)) == 1 and s.take(1) == []
    s.release(a[0])
    s.acquire_or_queue(lambda t: None)  # granted at once: capacity free and nobody waiting
    token, ticket = s.acquire_or_queue(lambda t: None)
    assert token is None and s.take(1) == []  # a waiter is owed the next free slot


# ---- the command line ----------------------------------------------------------------------------------
def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "resnorm", "sweep", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


TINY_ARGS = ["--layers", "1", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--batch-size", "4",
             "--seq-len", "6", "--device", "cpu", "--probe-every", "0", "--attention-every", "0", "--eval-every", "0"]


@pytest.mark.parametrize("axes, words", [
    (["--axis", "lr=1e-3,nope"], "error: --axis lr: 'nope' is not a number"),
    (["--axis", "depth=2,4"], "error: --axis depth: not a config field"),
    (["--axis", "d_model=16,15"], "error: --axis d_model: the cell d_model=15"),
    (["--axis", "norm_position=pre,sideways"], "error: --axis norm_position:"),
    ([], "error: --axis: give 1 to 3 axes"),
    (["--axis", "seed=1", "--axis", "seed=2"], "error: --axis seed: given twice"),
    (["--axis", "seed=1,2", "--workers", "0"], "error: --workers: must be at least 1"),
    (["--axis", "d_model=16,2048", "--d-ff", "8192", "--axis", "layers=1,96"], "error: --axis d_model: the cell d_model=2048, layers=96 cannot train here: the model is too large"),
])
def test_cli_bad_axes_exit_2_with_one_line_naming_the_axis(axes, words, tmp_path):
    r = _cli("--out", str(tmp_path / "s"), *TINY_ARGS, *axes, "--steps", "2", timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and r.stderr.startswith(words), r.stderr


def test_cli_sweep_runs_and_resumes(tmp_path):
    out = tmp_path / "s"
    r = _cli("--out", str(out), *TINY_ARGS, "--axis", "lr=1e-3,1e-2", "--steps", "5", "--workers", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "completed: 2/2 cells (0 already done; 2 completed)" in r.stderr
    table = pd.read_csv(out / "cells.csv")
    assert list(table["lr"]) == [1e-3, 1e-2] and (table["steps"] == 5).all()
    r = _cli("--out", str(out), *TINY_ARGS, "--axis", "lr=1e-3,1e-2", "--steps", "5", "--quiet")
    assert r.returncode == 0 and "completed: 2/2 cells (2 already done" in r.stderr
    rec = read_sweep(out)
    assert rec.spec.axes == {"lr": (1e-3, 1e-2)} and rec.spec.base.model.d_model == 16
    assert isinstance(rec.spec.base, RunConfig) and len(rec.rows) == 2
