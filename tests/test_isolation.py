"""Isolation between sessions (issue 6, item 6): one browser session cannot see, stop or delete another
session's live run. Each session owns one ``SessionRun`` (``ui.live.session_run``, a session-scoped
resource); there is no registry of runs another session could reach. What sessions do share:

- the training slots (``RESNORM_MAX_TRAININGS``): every session's run counts against the same cap;
- the runs folder (``RESNORM_RUNS_DIR``): a run is saved there when it ends, and from then on every
  user of the server can list, open, download and delete it (SECURITY.md says so).
"""
from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

import resnorm.serving.sessions as live_mod
import resnorm.serving.slots as slots_mod
from resnorm.serving import runs as R
from resnorm.science.config import RunConfig
from resnorm.serving.sessions import SessionRun
from resnorm.serving.slots import TrainingSlots
from helpers import app_test, wait

LONG = dict(layers=1, d_model=8, heads=2, d_ff=16, batch_size=2, seq_len=4, steps=1_000_000, probe_every=0,
            attention_every=0, eval_every=0, device="cpu")



def advancing(run: SessionRun) -> bool:
    """The run takes steps now (its step counter moves)."""
    before = run.trainer.step
    return wait(lambda: run.trainer.step > before, 30)


@pytest.mark.parametrize("workers", ["thread", pytest.param("process", marks=pytest.mark.slow)])
def test_two_sessions_runs_are_independent_and_both_count_against_the_cap(workers, monkeypatch, tmp_path):
    monkeypatch.setenv("RESNORM_WORKERS", workers)
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path))
    slots = TrainingSlots(capacity=2)
    a, b, c = SessionRun(slots), SessionRun(slots), SessionRun(slots, save=False)
    try:
        assert a.start(RunConfig.from_flat(LONG)) is None and b.start(RunConfig.from_flat({**LONG, "seed": 1})) is None
        assert wait(lambda: a.status == "running" and b.status == "running")
        assert a.trainer is not b.trainer and a.trainer.store is not b.trainer.store
        assert advancing(a) and advancing(b)

        # the cap counts both sessions: a third one does not train while they do
        assert slots.busy == 2
        msg = c.start(RunConfig.from_flat(LONG))
        assert msg is None and c.status == "queued" and c.queue_position == 1, (msg, c.status)
        assert c.trainer is None and slots.queued == 1
        c.close()  # it gives up waiting
        assert c.status == "idle" and slots.queued == 0

        # pausing, stopping and resetting one session leaves the other running
        a.pause()
        assert wait(lambda: a.status == "paused")
        assert b.status == "running" and advancing(b)
        a.stop()
        assert wait(lambda: a.status == "stopped")
        assert b.status == "running" and advancing(b)
        a.reset()
        assert a.trainer is None and b.status == "running" and advancing(b)
        a.close()  # a session that ends takes only its own run with it (it has none left)
        assert b.status == "running" and wait(lambda: slots.busy == 1)
    finally:
        for r in (a, b, c):
            r.close()
        for r in (a, b, c):
            if r.trainer is not None:
                r.trainer.join(30)
    assert wait(lambda: slots.busy == 0 and slots.queued == 0)
    # the one thing sessions share: a run that ended is in the runs folder, visible to everyone
    entries, _ = R.list_runs(tmp_path)
    assert len(entries) >= 1 and all(e.status == "stopped" for e in entries)


def test_the_live_module_keeps_no_registry_of_sessions_runs():
    """Nothing at module level holds SessionRuns: a session reaches only the one it was given."""
    def holds_runs(v):
        try:
            items = list(v.values()) if isinstance(v, dict) else list(v) if isinstance(v, (list, set, tuple)) else []
        except Exception:
            return False
        return any(isinstance(x, (SessionRun, live_mod.SessionCompare)) for x in items)

    for mod in (live_mod, slots_mod):
        for name, value in vars(mod).items():
            assert not isinstance(value, SessionRun) and not holds_runs(value), f"{mod.__name__}.{name}"


# ---- the app: two browser sessions ---------------------------------------------------------------------
def app() -> AppTest:
    at = app_test()
    for key, value in {"cfg_layers": 1, "cfg_d_model": 8, "cfg_heads": 2, "cfg_d_ff": 16, "cfg_batch_size": 2,
                       "cfg_seq_len": 4, "cfg_steps": 1_000_000}.items():
        at.number_input(key=key).set_value(value)
    return at.run()


def progress_text(at) -> str:
    return " ".join(str(p.proto) for p in at.get("progress"))


@pytest.fixture
def separate_sessions(monkeypatch):
    """AppTest runs every instance under one fixed session id ("test session id"), so session-scoped
    resources would be shared between instances as they never are between browser tabs (each has its
    own id). Give each AppTest instance its own id, as the server gives each tab."""
    from streamlit.testing.v1 import local_script_runner as lsr

    original = lsr.LocalScriptRunner.__init__

    def init(self, script_path, session_state, *a, **kw):
        original(self, script_path, session_state, *a, **kw)
        self._session_id = f"test-session-{id(session_state)}"

    monkeypatch.setattr(lsr.LocalScriptRunner, "__init__", init)


@pytest.fixture
def one_slot(monkeypatch):
    """The server's shared slots, replaced for the test by a cap of one."""
    slots = TrainingSlots(capacity=1)
    monkeypatch.setattr(slots_mod, "_GLOBAL", slots)
    return slots


def test_two_app_sessions_each_see_only_their_own_run(separate_sessions, one_slot):
    a, b = app(), app()
    try:
        a.button(key="btn_train").click().run()
        assert not a.exception
        assert wait(lambda: "running" in progress_text(a.run()), 30), progress_text(a)
        assert not a.button(key="btn_stop").disabled

        # session B: no run, nothing to pause, stop or reset; its Train is its own
        b.run()
        assert not b.exception
        assert progress_text(b) == ""
        for key in ("btn_stop", "btn_pause", "btn_reset"):
            assert b.button(key=key).disabled, key

        # B presses Train: the cap (one slot, held by A) counts A's run, so B's waits in the queue
        b.button(key="btn_train").click().run()
        assert not b.exception
        assert one_slot.busy == 1 and one_slot.queued == 1
        assert "running" not in progress_text(b)
        assert "running" in progress_text(a.run())

        # B leaves the queue (its Stop is live while it waits): A still runs, nobody waits
        assert not b.button(key="btn_stop").disabled
        b.button(key="btn_stop").click().run()
        assert one_slot.queued == 0
        assert "running" in progress_text(a.run())
    finally:
        for at in (a, b):  # give the slot back whatever failed above
            if not at.button(key="btn_stop").disabled:
                at.button(key="btn_stop").click().run()
    assert wait(lambda: "stopped" in progress_text(a.run()), 30), progress_text(a)
    assert wait(lambda: one_slot.busy == 0, 30)
    assert "running" not in progress_text(b.run())  # B had left the queue: it never started
