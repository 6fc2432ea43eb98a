"""Running a sweep (``resnorm.studies.sweep_spec``) and reading one back.

Layout of a sweep folder ``DIR``::

    DIR/sweep.json            the spec (SweepSpec.to_json): base config, axes, steps, target
    DIR/cells.csv             one row per finished cell, in the spec's product order (ROW_COLUMNS)
    DIR/cells/<key>/          the cell's run: config.json, metrics.csv, summary.json (as train --out)

``SweepJob`` is the engine: built from a spec it checks everything (cells, the folder) and counts
the cells already finished (a folder ``cells/<key>/`` whose summary holds a finished row: rerunning
a sweep skips them, extending an axis runs only the new cells); ``run()`` runs the rest on a
backend — ``local`` (warm worker processes, ``resnorm.serving.sweep_local``) or ``ray``
(``resnorm.serving.sweep_ray``) — and ``start()`` does the same in a background thread that a page
polls (``progress()``, ``rows()``, ``stop()``). ``run_sweep`` is ``SweepJob(...).run()``.

A cell that diverges or fails is a row with that status; the sweep goes on. ``cells.csv`` is
rewritten (atomically) after every cell, so a sweep killed half way has a table of what finished.
When ``slots`` (``resnorm.serving.slots.TrainingSlots``) is given — from the app — the sweep waits
its turn in the training-slot queue for one slot, then takes as many more free slots as it has
workers (one slot per worker process) and releases them all when it ends.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ..science.batched import BATCH_MODES, plan
from ..science.config import ConfigError, show
from ..studies import predictors
from ..studies.sweep_spec import MAX_CELLS, Cell, SweepSpec, cells as spec_cells
from .sweep_cell import finished_row, unit_task

BACKENDS = ("local", "ray")
SPEC_FILE, CELLS_FILE, CELLS_DIR = "sweep.json", "cells.csv", "cells"
#: the columns after the axis fields in cells.csv
ROW_COLUMNS = (["key", "status", "final_loss", "min_loss", "steps", "steps_to_target", "seconds"]
               + predictors.COLUMNS + ["reason"])
STATUSES = ("queued", "running", "completed", "stopped", "failed")


@dataclass(frozen=True)
class CellResult:
    """A finished cell as ``on_cell`` receives it: its ``cell`` (values, config, key), its ``row``
    (the cells.csv row as a dict, axis fields included) and whether it was ``skipped`` (finished by
    an earlier run of the sweep)."""
    cell: Cell
    row: dict
    skipped: bool = False


def default_workers() -> int:
    """As many workers as cores."""
    return os.cpu_count() or 1


def cell_folder(out_dir: str | os.PathLike, key: str) -> Path:
    return Path(out_dir) / CELLS_DIR / key


def _prepare(out_dir) -> Path:
    text = str(out_dir)
    if not text.strip():
        raise ConfigError([("out", "must name a folder")])
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise ConfigError([("out", f"{show(text)} exists and is not a folder")])
    try:
        (d / CELLS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError([("out", f"cannot write to {show(text)}: {e.strerror}")]) from None
    return d


def _write(path: Path, text: str) -> None:
    from .runs import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))


def rows_frame(spec: SweepSpec, rows: list[dict]) -> pd.DataFrame:
    """Rows (dicts) → the cells.csv frame: the axis fields, then ``ROW_COLUMNS``."""
    cols = list(spec.axes) + ROW_COLUMNS
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)


class SweepJob:
    """One sweep, run in this thread (``run``) or a background one (``start``).

    ``backend``: ``local`` or ``ray``; ``workers``: processes / concurrent Ray tasks (default: one
    per core, never more than the cells to run); ``threads``: intra-op threads per cell (1);
    ``on_cell(CellResult)``: called for every finished cell, skipped ones first, from the running
    thread; ``stop_event``: a ``threading.Event`` that stops the sweep like ``stop()``; ``slots``:
    the training-slot cap to share (see the module docstring); ``batch``: ``auto`` / ``on`` /
    ``off``, whether cells that differ only in optimiser scalars train as one batched model
    (``resnorm.science.batched.plan``). Raises ConfigError on a bad spec, backend, worker count,
    batch mode or folder, before anything runs.
    """

    def __init__(self, spec: SweepSpec, out_dir: str | os.PathLike, backend: str = "local",
                 workers: int | None = None, on_cell: Callable[[CellResult], None] | None = None,
                 stop_event: threading.Event | None = None, *, slots=None, threads: int = 1,
                 max_cells: int = MAX_CELLS, batch: str = "auto"):
        if backend not in BACKENDS:
            raise ConfigError([("backend", f"must be one of {', '.join(BACKENDS)} (got {show(backend)})")])
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ConfigError([("workers", f"must be a whole number >= 1 (got {show(workers)})")])
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError([("threads", f"must be a whole number >= 1 (got {show(threads)})")])
        if batch not in BATCH_MODES:
            raise ConfigError([("batch", f"must be one of {', '.join(BATCH_MODES)} (got {show(batch)})")])
        self.batch = batch
        self.spec, self.backend_name, self.threads = spec, backend, threads
        self.cells = spec_cells(spec, max_cells)
        self.out = _prepare(out_dir)
        _write(self.out / SPEC_FILE, spec.to_json() + "\n")
        self.on_cell, self.slots = on_cell, slots
        self._stop = stop_event or threading.Event()
        self._lock = threading.Lock()
        self._rows: dict[int, dict] = {}
        self._skipped: list[CellResult] = []
        for c in self.cells:
            row = finished_row(cell_folder(self.out, c.key))
            if row is not None:
                full = {**c.values, **row, "key": c.key}
                self._rows[c.index] = full
                self._skipped.append(CellResult(c, full, True))
        self.todo = [c for c in self.cells if c.index not in self._rows]
        self._requested = workers
        self.workers = min(workers or default_workers(), max(1, len(self.todo)))  # ray on a cluster: its CPUs
        self.status = "queued"
        self.error = ""
        self._ran = 0
        self._started: float | None = None
        self._ticket = None
        self._thread: threading.Thread | None = None
        self._write_table()

    # ---- what a page polls -------------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def done(self) -> int:
        with self._lock:
            return len(self._rows)

    @property
    def skipped(self) -> int:
        return len(self._skipped)

    def eta_s(self) -> float | None:
        """Seconds left at the rate of the cells run so far by this job (None before the first)."""
        with self._lock:
            ran, left = self._ran, self.total - len(self._rows)
        if self._started is None or ran == 0:
            return None if left else 0.0
        return (time.monotonic() - self._started) / ran * left

    def progress(self) -> dict:
        """``{"status", "done", "total", "skipped", "eta_s", "queue_position", "workers"}``."""
        pos = self.slots.position(self._ticket) if self.slots is not None and self._ticket is not None else None
        return {"status": self.status, "done": self.done, "total": self.total, "skipped": self.skipped,
                "eta_s": self.eta_s(), "queue_position": pos, "workers": self.workers}

    def rows(self) -> list[dict]:
        """The finished cells' rows so far, in the spec's product order (copies)."""
        with self._lock:
            return [dict(self._rows[i]) for i in sorted(self._rows)]

    def frame(self) -> pd.DataFrame:
        return rows_frame(self.spec, self.rows())

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "stopped", "failed")

    @property
    def alive(self) -> bool:
        """Whether the background thread of ``start()`` still runs: it sets the final status before
        it hands its training slots back, so a finished job may still hold them for a moment."""
        return self._thread is not None and self._thread.is_alive()

    # ---- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop: no new cell starts, the cells in flight are abandoned (they rerun next time)."""
        self._stop.set()

    def start(self) -> "SweepJob":
        self._thread = threading.Thread(target=self.run, name="resnorm-sweep", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    def run(self) -> list[dict]:
        """Run every cell not yet finished; returns all rows. Never raises for a cell; a backend that
        cannot start (Ray missing, a cluster unreachable) ends the job ``failed`` with ``error``."""
        for r in self._skipped:
            self._notify(r)
        tokens: list[int] = []
        backend = None
        try:
            if self.todo:
                tokens = self._take_slots()
                if tokens is not None and not self._stop.is_set():
                    self.status = "running"
                    backend = self._backend()
                    self._loop(backend)
            self.status = "stopped" if self._stop.is_set() and self.done < self.total else "completed"
        except Exception as e:
            self.status, self.error = "failed", f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}"
        finally:
            if backend is not None:
                backend.close(kill=self._stop.is_set() or self.status == "failed")
            for t in tokens or []:
                self.slots.release(t)
        return self.rows()

    # ---- internals -------------------------------------------------------------------------------
    def _take_slots(self) -> list[int] | None:
        """One slot per worker from the shared cap: wait in the queue for the first, take what is free
        for the rest (the job then runs with that many workers). None when stopped while waiting."""
        if self.slots is None or (self.backend_name == "ray" and os.environ.get("RAY_ADDRESS", "").strip()):
            return []  # a cluster's cells do not run on this server
        got, ready = [], threading.Event()

        def granted(token):
            got.append(token)
            ready.set()

        token, self._ticket = self.slots.acquire_or_queue(granted)
        if token is not None:
            got.append(token)
        else:
            while not ready.wait(0.2):
                if self._stop.is_set():
                    self.slots.cancel(self._ticket)
                    if got:  # granted meanwhile
                        self.slots.release(got[0])
                    return None
        self._ticket = None
        got += self.slots.take(self.workers - 1)
        self.workers = len(got)
        return got

    def _backend(self):
        if self.backend_name == "ray":
            from .sweep_ray import RayBackend

            on_cluster = bool(os.environ.get("RAY_ADDRESS", "").strip())
            backend = RayBackend(self._requested if on_cluster and self.slots is None else self.workers)
            backend.workers = min(backend.workers, max(1, len(self.todo)))
            self.workers = backend.workers
            return backend
        from .procworker import worker_niceness
        from .sweep_local import LocalBackend

        return LocalBackend(self.workers, self.threads, worker_niceness() if self.slots is not None else 0)

    def _loop(self, backend) -> None:
        units = plan([c.config for c in self.todo], self.workers, self.batch)
        pending = [[self.todo[i] for i in u] for u in units]
        outstanding: set[int] = set()
        self._started = time.monotonic()
        while (pending or outstanding) and not self._stop.is_set():
            while pending and backend.idle() > 0:
                unit = pending.pop(0)  # one cell, or a batched model's (resnorm.science.batched)
                backend.submit(*unit_task(unit, lambda c: cell_folder(self.out, c.key)), self.spec.target)
                outstanding.update(c.index for c in unit)
            for index, row in backend.poll(0.2):
                outstanding.discard(index)
                c = self.cells[index]
                full = {**c.values, **row, "key": c.key}
                for col in predictors.COLUMNS:
                    full.setdefault(col, math.nan)
                with self._lock:
                    self._rows[index] = full
                    self._ran += 1
                self._write_table()
                self._notify(CellResult(c, full, False))

    def _write_table(self) -> None:
        try:
            _write(self.out / CELLS_FILE, self.frame().to_csv(index=False))
        except OSError:  # the cells' own folders hold every result; the table is rebuilt by read_sweep
            pass

    def _notify(self, result: CellResult) -> None:
        if self.on_cell is not None:
            try:
                self.on_cell(result)
            except Exception:  # a failing progress callback must not end the sweep
                pass


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, backend: str = "local", workers: int | None = None,
              on_cell: Callable[[CellResult], None] | None = None, stop_event: threading.Event | None = None,
              **kw) -> list[dict]:
    """Run ``spec`` into ``out_dir`` and return every finished cell's row (see ``SweepJob``)."""
    job = SweepJob(spec, out_dir, backend, workers, on_cell, stop_event, **kw)
    rows = job.run()
    if job.status == "failed":
        raise RuntimeError(job.error)
    return rows


@dataclass
class SweepRecord:
    """A sweep folder read back: its ``spec``, its ``rows`` (the cells.csv frame) and ``path``."""
    path: Path
    spec: SweepSpec
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    def cell_folder(self, key: str) -> Path:
        return cell_folder(self.path, key)

    def load_cell(self, key: str):
        """The cell's run as ``resnorm.serving.runs.RunRecord`` (config, metrics, summary)."""
        from .runs import load_run

        return load_run(key, root=self.path / CELLS_DIR)


def read_sweep(out_dir: str | os.PathLike) -> SweepRecord:
    """Read ``DIR/sweep.json`` and the finished cells. The rows are rebuilt from the cells' own
    folders (the source of truth; ``cells.csv`` is their table), so a sweep killed before writing
    its table reads the same. ConfigError("sweep", why) when the folder holds no readable sweep."""
    from ..science.config import read_config_file

    d = Path(out_dir)
    spec_path = d / SPEC_FILE
    if not spec_path.is_file():
        raise ConfigError([("sweep", f"{show(str(d))} holds no {SPEC_FILE}: not a sweep folder")])
    spec = SweepSpec.from_json(read_config_file(str(spec_path)))
    table = _table_rows(d / CELLS_FILE)
    rows = []
    for c in spec_cells(spec, max_cells=max(MAX_CELLS, spec.n_cells)):
        row = finished_row(cell_folder(d, c.key))
        if row is None and table.get(c.key, {}).get("status") == "failed":
            row = table[c.key]  # a failed cell has no finished folder: its row is in the table
        if row is not None:
            rows.append({**row, **c.values, "key": c.key})
    return SweepRecord(d, spec, rows_frame(spec, rows))


def _table_rows(path: Path) -> dict[str, dict]:
    """cells.csv's rows by key ({} when missing or unreadable)."""
    try:
        if not path.is_file() or path.stat().st_size > 64 << 20:
            return {}
        frame = pd.read_csv(path, dtype={"key": str, "reason": str}, keep_default_na=True)
    except (OSError, ValueError, pd.errors.ParserError):
        return {}
    if "key" not in frame:
        return {}
    frame = frame.astype(object).where(frame.notna(), None)
    return {str(r["key"]): {k: r.get(k) for k in ROW_COLUMNS if k in r} for r in frame.to_dict("records")}
