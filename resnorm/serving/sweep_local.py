"""The ``local`` sweep backend: warm worker processes on this machine.

Each worker is a ``spawn``ed process (no forked locks or CUDA state, and never the parent's main
script: ``procworker._without_main``) that imports torch once, sets one intra-op thread and a lower
CPU priority (``RESNORM_WORKER_NICE``), then runs cell after cell (``sweep_cell.run_cell``) from its
own queue: the per-cell cost is the cell, not an interpreter and a torch import (~2 s each). From
the app (a sweep holding training slots) the workers run at the server's lower priority
(``RESNORM_WORKER_NICE``, as every training process there); from the command line at normal priority
(niced workers on a busy machine lose the CPU to every other process: in ``bench --sweep`` on the
loaded 2-core machine they ran at half the cells/s of Ray's workers, which are not niced).

The parent knows which cell each worker holds, so a worker that dies (killed, out of memory) turns
its cell into a ``failed`` row and is replaced; the sweep goes on. A worker whose parent has gone
exits within ``PARENT_CHECK_S``. ``close(kill=True)`` ends the workers at once (a stopped sweep loses
only the cells in flight).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time

from .sweep_cell import failed_rows, unit_rows

PARENT_CHECK_S = 1.0


def _worker_main(tasks, results, wid: int, threads: int, niceness: int, parent: int) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # an ignored TERM can be inherited: close() must end us
    if niceness:
        try:
            os.nice(niceness)
        except OSError:
            pass
    import torch  # once per worker

    torch.set_num_threads(threads)
    from .sweep_cell import run_unit
    from ..science import trainer  # noqa: F401  (warm: what every cell imports, imported once)
    from ..studies import signal  # noqa: F401
    from . import runs  # noqa: F401

    results.put(("ready", wid, None, None))
    while True:
        try:
            item = tasks.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if item is None:
            return
        cid, cfg_json, folder, target = item
        results.put(("done", wid, cid, run_unit(cfg_json, folder, target, threads)))


class LocalBackend:
    """``workers`` warm processes; ``submit`` hands a cell (or a batch: a tuple of ids and lists of
    configs and folders, ``sweep_cell.run_unit``) to an idle one, ``poll`` returns the finished
    ``(cell_id, row)`` pairs (a dead worker's cells as failed rows)."""

    name = "local"

    def __init__(self, workers: int, threads: int = 1, niceness: int = 0):
        self.workers = max(1, int(workers))
        self.threads = threads
        self.niceness = niceness  # the app passes RESNORM_WORKER_NICE: its pages must stay responsive
        self._ctx = mp.get_context("spawn")
        self._results = self._ctx.Queue()
        self._procs: dict[int, tuple] = {}   # wid -> (process, task queue)
        self._busy: dict[int, object] = {}   # wid -> cell id
        self._next_wid = 0
        self.ready: set[int] = set()  # workers that have imported torch and wait for cells
        for _ in range(self.workers):
            self._spawn()

    @property
    def capacity(self) -> int:
        return self.workers

    def _spawn(self) -> None:
        from .procworker import _without_main

        wid, self._next_wid = self._next_wid, self._next_wid + 1
        tasks = self._ctx.Queue()
        p = self._ctx.Process(target=_worker_main, name=f"resnorm-sweep-{wid}", daemon=True,
                              args=(tasks, self._results, wid, self.threads, self.niceness, os.getpid()))
        with _without_main():
            p.start()
        self._procs[wid] = (p, tasks)

    def idle(self) -> int:
        return len(self._procs) - len(self._busy)

    def submit(self, cell_id, cfg_json, folder, target: float | None) -> None:
        wid = next(w for w in self._procs if w not in self._busy)
        self._busy[wid] = cell_id
        self._procs[wid][1].put((cell_id, cfg_json, folder, target))

    def poll(self, timeout: float = 0.2) -> list[tuple[object, dict]]:
        out, items = [], []
        try:
            items.append(self._results.get(timeout=timeout))
            while True:
                items.append(self._results.get_nowait())
        except queue.Empty:
            pass
        for kind, wid, cid, row in items:
            if kind == "ready":
                self.ready.add(wid)
            elif kind == "done" and self._busy.get(wid) == cid:
                del self._busy[wid]
                out += unit_rows(cid, row)
        for wid, (p, _) in list(self._procs.items()):
            if not p.is_alive():
                del self._procs[wid]
                self.ready.discard(wid)
                cid = self._busy.pop(wid, None)
                if cid is not None:
                    out += failed_rows(cid, f"the worker process died (exit code {p.exitcode})")
                self._spawn()
        return out

    def close(self, kill: bool = False) -> None:
        for p, tasks in self._procs.values():
            if kill:
                p.kill()
            else:
                try:
                    tasks.put(None)
                except (OSError, ValueError):
                    p.kill()
        deadline = time.monotonic() + 10
        for p, _ in self._procs.values():
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1)
        self._procs.clear()
        self._busy.clear()
