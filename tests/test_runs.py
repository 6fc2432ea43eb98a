"""Saved runs (issue 4 "Runs", issue 6 items 4-5): save/load round trips, weights that can only be
tensors, a runs folder full of junk that is reported and skipped, unsafe names refused, writes that
fail cleanly and atomically, runs that survive a restart, and the Runs page driven by AppTest."""
import base64
import errno
import io
import json
import os
import shlex
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from streamlit.testing.v1 import AppTest

from resnorm.serving import runs as R
from resnorm.science.config import RunConfig
from resnorm.science.model import build_model
from resnorm.science.trainer import train
from helpers import ROOT, app_test

SMALL = {"layers": 2, "d_model": 16, "heads": 2, "d_ff": 32, "batch_size": 4, "seq_len": 4, "steps": 10,
         "probe_every": 2, "eval_every": 5, "attention_every": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def trained():
    """One short real run (10 steps, probes on) whose names, steps and metrics these tests check;
    they only read it."""
    tr = train(RunConfig.from_flat({**SMALL, "norm_position": "post", "norm": "rmsnorm"}))
    assert tr.summary.status == "completed" and tr.store.n_points() > 0
    return tr


def good_run(trained, root, **kw):
    return R.save_run(trained, root=root, **kw).name


# ---- round trips ---------------------------------------------------------------------------------
def test_save_then_load_gives_back_config_metrics_and_summary(trained, tmp_path):
    path = R.save_run(trained, root=tmp_path, source="live", label="Post-LN, RMSNorm")
    assert path.parent == tmp_path
    assert path.name.endswith("-post-rmsnorm-on-L2") and path.name[:15].replace("-", "").isdigit()
    assert sorted(os.listdir(path)) == sorted(R.RUN_FILES)  # nothing else, no temporary files
    assert os.listdir(tmp_path) == [path.name]
    # the CLI's layout: the same header and JSON a `train --out` folder has
    assert (path / "metrics.csv").read_text().splitlines()[0] == "step,name,value"

    rec = R.load_run(path.name, root=tmp_path)
    assert rec.config == trained.cfg
    pd.testing.assert_frame_equal(rec.frame, trained.store.frame())
    assert rec.summary == json.loads(json.dumps(trained.summary.to_dict()))
    assert rec.summary["status"] == "completed" and rec.summary["steps"] == 10
    assert rec.meta["source"] == "live" and rec.label == "Post-LN, RMSNorm"
    assert rec.notes == [] and rec.markers() == []

    entries, notes = R.list_runs(tmp_path)
    assert notes == []
    (e,) = entries
    assert (e.name, e.norm_position, e.norm, e.residual, e.layers, e.status, e.steps, e.has_weights) == \
        (path.name, "post", "rmsnorm", "on", 2, "completed", 10, True)
    assert e.final_loss == pytest.approx(trained.summary.final_loss)


def test_weights_round_trip_into_a_fresh_model(trained, tmp_path):
    name = good_run(trained, tmp_path)
    state = R.load_weights(name, root=tmp_path)
    assert set(state) == set(trained.model.state_dict())
    fresh = build_model(trained.cfg.model, trained.task.vocab_size, trained.task.max_len, seed=123).eval()
    trained.model.eval()
    args = trained.probe_batch.model_args()
    with torch.no_grad():
        expected = trained.model(*args)
        assert not torch.equal(fresh(*args), expected)  # a different init really differs
        fresh.load_state_dict(state)
        assert torch.equal(fresh(*args), expected)
    trained.model.train()


def test_a_pickled_object_in_weights_is_refused_and_never_runs(trained, tmp_path):
    name = good_run(trained, tmp_path)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {shlex.quote(str(marker))}",)

    weights = tmp_path / name / "weights.pt"
    torch.save({"blocks.0.w": Payload()}, weights)
    with pytest.raises(R.RunLoadError, match="weights.pt was refused"):
        R.load_weights(name, root=tmp_path)
    assert not marker.exists()
    # the payload is live: an unrestricted load would have executed it
    torch.load(weights, weights_only=False)
    assert marker.exists()


def test_weights_that_are_not_a_state_dict_are_refused(trained, tmp_path):
    name = good_run(trained, tmp_path)
    torch.save([torch.zeros(2)], tmp_path / name / "weights.pt")
    with pytest.raises(R.RunLoadError, match="not a state_dict"):
        R.load_weights(name, root=tmp_path)
    (tmp_path / name / "weights.pt").write_bytes(b"garbage")
    with pytest.raises(R.RunLoadError, match="refused"):
        R.load_weights(name, root=tmp_path)


def test_weights_are_serialised_once_per_save(trained, tmp_path, monkeypatch):
    """A worker process's run arrives as the bytes it serialised: they are written as they are;
    a thread's run is serialised once, by the one serialiser, for the runs folder and the CLI alike."""
    data = R.weights_bytes(trained.model.state_dict())
    calls = []
    real = torch.save
    monkeypatch.setattr(torch, "save", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    mirror = type("Mirror", (), {"cfg": trained.cfg, "store": trained.store, "summary": trained.summary,
                                 "model": R.SerialisedWeights(data)})()
    path = R.save_run(mirror, root=tmp_path / "runs")
    assert calls == [] and (path / R.WEIGHTS).read_bytes() == data
    R.save_run(trained, root=tmp_path / "runs")
    R.write_into(tmp_path, trained.cfg, trained.store.frame(), trained.summary.to_dict(), trained.model.state_dict())
    assert calls == [1, 1]
    assert {f.name for f in tmp_path.iterdir() if f.is_file()} == {R.CONFIG, R.METRICS, R.SUMMARY, R.WEIGHTS}


def test_nan_and_inf_survive_the_round_trip(trained, tmp_path):
    frame = pd.DataFrame({"step": np.array([1, 2, 3], dtype=np.int64),
                          "name": np.array(["train/loss"] * 3, dtype=object),
                          "value": np.array([2.5, np.nan, np.inf])})
    summary = {"status": "diverged", "steps": 3, "final_loss": float("nan"), "reason": "non-finite loss",
               "diverged_step": 3}
    path = R.write_run(trained.cfg, frame, summary, root=tmp_path, source="compare")
    rec = R.load_run(path.name, root=tmp_path)
    pd.testing.assert_frame_equal(rec.frame, frame, check_dtype=False)
    assert rec.frame["value"].isna().sum() == 1 and np.isinf(rec.frame["value"]).sum() == 1
    assert rec.summary["final_loss"] is None  # JSON has no NaN
    assert [(m.step, m.kind) for m in rec.markers()] == [(3, "diverged")]
    assert not (path / "weights.pt").exists() and R.list_runs(tmp_path)[0][0].has_weights is False


def test_names_follow_the_config_and_never_collide(trained, tmp_path):
    from datetime import datetime

    cfg = trained.cfg
    assert R.default_name(cfg, datetime(2026, 11, 25, 17, 30, 12)) == "20261125-173012-post-rmsnorm-on-L2"
    assert R.default_name(cfg.replace(arch="encoder", norm_position="pre", layers=6),
                          datetime(2026, 1, 2, 3, 4, 5)) == "20260102-030405-encoder-pre-rmsnorm-on-L6"
    parts = (cfg, trained.store.frame(), trained.summary.to_dict())
    names = [R.write_run(*parts, root=tmp_path, name="same").name for _ in range(3)]
    assert names == ["same", "same-2", "same-3"]
    assert {e.name for e in R.list_runs(tmp_path)[0]} == set(names)


def test_a_cli_output_folder_is_listed_as_a_run(tmp_path):
    from resnorm.cli import main

    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**SMALL, "steps": 3}.items()]
    assert main(["train", *flags, "--out", str(tmp_path / "from-cli"), "--quiet"]) == 0
    (e,), notes = R.list_runs(tmp_path)
    assert notes == [] and e.name == "from-cli" and e.source == "cli" and e.has_weights
    rec = R.load_run("from-cli", root=tmp_path)
    assert rec.summary["steps"] == 3 and set(rec.frame["name"]) >= {"train/loss", "blocks.1.grad_norm"}
    assert "blocks.0.attn.W_Q.weight" in R.load_weights("from-cli", root=tmp_path)


def test_text_lm_run_stays_readable_after_its_text_file_is_gone(trained, tmp_path):
    text = tmp_path / "upload.txt"
    text.write_text("hello residual world\n" * 40)
    cfg = RunConfig.from_flat({**SMALL, "task": "text-lm", "text_file": str(text)})
    path = R.write_run(cfg, trained.store.frame(), trained.summary.to_dict(), root=tmp_path / "runs")
    text.unlink()
    assert [e.task for e in R.list_runs(tmp_path / "runs")[0]] == ["text-lm"]
    rec = R.load_run(path.name, root=tmp_path / "runs")
    assert rec.config.task.text_file == str(text) and rec.config.model == cfg.model
    assert "not opened from the runs folder" in rec.notes[0]  # issue 15 item 9: never opened, whatever it is


def test_export_zip_holds_exactly_the_run_files(trained, tmp_path):
    name = good_run(trained, tmp_path)
    (tmp_path / name / "secret.txt").write_text("not part of a run")
    zf = zipfile.ZipFile(io.BytesIO(R.export_zip(name, root=tmp_path)))
    assert sorted(zf.namelist()) == sorted(f"{name}/{f}" for f in R.RUN_FILES)
    for f in R.RUN_FILES:
        assert zf.read(f"{name}/{f}") == (tmp_path / name / f).read_bytes()
    assert R.read_file(name, "metrics.csv", root=tmp_path) == (tmp_path / name / "metrics.csv").read_bytes()
    with pytest.raises(ValueError):
        R.read_file(name, "secret.txt", root=tmp_path)


def test_delete_removes_the_run_and_nothing_else(trained, tmp_path):
    a, b = good_run(trained, tmp_path), good_run(trained, tmp_path)
    R.delete_run(a, root=tmp_path)
    assert os.listdir(tmp_path) == [b]
    with pytest.raises(R.RunLoadError, match="no run named"):
        R.delete_run(a, root=tmp_path)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(R.RunLoadError, match="not a run folder"):
        R.delete_run("photos", root=tmp_path)
    assert (tmp_path / "photos" / "cat.jpg").exists()


def test_filter_runs(trained, tmp_path):
    import dataclasses

    good_run(trained, tmp_path)
    (e,) = R.list_runs(tmp_path)[0]
    pre = dataclasses.replace(e, name="pre", norm_position="pre", norm="layernorm", status="diverged")
    off = dataclasses.replace(e, name="off", residual="off", status="stopped")
    entries = [e, pre, off]
    names = lambda xs: [x.name for x in xs]
    assert names(R.filter_runs(entries)) == names(entries)
    assert names(R.filter_runs(entries, norm_position=[], status=None)) == names(entries)
    assert names(R.filter_runs(entries, norm_position="post")) == [e.name, "off"]
    assert names(R.filter_runs(entries, norm_position=["post"], residual=["on"])) == [e.name]
    assert names(R.filter_runs(entries, status=["diverged", "stopped"])) == ["pre", "off"]
    assert names(R.filter_runs(entries, norm=["layernorm"], residual="off")) == []


# ---- untrusted folder content ----------------------------------------------------------------------
def _corrupt(kind, root, trained):
    """Make one bad entry in ``root``; return its name and a phrase the note must contain."""
    if kind == "foreign file":
        (root / "notes.txt").write_text("shopping list")
        return "notes.txt", "not a run folder"
    if kind == "empty folder":
        (root / "empty").mkdir()
        return "empty", "empty"
    if kind == "foreign folder":
        (root / "holiday").mkdir()
        (root / "holiday" / "beach.jpg").write_bytes(b"\xff\xd8")
        return "holiday", "not a run folder"
    if kind == "symlink":
        target = R.save_run(trained, root=root.parent / "elsewhere")
        os.symlink(target, root / "linked")
        return "linked", "symbolic link"
    name = R.save_run(trained, root=root).name
    d = root / name
    if kind == "corrupted config":
        (d / "config.json").write_text('{"model": {"layers": ')
        return name, "config.json is not valid JSON"
    if kind == "invalid config":
        cfg = json.loads((d / "config.json").read_text())
        cfg["model"]["heads"] = 3
        (d / "config.json").write_text(json.dumps(cfg))
        return name, "config.json is not a valid config"
    if kind == "missing metrics":
        (d / "metrics.csv").unlink()
        return name, "metrics.csv is missing"
    if kind == "foreign metrics":
        (d / "metrics.csv").write_text("a,b\n1,2\n")
        return name, "metrics.csv does not start with the header"
    if kind == "bad summary":
        (d / "summary.json").write_text(json.dumps({"status": "exploded", "steps": 3}))
        return name, "status 'exploded'"
    if kind == "summary is a list":
        (d / "summary.json").write_text("[1, 2]")
        return name, "summary.json must hold a JSON object"
    if kind == "binary meta":
        (d / "meta.json").write_bytes(b"\x80\x81\x00")
        return name, "meta.json is not valid JSON"
    if kind == "linked config":
        (d / "config.json").unlink()
        os.symlink("/etc/hostname", d / "config.json")
        return name, "symbolic link"
    raise AssertionError(kind)


BAD = ["foreign file", "empty folder", "foreign folder", "symlink", "corrupted config", "invalid config",
       "missing metrics", "foreign metrics", "bad summary", "summary is a list", "binary meta", "linked config"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_entries_are_skipped_with_a_note(kind, trained, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    good = good_run(trained, root)
    bad, phrase = _corrupt(kind, root, trained)
    entries, notes = R.list_runs(root)
    assert [e.name for e in entries] == [good]
    assert len(notes) == 1 and notes[0].startswith(f"{bad}: ") and phrase in notes[0], notes
    if kind not in ("foreign file", "symlink", "empty folder", "foreign folder"):
        with pytest.raises(R.RunLoadError, match=bad):
            R.load_run(bad, root=root)


def test_unexpected_extra_file_is_reported_but_the_run_kept(trained, tmp_path):
    name = good_run(trained, tmp_path)
    (tmp_path / name / "payload.pkl").write_bytes(b"\x80\x04")
    entries, notes = R.list_runs(tmp_path)
    assert [e.name for e in entries] == [name]
    assert notes == [f"{name}: ignored unexpected file(s) payload.pkl"]


def test_listing_never_raises_on_a_missing_or_odd_root(tmp_path):
    assert R.list_runs(tmp_path / "nowhere") == ([], [])
    (tmp_path / "afile").write_text("x")
    entries, notes = R.list_runs(tmp_path / "afile")
    assert entries == [] and "is not a folder" in notes[0]


@pytest.mark.parametrize("name", ["..", "../victim", "/etc", "a/b", "a\\b", "a\x00b", "", ".", ".hidden",
                                  "C:\\x", "x" * 200, 7, None])
def test_unsafe_names_are_refused_everywhere(name, trained, tmp_path):
    root = tmp_path / "runs"
    good_run(trained, root)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.json").write_text("{}")
    for fn in (R.load_run, R.load_weights, R.delete_run, R.export_zip, R.run_path):
        with pytest.raises(ValueError, match="invalid run name"):
            fn(name, root=root)
    if name is not None:  # None means "choose a name" when saving
        with pytest.raises(ValueError, match="invalid run name"):
            R.write_run(trained.cfg, trained.store.frame(), trained.summary.to_dict(), root=root, name=name)
    assert (victim / "config.json").exists() and len(os.listdir(root)) == 1


# ---- failures while saving -------------------------------------------------------------------------
def test_unwritable_runs_folder_raises_a_clear_error_and_keeps_the_run(trained, tmp_path):
    blocker = tmp_path / "plainfile"
    blocker.write_text("not a folder")
    rows = len(trained.store.frame())
    with pytest.raises(R.RunSaveError, match=r"cannot save the run to .*plainfile/runs/: not a directory") as ei:
        R.save_run(trained, root=blocker / "runs")
    assert isinstance(ei.value, OSError) and ei.value.errno == errno.ENOTDIR
    assert len(trained.store.frame()) == rows and trained.summary.status == "completed"


def test_read_only_file_system_message(trained, tmp_path, monkeypatch):
    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(R.os, "replace", read_only)
    with pytest.raises(R.RunSaveError) as ei:
        R.save_run(trained, root=tmp_path)
    assert str(ei.value) == f"cannot save the run to {tmp_path}/: read-only file system"
    assert os.listdir(tmp_path) == []  # the temporary folder was removed


def test_a_save_failing_midway_leaves_no_partial_run(trained, tmp_path, monkeypatch):
    real = R.atomic_write_bytes
    seen = []

    def disk_fills_up(path, data):
        seen.append(path.name)
        # mid-save, another session listing the folder sees nothing (the run is still hidden)
        assert R.list_runs(tmp_path) == ([], [])
        if path.name == "weights.pt":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(R, "atomic_write_bytes", disk_fills_up)
    with pytest.raises(R.RunSaveError, match="no space left on device"):
        R.save_run(trained, root=tmp_path)
    assert seen == ["config.json", "metrics.csv", "summary.json", "weights.pt"]
    assert R.list_runs(tmp_path) == ([], []) and os.listdir(tmp_path) == []
    monkeypatch.setattr(R, "atomic_write_bytes", real)
    name = good_run(trained, tmp_path)  # and the next save works
    assert [e.name for e in R.list_runs(tmp_path)[0]] == [name]


def test_saving_an_unfinished_run_is_refused(tmp_path):
    from resnorm.science.trainer import Trainer

    tr = Trainer(RunConfig.from_flat(SMALL))
    with pytest.raises(ValueError, match="has not ended"):
        R.save_run(tr, root=tmp_path)
    assert not tmp_path.joinpath("runs").exists() and os.listdir(tmp_path) == []


def test_runs_survive_a_restart(trained, tmp_path):
    names = {good_run(trained, tmp_path), good_run(trained, tmp_path)}
    code = ("import json; from resnorm.serving.runs import list_runs, load_run; e, n = list_runs(); "
            "print(json.dumps([[x.name, x.status, load_run(x.name).summary['steps']] for x in e] + [n]))")
    env = {**os.environ, "RESNORM_RUNS_DIR": str(tmp_path), "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    *listed, notes = json.loads(out.stdout)
    assert {n for n, _, _ in listed} == names and notes == []
    assert all(status == "completed" and steps == 10 for _, status, steps in listed)


def test_runs_root_default_and_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("RESNORM_RUNS_DIR", raising=False)
    assert str(R.runs_root()) == "runs"
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path))
    assert R.runs_root() == tmp_path and R.runs_root(tmp_path / "x") == tmp_path / "x"


def test_overlay_figure_one_colour_per_run():
    s = lambda k: {"train/loss": (np.arange(5), np.linspace(3, 1, 5) * k),
                   "val/loss": (np.array([2, 4]), np.array([2.5, 1.5]) * k)}
    from resnorm.studies import figures as F

    fig = go.Figure(F.runs_overlay_figure({"A": s(1), "B": s(2), "C": s(3)}))  # validated by Plotly
    assert len(fig.data) == 6
    colors = {t.legendgroup: {t.line.color} for t in fig.data}
    assert len({next(iter(c)) for c in colors.values()}) == 3 and all(len(c) == 1 for c in colors.values())
    assert [t.line.dash for t in fig.data[:2]] == [None, "dash"]
    assert list(fig.data[2].y) == pytest.approx(list(np.linspace(3, 1, 5) * 2))


# ---- the Runs page ---------------------------------------------------------------------------------
@pytest.fixture
def runs_dir(trained, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    good = good_run(trained, root, label="post RMS")
    other = R.write_run(trained.cfg, trained.store.frame().assign(value=lambda d: d["value"] * 2),
                        {**trained.summary.to_dict(), "status": "stopped"}, root=root, name="second-run",
                        source="compare").name
    (root / "broken-run").mkdir()
    (root / "broken-run" / "config.json").write_text("{not json")
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(root))
    return root, good, other


def page() -> AppTest:
    return app_test("app_pages/runs.py", timeout=30)


def test_runs_page_lists_reports_and_reopens(runs_dir):
    root, good, other = runs_dir
    at = page()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["name"]) == {good, other}
    row = table.set_index("name").loc[good]
    assert (row["norm position"], row["norm"], row["residual"], row["status"], row["steps"]) == \
        ("Post-LN", "RMSNorm", "on: x + F(x)", "completed", 10)  # choices by name (resnorm.i18n.display_name)
    (warning,) = at.warning
    assert "broken\\-run" in warning.value and "not valid JSON" in warning.value
    assert not at.get("plotly_chart")

    at.multiselect(key="runs_selected").set_value([good]).run()
    assert not at.exception
    specs = {json.loads(c.proto.spec)["layout"]["title"]["text"].split(" ")[0]: json.loads(c.proto.spec)
             for c in at.get("plotly_chart")}
    assert {"Loss", "Residual", "Gradient", "Rank"} <= set(specs)
    loss = next(t for t in specs["Loss"]["data"] if t["name"] == "training loss")
    saved = R.load_run(good, root).frame.query("name == 'train/loss'")["value"].to_numpy()
    y = loss["y"]  # plotly sends numpy arrays as base64 typed arrays
    shown = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else np.asarray(y)
    assert len(saved) == 10 and np.allclose(shown, saved)
    heat = specs["Residual"]["data"][0]
    assert heat["type"] == "heatmap" and len(heat["y"]) == 2
    assert {b.label for b in at.get("download_button")} == {"CSV", "Parquet", "Config", "Summary", "Zip"}


def test_runs_page_filters_and_overlays(runs_dir):
    root, good, other = runs_dir
    at = page()
    at.multiselect(key="runs_filter_status").set_value(["stopped"]).run()
    assert list(at.dataframe[0].value["name"]) == [other]
    at.multiselect(key="runs_filter_status").set_value([]).run()
    at.multiselect(key="runs_selected").set_value([good, other]).run()
    assert not at.exception
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    traces = [t for t in spec["data"] if t["name"].endswith("training loss")]
    assert len(traces) == 2 and traces[0]["line"]["color"] != traces[1]["line"]["color"]
    assert {t["legendgroup"] for t in traces} == {"post RMS", other}


def test_runs_page_delete_needs_confirmation(runs_dir):
    root, good, other = runs_dir
    at = page()
    at.multiselect(key="runs_selected").set_value([other]).run()
    assert at.button(key="runs_delete").disabled
    at.checkbox(key="runs_delete_confirm").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert not (root / other).exists() and (root / good).exists()
    assert list(at.dataframe[0].value["name"]) == [good]
    assert at.multiselect(key="runs_selected").value == []
    assert any("Deleted run" in s.value for s in at.success)


def test_runs_page_in_chinese_titles_the_overlay_and_says_a_saved_reason_in_chinese(runs_dir):
    """Nothing on the page is English translated back: the overlay is built with Chinese labels and a
    saved reason is shown by its message code (``summary.json``'s ``reason_code``)."""
    from resnorm.messages import msg, to_data

    root, good, other = runs_dir
    reason = msg("reason.at_step", why=msg("reason.nonfinite_loss", value=float("nan")), step=4)
    diverged = R.write_run(R.load_run(good, root).config, R.load_run(good, root).frame,
                           {"status": "diverged", "steps": 4, "final_loss": None, "reason": reason,
                            "diverged_step": 4, "reason_code": to_data(reason)}, root=root, name="diverged-run").name
    at = app_test("app_pages/runs.py", timeout=30, run=False)
    at.session_state["lang"] = "zh"
    at.run()
    at.multiselect(key="runs_selected").set_value([good, other]).run()
    assert not at.exception
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["layout"]["title"]["text"] == "2 次训练的 训练损失（虚线为 验证损失）"
    assert spec["layout"]["xaxis"]["title"]["text"] == "步"
    at.multiselect(key="runs_selected").set_value([diverged]).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("损失不是有限值 = nan，在第 4 步" in e for e in errors), errors
