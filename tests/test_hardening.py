"""Issue 15, "Hardening round two": each item reproduced as a hostile user found it, then held.

Package-level and CLI tests live here; the pages (AppTest) are in tests/test_hardening_app.py.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from resnorm.science import feasibility
from resnorm.serving import runs as R
from resnorm.science.config import RunConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(layers=1, d_model=8, heads=2, d_ff=16, seq_len=4, batch_size=2, steps=2, probe_every=0,
            attention_every=0, eval_every=0)


def _cfg(**kw) -> RunConfig:
    return RunConfig.from_flat({**TINY, **kw})


def _frame(steps=(1, 2)) -> pd.DataFrame:
    return pd.DataFrame({"step": list(steps), "name": ["train/loss"] * len(steps),
                         "value": [1.0] * len(steps)})


def _save(root, name="good", **summary) -> Path:
    s = {"status": "completed", "steps": 2, "final_loss": 1.0, "reason": "", **summary}
    return R.write_run(_cfg(), _frame(), s, root=root, name=name)


# ---- item 2: one foreign run folder must not take the Runs page down ---------------------------------
FOREIGN_META = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00"]


def runs_row(entry):
    from ui.runs_view import row

    return row(entry)


@pytest.mark.parametrize("created", FOREIGN_META)
def test_item2_extreme_created_date_is_a_note_not_a_crash(tmp_path, created):
    p = _save(tmp_path, "odd")
    _save(tmp_path, "good")
    (p / R.META).write_text(json.dumps({"created": created, "source": "cli", "label": None}))
    entries, notes = R.list_runs(tmp_path)
    for e in entries:
        runs_row(e)  # the Runs table's rows: raised OverflowError for the odd run
    assert [e.name for e in entries] == ["good"]
    assert any(n.startswith("odd:") and "created" in n for n in notes), notes


@pytest.mark.parametrize("field,value", [("steps", 10**30), ("steps", 2**63), ("final_loss", 10**400),
                                         ("final_loss", 1e308 * 10), ("diverged_step", 10**30),
                                         ("reason", "x" * 100_000), ("reason", 5)])
def test_item2_summary_fields_are_validated_into_type_and_range(tmp_path, field, value):
    p = _save(tmp_path, "odd")
    s = json.loads((p / R.SUMMARY).read_text())
    s[field] = value
    (p / R.SUMMARY).write_text(json.dumps(s) if not isinstance(value, float) else
                               json.dumps(s).replace("Infinity", "1e999"))
    entries, notes = R.list_runs(tmp_path)
    if entries:  # accepted only if every field is in range and the table can be built
        pd.DataFrame([runs_row(e) for e in entries]).astype({"steps": "int64"})
        rec = R.load_run("odd", tmp_path)
        assert isinstance(rec.summary.get("reason", ""), str) and len(rec.summary.get("reason", "")) <= 2000
    else:
        assert any(n.startswith("odd:") and field in n for n in notes), notes
    if field in ("steps", "diverged_step", "final_loss"):
        assert not entries
        with pytest.raises(R.RunLoadError, match=field):
            R.load_run("odd", tmp_path)


@pytest.mark.parametrize("step", ["1e23", "100000000000000000000000", "-5", "9223372036854775808"])
def test_item2_metrics_step_out_of_range_is_refused_when_opened(tmp_path, step):
    p = _save(tmp_path, "odd")
    (p / R.METRICS).write_text(f"step,name,value\n1,train/loss,1.0\n{step},train/loss,0.5\n")
    with pytest.raises(R.RunLoadError, match="step"):
        R.load_run("odd", tmp_path)


# ---- CLI helpers -----------------------------------------------------------------------------------------
def _cli(*args, timeout=None, cwd=None, env=None):
    """``python -m resnorm ARGS`` in this process (a subprocess per case would take seconds each):
    (returncode, stderr) as a CompletedProcess."""
    import contextlib
    import io

    from resnorm import cli

    err, old_cwd, old_env = io.StringIO(), os.getcwd(), dict(os.environ)
    try:
        os.environ.update(env or {})
        os.chdir(cwd or ROOT)
        with contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


def _usage_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr[-800:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr[-800:]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


TRAIN = ["train", "--quiet", "--layers", "1", "--d-model", "8", "--heads", "2", "--d-ff", "16", "--seq-len", "4",
         "--batch-size", "2", "--steps", "2", "--probe-every", "0", "--attention-every", "0", "--eval-every", "0"]


# ---- item 5: --config keeps the exit-2 promise -------------------------------------------------------------
def test_item5_config_nested_too_deeply(tmp_path):
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000 + "]" * 100_000)
    _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), "--config", str(f)), "--config", "nested")


def test_item5_config_with_a_5000_digit_integer(tmp_path):
    f = tmp_path / "big.json"
    f.write_text('{"model": {"layers": ' + "9" * 5000 + "}}")
    _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), "--config", str(f)), "--config")


def test_item5_config_from_dev_zero_is_not_read():
    _usage_error(_cli(*TRAIN, "--out", "/tmp/never", "--config", "/dev/zero", timeout=60), "--config",
                 "not a regular file")


def test_item5_config_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), "--config", str(fifo), timeout=60), "--config",
                 "not a regular file")


def test_item5_config_larger_than_1_mib(tmp_path):
    f = tmp_path / "large.json"
    f.write_text('{"model": {}, "pad": "' + "x" * (1 << 20) + '"}')
    _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), "--config", str(f)), "--config", "1024 KiB")


def test_item5_and_11_unknown_json_section_is_not_worded_as_an_option(tmp_path):
    f = tmp_path / "sec.json"
    f.write_text('{"x": {}}')
    line = _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), "--config", str(f)))
    assert line.startswith("error: --config: unknown section 'x'"), line


# ---- item 6: SIGTERM stops, saves and exits like SIGINT ----------------------------------------------------
def _wait_for(cond, timeout=120.0, what=""):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_item6_cli_sigterm_saves_the_run(tmp_path, sig, code):
    import re
    import threading

    out = tmp_path / "out"
    args = [a for a in TRAIN if a != "--quiet"]  # the progress bar says when training has started
    args[args.index("--steps") + 1] = "10000000"
    p = subprocess.Popen([sys.executable, "-m", "resnorm", *args, "--out", str(out)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT})
    err = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: p.stderr.read(1), "")), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: any(int(n) >= 3 for n in re.findall(r"\|\s*(\d+)/", "".join(err))), 120,
                  "a few training steps")
        p.send_signal(sig)
        p.wait(120)
    finally:
        if p.poll() is None:
            p.kill()
    reader.join(10)
    assert p.returncode == code, "".join(err)[-800:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["steps"] >= 3
    assert (out / "metrics.csv").exists() and (out / "config.json").exists()


# ---- item 9: a path from the runs folder is never opened ---------------------------------------------------
@pytest.mark.parametrize("path", ["/etc/shadow", "/dev/zero", "/root/.ssh/id_rsa", "/nonexistent/x.txt"])
def test_item9_text_file_from_runs_folder_is_never_opened(tmp_path, monkeypatch, path):
    p = _save(tmp_path, "foreign")
    d = json.loads((p / R.CONFIG).read_text())
    d["task"].update(task="text-lm", text_file=path, seq_len=8)
    (p / R.CONFIG).write_text(json.dumps(d))
    opened = []
    real_open, real_stat = open, os.stat

    def spy(fn):
        def wrapper(f, *a, **kw):
            if str(f) == path:
                opened.append(fn.__name__)
            return fn(f, *a, **kw)
        wrapper.__name__ = fn.__name__
        return wrapper

    monkeypatch.setattr("builtins.open", spy(real_open))
    monkeypatch.setattr(os, "stat", spy(real_stat))
    rec = R.load_run("foreign", tmp_path)
    entries, notes = R.list_runs(tmp_path)
    assert not opened, opened
    assert rec.config.task.text_file == path and [e.name for e in entries] == ["foreign"]
    said = " ".join(rec.notes + notes)
    for leak in ("no such file", "not a regular file", "directory", "permission", "denied", "larger"):
        assert leak not in said.lower(), said  # nothing about the path's existence or type


# ---- item 11: small CLI promises -------------------------------------------------------------------------
def test_item11_empty_out_is_refused(tmp_path):
    r = _cli(*TRAIN, "--out", "", cwd=tmp_path)
    _usage_error(r, "--out")
    assert not list(tmp_path.iterdir())


def test_item11_text_file_for_a_non_text_task_is_refused(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("hello world " * 100)
    _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), "--text-file", str(f)), "--text-file", "text-lm")


@pytest.mark.parametrize("value", ["0", "-3"])
def test_item11_cpu_threads_zero_is_flagged(tmp_path, value):
    _usage_error(_cli(*TRAIN, "--out", str(tmp_path / "o"), env={"RESNORM_CPU_THREADS": value}),
                 "RESNORM_CPU_THREADS")


def test_item11_cli_files_have_one_mode(tmp_path):
    out = tmp_path / "o"
    r = _cli(*TRAIN, "--out", str(out))
    assert r.returncode == 0, r.stderr[-800:]
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()}
    assert set(modes) >= {"config.json", "metrics.csv", "summary.json", "weights.pt"}
    assert set(modes.values()) == {0o644}, modes


# ---- items 6 and 7: worker processes: SIGTERM saves what it can; a hung worker is killed -------------------
def _long_process_run(**kw):
    from resnorm.serving.procworker import ProcessTrainer

    done = []
    tr = ProcessTrainer(_cfg(steps=10_000_000, probe_every=5, **kw), on_finish=done.append).start()
    _wait_for(lambda: tr.step >= 3, 120, "a few steps")
    return tr, done


@pytest.mark.slow
def test_item6_worker_sigterm_stops_and_reports_like_stop():
    tr, done = _long_process_run()
    os.kill(tr.pid, signal.SIGTERM)
    assert tr.join(120)
    assert tr.status == "stopped", (tr.status, tr.reason)
    assert tr.summary.steps >= 3 and tr.model is not None  # its weights came back: the run can be saved
    assert len(tr.store.series("train/loss")[0]) >= 3 and done == [tr]


def _watchdog_ends(tr, stop: bool) -> None:
    """The watchdog (not the test) ends a stopped (SIGSTOP) worker's run; the process is killed
    afterwards whatever happened, so no frozen child outlives the test."""
    try:
        if stop:
            tr.stop()
        assert tr.join(120), "the watchdog did not end the run"
    finally:
        try:
            os.kill(tr.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_item7_a_stopped_worker_that_does_not_answer_is_killed_and_frees_its_slot(monkeypatch):
    from resnorm.serving import procworker

    monkeypatch.setattr(procworker, "STOP_GRACE_S", 1.0)
    tr, done = _long_process_run()
    os.kill(tr.pid, signal.SIGSTOP)  # hung: no heartbeats, no steps
    _watchdog_ends(tr, stop=True)
    assert tr.status == "failed" and "after Stop" in tr.reason
    assert len(tr.store.series("train/loss")[0]) >= 1  # what had arrived is kept
    _wait_for(lambda: done == [tr], 30, "on_finish (the slot's release)")
    assert not tr._proc.is_alive()


@pytest.mark.slow
def test_item7_a_paused_worker_keeps_answering_and_a_silent_one_is_killed(monkeypatch):
    from resnorm.serving import procworker

    monkeypatch.setattr(procworker, "hung_after_s", lambda: 3.0)  # RESNORM_WORKER_TIMEOUT_S, shortened
    monkeypatch.setenv("RESNORM_WORKER_NICE", "0")  # a busy test machine must not starve its heartbeats
    tr, done = _long_process_run()
    tr.pause()
    _wait_for(lambda: tr.status == "paused", 60, "paused")
    time.sleep(6)  # twice the bound, paused (no steps): only heartbeats say it is alive
    assert tr.status == "paused", tr.reason
    tr.resume()
    _wait_for(lambda: tr.status == "running", 60, "running again")
    os.kill(tr.pid, signal.SIGSTOP)  # now silent while running, without any Stop
    _watchdog_ends(tr, stop=False)
    assert tr.status == "failed" and "RESNORM_WORKER_TIMEOUT_S" in tr.reason, tr.reason
    assert len(tr.store.series("train/loss")[0]) >= 3 and done == [tr]


@pytest.mark.parametrize("value", ["0", "10", "abc", "inf"])
def test_item7_worker_timeout_setting_is_checked(monkeypatch, value):
    from resnorm.settings import problems as settings_problems

    monkeypatch.setenv("RESNORM_WORKER_TIMEOUT_S", value)
    assert any("RESNORM_WORKER_TIMEOUT_S" in p for p in settings_problems())


# ---- item 8: one upload limit, named the same everywhere ---------------------------------------------------
def test_item8_the_text_limit_is_what_the_browser_enforces(tmp_path):
    import tomllib

    from resnorm.science.tasks import MAX_TEXT_BYTES, TEXT_LIMIT, TaskError, check_text

    with open(os.path.join(ROOT, ".streamlit", "config.toml"), "rb") as fh:
        mb = tomllib.load(fh)["server"]["maxUploadSize"]
    assert MAX_TEXT_BYTES == mb * 1000 * 1000 == 5_000_000  # the browser refuses files over mb × 10**6 bytes
    assert check_text(b"a" * MAX_TEXT_BYTES)
    with pytest.raises(TaskError, match=r"5 MB \(5,000,000 bytes\)"):
        check_text(b"a" * (MAX_TEXT_BYTES + 1))
    f = tmp_path / "big.txt"
    f.write_bytes(b"a" * 5_242_880)  # 5 MiB: accepted before by the CLI, refused by the browser
    _usage_error(_cli(*TRAIN, "--task", "text-lm", "--out", str(tmp_path / "o"), "--text-file", str(f)),
                 "--text-file", TEXT_LIMIT)
    for code in ("en", "zh"):
        from resnorm import i18n as I

        assert "5,000,000" in I.translate("controls.need_text", code, limit=TEXT_LIMIT)


# ---- item 1: memory: attention bounded by bytes and counted; a comparison shares one cap -------------------
def test_item1_attention_snapshots_are_bounded_by_bytes_and_cut_for_display(monkeypatch):
    from resnorm.science import store as S
    from resnorm.science.trainer import Trainer

    monkeypatch.setattr(S, "ATTENTION_BYTES", 1 << 20)
    cfg = RunConfig.from_flat(dict(layers=2, d_model=64, heads=16, d_ff=8, mlp=False, seq_len=100, batch_size=1,
                                   attention_every=1, probe_every=0, eval_every=0, steps=12, task="stdlib-lm"))
    tr = Trainer(cfg)
    tr.run()
    snaps = tr.store.attention()
    assert snaps and tr.status == "completed"
    for s in snaps:
        for layer, m in s.maps.items():
            assert m.shape[0] <= 8 and m.shape[1] <= 64 and m.shape[2] <= 64, m.shape
            q, k = s.labels[layer]
            assert len(q) == m.shape[1] and len(k) == m.shape[2]
    assert sum(S.snapshot_bytes(s) for s in snaps) <= 1 << 20
    assert len(snaps) < 12  # 12 captured, the budget kept fewer


def test_item1_attention_memory_is_in_the_estimate():
    from resnorm.science.feasibility import run_memory

    on, off = _cfg(attention_every=1), _cfg(attention_every=0)
    from resnorm.science.store import ATTENTION_BYTES

    assert run_memory(on) - run_memory(off) == 2 * ATTENTION_BYTES


def test_item1_the_issue_link_keeps_little_attention_data():
    """The issue's link: 64 heads × 256² × 2 layers = 32 MiB per snapshot, 64 of them kept before."""
    from resnorm.science.store import ATTENTION_BYTES, MetricStore, snapshot_bytes
    from resnorm.science.trainer import Trainer

    cfg = RunConfig.from_flat(dict(layers=2, d_model=64, heads=64, mlp=False, seq_len=256, batch_size=1,
                                   attention_every=1, probe_every=0, eval_every=0, steps=3))
    tr = Trainer(cfg)
    tr.run()
    per = snapshot_bytes(tr.store.attention()[-1])
    assert per <= 2 * 8 * 64 * 64 * 4  # 256 KiB instead of 32 MiB
    assert isinstance(tr.store, MetricStore) and tr.store.attention_bytes == ATTENTION_BYTES


def test_item1_a_comparison_is_checked_against_one_cap_in_all(monkeypatch):
    from resnorm.science.feasibility import run_memory
    from resnorm.serving.sessions import SessionCompare
    from resnorm.serving.slots import TrainingSlots

    cfgs = [_cfg(seed=i) for i in range(4)]
    one = run_memory(cfgs[0])
    monkeypatch.setenv("RESNORM_MAX_RUN_GB", str(2.5 * one / 2**30))  # each fits, four together do not
    for c in cfgs:
        feasibility.require(c)  # each config alone is accepted
    sc = SessionCompare(TrainingSlots(capacity=1), save=False)
    why = sc.start(cfgs)
    assert why and "together" in why and "RESNORM_MAX_RUN_GB" in why, why
    assert sc.start(cfgs[:2]) is None
    sc.stop()


def test_item1_closing_a_session_lets_go_of_its_attention_maps(monkeypatch):
    from resnorm.serving.sessions import SessionRun
    from resnorm.serving.slots import TrainingSlots

    monkeypatch.setenv("RESNORM_WORKERS", "thread")
    r = SessionRun(TrainingSlots(capacity=1), save=False)
    assert r.start(_cfg(steps=10_000_000, attention_every=1)) is None
    _wait_for(lambda: len(r.trainer.store.attention()) >= 2, 60, "attention snapshots")
    r.close()
    assert r.trainer.join(60)
    assert r.trainer.store.attention() == []


# ---- item 1: the At-initialisation page computes in a training slot -----------------------------------------
INIT_LINK = {"d_model": "8", "heads": "1", "d_ff": "8", "seq_len": "2", "batch_size": "2"}


def _init_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(os.path.join(ROOT, "app.py"), default_timeout=120)
    at.query_params.update(INIT_LINK)
    return at.switch_page("app_pages/init.py")


def test_item1_init_page_holds_a_training_slot_while_it_computes(monkeypatch):
    from resnorm.studies import signal as S
    from resnorm.serving.slots import global_slots

    busy, real = [], S.depth_profile

    def spy(*a, **kw):
        busy.append(global_slots().busy)
        return real(*a, **kw)

    monkeypatch.setattr(S, "depth_profile", spy)
    before = global_slots().busy
    at = _init_page().run()
    assert not at.exception and busy and all(b == before + 1 for b in busy), busy
    assert global_slots().busy == before  # released


def test_item1_init_page_waits_for_a_slot_and_gives_up_with_a_message(monkeypatch):
    from resnorm.studies import signal as S
    from resnorm.serving.slots import global_slots
    from ui import init_view

    monkeypatch.setattr(init_view, "INIT_WAIT_S", 1.0)
    calls = []
    monkeypatch.setattr(S, "depth_profile", lambda *a, **kw: calls.append(1))
    slots = global_slots()
    held = []
    while (tok := slots.acquire()) is not None:
        held.append(tok)
    try:
        at = _init_page().run()
    finally:
        for tok in held:
            slots.release(tok)
    assert not at.exception and not calls
    assert any("slot" in w.value for w in at.warning), [w.value for w in at.warning]


# ---- item 10: bounded writes: a runs-folder quota, server weights below a size, a streamed zip --------------
def _state(mb: float) -> dict:
    import torch

    return {"w": torch.zeros(int(mb * 1e6 / 4))}


def test_item10_the_runs_folder_has_a_quota(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNORM_RUNS_QUOTA_GB", str(1.5e6 / 2**30))  # 1.5 MB
    R.write_run(_cfg(), _frame(), {"status": "completed", "steps": 2}, _state(1.0), root=tmp_path, name="a")
    with pytest.raises(R.RunSaveError, match="RESNORM_RUNS_QUOTA_GB"):
        R.write_run(_cfg(), _frame(), {"status": "completed", "steps": 2}, _state(1.0), root=tmp_path, name="b")
    assert sorted(os.listdir(tmp_path)) == ["a"]  # nothing half-written


def test_item10_server_saves_weights_only_below_a_size(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNORM_MAX_WEIGHTS_MB", "0.5")
    small = R.write_run(_cfg(), _frame(), {"status": "completed", "steps": 2}, _state(0.1), root=tmp_path,
                        name="small", weights="limited")
    big = R.write_run(_cfg(), _frame(), {"status": "completed", "steps": 2}, _state(1.0), root=tmp_path,
                      name="big", weights="limited")
    asked = R.write_run(_cfg(), _frame(), {"status": "completed", "steps": 2}, _state(1.0), root=tmp_path,
                        name="asked", weights="always")
    assert (small / R.WEIGHTS).exists() and (asked / R.WEIGHTS).exists() and not (big / R.WEIGHTS).exists()
    assert "RESNORM_MAX_WEIGHTS_MB" in json.loads((big / R.META).read_text())["weights"]
    assert [e.name for e in R.list_runs(tmp_path)[0]].count("big") == 1  # still a valid run


def test_item10_live_sessions_save_with_the_weights_limit(monkeypatch, tmp_path):
    from resnorm.serving.sessions import SessionRun
    from resnorm.serving.slots import TrainingSlots

    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RESNORM_MAX_WEIGHTS_MB", "0.000001")
    monkeypatch.setenv("RESNORM_WORKERS", "thread")
    r = SessionRun(TrainingSlots(capacity=1))
    assert r.start(_cfg(steps=3)) is None
    _wait_for(lambda: r.saved_to is not None or r.save_error is not None, 60, "the save")
    assert r.saved_to and not (Path(r.saved_to) / R.WEIGHTS).exists()


def test_item10_zip_export_streams_file_by_file(tmp_path):
    import tracemalloc
    import zipfile

    R.write_run(_cfg(), _frame(), {"status": "completed", "steps": 2}, _state(20.0), root=tmp_path, name="z")
    tracemalloc.start()
    try:
        fh = R.export_zip_file("z", tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4e6, peak  # 20 MB of weights never held at once
    with zipfile.ZipFile(fh) as zf:
        assert zf.read("z/weights.pt") == (tmp_path / "z" / R.WEIGHTS).read_bytes()
    fh.close()


@pytest.mark.parametrize("env", ["RESNORM_RUNS_QUOTA_GB", "RESNORM_MAX_WEIGHTS_MB"])
def test_item10_the_new_settings_are_checked(monkeypatch, env):
    from resnorm.settings import problems as settings_problems

    monkeypatch.setenv(env, "0")
    assert any(env in p for p in settings_problems())


@pytest.mark.slow
def test_item6_workers_of_a_killed_server_save_what_they_recorded(tmp_path):
    """The server dies (SIGKILL, no chance to save): its worker stops and saves the run itself."""
    runs = tmp_path / "runs"
    script = (
        "import os, signal, time\n"
        "from resnorm.science.config import RunConfig\n"
        "from resnorm.serving.procworker import ProcessTrainer\n"
        "if __name__ == '__main__':\n"
        f"    tr = ProcessTrainer(RunConfig.from_flat({dict(TINY, steps=10_000_000)!r})).start()\n"
        "    while tr.step < 3:\n"
        "        time.sleep(0.05)\n"
        "    print(tr.pid, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")
    (tmp_path / "server.py").write_text(script)
    p = subprocess.run([sys.executable, str(tmp_path / "server.py")], capture_output=True, text=True, timeout=180,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT, "RESNORM_RUNS_DIR": str(runs)})
    assert p.returncode == -signal.SIGKILL, p.stderr[-800:]
    child = int(p.stdout.split()[0])
    try:
        _wait_for(lambda: bool(R.list_runs(runs)[0]), 120, "the orphaned worker's save")
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    (entry,) = R.list_runs(runs)[0]
    assert entry.status == "stopped" and entry.steps >= 3
