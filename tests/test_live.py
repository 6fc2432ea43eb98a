"""The UI-free parts of the live page: session runs, the training-slot cap, figure builders."""
import json
import math
import os
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
import pytest

from resnorm import figures as F
from resnorm.sessions import SessionRun
from resnorm.slots import TrainingSlots, default_capacity
from resnorm.store import Marker
from resnorm.trainer import train
from helpers import TINY, configs, wait


cfg = configs(TINY, seq_len=8, batch_size=8, steps=100_000, eval_every=0, probe_every=5, attention_every=5,
              device="auto")



def test_full_slots_queue_runs_first_come_first_served():
    slots = TrainingSlots(capacity=1)
    a, b, c = SessionRun(slots, save=False), SessionRun(slots, save=False), SessionRun(slots, save=False)
    assert a.start(cfg()) is None and a.status == "running"
    assert b.start(cfg(steps=5)) is None and c.start(cfg(steps=5)) is None
    assert (b.status, b.queue_position, c.queue_position) == ("queued", 1, 2)
    assert b.trainer is None and b.active
    a.close()  # the session went away: its slot goes to the first in the queue, no click needed
    assert wait(lambda: a.trainer.done) and a.status == "stopped"
    assert wait(lambda: b.trainer is not None and b.trainer.done) and b.status == "completed"
    assert wait(lambda: c.trainer is not None and c.trainer.done) and c.status == "completed"
    assert wait(lambda: slots.busy == 0) and slots.queued == 0  # none lost, none left behind


def test_leaving_the_queue():
    slots = TrainingSlots(capacity=1)
    a, b = SessionRun(slots, save=False), SessionRun(slots, save=False)
    a.start(cfg())
    b.start(cfg())
    b.close()  # closed the tab while waiting
    assert b.status == "idle" and slots.queued == 0
    a.close()
    assert wait(lambda: slots.busy == 0)


def test_session_run_refuses_a_second_run_and_resets():
    slots = TrainingSlots(capacity=4)
    r = SessionRun(slots)
    assert r.start(cfg()) is None
    assert "already in progress" in r.start(cfg())
    r.pause()
    assert wait(lambda: r.status == "paused")
    r.resume()
    assert wait(lambda: r.status == "running")
    r.reset()
    assert r.trainer is None and r.status == "idle"
    assert wait(lambda: slots.busy == 0)


def test_failed_start_releases_its_slot(monkeypatch):
    slots = TrainingSlots(capacity=1)
    r = SessionRun(slots)
    bad = cfg(device="cuda")
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert "CUDA" in r.start(bad)
    assert slots.busy == 0


def test_capacity_from_environment(monkeypatch):
    monkeypatch.setenv("RESNORM_MAX_TRAININGS", "3")
    assert default_capacity() == 3
    monkeypatch.setenv("RESNORM_MAX_TRAININGS", "zero")
    with pytest.raises(ValueError, match="whole number"):
        default_capacity()


@pytest.fixture(scope="module")
def finished(trained_run):
    return trained_run


def test_every_figure_builds_with_data(finished):
    s = finished.store.all_series()
    snap = finished.store.attention()[-1]
    figs = [F.loss_figure(s), F.resid_heatmap(s), F.depth_profile(s), F.grad_figure(s, grad_clip=1.0),
            F.ratio_figure(s), F.attention_figure(snap, "blocks.0.attn"), F.attention_figure(snap, "blocks.2.attn", 1),
            F.entropy_figure(s, "blocks.1.attn"), F.rank_figure(s)]
    assert all(isinstance(f, F.Fig) for f in figs)  # plain dicts; validated here to read them
    figs = [go.Figure(f) for f in figs]
    recorded = {name: F.thin(*sv) for name, sv in s.items()}

    def is_recorded(x, y) -> bool:
        return any(len(st) == len(x) and np.array_equal(st, x) and np.allclose(v, y, equal_nan=True)
                   for st, v in recorded.values())

    for f in figs:
        assert isinstance(f, go.Figure) and f.data
        assert len(json.loads(f.to_json())["data"]) == len(f.data)  # serialisable as sent to the browser
        for tr in f.data:  # every line over steps is a recorded series, unchanged
            if tr.type == "scatter" and tr.x is not None and len(tr.x) > 2 and not isinstance(tr.x[0], str):
                assert is_recorded(np.asarray(tr.x), np.asarray(tr.y, dtype=float)), (f.layout.title.text, tr.name)
    lines = sum(1 for f in figs for tr in f.data if tr.type == "scatter" and tr.x is not None and len(tr.x) > 2)
    assert lines >= 3 * 3  # per-layer lines of the gradient, ratio and rank charts at least
    heads = go.Figure(F.attention_figure(snap, "blocks.0.attn"))
    for h, tr in enumerate(heads.data):
        np.testing.assert_allclose(np.asarray(tr.z, dtype=float), snap.maps["blocks.0.attn"][h])


def test_layer_colours_are_consistent_across_charts(finished):
    s = finished.store.all_series()
    def colours(fig):
        return {t.name: t.line.color for t in go.Figure(fig).data if t.name and t.name.startswith("L")}
    grad, rank, ratio = colours(F.grad_figure(s)), colours(F.rank_figure(s)), colours(F.ratio_figure(s))
    assert set(rank) == {"L0", "L1", "L2"}
    assert grad == rank == ratio
    assert len(set(rank.values())) == 3


def test_heatmap_is_layers_by_steps_of_the_recorded_rms(finished):
    s = finished.store.all_series()
    fig = go.Figure(F.resid_heatmap(s))
    hm = fig.data[0]
    raw = np.asarray(hm.customdata, dtype=float)
    assert raw.shape == (3, len(s["blocks.0.resid_post.rms"][0]))
    np.testing.assert_allclose(raw[2], s["blocks.2.resid_post.rms"][1])
    np.testing.assert_allclose(np.asarray(hm.z, dtype=float), np.log10(raw))


def test_attention_small_multiples_and_probe_tokens(finished):
    snap = finished.store.attention()[-1]
    fig = go.Figure(F.attention_figure(snap, "blocks.1.attn"))
    assert len(fig.data) == 2  # 2 heads
    assert list(fig.data[0].y) == [f"{i}:{t}" for i, t in enumerate(snap.labels["blocks.1.attn"][0])]
    np.testing.assert_allclose(np.asarray(fig.data[1].z), snap.maps["blocks.1.attn"][1])


def test_non_finite_values_and_markers_do_not_break_charts():
    s = {"train/loss": (np.array([1, 2, 3]), np.array([2.0, math.inf, math.nan])),
         "blocks.0.rank_residual": (np.array([1, 2, 3]), np.array([0.5, math.nan, -math.inf])),
         "grad/total_norm": (np.array([1, 2, 3]), np.array([1.0, 2.0, math.inf]))}
    m = [Marker(3, "diverged", "non-finite")]
    for f in (F.loss_figure(s, markers=m), F.rank_figure(s, markers=m), F.grad_figure(s, markers=m)):
        f = go.Figure(f)
        f.to_json()
        assert any(getattr(sh, "x0", None) == 3 for sh in f.layout.shapes)  # the divergence line
    y = F.loss_figure(s)["data"][0]["y"]
    assert y[0] == 2.0 and np.isnan(y[1]) and np.isnan(y[2])


def test_long_series_are_thinned_for_the_browser():
    n = 20_000
    s = {"train/loss": (np.arange(1, n + 1), np.linspace(3, 0, n))}
    tr = F.loss_figure(s).data[0]
    assert len(tr["x"]) <= F.MAX_POINTS and tr["x"][0] == 1 and tr["x"][-1] == n


def test_series_from_frame_round_trip(finished):
    df = finished.store.frame()
    s = F.series_from_frame(df.sample(frac=1.0, random_state=0))
    for name, (steps, vals) in finished.store.all_series().items():
        np.testing.assert_array_equal(s[name][0], steps)
        np.testing.assert_array_equal(s[name][1], vals)
    assert F.block_prefixes(F.series_from_frame(pd.DataFrame(
        {"step": [1, 1, 1], "name": ["dec.blocks.0.grad_norm", "enc.blocks.1.grad_norm", "enc.blocks.0.grad_norm"],
         "value": [1.0, 2.0, 3.0]}))) == ["enc.blocks.0", "enc.blocks.1", "dec.blocks.0"]


def test_finished_run_is_saved_and_an_unwritable_folder_loses_nothing(tmp_path, monkeypatch):
    from resnorm.runs import list_runs

    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path / "runs"))
    r = SessionRun(TrainingSlots(capacity=1))
    assert r.start(cfg(steps=6)) is None
    assert wait(lambda: r.trainer.done) and wait(lambda: r.saved_to is not None or r.save_error is not None)
    assert r.save_error is None and r.saved_to.parent == tmp_path / "runs"
    entries, notes = list_runs()
    assert [e.name for e in entries] == [r.saved_to.name] and not notes
    assert entries[0].status == "completed" and entries[0].steps == 6

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(blocker / "runs"))
    assert r.start(cfg(steps=6)) is None
    assert wait(lambda: r.trainer.done) and wait(lambda: r.save_error is not None)
    assert r.saved_to is None and "cannot save" in r.save_error
    assert len(r.trainer.store.series("train/loss")[0]) == 6  # still downloadable from the page


@pytest.mark.slow
def test_process_worker_matches_the_thread_trainer_and_obeys_controls():
    """Training in a child process gives exactly the metrics of the in-process trainer."""
    from resnorm.procworker import ProcessTrainer

    c = cfg(steps=30, probe_every=5, attention_every=10, eval_every=10)
    here = train(c)
    there = ProcessTrainer(c).start()
    assert there.join(120) and there.status == "completed"
    assert there.store.frame().equals(here.store.frame())
    assert there.summary.final_loss == here.summary.final_loss
    assert len(there.store.attention()) == len(here.store.attention())
    w = there.model.state_dict()
    assert all(torch.equal(w[k], v) for k, v in here.model.state_dict().items())

    long = ProcessTrainer(cfg(steps=100_000)).start()
    assert wait(lambda: long.step >= 3, 60)
    long.pause()
    assert wait(lambda: long.status == "paused", 30)
    s = long.step
    time.sleep(0.5)
    assert long.step == s
    long.resume()
    assert wait(lambda: long.step > s + 2, 30)
    long.stop()
    assert long.join(30) and long.status == "stopped"


@pytest.mark.slow
def test_killed_worker_ends_failed_frees_its_slot_and_keeps_its_metrics(monkeypatch):
    monkeypatch.setenv("RESNORM_WORKERS", "process")
    slots = TrainingSlots(capacity=1)
    r = SessionRun(slots, save=False)
    assert r.start(cfg()) is None
    assert wait(lambda: r.trainer.step >= 5, 60)
    r.trainer.kill()  # a crash, an out-of-memory kill…
    assert wait(lambda: r.trainer.done, 30) and r.status == "failed"
    assert "ended unexpectedly" in r.trainer.reason
    assert len(r.trainer.store.series("train/loss")[0]) >= 1  # what arrived is kept
    assert wait(lambda: slots.busy == 0)  # the pool recovered the slot
    assert r.start(cfg(steps=3)) is None  # and the session can start again
    assert wait(lambda: r.trainer.done, 60) and r.status == "completed"


@pytest.mark.slow
def test_worker_process_does_not_rerun_the_parents_main_script(tmp_path):
    """Under Streamlit the main script is the app: a spawned child must not execute it again."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "app_like.py"
    script.write_text(
        "import os, sys\n"
        "print('MAIN', os.getpid())\n"
        "if __name__ == '__main__':\n"
        f"    sys.path.insert(0, {root!r})\n"
        "    from resnorm.config import RunConfig\n"
        "    from resnorm.procworker import ProcessTrainer\n"
        "    tr = ProcessTrainer(RunConfig.from_flat(dict(steps=3, layers=1, d_model=8, heads=1, d_ff=8))).start()\n"
        "    tr.join(120)\n"
        "    print('STATUS', tr.status)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180).stdout
    assert out.count("MAIN") == 1 and "STATUS completed" in out, out


def test_a_run_that_cannot_start_frees_its_slot_and_its_session(monkeypatch):
    from resnorm import sessions as L

    slots = TrainingSlots(capacity=1)
    a, b = SessionRun(slots, save=False), SessionRun(slots, save=False)
    assert a.start(cfg()) is None
    assert b.start(cfg(steps=5)) is None and b.status == "queued"
    real_start = L.Trainer.start

    def broken(self):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(L.Trainer, "start", broken)
    a.close()  # the slot passes to b, whose run cannot start
    assert wait(lambda: a.trainer.done)
    assert wait(lambda: slots.busy == 0) and slots.queued == 0
    assert not b.active and b.trainer is None  # not stuck "queued" or "running"
    assert "could not start" in b.start_error and "Too many open files" in b.start_error  # said, not lost
    msg = b.start(cfg())  # a direct start that fails says why and frees the slot
    assert msg and "could not start" in msg and "Too many open files" in msg
    assert slots.busy == 0 and not b.active
    monkeypatch.setattr(L.Trainer, "start", real_start)
    assert b.start(cfg(steps=3)) is None
    assert wait(lambda: b.trainer is not None and b.trainer.done) and b.status == "completed"


@pytest.mark.slow
def test_worker_processes_train_at_a_lower_cpu_priority_than_the_server(monkeypatch):
    """A page refresh must get a core before a training step does (``RESNORM_WORKER_NICE``)."""
    from resnorm.procworker import ProcessTrainer

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for nice, expected in ((None, min(19, mine + 10)), ("3", min(19, mine + 3))):
        if nice is None:
            monkeypatch.delenv("RESNORM_WORKER_NICE", raising=False)
        else:
            monkeypatch.setenv("RESNORM_WORKER_NICE", nice)
        tr = ProcessTrainer(cfg(steps=100_000)).start()
        try:
            assert wait(lambda: tr.step >= 1, 60)
            assert os.getpriority(os.PRIO_PROCESS, tr.pid) == expected
        finally:
            tr.stop()
            tr.join(30)
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the server's own priority is untouched
    monkeypatch.setenv("RESNORM_WORKERS", "process")
    for bad in ("high", "25", "-5"):
        monkeypatch.setenv("RESNORM_WORKER_NICE", bad)
        msg = SessionRun(TrainingSlots(1), save=False).start(cfg(steps=3))
        assert msg and "RESNORM_WORKER_NICE" in msg and bad in msg


def test_the_worker_child_caps_cuda_memory_before_it_trains(monkeypatch):
    """Each worker process takes its share of a shared GPU (``resnorm.device.limit_cuda_memory``)
    before its job touches the device. Run in this process with plain queues."""
    import queue as Q
    from functools import partial

    from resnorm import procworker as P

    seen = []
    monkeypatch.setattr(P, "limit_cuda_memory", lambda device: seen.append(device))
    events = Q.Queue()
    P._child(partial(P.make_trainer, cfg(steps=3, device="cpu").to_dict()), Q.Queue(), events)
    msgs = []
    while not events.empty():
        msgs.append(events.get())
    assert seen == ["cpu"]
    assert msgs[-1][0] == "done" and msgs[-1][2] == "completed" and msgs[-1][1][0][0]["steps"] == 3


def test_a_session_stays_active_until_its_ended_run_is_saved(monkeypatch):
    """A page stops refreshing when its session turns inactive: by then the run must be saved (or
    a lesson checked), or the last redraw would miss it."""
    from resnorm import sessions as L

    real = L.save_finished

    def slow_save(*a, **kw):
        time.sleep(0.5)
        return real(*a, **kw)

    monkeypatch.setattr(L, "save_finished", slow_save)
    r = SessionRun(TrainingSlots(1))
    assert r.start(cfg(steps=3)) is None
    assert wait(lambda: r.trainer.done)
    assert r.active and r.saved_to is None  # ended, not yet settled
    assert wait(lambda: not r.active) and r.saved_to is not None and r.status == "completed"


def test_a_bad_gpu_memory_share_is_refused_before_any_run_starts(monkeypatch):
    monkeypatch.setenv("RESNORM_WORKERS", "process")
    monkeypatch.setenv("RESNORM_CUDA_MEMORY_FRACTION", "1.5")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    slots = TrainingSlots(1)
    msg = SessionRun(slots, save=False).start(cfg(steps=3))
    assert msg and "RESNORM_CUDA_MEMORY_FRACTION" in msg and "1.5" in msg and slots.busy == 0


@pytest.mark.slow
def test_a_worker_stops_when_its_server_dies_even_by_sigkill(tmp_path):
    """No orphan trainings: a killed server's worker processes notice and end on their own."""
    import signal
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script, pid_file = tmp_path / "server_like.py", tmp_path / "worker.pid"
    script.write_text(
        "import os, signal, sys, time\n"
        f"sys.path.insert(0, {root!r})\n"
        "from resnorm.config import RunConfig\n"
        "from resnorm.procworker import ProcessTrainer\n"
        "if __name__ == '__main__':\n"
        "    tr = ProcessTrainer(RunConfig.from_flat(dict(steps=10_000_000, layers=1, d_model=8, heads=1, d_ff=8,\n"
        "                                                 probe_every=0, attention_every=0, eval_every=0))).start()\n"
        "    while tr.step < 2:\n"
        "        time.sleep(0.05)\n"
        f"    open({str(pid_file)!r}, 'w').write(str(tr.pid))\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")
    # no pipes: an orphaned worker would hold them open
    rc = subprocess.run([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        timeout=180).returncode
    assert rc == -signal.SIGKILL
    child = int(pid_file.read_text())

    def gone() -> bool:
        try:
            with open(f"/proc/{child}/status") as fh:
                return any(line.startswith("State:") and "Z" in line.split()[1] for line in fh)
        except FileNotFoundError:
            return True

    try:
        assert wait(gone, 30), "the worker kept training after its server was killed"
    finally:
        if not gone():
            os.kill(child, signal.SIGKILL)


def test_a_paused_run_yields_its_slot_only_after_the_grace_and_only_to_someone_waiting(monkeypatch):
    monkeypatch.setenv("RESNORM_PAUSE_GRACE_S", "0.3")
    slots = TrainingSlots(capacity=1)
    a, b = SessionRun(slots, save=False), SessionRun(slots, save=False)
    assert a.start(cfg()) is None
    assert wait(lambda: a.trainer.step >= 2)
    a.pause()
    assert wait(lambda: a.status == "paused")
    time.sleep(1.0)  # three graces with nobody waiting: it keeps its slot
    assert a.status == "paused" and a.preempted_after is None
    a.resume()
    a.pause()  # a new pause: its own grace
    assert b.start(cfg(steps=5)) is None and b.status == "queued"
    assert wait(lambda: a.trainer.done, 10) and a.status == "stopped" and a.preempted_after == 0.3
    assert wait(lambda: b.trainer is not None and b.trainer.done, 60) and b.status == "completed"
    assert len(a.trainer.store.series("train/loss")[0]) >= 2  # what it recorded is kept


def test_a_resumed_run_is_not_stopped_for_someone_waiting(monkeypatch):
    monkeypatch.setenv("RESNORM_PAUSE_GRACE_S", "0.3")
    slots = TrainingSlots(capacity=1)
    a, b = SessionRun(slots, save=False), SessionRun(slots, save=False)
    assert a.start(cfg()) is None and b.start(cfg(steps=5)) is None
    assert wait(lambda: a.trainer.step >= 2)
    a.pause()
    a.resume()  # before the grace ends
    time.sleep(1.0)
    assert a.status == "running" and a.preempted_after is None and b.status == "queued"
    monkeypatch.setenv("RESNORM_PAUSE_GRACE_S", "0")  # 0: a paused run keeps its slot for ever
    a.pause()
    time.sleep(1.0)
    assert a.status == "paused" and b.status == "queued"
    a.close()
    b.close()
