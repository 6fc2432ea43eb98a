"""A browser session's sweep (the Trainability map page): one ``SweepJob`` at a time, saved under
the runs folder, sharing the server's training-slot queue with every other page.

Where: ``<runs folder>/sweeps/<name>/`` with ``name = sweep-<first 12 hex digits of the SHA-256
of the spec's JSON>``: the same sweep started again (after a Stop, or from another session) lands
in the same folder and runs only the cells not yet finished (``SweepJob``'s resume).

Slots: the job waits its turn in the queue for one slot, then takes as many more free slots as it
has workers (``SweepJob._take_slots``), so a room's sweeps and runs together never exceed
``RESNORM_MAX_TRAININGS``. The cap on cells is ``RESNORM_MAX_SWEEP_CELLS``. Streamlit-free.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .. import settings
from ..messages import msg, problems_message
from ..science.config import ConfigError
from ..studies.sweep_spec import SweepSpec, cells
from .runs import SWEEPS_DIR
from .slots import TrainingSlots, global_slots
from .sweep import SPEC_FILE, SweepJob, SweepRecord, read_sweep

CAP_ENV = "RESNORM_MAX_SWEEP_CELLS"


def max_cells() -> int:
    """Cells one sweep from the app may have: ``RESNORM_MAX_SWEEP_CELLS`` (default 48)."""
    return settings.get(CAP_ENV)


def sweeps_root(root: str | os.PathLike | None = None) -> Path:
    from .runs import runs_root

    return runs_root(root) / SWEEPS_DIR


def sweep_name(spec: SweepSpec) -> str:
    """``sweep-<12 hex>``: the spec's identity (base, axes, steps, target)."""
    return "sweep-" + hashlib.sha256(spec.to_json().encode("utf-8")).hexdigest()[:12]


def list_sweeps(root: str | os.PathLike | None = None) -> list[tuple[str, float, SweepRecord | str]]:
    """Every sweep folder, newest first: ``(name, mtime, record)``, or ``(name, mtime, why)`` for one
    that cannot be read. Never raises."""
    base = sweeps_root(root)
    out = []
    try:
        names = sorted(os.listdir(base)) if base.is_dir() else []
    except OSError:
        return []
    for name in names:
        p = base / name
        if name.startswith(".") or p.is_symlink() or not (p / SPEC_FILE).is_file():
            continue
        try:
            mtime = (p / SPEC_FILE).stat().st_mtime
            out.append((name, mtime, read_sweep(p)))
        except ConfigError as e:
            out.append((name, 0.0, "; ".join(f"{k}: {v}" for k, v in e.problems)))
        except Exception as e:  # noqa: BLE001 — one odd folder never breaks the listing
            out.append((name, 0.0, f"{type(e).__name__}: {str(e)[:120]}"))
    out.sort(key=lambda t: t[1], reverse=True)
    return out


def open_sweep(name: str, root: str | os.PathLike | None = None) -> SweepRecord:
    """A saved sweep by folder name (ConfigError when the name is not one of the listing's form)."""
    if not isinstance(name, str) or not name.startswith("sweep-") or not all(
            c in "0123456789abcdef" for c in name[6:]) or len(name) != 18:
        raise ConfigError([("sweep", f"{name!r} is not a sweep's name")])
    return read_sweep(sweeps_root(root) / name)


class SessionSweep:
    """One sweep per browser session. ``start(spec)`` refuses (returns why) when one is running or
    the spec is too large; ``stop``/``close`` end it (the cells in flight are abandoned; starting
    the same sweep again resumes it). ``status`` and ``active`` read like ``SessionJob``'s, so the
    pages' refreshing panel works unchanged."""

    def __init__(self, slots: TrainingSlots | None = None, root: str | os.PathLike | None = None,
                 workers: int | None = None):
        self.slots = slots or global_slots()
        self.root, self.workers = root, workers
        self.job: SweepJob | None = None
        self.tag = None  # what the page started the sweep for (e.g. a lesson, its scale and changes)
        self.run_id = 0
        self._lock = threading.Lock()

    @property
    def status(self) -> str:
        return self.job.status if self.job is not None else "idle"

    @property
    def active(self) -> bool:
        """Queued, running, or ended but still handing its slots back (the job's thread alive)."""
        job = self.job
        if job is None:
            return False
        return not job.finished or job.alive

    @property
    def queue_position(self) -> int | None:
        return self.job.progress()["queue_position"] if self.job is not None else None

    def start(self, spec: SweepSpec, tag=None) -> str | None:
        """Start ``spec`` in the background (queued for a slot when none is free); None, or why not.
        ``tag`` is kept as ``self.tag`` for the page (what the sweep was started for)."""
        from .sessions import refusal

        with self._lock:
            if self.active:
                return msg("map.busy")
            try:
                cap = max_cells()
                todo = cells(spec, cap)
            except ConfigError as e:
                return problems_message(e.problems)
            why = refusal([todo[0].config]) if todo else None  # the cells share everything but the axes
            if why is None:
                why = next((w for w in (refusal([c.config]) for c in todo[1:]) if w), None)
            if why:
                return why
            out = sweeps_root(self.root) / sweep_name(spec)
            try:
                # batch off: a cell clicked on the map opens with every view of a Live run, which a
                # batched cell (run-level metrics only) would not have
                job = SweepJob(spec, out, "local", self.workers, slots=self.slots, max_cells=cap, batch="off")
            except ConfigError as e:
                return problems_message(e.problems)
            self.job, self.tag = job, tag
            self.run_id += 1
            job.start()
            return None

    def stop(self, wait: float = 5.0) -> None:
        job = self.job
        if job is not None and not job.finished:
            job.stop()
            job.join(wait)

    def reset(self) -> None:
        self.stop()
        self.job, self.tag = None, None

    def close(self) -> None:
        """Session ended: stop the sweep so its slots go to someone else."""
        self.stop(wait=0.0)
