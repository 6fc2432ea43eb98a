"""Bad input, numerical faults, failing disks and untrusted files (issue 6, items 2-5).

Each test names what it injects; each would fail if the protection it checks were removed:
- pasted or uploaded text: empty, whitespace, binary, invalid UTF-8, over the limit, one character,
  a one-letter alphabet, Chinese: a specific message (Train disabled) or a run with finite losses;
- divergence: lr=100, residual off at 48 layers, bfloat16 on CPU, an inf gradient and a NaN loss
  injected mid-run: ``diverged`` with step and reason, the metrics up to there kept, exportable
  and drawable;
- saving: disk full (ENOSPC) at the write and at fsync, a process killed in the middle of a save:
  a clear message, nothing lost in memory, no partial run listed;
- untrusted files: pickles that would run code, traversal in names, upload file names, run folders
  with missing, oversized or malformed files.
Complements tests/test_runs.py, tests/test_tasks.py and tests/test_app.py, which it does not repeat.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import pickle
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from resnorm.science import feasibility
from resnorm.studies import figures as F
from resnorm.serving import runs as R
from resnorm.science.config import ConfigError
from resnorm.serving.sessions import SessionRun
from resnorm.serving.slots import TrainingSlots
from resnorm.science.tasks import MAX_TEXT_BYTES, TaskError, check_text
from resnorm.science.trainer import train
from helpers import ROOT, TINY, app_test, configs

CHINESE = ("天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。寒来暑往，秋收冬藏。闰余成岁，律吕调阳。"
           "云腾致雨，露结为霜。金生丽水，玉出昆冈。剑号巨阙，珠称夜光。果珍李柰，菜重芥姜。\n") * 20


cfg = configs(TINY)


# ---- 1. text: the package's check ---------------------------------------------------------------------
@pytest.mark.parametrize("data,phrase", [
    (b"", "empty or only whitespace"),
    (b" \n\t\r\n  ", "empty or only whitespace"),
    ("\u3000\u00a0\n".encode(), "empty or only whitespace"),       # ideographic and no-break spaces
    (b"hello\x00world" * 10, "looks binary (it contains NUL bytes)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
    ("café".encode("latin-1"), "is not valid UTF-8 (byte 3)"),
    (b"\xff\xfeh\x00i\x00", "looks binary"),                        # UTF-16 is not UTF-8
    (b"a" * (MAX_TEXT_BYTES + 1), "larger than the limit of 5 MB (5,000,000 bytes)"),
], ids=["empty", "whitespace", "unicode spaces", "NUL bytes", "PNG", "latin-1", "UTF-16", "over the limit"])
def test_check_text_gives_a_specific_reason(data, phrase):
    with pytest.raises(TaskError) as ei:
        check_text(data, "the pasted text")
    assert ei.value.field == "text_file" and phrase in ei.value.message
    assert ei.value.message.startswith("the pasted text")  # says which input


def test_check_text_accepts_exactly_the_limit_and_any_script():
    assert len(check_text(b"a" * MAX_TEXT_BYTES)) == MAX_TEXT_BYTES
    assert check_text(CHINESE.encode()) == CHINESE
    assert check_text("\ufeffBOM first".encode()) == "\ufeffBOM first"


def _text_file(tmp_path, text: str) -> str:
    p = tmp_path / "text.txt"
    p.write_text(text, encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("arch", ["decoder", "encoder"])
@pytest.mark.parametrize("name,text", [
    ("one repeated character", "a" * 3000),
    ("Chinese", CHINESE),
    ("more characters than the vocabulary keeps", "".join(chr(0x4E00 + i) for i in range(600)) * 3),
], ids=["one repeated character", "Chinese", "600 characters"])
def test_odd_texts_train_with_finite_losses(tmp_path, arch, name, text):
    tr = train(cfg(task="text-lm", text_file=_text_file(tmp_path, text), arch=arch, steps=15, eval_every=5,
                   lr=3e-3))
    assert tr.summary.status == "completed", tr.summary
    _, losses = tr.store.series("train/loss")
    assert len(losses) == 15 and np.isfinite(losses).all()
    assert tr.task.vocab_size <= 258
    if name == "one repeated character" and arch == "decoder":
        assert tr.task.vocab_size == 2  # the character and [unk]
        assert losses[-1] < 0.5 * losses[0]  # trivially predictable, and it learns that


def test_one_character_text_is_too_short_and_says_so(tmp_path):
    with pytest.raises(ConfigError) as ei:
        feasibility.require(cfg(task="text-lm", text_file=_text_file(tmp_path, "a")))
    msg = ei.value.by_field()["seq_len"]
    assert "too short" in msg and "context of 6 characters" in msg


# ---- 2. text: the Live page ---------------------------------------------------------------------------
def app() -> AppTest:
    at = app_test()
    at.selectbox(key="cfg_task").set_value("text-lm").run()
    return at


def sidebar_errors(at) -> list[str]:
    return [e.value for e in at.sidebar.error]


def text_file_from_share_panel(at) -> str | None:
    """The config's text_file, as the page's own 'same run from the command line' shows it."""
    for c in at.code:
        m = re.search(r"--text-file (\S+)", c.value)
        if m:
            return shlex.split(m.group(1))[0]
    return None


@pytest.mark.parametrize("pasted,phrase", [
    ("abc\x00def" * 10, "the pasted text looks binary"),
    ("a" * (MAX_TEXT_BYTES + 1), "the pasted text is larger than the limit"),
    ("\u3000 \n\t", "the pasted text is empty or only whitespace"),
    ("a", "too short"),
], ids=["NUL", "over the limit", "whitespace", "one character"])
def test_live_page_explains_bad_pasted_text_and_disables_train(pasted, phrase):
    at = app()
    at.text_area(key="cfg_text").set_value(pasted).run()
    assert not at.exception
    assert any(phrase in e for e in sidebar_errors(at)), sidebar_errors(at)
    assert at.button(key="btn_train").disabled
    assert text_file_from_share_panel(at) is None  # no config, so no command line with a path


@pytest.mark.parametrize("name,data,phrase", [
    ("notes.txt", "café".encode("latin-1") * 50, "the uploaded file is not valid UTF-8"),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "the uploaded file looks binary"),
    ("big.txt", b"a" * (MAX_TEXT_BYTES + 1), "the uploaded file is larger than the limit"),
    ("empty.txt", b"", "empty or only whitespace"),
], ids=["latin-1", "PNG", "over the limit", "empty"])
def test_live_page_explains_bad_uploads_and_disables_train(name, data, phrase):
    at = app()
    at.file_uploader(key="cfg_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    assert any(phrase in e for e in sidebar_errors(at)), sidebar_errors(at)
    assert at.button(key="btn_train").disabled


def test_an_uploaded_chinese_text_trains_and_its_name_is_never_a_path():
    evil = "../../../../" + "resnorm-evil-" + hashlib.sha1(os.urandom(8)).hexdigest()[:8] + ".txt"
    data = CHINESE.encode()
    at = app()
    for key, value in {"cfg_layers": 1, "cfg_steps": 5, "cfg_seq_len": 8, "cfg_batch_size": 4}.items():
        at.number_input(key=key).set_value(value)
    at.file_uploader(key="cfg_upload").set_value((evil, data, "text/plain")).run()
    assert not at.exception and not sidebar_errors(at)
    assert not at.button(key="btn_train").disabled
    # the upload is stored under the temp folder, named by its content's hash; its name is not used
    path = Path(text_file_from_share_panel(at))
    assert path.parent == Path(tempfile.gettempdir()) / "resnorm-texts"
    assert path.name == hashlib.sha256(data).hexdigest()[:32] + ".txt"
    assert path.read_bytes() == data
    for base in (Path(tempfile.gettempdir()) / "resnorm-texts", Path.cwd(), ROOT):
        assert not (base / evil).resolve().exists()
    at.button(key="btn_train").click().run()
    assert not at.exception
    for _ in range(300):
        at.run()
        if "completed" in " ".join(str(p.proto) for p in at.get("progress")):
            break
    assert "completed" in " ".join(str(p.proto) for p in at.get("progress"))


# ---- 3. divergence and numerical faults -----------------------------------------------------------------
def test_lr_100_with_adamw_and_clipping_diverges_with_step_and_reason():
    c = cfg(lr=100.0, steps=60, probe_every=1)
    assert (c.train.optimizer, c.train.grad_clip) == ("adamw", 1.0)  # the defaults: clipping does not save it
    tr = train(c)
    s = tr.summary.to_dict()
    assert s["status"] == "diverged", s
    step = s["diverged_step"]
    assert isinstance(step, int) and 1 <= step < 60 and s["steps"] == step
    assert s["reason"] and f"step {step}" in s["reason"]
    steps, _ = tr.store.series("train/loss")
    assert steps[-1] == step  # kept up to the step that diverged
    assert [(m.step, m.kind) for m in tr.store.markers()] == [(step, "diverged")]
    assert json.loads(json.dumps(R.json_safe(s)))["reason"] == s["reason"]


@pytest.mark.parametrize("position", ["pre", "none"])
def test_residual_off_at_48_layers_ends_cleanly_with_finite_metrics(position):
    """No skip path at depth 48: the run is a result (completed or diverged), never a crash."""
    tr = train(cfg(layers=48, residual="off", norm_position=position, steps=6, probe_every=1, eval_every=3,
                   attention_every=3))
    assert tr.summary.status in ("completed", "diverged"), tr.summary
    if tr.summary.status == "completed":
        frame = tr.store.frame()
        assert set(frame["step"]) == set(range(1, 7)) and np.isfinite(frame["value"]).all()
    series = tr.store.all_series()
    assert len(F.block_prefixes(series)) == 48
    for fig in _every_figure(tr):
        _strict_spec(fig)
    heat = go.Figure(F.resid_heatmap(series))
    assert len(heat.data[0].y) == 48 and heat.data[0].y[-1] == "L47"  # every block drawn
    layer_lines = {t.name for t in go.Figure(F.rank_figure(series)).data if t.name and t.name.startswith("L")}
    assert layer_lines == {f"L{i}" for i in range(48)}


@pytest.mark.parametrize("lr", [1e-3, 100.0])
def test_bfloat16_on_cpu_trains_or_diverges_cleanly(lr):
    tr = train(cfg(dtype="bfloat16", lr=lr, steps=12, probe_every=1, eval_every=4, attention_every=4))
    s = tr.summary
    assert s.status in ("completed", "diverged"), s
    _, losses = tr.store.series("train/loss")
    if s.status == "completed":
        assert np.isfinite(losses).all() and len(losses) == 12
    else:
        assert s.diverged_step == len(losses) and f"step {s.diverged_step}" in s.reason
    assert all(p.dtype == torch.bfloat16 for p in tr.model.parameters())


def _strict_spec(fig) -> dict:
    """The figure as the browser receives it, parsed as strict JSON (a NaN or Infinity literal, which
    the browser's JSON.parse refuses, fails the test)."""
    def refuse(token):
        raise AssertionError(f"{token} literal in a figure's JSON")
    return json.loads(pio.to_json(fig.to_dict(), validate=False), parse_constant=refuse)  # as st.plotly_chart sends it


def _every_figure(tr):
    series, markers = tr.store.all_series(), tr.store.markers()
    figs = [F.loss_figure(series, markers=markers), F.loss_figure(series, log_y=True, markers=markers),
            F.resid_heatmap(series, markers=markers), F.depth_profile(series),
            F.grad_figure(series, grad_clip=1.0, markers=markers), F.ratio_figure(series, markers=markers),
            F.rank_figure(series, markers=markers)]
    snaps = tr.store.attention()
    if snaps:
        for layer in F.attention_layers(snaps[-1])[:2]:
            figs += [F.attention_figure(snaps[-1], layer), F.attention_figure(snaps[-1], layer, 0),
                     F.entropy_figure(series, layer, markers=markers)]
    return figs


def _poison(kind: str, at_step: int):
    """An on_step callback that, after ``at_step`` - 1, makes the next step non-finite: an inf gradient
    (a backward hook) or a NaN activation (a forward hook on the last block)."""
    def on_step(step, tr):
        if step != at_step - 1:
            return
        if kind == "inf gradient":
            tr.model.blocks[0].attn.W_Q.weight.register_hook(lambda g: g * math.inf)
        else:
            tr.model.blocks[-1].register_forward_hook(lambda m, a, out: out * math.nan)
    return on_step


@pytest.mark.parametrize("kind,what", [("inf gradient", "gradient norm = inf"), ("NaN loss", "loss = nan")])
def test_a_fault_mid_run_is_diverged_and_everything_before_it_is_kept_exported_and_drawn(kind, what, tmp_path):
    tr = train(cfg(steps=40, probe_every=1, eval_every=2, attention_every=2), on_step=_poison(kind, 5))
    s = tr.summary
    assert (s.status, s.diverged_step, s.steps) == ("diverged", 5, 5)
    assert what in s.reason and "step 5" in s.reason
    frame = tr.store.frame()
    assert sorted(set(frame["step"])) == [1, 2, 3, 4, 5]
    before = frame[frame["step"] < 5]
    assert np.isfinite(before["value"]).all() and before["name"].nunique() > 20  # probes of steps 1-4 kept
    assert not np.isfinite(frame[frame["step"] == 5]["value"]).all()

    # exported: CSV and Parquet as the page offers them, and a saved run that loads back identically
    csv = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    assert len(csv) == len(frame)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(buf.getvalue())), frame)
    name = R.save_run(tr, root=tmp_path).name
    rec = R.load_run(name, root=tmp_path)
    pd.testing.assert_frame_equal(rec.frame, frame)
    assert rec.summary["status"] == "diverged" and rec.summary["diverged_step"] == 5
    assert [(m.step, m.kind) for m in rec.markers()] == [(5, "diverged")]
    json.loads((tmp_path / name / "summary.json").read_text())  # strict JSON: no NaN literal

    # drawn: every chart builds and serialises, the bad value is a gap, the divergence is marked
    for fig in _every_figure(tr):
        assert len(_strict_spec(fig)["data"]) == len(fig.data)
    loss = go.Figure(F.loss_figure(tr.store.all_series(), markers=tr.store.markers()))
    y = [tr_ for tr_ in loss.data if tr_.name == "training loss"][0].y
    assert np.isfinite(np.asarray(y, dtype=float)[:4]).all()
    assert any(getattr(sh, "x0", None) == 5 for sh in loss.layout.shapes)


# ---- 4. faults while saving ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(trained_run):
    return trained_run


def test_disk_full_at_fsync_is_a_clear_error_and_loses_nothing(finished, tmp_path, monkeypatch):
    """ENOSPC often surfaces only when the data is flushed; the half-written run must vanish."""
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    rows = len(finished.store.frame())
    monkeypatch.setattr(R.os, "fsync", full)
    with pytest.raises(R.RunSaveError) as ei:
        R.save_run(finished, root=tmp_path)
    assert str(ei.value) == f"cannot save the run to {tmp_path}/: no space left on device"
    assert ei.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == [] and R.list_runs(tmp_path) == ([], [])
    assert len(finished.store.frame()) == rows


def test_a_live_session_whose_save_hits_a_full_disk_keeps_its_metrics(tmp_path, monkeypatch):
    real = R.atomic_write_bytes

    def full(path, data):
        if path.name == "metrics.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RESNORM_WORKERS", "thread")
    monkeypatch.setattr(R, "atomic_write_bytes", full)
    slots = TrainingSlots(capacity=1)
    run = SessionRun(slots)
    assert run.start(cfg(steps=6)) is None
    run.trainer.join(60)
    for _ in range(500):
        if run.save_error or run.saved_to:
            break
        run.trainer.join(0.01)
    assert run.saved_to is None and "no space left on device" in run.save_error
    assert run.status == "completed" and len(run.trainer.store.series("train/loss")[0]) == 6  # downloadable
    assert slots.busy == 0 and os.listdir(tmp_path) == []


KILL_MID_SAVE = r"""
import os, signal, sys
import pandas as pd
from resnorm.serving import runs as R
from resnorm.science.config import RunConfig
real = R.atomic_write_bytes
def dies(path, data):
    if path.name == "summary.json":
        real(path, data[: len(data) // 2])   # half a file, then the power goes
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, data)
R.atomic_write_bytes = dies
frame = pd.DataFrame({"step": [1, 2], "name": ["train/loss"] * 2, "value": [2.0, 1.5]})
R.write_run(RunConfig(), frame, {"status": "completed", "steps": 2, "final_loss": 1.5}, root=sys.argv[1])
"""


def test_a_process_killed_mid_save_leaves_no_partial_run_and_the_next_save_works(finished, tmp_path):
    out = subprocess.run([sys.executable, "-c", KILL_MID_SAVE, str(tmp_path)], cwd=ROOT, capture_output=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    leftovers = os.listdir(tmp_path)
    assert leftovers and all(n.startswith(R.TMP_PREFIX) for n in leftovers)  # only the hidden temp folder
    assert R.list_runs(tmp_path) == ([], [])  # after the "restart": nothing half-written is listed
    name = R.save_run(finished, root=tmp_path).name
    entries, notes = R.list_runs(tmp_path)
    assert [e.name for e in entries] == [name] and notes == []


# ---- 5. untrusted files --------------------------------------------------------------------------------
class _Payload:
    marker = None

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


@pytest.mark.parametrize("fmt", ["raw pickle", "legacy torch.save", "payload inside a tensor list"])
def test_weights_that_would_run_code_are_refused_in_every_format(finished, tmp_path, fmt):
    name = R.save_run(finished, root=tmp_path / "runs").name
    weights = tmp_path / "runs" / name / "weights.pt"
    marker = tmp_path / f"pwned-{fmt.replace(' ', '-')}"
    p = _Payload()
    p.marker = marker
    if fmt == "raw pickle":
        weights.write_bytes(pickle.dumps({"w": p}, protocol=2))
    elif fmt == "legacy torch.save":
        torch.save({"w": p}, weights, _use_new_zipfile_serialization=False)
    else:
        torch.save({"w": [torch.zeros(2), p]}, weights)
    with pytest.raises(R.RunLoadError, match="weights.pt was refused"):
        R.load_weights(name, root=tmp_path / "runs")
    assert not marker.exists()


def test_no_code_path_unpickles_without_weights_only():
    """Every torch.load in the package and the UI passes weights_only=True; nothing else unpickles."""
    sources = [p for d in ("resnorm", "ui", "app_pages") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]
    loads = 0
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"torch\.load\(", text):
            depth, end = 0, m.end() - 1
            for end in range(m.end() - 1, len(text)):  # to the matching parenthesis
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            call = text[m.start(): end + 1]
            assert "weights_only=True" in call, f"{path}: {call}"
            loads += 1
        for bad in ("pickle.load(", "pickle.loads(", "read_pickle(", "allow_pickle=True", "dill.", "joblib.load",
                    "eval(", "exec("):
            for line in text.splitlines():
                if bad in line and not line.lstrip().startswith("#") and "torch.load" not in line:
                    assert bad == "eval(" and ".eval(" in line, f"{path}: {line.strip()}"  # model.eval() is fine
    assert loads >= 1


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.text(max_size=30),
                 st.sampled_from(["..", "../x", "/etc", "a/b", "a\x00b", "\\\\server\\share", "C:evil", "~root",
                                  "..\u2215x", "．．", "%2e%2e%2fx", "a/../../b", " x", "x\n"])))
def test_a_run_name_either_is_refused_or_stays_inside_the_runs_folder(name):
    root = Path(tempfile.gettempdir()) / "resnorm-names-root"
    try:
        path = R.run_path(name, root=root)
    except ValueError as e:
        assert "invalid run name" in str(e)
        return
    assert path.parent == root and path.name == name
    assert os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)
    assert name not in (".", "..") and "/" not in name and "\x00" not in name


def test_downloads_only_serve_run_files(finished, tmp_path):
    name = R.save_run(finished, root=tmp_path / "runs").name
    (tmp_path / "secret.txt").write_text("secret")
    for fname in ("../secret.txt", "../../etc/passwd", "/etc/passwd", "payload.pkl", ""):
        with pytest.raises(ValueError, match="not a run file"):
            R.read_file(name, fname, root=tmp_path / "runs")
    for bad_name in ("..", "../runs", "/etc"):
        with pytest.raises(ValueError, match="invalid run name"):
            R.read_file(bad_name, "config.json", root=tmp_path / "runs")
    assert R.read_file(name, "config.json", root=tmp_path / "runs").startswith(b"{")


def _broken(kind: str, d: Path):
    if kind == "missing config":
        (d / "config.json").unlink()
        return "config.json is missing"
    if kind == "missing summary":
        (d / "summary.json").unlink()
        return "summary.json is missing"
    if kind == "oversized summary":
        (d / "summary.json").write_text('{"status": "completed", "steps": 1, "pad": "' + "x" * R.MAX_JSON_BYTES + '"}')
        return "summary.json is larger than"
    if kind == "deeply nested config":
        (d / "config.json").write_text("[" * 100_000 + "]" * 100_000)
        return "config.json"
    if kind == "config with a huge number":
        c = json.loads((d / "config.json").read_text())
        c["model"]["layers"] = 10**5000 if sys.version_info < (3, 11) else int("9" * 4000)
        (d / "config.json").write_text(json.dumps(c))
        return "config.json is not a valid config"
    if kind == "weights is a folder":
        (d / "weights.pt").unlink()
        (d / "weights.pt").mkdir()
        return "weights.pt is not a regular file"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing config", "missing summary", "oversized summary", "deeply nested config",
                                  "config with a huge number", "weights is a folder"])
def test_run_folders_with_missing_or_malformed_files_are_skipped_with_a_note(finished, tmp_path, kind):
    root = tmp_path / "runs"
    good = R.save_run(finished, root=root).name
    bad = R.save_run(finished, root=root).name
    phrase = _broken(kind, root / bad)
    entries, notes = R.list_runs(root)
    assert [e.name for e in entries] == [good]
    assert len(notes) == 1 and notes[0].startswith(f"{bad}: ") and phrase in notes[0], notes
    with pytest.raises(R.RunLoadError):
        R.load_weights(bad, root=root) if kind == "weights is a folder" else R.load_run(bad, root=root)


def test_metrics_with_garbage_rows_are_refused_on_load_with_the_file_named(finished, tmp_path):
    name = R.save_run(finished, root=tmp_path).name
    with open(tmp_path / name / "metrics.csv", "a") as fh:
        fh.write("x,train/loss,not-a-number\n")
    with pytest.raises(R.RunLoadError, match=f"run '{name}': metrics.csv"):
        R.load_run(name, root=tmp_path)
