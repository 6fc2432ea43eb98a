"""Feedback right after Train (issue 13, item 2): steps/s counts training time only, the first
point reaches the server at once, and a job that has not taken its first step reads ``starting``."""
from __future__ import annotations

import queue
import threading
from functools import partial

import pytest

from resnorm.science import worker as worker_mod
from resnorm.science.trainer import Trainer
from resnorm.serving import procworker
from resnorm.serving.sessions import SessionRun
from resnorm.serving.slots import TrainingSlots
from helpers import TINY, configs, wait

cfg = configs(TINY, probe_every=5, attention_every=0, eval_every=0)


class FakeClock:
    """``time.perf_counter`` that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def test_steps_per_second_count_training_steps_only(monkeypatch):
    """Setup (worker start-up, data, model) takes 100 s of the fake clock, each step 0.5 s: the rate
    is 2 steps/s from the steps' own timestamps, not steps / total elapsed (10 / 105 here)."""
    clock = FakeClock()
    monkeypatch.setattr(worker_mod, "time", clock)
    original = Trainer._setup

    def slow_setup(self):
        original(self)
        clock.now += 100.0

    monkeypatch.setattr(Trainer, "_setup", slow_setup)

    def on_step(step, tr):
        clock.now += 0.5

    tr = Trainer(cfg(steps=10), on_step=on_step)
    tr.prepare()
    assert tr.setup_s == 100.0 and tr.steps_per_s == 0.0  # nothing trained yet
    while tr.advance():
        pass
    assert tr.step == 10 and tr.elapsed == 105.0
    assert tr.training_elapsed == 5.0 and tr.steps_per_s == 2.0
    assert tr.summary.elapsed_s == 105.0  # the summary still says the whole run's time


def test_paused_time_is_not_training_time(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(worker_mod, "time", clock)
    tr = Trainer(cfg(steps=4))
    tr.prepare()
    clock.now += 1.0
    tr.advance()
    tr._running.clear()  # paused between steps
    resume = threading.Timer(0.05, lambda: (setattr(clock, "now", clock.now + 50.0), tr.resume()))
    resume.start()
    tr.advance()  # waits for the resume; the 50 s passed while paused
    resume.join()
    assert tr.step == 2 and tr.training_elapsed == pytest.approx(1.0) and tr.steps_per_s == pytest.approx(2.0)


def test_the_worker_sends_the_first_step_at_once(monkeypatch):
    """With the periodic flush pushed out of reach, the child still sends step 1 (and its setup
    time) on its own, before the end: the page draws from the first step."""
    monkeypatch.setattr(procworker, "FLUSH_S", 1e9)
    commands, events = queue.Queue(), queue.Queue()
    procworker._child(partial(procworker.make_trainer, cfg(steps=6).to_dict()), commands, events)
    messages = []
    while not events.empty():
        messages.append(events.get())
    batches = [m for m in messages if m[0] == "batch"]
    first = batches[0][1][0]  # (items, status, step, elapsed, reason, diverged step, setup_s) of the run
    items, step, setup_s = first[0], first[2], first[6]
    assert step == 1 and len(batches) == 2 and messages[-1][0] == "done"  # step 1, then the end
    assert [i[1] for i in items if i[0] == "metrics"] == [1]
    values = items[0][2]
    assert "train/loss" in values and any(k.endswith(".grad_norm") for k in values)  # probed at step 1
    assert setup_s is not None and 0 <= setup_s <= first[3]


def test_a_run_reads_starting_until_its_first_step(monkeypatch):
    gate = threading.Event()
    original = Trainer._setup

    def held_setup(self):
        gate.wait(30)
        original(self)

    monkeypatch.setattr(Trainer, "_setup", held_setup)
    run = SessionRun(TrainingSlots(capacity=1), save=False)
    assert run.phase == "idle"
    assert run.start(cfg(steps=3)) is None
    assert run.phase == "starting" and run.status == "running"  # the status itself is unchanged
    gate.set()
    assert wait(lambda: run.trainer.step >= 1, 30)
    assert wait(lambda: run.phase == "completed", 30)


def test_a_queued_run_reads_queued_not_starting():
    slots = TrainingSlots(capacity=1)
    a, b = SessionRun(slots, save=False), SessionRun(slots, save=False)
    assert a.start(cfg(steps=100_000)) is None and b.start(cfg(steps=3)) is None
    try:
        assert b.phase == "queued"
    finally:
        b.close()
        a.close()
        assert wait(lambda: slots.busy == 0)
