"""Every kind of browser-session job — a live run, a comparison, a lesson run — with its training
slot or place in the queue, and the controls the pages need.

Kept free of Streamlit so it is tested directly; the UI stores one ``SessionRun`` (Live page),
``SessionCompare`` (Compare page) and ``LessonSession`` (Lessons page) per session
and calls ``close`` when the session ends (tab closed), which stops the job and frees its slot for
someone else. Jobs train in worker processes (``RESNORM_WORKERS=process``, the default) or in a
thread of the server (``thread``).
"""
from __future__ import annotations

import itertools
from functools import partial
import threading

from .. import settings
from ..studies.compare import Comparison, check_configs
from ..science.config import ConfigError, RunConfig
from .device import cuda_memory_fraction
from ..studies.lessons import Lesson, Results, Verdict, collect, comparison, run_init
from ..messages import join, msg, problems_message
from .slots import TrainingSlots, global_slots
from .procworker import ProcessComparison, ProcessTrainer, worker_niceness
from ..science.trainer import Trainer, resolve_device


def worker_kind() -> str:
    """Where a session's run trains: ``process`` (default: off the server's GIL, survives nothing
    it should not) or ``thread`` (``RESNORM_WORKERS=thread``: in the server process)."""
    return settings.get("RESNORM_WORKERS")


def save_finished(trainer: Trainer, source: str, label: str | None = None):
    """Save a finished run to the runs folder: (path, None) or (None, why it could not be saved).
    A failed save loses nothing: the metrics stay in memory for the page's downloads."""
    from .runs import RunSaveError, save_run

    if trainer.status == "failed" or trainer.step == 0:
        return None, None
    try:
        return save_run(trainer, source=source, label=label, weights="limited"), None
    except (RunSaveError, OSError, ValueError) as e:
        return None, str(e)


_ids = itertools.count(1)


def keep_spares() -> None:
    """With worker processes, have warm spares ready for this server's jobs
    (``resnorm.serving.warm``): a session's first Train then starts in a process that has torch
    imported already. Called when a session's job holder is made (a page's first visit)."""
    try:
        if worker_kind() == "process":
            from .warm import pool

            pool().fill()
    except Exception:  # noqa: BLE001 - a malformed setting is reported by the pages; jobs start cold
        pass


PAUSE_GRACE_ENV = "RESNORM_PAUSE_GRACE_S"


def pause_grace_s() -> float:
    """Seconds a paused job keeps its training slot while others wait (``RESNORM_PAUSE_GRACE_S``,
    default 180; 0 = for ever)."""
    return settings.get(PAUSE_GRACE_ENV)


def refusal(configs: list[RunConfig]) -> str | None:
    """Why these configs cannot run on this server at all (checked before queueing), or None:
    ``resnorm.science.feasibility`` of each and of all together, then the server's settings."""
    from ..science import feasibility

    for cfg in configs:
        problems = feasibility.check(cfg)
        if problems:
            return problems_message(problems)
    try:
        devices = [resolve_device(cfg.train.device) for cfg in configs]  # a clear message now, not a failed child later
        if worker_kind() == "process":
            worker_niceness()
            if any(d.type == "cuda" for d in devices):
                cuda_memory_fraction()  # a typo here would fail every GPU run in the room
    except ConfigError as e:
        return problems_message(e.problems)
    except ValueError as e:
        return str(e)
    return feasibility.together(configs)  # a comparison trains its configs in one slot: they share one cap


def job_alias(doc: str) -> property:
    """``SessionJob.job`` under the name its page knows it by (``trainer``, ``comparison``)."""
    return property(lambda self: self.job, lambda self, value: setattr(self, "job", value), doc=doc)


class SessionJob:
    """A session's one job — a run, a comparison or a lesson's comparison — holding one training
    slot: started at once when a slot is free, else queued first-come-first-served (``status`` is
    then ``queued`` and ``queue_position`` says where). Pause / resume / stop / close; ``close``
    is for the session's end and frees the slot (or the place in the queue) for someone else.

    Subclasses call ``_submit(make_job)`` holding ``self._lock``; ``make_job(on_finish)`` builds
    the (unstarted) job, and ``_finished(job)`` runs once it has ended, after its slot is freed."""

    def __init__(self, slots: TrainingSlots | None = None):
        self.slots = slots or global_slots()
        self.job = None
        self.run_id = 0
        self.ticket = None  # waiting for a training slot
        self.start_error: str | None = None  # why a queued job could not start when its turn came
        self._settled = None  # the last job whose on_finish (slot freed, saved…) has completed
        self.preempted_after: float | None = None  # stopped after this many seconds paused while others waited
        self._pauses = 0  # counts pauses and resumes: a pause's watch ends when this moves on
        self._lock = threading.Lock()
        keep_spares()

    def _submit(self, make_job) -> str | None:
        self.start_error, self.preempted_after = None, None
        mine: dict = {}  # the ticket this submission queued with, for the grant to check
        token, ticket = self.slots.acquire_or_queue(lambda tok: self._granted(make_job, tok, mine))
        mine["ticket"] = self.ticket = ticket
        if token is not None:  # a slot now: start under the lock, so no stop or start slips in
            try:
                self._launch(make_job, token)
            except Exception as e:  # noqa: BLE001 - e.g. the worker process could not start
                self.slots.release(token)
                return msg("start.could_not_start", error=f"{type(e).__name__}: {e}")
        return None

    def _granted(self, make_job, token, mine: dict) -> None:
        """A slot reached this session's queued job (called by ``TrainingSlots.release``). Raising
        hands the slot to the next waiter: when the session left the queue in the meantime, or
        when the job cannot start."""
        with self._lock:  # waits until ``_submit`` has recorded the ticket
            if self.ticket is None or self.ticket != mine.get("ticket"):
                raise RuntimeError("this queued job was cancelled")
            try:
                self._launch(make_job, token)
            except Exception as e:
                self._could_not_start(msg("start.could_not_start", error=f"{type(e).__name__}: {e}"))
                raise

    def _launch(self, make_job, token) -> None:
        """Holding a slot (and ``self._lock``): create the job and start it. The session reads as
        queued until its job is in place, and as active until the job's ``on_finish`` is done."""
        def on_finish(job):  # in the job's thread, once
            try:
                self.slots.release(token)
                self._finished(job)
            finally:
                self._settled = job

        try:
            job = make_job(on_finish)
        except Exception:
            self.ticket = None
            raise
        self.job, self.run_id = job, next(_ids)
        self.ticket = None
        try:
            job.start()
        except Exception:
            self.job = None
            raise

    def _finished(self, job) -> None:
        """The job ended (its slot is already free): save, conclude… Subclasses say what."""

    def _could_not_start(self, message: str) -> None:
        """A queued job's turn came but it could not start (its slot went to the next waiter)."""
        self.start_error = message

    @property
    def queue_position(self) -> int | None:
        return self.slots.position(self.ticket) if self.ticket is not None else None

    @property
    def status(self) -> str:
        if self.ticket is not None:
            return "queued"
        return self.job.status if self.job is not None else "idle"

    @property
    def phase(self) -> str:
        """``status``, with ``starting`` for a job that runs but has not taken its first step yet
        (its worker is starting, the data and the model are being built): the page says so
        instead of showing empty axes."""
        status = self.status
        if status == "running" and self.job is not None and self.job.step == 0:
            return "starting"
        return status

    @property
    def active(self) -> bool:
        """Queued, training, or ended but not yet settled (slot freed, saved, checked): a page that
        stops refreshing when this turns False then draws the job's final state."""
        job = self.job
        return self.ticket is not None or (job is not None and (not job.done or self._settled is not job))

    def pause(self):
        if self.job is not None:
            self.job.pause()
            self._pauses += 1
            self._watch_pause(self.job, self._pauses)

    def resume(self):
        if self.job is not None:
            self._pauses += 1  # ends the watch of the last pause
            self.job.resume()

    def _watch_pause(self, job, pause: int) -> None:
        """A paused job keeps its slot, but not for ever while others wait: once it has stayed
        paused ``pause_grace_s()`` seconds and someone is queued, it is stopped (what it recorded
        is kept and saved) and its slot goes to the next in line; ``preempted_after`` says so."""
        grace = pause_grace_s()
        if grace <= 0:
            return

        def check():
            if self._pauses != pause or self.job is not job or job.done:
                return  # resumed, paused again (a newer watch runs), replaced or ended
            if job.status == "paused" and self.slots.queued:
                self.preempted_after = grace
                job.stop()
            else:  # nobody waits (yet), or the pause has not reached the worker: look again later
                arm()

        def arm():
            timer = threading.Timer(grace, check)
            timer.daemon = True
            timer.start()

        arm()

    def stop(self, wait: float = 5.0):
        """Stop the job, or leave the queue."""
        with self._lock:
            if self.ticket is not None:
                self.slots.cancel(self.ticket)
                self.ticket = None
            job = self.job
        if job is not None and not job.done:
            job.stop()
            job.join(wait)

    def reset(self):
        """Stop and forget the job (its metrics go with it)."""
        self.stop()
        self.job = None

    def close(self):
        """Session ended: stop the job so its slot goes to someone else, and let go of its attention
        maps at once (the largest thing a run holds in the server; the metrics are saved)."""
        self.stop(wait=0.0)
        job = self.job
        for run in (getattr(job, "trainers", None) or [job]) if job is not None else []:
            store = getattr(run, "store", None)
            if store is not None and hasattr(store, "clear_attention"):
                store.clear_attention()


class SessionRun(SessionJob):
    source = "live"

    def __init__(self, slots: TrainingSlots | None = None, save: bool = True):
        super().__init__(slots)
        self.save = save
        self.saved_to = self.save_error = None

    trainer = job_alias("The run (``Trainer`` or ``ProcessTrainer``), or None.")

    def start(self, cfg: RunConfig) -> str | None:
        """Start training ``cfg`` now, or queue it until a slot frees; returns None, or a message
        saying why it cannot run at all."""
        with self._lock:
            if self.active:
                return msg("start.run_busy")
            why = refusal([cfg])
            if why:
                return why
            self.job, self.saved_to, self.save_error = None, None, None
            cls = ProcessTrainer if worker_kind() == "process" else Trainer
            return self._submit(lambda on_finish: cls(cfg, on_finish=on_finish))

    def _finished(self, trainer) -> None:
        """Save the run to the runs folder."""
        if not self.save:
            return
        saved = save_finished(trainer, self.source)
        if self.job is trainer:  # not a newer run's result
            self.saved_to, self.save_error = saved


class SessionCompare(SessionJob):
    """A session's comparison: one training slot for all its configs, trained in lockstep."""

    def __init__(self, slots: TrainingSlots | None = None, save: bool = True):
        super().__init__(slots)
        self.save = save
        self.saved, self.save_errors = [], []

    comparison = job_alias("The comparison (``Comparison`` or ``ProcessComparison``), or None.")

    def start(self, configs: list[RunConfig], labels: list[str] | None = None) -> str | None:
        with self._lock:
            if self.active:
                return msg("start.compare_busy")
            try:
                check_configs(configs)
            except ValueError as e:
                return str(e)
            why = refusal(configs)
            if why:
                return why
            self.job, self.saved, self.save_errors = None, [], []
            cls = ProcessComparison if worker_kind() == "process" else Comparison
            return self._submit(lambda on_finish: cls(configs, labels, on_finish=on_finish))

    def _finished(self, comp) -> None:
        if not self.save:
            return
        saved, errors = [], []
        for label, tr in zip(comp.labels, comp.trainers):
            path, err = save_finished(tr, "compare", label=f"compare {label}")
            if path:
                saved.append(path)
            if err:
                errors.append(err)
        if self.job is comp:
            self.saved, self.save_errors = saved, errors


# ---- a lesson run (the Lessons page keeps one per session) ---------------------------------------------
def _lesson_comparison(lesson_id: int, scale: str, changes: dict | None):
    """The lesson's comparison, built from picklable arguments (in a worker process)."""
    from ..studies.lessons import LESSONS

    return comparison(LESSONS[lesson_id], scale, changes)


class LessonSession(SessionJob):
    """One lesson run at a time: the at-initialisation part computed at once, the training part as a
    lockstep comparison holding one training slot (queued while none is free, like a comparison on
    the Compare page); when it ends the lesson's check runs and ``verdict`` is set. Streamlit-free."""

    def __init__(self, slots=None):
        super().__init__(slots)
        self.lesson: Lesson | None = None
        self.scale = "full"
        self.configs: list[tuple[str, RunConfig]] = []
        self.init: dict = {}
        self.results: Results | None = None
        self.verdict: Verdict | None = None
        self.error: str | None = None

    comparison = job_alias("The lesson's comparison (``LessonComparison`` or ``ProcessComparison``), or None.")

    def start(self, lesson: Lesson, scale: str = "full", changes: dict | None = None) -> str | None:
        """Start ``lesson`` at ``scale`` with a learner's ``changes`` (or queue its training); None,
        or why it could not start."""
        from ..science.config import ConfigError
        from .procworker import ProcessComparison

        with self._lock:
            if self.active:
                return msg("start.compare_busy")
            try:
                configs = lesson.configs(scale, changes)
                init_configs = lesson.init_configs(scale, changes) if lesson.init_variants else []
            except ConfigError as e:
                return problems_message(e.problems)
            why = refusal([c for _, c in configs])
            if why:
                return why
            self.lesson, self.scale, self.configs = lesson, scale, configs
            self.job, self.results, self.verdict, self.error, self.init = None, None, None, None, {}
            seeds = lesson.seeds_at(scale, changes)
            if lesson.kind == "init":
                self.run_id += 1
                self._conclude(None, lambda: run_init(lesson, configs, seeds))
                return None
            try:
                self.init = run_init(lesson, init_configs, seeds) if init_configs else {}
            except Exception as e:  # noqa: BLE001 — a config that cannot run is reported, not raised
                self.error = f"{type(e).__name__}: {e}"
                return self.error
            if worker_kind() == "process":
                vids, cfgs = [vid for vid, _ in configs], [c for _, c in configs]
                factory = partial(_lesson_comparison, lesson.id, scale, changes)

                def make(on_finish):
                    return ProcessComparison(cfgs, vids, on_finish=on_finish, factory=factory)
            else:
                def make(on_finish):
                    return comparison(lesson, scale, changes, on_finish=on_finish)
            self.error = self._submit(make)
            return self.error

    def _finished(self, comp) -> None:
        """Once the comparison has ended (slot freed): check the effect if the run went to the end."""
        if self.job is not comp:
            return
        if comp.status == "completed" and all(tr.status in ("completed", "diverged") for tr in comp.trainers):
            self._conclude(comp, lambda: self.init)
        elif any(tr.status == "failed" for tr in comp.trainers):  # one reason once (a dead worker fails all)
            self.error = join(dict.fromkeys(tr.reason for tr in comp.trainers if tr.status == "failed"))

    def _could_not_start(self, message: str) -> None:
        self.error = message

    def _conclude(self, comp, init) -> None:
        try:
            self.results = collect(self.lesson, comp, init(), self.configs)
            self.verdict = self.lesson.check(self.results)
        except Exception as e:  # noqa: BLE001 — e.g. probes turned off: say so instead of failing
            self.error = f"{type(e).__name__}: {e}"

    def reset(self) -> None:
        super().reset()
        self.results, self.verdict, self.error, self.init = None, None, None, {}
