"""Warm worker processes: a training starts in a process that has already imported torch.

A cold worker process (``spawn``) spends its first seconds before the first step on the interpreter,
``import torch`` and the lazy imports of the first optimizer (``torch.optim.Optimizer.__init__``
imports ``torch._dynamo``: about 1 s of CPU on the 2-core machine); the model itself takes tens of
milliseconds. The room presses Train and looks at empty axes meanwhile (issue 13: first points
after 4 s). So the server keeps *spares*: processes started ahead of time (at the worker's CPU
priority, ``RESNORM_WORKER_NICE``) that import all that, then wait on their command queue for one
job. A job takes a spare when it starts (``take``) and sends it the job and the server's
``RESNORM_*`` settings as they are *now* (the spare was started with older ones, perhaps).

Rules that keep this as safe as a cold start:

- one spare, one job: a spare is handed out once, under a lock, and exits when its job ends (it is
  never reused: no state of one run can reach the next, and its memory goes back at once);
- the number of processes follows the slot cap: spares + running pool workers ≤
  ``RESNORM_WARM_WORKERS`` (default: the training-slot capacity, so one warm process per slot;
  0 turns spares off). A job runs only while it holds a training slot, as before;
- a spare started at another niceness than the one asked for now is not used (``os.nice`` cannot
  be undone): it is ended and the job starts cold;
- a spare dies with the server: it is a daemon process (ended at the server's exit), and while it
  waits it checks every ``procworker.PARENT_CHECK_S`` that the server is alive (a SIGKILLed server
  runs no exit handlers);
- determinism: the job runs in a fresh process exactly as a cold one does (the same ``_child``,
  every seed set by the trainer), so the same config and seed give the same curves (tested).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from dataclasses import dataclass

from .. import settings

SETTINGS_PREFIX = "RESNORM_"


def warm_up() -> None:
    """Import what a job's first step needs (torch, the trainer, comparisons and lessons) and build
    one optimizer, whose first construction imports ``torch._dynamo``."""
    import torch

    from ..science import trainer  # noqa: F401
    from ..studies import compare, lessons  # noqa: F401

    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)


def settings_now() -> dict[str, str]:
    """The ``RESNORM_*`` environment variables of this process: a job takes them to its spare."""
    return {k: v for k, v in os.environ.items() if k.startswith(SETTINGS_PREFIX)}


def _apply_settings(env: dict[str, str]) -> None:
    for k in [k for k in os.environ if k.startswith(SETTINGS_PREFIX) and k not in env]:
        del os.environ[k]
    os.environ.update(env)


def _spare(commands, events, ready, niceness: int) -> None:
    """A spare process: lower its priority, warm up, say so, then wait for one job
    (``("job", factory, settings)``) and run it as a cold worker would (``procworker._child``)."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # an ignored TERM can be inherited: terminate() must end us
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    from .procworker import PARENT_CHECK_S, _child

    warm_up()
    ready.set()
    parent = mp.parent_process()
    while True:
        try:
            message = commands.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():  # the server died (even by SIGKILL)
                return
            continue
        if message[0] != "job":  # "exit": the pool let it go
            return
        _, factory, env = message
        _apply_settings(env)
        _child(factory, commands, events, 0)  # already at its niceness
        return


@dataclass
class Spare:
    """A started spare: its process, its two queues (the job's, from now on) and its niceness."""
    proc: object
    commands: object
    events: object
    ready: object
    niceness: int

    def hand(self, factory) -> None:
        """Give it its one job, with the server's settings as they are now."""
        self.commands.put(("job", factory, settings_now()))


def warm_workers() -> int:
    """How many worker processes the pool keeps (spares plus its workers still training):
    ``RESNORM_WARM_WORKERS``, default the training-slot capacity (one warm process per slot)."""
    n = settings.get("RESNORM_WARM_WORKERS")
    if n is None:
        from .slots import global_slots

        n = global_slots().capacity
    return n


class WarmPool:
    """The server's spares. ``fill`` starts spares up to the target, ``take`` hands one out (or None:
    start cold); nothing is started until the first ``fill`` (the server's first session)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spares: list[Spare] = []
        self._working: list = []  # processes of spares handed out, while they live
        self.enabled = False

    def fill(self) -> None:
        """Start spares until spares + working = ``warm_workers()`` (dead or stale spares are ended)."""
        from .procworker import _without_main, worker_niceness

        with self._lock:
            self.enabled = True
            try:
                target, niceness = warm_workers(), worker_niceness()
            except settings.SettingError:  # the pages say what is wrong with the settings
                return
            self._working = [p for p in self._working if p.is_alive()]
            keep = []
            for s in self._spares:
                if s.proc.is_alive() and s.niceness == niceness and len(keep) + len(self._working) < target:
                    keep.append(s)
                else:
                    _end(s)
            self._spares = keep
            ctx = mp.get_context("spawn")
            while len(self._spares) + len(self._working) < target:
                commands, events, ready = ctx.Queue(), ctx.Queue(), ctx.Event()
                proc = ctx.Process(target=_spare, args=(commands, events, ready, niceness), daemon=True,
                                   name="resnorm-spare")
                try:
                    with _without_main():
                        proc.start()
                except Exception:  # noqa: BLE001 - e.g. too many processes: jobs start cold instead
                    return
                self._spares.append(Spare(proc, commands, events, ready, niceness))

    def take(self, niceness: int) -> Spare | None:
        """A spare at ``niceness`` for one job (the ready ones first), or None. Handed out once."""
        with self._lock:
            live = [s for s in self._spares if s.proc.is_alive() and s.niceness == niceness]
            if not live:
                return None
            spare = next((s for s in live if s.ready.is_set()), live[0])
            self._spares.remove(spare)
            self._working.append(spare.proc)
            return spare

    def ready(self) -> int:
        """Spares ready now (warmed up, waiting)."""
        with self._lock:
            return sum(1 for s in self._spares if s.proc.is_alive() and s.ready.is_set())

    def pids(self) -> list[int]:
        with self._lock:
            return [s.proc.pid for s in self._spares]

    def close(self) -> None:
        """End every spare (not the jobs already handed out)."""
        with self._lock:
            for s in self._spares:
                _end(s)
            self._spares, self.enabled = [], False


def _end(spare: Spare) -> None:
    try:
        spare.commands.put(("exit",))
    except (OSError, ValueError):
        pass
    spare.proc.join(0.5)
    if spare.proc.is_alive():
        spare.proc.kill()
        spare.proc.join(2)


_POOL = WarmPool()


def pool() -> WarmPool:
    """The process's pool (one server, one pool)."""
    return _POOL
