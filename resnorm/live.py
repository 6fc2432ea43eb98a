"""One browser session's live run: a trainer, its training slot, and the controls the page needs.

Kept free of Streamlit so it is tested directly; the UI stores one ``SessionRun`` per session and
calls ``close`` when the session ends (tab closed, page left), which stops the run and frees its
slot for someone else.
"""
from __future__ import annotations

import itertools
import os
import threading

from .compare import Comparison
from .config import ConfigError, RunConfig
from .slots import TrainingSlots, global_slots
from .procworker import ProcessTrainer
from .trainer import Trainer, resolve_device

def worker_kind() -> str:
    """Where a session's run trains: ``process`` (default: off the server's GIL, survives nothing
    it should not) or ``thread`` (``RESNORM_WORKERS=thread``: in the server process)."""
    kind = os.environ.get("RESNORM_WORKERS", "process").strip().lower()
    if kind not in ("process", "thread"):
        raise ValueError(f"RESNORM_WORKERS must be 'process' or 'thread', not {kind!r}")
    return kind


def save_finished(trainer: Trainer, source: str, label: str | None = None):
    """Save a finished run to the runs folder: (path, None) or (None, why it could not be saved).
    A failed save loses nothing: the metrics stay in memory for the page's downloads."""
    from .runs import RunSaveError, save_run

    if trainer.status == "failed" or trainer.step == 0:
        return None, None
    try:
        return save_run(trainer, source=source, label=label), None
    except (RunSaveError, OSError, ValueError) as e:
        return None, str(e)


BUSY_MESSAGE = "All training slots are busy — try again in a moment ({busy}/{capacity} trainings running)."
_ids = itertools.count(1)


class _SessionJob:
    """Pause / resume / stop / close of a session's one job (a run or a comparison)."""

    def _job(self):
        raise NotImplementedError

    def pause(self):
        if self._job() is not None:
            self._job().pause()

    def resume(self):
        if self._job() is not None:
            self._job().resume()

    @staticmethod
    def _stop_job(job, wait: float) -> None:
        if job is not None and not job.done:
            job.stop()
            job.join(wait)

    def stop(self, wait: float = 5.0):
        self._stop_job(self._job(), wait)

    def close(self):
        """Session ended: stop the job so its slot goes to someone else."""
        self.stop(wait=0.0)


class SessionRun(_SessionJob):
    source = "live"

    def __init__(self, slots: TrainingSlots | None = None, save: bool = True):
        self.slots = slots or global_slots()
        self.save = save
        self.saved_to = self.save_error = None
        self.trainer: Trainer | None = None
        self.run_id = 0
        self.ticket = None  # waiting for a training slot
        self._lock = threading.Lock()

    def start(self, cfg: RunConfig) -> str | None:
        """Start training ``cfg`` now, or queue it until a slot frees; returns None, or a message
        saying why it cannot run at all."""
        with self._lock:
            if self.active:
                return "A run is already in progress or queued: stop it first."
            try:
                resolve_device(cfg.train.device)  # a clear message now, not a failed child later
                worker_kind()
            except ConfigError as e:
                return "; ".join(m for _, m in e.problems)
            except ValueError as e:
                return str(e)
            self.trainer, self.saved_to, self.save_error = None, None, None
            mine: dict = {}  # the ticket this start queued with, for the grant to check
            token, ticket = self.slots.acquire_or_queue(lambda tok: self._granted(cfg, tok, mine))
            mine["ticket"] = self.ticket = ticket
            if token is not None:  # a slot now: start under the lock, so no stop or start slips in
                try:
                    self._launch(cfg, token)
                except Exception as e:  # noqa: BLE001 - e.g. the worker process could not start
                    self.slots.release(token)
                    return f"the run could not start: {type(e).__name__}: {e}"
        return None

    def _granted(self, cfg: RunConfig, token, mine: dict) -> None:
        """A slot reached this session's queued run (called by ``TrainingSlots.release``). Raising
        hands the slot to the next waiter: when the session left the queue in the meantime, or
        when the run cannot start."""
        with self._lock:  # waits until ``start`` has recorded the ticket
            if self.ticket is None or self.ticket != mine.get("ticket"):
                raise RuntimeError("this queued run was cancelled")
            self._launch(cfg, token)

    def _launch(self, cfg: RunConfig, token) -> None:
        """Holding a slot (and ``self._lock``): create the trainer and start it."""
        self.ticket = None
        on_finish = (lambda tr: self._finished(tr, token)) if self.save else (lambda tr: self.slots.release(token))
        cls = ProcessTrainer if worker_kind() == "process" else Trainer
        trainer = cls(cfg, on_finish=on_finish)
        self.trainer, self.run_id = trainer, next(_ids)
        try:
            trainer.start()
        except Exception:
            self.trainer = None
            raise

    @property
    def queue_position(self) -> int | None:
        return self.slots.position(self.ticket) if self.ticket is not None else None

    def _finished(self, trainer: Trainer, token) -> None:
        """In the training thread, once: free the slot, then save the run to the runs folder."""
        self.slots.release(token)
        saved = save_finished(trainer, self.source)
        if self.trainer is trainer:  # not a newer run's result
            self.saved_to, self.save_error = saved

    @property
    def status(self) -> str:
        if self.ticket is not None:
            return "queued"
        return self.trainer.status if self.trainer is not None else "idle"

    @property
    def active(self) -> bool:
        return self.ticket is not None or (self.trainer is not None and not self.trainer.done)

    def _job(self):
        return self.trainer

    def stop(self, wait: float = 5.0):
        """Stop the run, or leave the queue."""
        with self._lock:
            if self.ticket is not None:
                self.slots.cancel(self.ticket)
                self.ticket = None
            tr = self.trainer
        self._stop_job(tr, wait)

    def reset(self):
        """Stop and forget the run (its metrics go with it)."""
        self.stop()
        self.trainer = None


class SessionCompare(_SessionJob):
    """A session's comparison: one training slot for the lockstep thread of all its configs."""

    def __init__(self, slots: TrainingSlots | None = None, save: bool = True):
        self.slots = slots or global_slots()
        self.save = save
        self.saved, self.save_errors = [], []
        self.comparison: Comparison | None = None
        self.run_id = 0
        self._lock = threading.Lock()

    def start(self, configs: list[RunConfig], labels: list[str] | None = None) -> str | None:
        with self._lock:
            if self.active:
                return "A comparison is already running: stop it first."
            token = self.slots.acquire()
            if token is None:
                return BUSY_MESSAGE.format(busy=self.slots.busy, capacity=self.slots.capacity)
            try:
                comp = Comparison(configs, labels, on_finish=lambda c: self._finished(c, token))
            except (ConfigError, ValueError) as e:
                self.slots.release(token)
                return str(e)
            self.comparison, self.run_id = comp, next(_ids)
            comp.start()
            return None

    def _finished(self, comp: Comparison, token) -> None:
        self.slots.release(token)
        self.saved, self.save_errors = [], []
        if not self.save:
            return
        for label, tr in zip(comp.labels, comp.trainers):
            path, err = save_finished(tr, "compare", label=f"compare {label}")
            if path:
                self.saved.append(path)
            if err:
                self.save_errors.append(err)

    @property
    def active(self) -> bool:
        return self.comparison is not None and not self.comparison.done

    def _job(self):
        return self.comparison

    def reset(self):
        self.stop()
        self.comparison = None
