"""Training in a separate process, with the interfaces the UI already uses.

A Streamlit server is one Python process: a training thread there competes for the GIL with every
session's reruns. ``ProcessTrainer`` runs the real ``Trainer`` in a child process (``spawn``
context: no forked locks or CUDA state), ``ProcessComparison`` a lockstep ``Comparison`` (a
lesson's included), and the parent mirrors each run's metric store: the child sends what it
recorded in batches (every ``FLUSH_S`` seconds and at the end), the parent's reader thread adds
them to the mirrors. Pause / resume / stop travel on a command queue and take effect within one
step. If the child dies (killed, out of memory), its runs end as ``failed`` with what had arrived
so far kept.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import threading
import time
from functools import partial

from .. import messages, settings
from ..science.config import RunConfig
from .device import limit_cuda_memory
from ..messages import msg
from .runs import SerialisedWeights, weights_bytes
from ..science.store import MetricStore
from ..science.trainer import Summary
from ..studies.compare import LETTERS, check_configs
from ..science.worker import FINAL_STATUSES, Worker

FLUSH_S = 0.25
PARENT_CHECK_S = 1.0  # a worker whose server has gone stops within about this long (plus its current step)
HEARTBEAT_S = 1.0     # a worker says it is alive this often, even when paused or inside a long step
STOP_GRACE_S = 15.0   # after Stop, a worker silent this long is killed (its run ends failed, slot freed)
STARTUP_S = 120.0     # more silence allowed before a worker's first message (imports, model build)


def hung_after_s() -> float:
    """Seconds without a heartbeat after which a running worker is taken for hung and killed:
    ``RESNORM_WORKER_TIMEOUT_S`` (default 300; heartbeats come every second even inside a long step)."""
    return settings.get("RESNORM_WORKER_TIMEOUT_S")  # at least 30: a model build or one long step stays under it


def worker_niceness() -> int:
    """How far below the server's a worker process's CPU priority is: ``RESNORM_WORKER_NICE``
    (0–19, default 10; Unix ``nice`` increments).

    Training is throughput work and a page refresh is latency work: when every core is busy
    training, the server (and, on one machine, the browsers) must still get a core at once, or
    every chart in the room lags behind the runs it shows.
    """
    return settings.get("RESNORM_WORKER_NICE")


class _RecordingStore(MetricStore):
    """A store that also remembers what was written since the last ``drain``."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._out: list = []

    def add(self, step, values):
        super().add(step, values)
        self._out.append(("metrics", step, dict(values)))

    def add_attention(self, snap):
        super().add_attention(snap)
        self._out.append(("attention", snap))

    def mark(self, step, kind, text):
        super().mark(step, kind, text)
        self._out.append(("mark", step, kind, text))

    def drain(self) -> list:
        out, self._out = self._out, []
        return out


def make_trainer(cfg_dict: dict):
    """The child's job for a single run."""
    from ..science.trainer import Trainer

    return Trainer(RunConfig.from_dict(cfg_dict))


def make_comparison(cfg_dicts: list[dict], labels: list[str]):
    """The child's job for a comparison."""
    from ..studies.compare import Comparison

    return Comparison([RunConfig.from_dict(d) for d in cfg_dicts], labels)


def _child(factory, commands, events, niceness: int = 0) -> None:
    """The child process: build the job (a ``Trainer``, or a ``Comparison`` whose ``trainers`` are
    its runs), train, stream what each run records, obey commands.

    Messages: ``("batch", [(items, status, step, elapsed, reason, diverged step) per run], job status,
    job step, job elapsed)`` and, once, ``("done", [(summary, diverged step, weights) per run], job
    status, job step, job elapsed)`` — or ``("failed", why)`` when the job cannot even be set up.
    """
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    import signal

    job = None

    def terminated(signum, frame):  # SIGTERM (a server shutting down, kill): stop like Stop, report, exit
        if job is not None:
            job.stop()
        else:
            raise SystemExit(143)

    if mp.parent_process() is not None:  # a worker process (not a test calling this in-process)
        try:
            signal.signal(signal.SIGTERM, terminated)
        except (ValueError, OSError):
            pass
    events.put(("beat",))  # started: from now on the parent's watchdog expects a heartbeat every second
    try:
        job = factory()
        runs = list(getattr(job, "trainers", None) or [job])
        limit_cuda_memory(runs[0].cfg.train.device)  # several workers share the GPU: each gets its share
    except Exception as e:  # noqa: BLE001 - said to the parent, whose run ends failed with this reason
        events.put(("failed", f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}"))
        return
    last = [time.perf_counter()]

    def batch(status=None):
        return ("batch", [(r.store.drain(), r.status, r.step, r.elapsed, r.reason, r.diverged_step, r.setup_s)
                          for r in runs],
                status or job.status, job.step, job.elapsed)

    def flush(force=False):  # from the training thread only: it is the one writing the stores
        now = time.perf_counter()
        if force or now - last[0] >= FLUSH_S:
            last[0] = now
            events.put(batch())

    for r in runs:
        r.store = _RecordingStore(max_points=r.cfg.train.max_points)
        r.on_step = lambda step, t: flush(step == 1)  # the first point at once: the charts start drawing

    parent = mp.parent_process()  # None when this runs in the parent itself (tests)

    def listen():
        while True:
            try:
                cmd = commands.get(timeout=min(PARENT_CHECK_S, HEARTBEAT_S))
            except queue.Empty:
                if parent is not None and not parent.is_alive():  # the server died, even by SIGKILL:
                    events.cancel_join_thread()  # nobody reads what is left; do not wait for it at exit
                    job.stop()
                    return
                try:
                    events.put(("beat",))  # the parent's watchdog: this process still answers
                except ValueError:  # the job has ended and said its last words: nothing more to say
                    return
                continue
            if cmd == "pause":
                job.pause()
                end = time.perf_counter() + 10
                while job.status in ("idle", "running") and time.perf_counter() < end:
                    time.sleep(0.005)
                if job.status == "paused":  # the training thread waits now: safe to drain
                    events.put(batch("paused"))
            elif cmd == "resume":
                job.resume()
            elif cmd in ("stop", "exit"):
                job.stop()
                if cmd == "exit":
                    return

    threading.Thread(target=listen, daemon=True).start()
    job.run()
    flush(force=True)
    events.put(("done", [(r.summary.to_dict() if r.summary is not None else None, r.diverged_step, _weights(r))
                         for r in runs], job.status, job.step, job.elapsed))
    if parent is not None and not parent.is_alive():  # the server is gone: nobody will save these runs
        _save_orphans(job, runs)
    # Exit once the last words are in the pipe, but never hang on a parent that no longer reads
    # (a server shutting down): at most a few seconds, then leave without them.
    if hasattr(events, "join_thread"):  # a multiprocessing queue (tests pass a plain one)
        events.close()
        sender = threading.Thread(target=events.join_thread, daemon=True)
        sender.start()
        sender.join(10)
        if sender.is_alive():
            events.cancel_join_thread()


def _save_orphans(job, runs) -> None:
    """Save runs whose server died (even by SIGKILL) to the runs folder, as the server would have:
    what they recorded is kept. Best effort: a failure here has nobody to tell."""
    from .runs import save_run

    labels = getattr(job, "labels", None)
    for i, r in enumerate(runs):
        if r.summary is None or r.status == "failed" or r.step == 0:
            continue
        try:
            if labels:
                save_run(r, source="compare", label=f"compare {labels[i]}", weights="limited")
            else:
                save_run(r, source="live", weights="limited")
        except Exception:  # noqa: BLE001
            pass


def _weights(run) -> bytes | None:
    """A run's weights as bytes (``runs.weights_bytes``, the form they are saved in): tensors on a
    queue would travel as shared-memory handles that vanish when this process exits."""
    return None if run.model is None else weights_bytes(run.model.state_dict())


_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_main():
    """Start a spawned child without re-running the parent's ``__main__``.

    ``spawn`` normally re-executes the parent's main script in the child so that pickled objects
    from it resolve. Under Streamlit the main script is the app itself: the child would run the
    UI. The child only needs ``resnorm.serving.procworker._child``, so the main-module entries are dropped
    from the preparation data while this process starts.
    """
    from multiprocessing import spawn

    with _SPAWN_LOCK:
        original = spawn.get_preparation_data

        def preparation(name):
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = preparation
        try:
            yield
        finally:
            spawn.get_preparation_data = original


class _RunState:
    """What the parent knows of one run that trains in the child — the part of ``Trainer`` that the
    pages and ``save_run`` read — kept up to date from the child's messages."""

    def _init_run(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.store = MetricStore(max_points=cfg.train.max_points)
        self.step, self.reason, self.diverged_step = 0, "", None
        self.summary: Summary | None = None
        self.model = None
        self.device = cfg.train.device
        self._child_elapsed = 0.0
        self.setup_s = None  # the child's: seconds before its first step

    _early_end = False  # may a final status arrive before the job's end? (a run in a comparison)

    def _apply(self, items: list, status: str, step: int, elapsed: float, reason: str = "",
               diverged_step: int | None = None, setup_s: float | None = None) -> None:
        for item in items:
            if item[0] == "metrics":
                self.store.add(item[1], item[2])
            elif item[0] == "attention":
                self.store.add_attention(item[1])
            else:
                self.store.mark(item[1], item[2], item[3])
        self.step, self._child_elapsed, self.setup_s = step, elapsed, setup_s
        if status in ("running", "paused"):
            self.status = status
        elif status in FINAL_STATUSES and self._early_end:  # e.g. one config diverged, the others go on;
            self.status, self.reason, self.diverged_step = status, reason, diverged_step  # summary: at the end

    def _conclude(self, summary: dict | None, diverged_step, weights: bytes | None) -> None:
        if summary is None:  # never started (the job was stopped first)
            summary = {"status": "stopped", "steps": self.step, "final_loss": None, "reason": "stopped",
                       "elapsed_s": self._child_elapsed, "device": str(self.device)}
        self.summary = Summary(**{k: summary.get(k) for k in ("status", "steps", "final_loss", "reason",
                                                              "elapsed_s", "device")},
                               diverged_step=diverged_step)
        self.step, self.reason, self.diverged_step = summary["steps"], summary["reason"], diverged_step
        self._child_elapsed = summary["elapsed_s"]
        self.model = SerialisedWeights(weights) if weights is not None else None
        self.status = summary["status"]

    def _fail(self, reason: str) -> None:
        self.reason = reason
        self.summary = Summary(status="failed", steps=self.step, final_loss=self.store.latest("train/loss"),
                               reason=reason, elapsed_s=self._child_elapsed, device=str(self.device))
        self.status = "failed"


class MirroredRun(_RunState):
    """One run of a ``ProcessComparison``, as its parent sees it. A run that ends before the others
    shows its final status at once; a lone run (``ProcessTrainer``) turns final only with its
    summary and weights, in the last message."""

    _early_end = True

    def __init__(self, cfg: RunConfig):
        self.status = "idle"
        self._init_run(cfg)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def elapsed(self) -> float:
        return self._child_elapsed


class _ProcessJob(Worker):
    """A job (one run or a comparison) trained in a spawned child, controlled through a command
    queue; a reader thread applies the child's messages to ``self._runs``."""

    def __init__(self, factory, runs: list, on_finish=None):
        super().__init__()
        self.on_finish = on_finish
        self._runs = runs
        self.step, self._child_elapsed = 0, 0.0
        self._stop_at = None  # when Stop was asked (the watchdog's clock)
        self._hung_s = hung_after_s()
        self._factory, self._niceness = factory, worker_niceness()
        self._proc = self._commands = self._events = None
        self.warm = False  # did it start in a spare (``resnorm.serving.warm``)?
        self._pending: list[str] = []  # commands given before the child existed, sent once it does

    def _spawn(self) -> None:
        """Hand the job to a warm spare when the server keeps them (``resnorm.serving.warm``), else
        start a cold worker process."""
        from .warm import pool

        spares = pool()
        spare = spares.take(self._niceness) if spares.enabled else None
        if spare is not None:
            self._proc, self._commands, self._events, self.warm = spare.proc, spare.commands, spare.events, True
            self._spare = spare  # all of it: a spare still starting unpickles its Event, which must outlive that
            spare.hand(self._factory)
        else:
            ctx = mp.get_context("spawn")
            self._commands, self._events = ctx.Queue(), ctx.Queue()
            self._proc = ctx.Process(target=_child, args=(self._factory, self._commands, self._events,
                                                          self._niceness), daemon=True)
            with _without_main():
                self._proc.start()
        for cmd in self._pending:
            self._commands.put(cmd)
        self._pending = []

    def _send(self, cmd: str) -> None:
        if self._commands is None:
            self._pending.append(cmd)
        else:
            self._commands.put(cmd)

    def start(self):
        self.status = "running"
        for r in self._runs:
            r.status = "running"
        try:
            self._spawn()
            self._thread = threading.Thread(target=self._read, name="resnorm-proc-reader", daemon=True)
            self._thread.start()
        except Exception as e:  # e.g. too many open files: end as failed, free the slot, tell the caller
            self._thread = None
            self._finish_failed(msg("reason.proc_no_start", error=f"{type(e).__name__}: {e}"))
            self._call_on_finish()
            raise
        return self

    def run(self):
        self.start()
        self.join()
        return getattr(self, "summary", None)

    # control: forwarded to the child
    def pause(self):
        if not self.done:
            self._send("pause")

    def resume(self):
        self._send("resume")
        if self.status == "paused":
            self.status = "running"

    def stop(self):
        if not self.done:
            if self._stop_at is None:
                self._stop_at = time.monotonic()
            self._send("stop")

    def kill(self):
        """End the child at once (tests use it to simulate a crash)."""
        if self._proc is not None:
            self._proc.kill()

    @property
    def elapsed(self) -> float:
        return self._child_elapsed

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _handle(self, msg) -> bool:
        """Apply one message; True once the job has ended."""
        if msg[0] == "beat":
            return False
        if msg[0] == "failed":
            self._proc.join(5)
            self._finish_failed(messages.msg("reason.proc_setup", error=msg[1]))
            return True
        kind, per_run, status, step, elapsed = msg
        if kind == "batch":
            for run, state in zip(self._runs, per_run):
                run._apply(*state)
        else:
            for run, (summary, diverged_step, weights) in zip(self._runs, per_run):
                run._conclude(summary, diverged_step, weights)
        self.step, self._child_elapsed = step, elapsed
        if kind == "batch":
            if status in ("running", "paused"):
                self.status = status
            return False
        self.status = status
        return True

    def _silent_too_long(self, heard: float, started: bool) -> str | None:
        """The watchdog: why the child is taken for hung (None while it answers). Before its first
        message the child is still starting (importing torch, building the model): it gets
        ``STARTUP_S`` more."""
        now = time.monotonic() - (0.0 if started else STARTUP_S)
        if self._stop_at is not None and now - max(heard, self._stop_at) > STOP_GRACE_S:
            return msg("reason.stop_unanswered", seconds=STOP_GRACE_S)
        if now - heard > self._hung_s:
            return msg("reason.hung", seconds=self._hung_s)
        return None

    def _read(self) -> None:
        heard, started = time.monotonic(), False
        try:
            while True:
                try:
                    event = self._events.get(timeout=0.5)
                    heard, started = time.monotonic(), True
                except queue.Empty:
                    event = None
                    why = self._silent_too_long(heard, started) if self._proc.is_alive() else None
                    if why:  # hung (stopped by a signal, deadlocked): kill it, keep what arrived, free the slot
                        self._proc.kill()
                        self._proc.join(5)
                        self._finish_failed(why)
                        return
                except (OSError, EOFError, ValueError) as e:  # the pipe broke under a dying child
                    self._proc.join(2)
                    self._finish_failed(msg("reason.lost_contact", error=type(e).__name__))
                    return
                if event is None:
                    if self._proc.is_alive():
                        continue
                    try:  # its last words may have arrived just after the time-out
                        event = self._events.get(timeout=0.2)
                    except Exception:  # noqa: BLE001 - nothing more will come
                        self._finish_failed(msg("reason.ended", code=self._proc.exitcode))
                        return
                if self._handle(event):
                    return
        except Exception as e:  # noqa: BLE001 - a broken message must not leave the job "running"
            self._finish_failed(msg("reason.lost_messages", error=f"{type(e).__name__}: {e}"))
        finally:
            self._proc.join(5)  # the slot is handed on only once this child's memory is free
            if self._proc.is_alive():  # said its last words but does not exit
                self._proc.kill()
                self._proc.join(5)
            self._call_on_finish()
            self._refill()

    def _refill(self) -> None:
        """This worker has exited: a server that keeps spares starts one in its place."""
        from .warm import pool

        if pool().enabled:
            try:
                pool().fill()
            except Exception:  # noqa: BLE001 - the next job starts cold
                pass

    def _call_on_finish(self) -> None:
        if self.on_finish is not None:
            try:
                self.on_finish(self)
            except Exception:  # noqa: BLE001 - a callback must not hide the job's end
                pass

    def _finish_failed(self, reason: str) -> None:
        if self._proc is not None and self._proc.is_alive():  # never leave a child training on its own
            self._proc.kill()
        for run in self._runs:
            if run.status not in FINAL_STATUSES:
                run._fail(reason)
        self.reason = reason
        self.status = "failed"


class ProcessTrainer(_RunState, _ProcessJob):
    """``Trainer``'s interface (status, step, store, summary, pause/resume/stop/join, on_finish)
    for a run that trains in a child process."""

    def __init__(self, cfg: RunConfig, on_finish=None):
        _ProcessJob.__init__(self, partial(make_trainer, cfg.to_dict()), [self], on_finish)
        self._init_run(cfg)


class ProcessComparison(_ProcessJob):
    """``Comparison``'s interface (configs, labels, trainers, step, total_steps, controls) for a
    lockstep comparison that trains in a child process. ``factory`` builds the child's
    ``Comparison`` (default: a plain one of ``configs``; lessons pass theirs)."""

    def __init__(self, configs: list[RunConfig], labels: list[str] | None = None, on_finish=None, factory=None):
        self.configs = check_configs(configs)
        self.labels = list(labels or LETTERS[:len(configs)])
        self.trainers = [MirroredRun(c) for c in self.configs]
        factory = factory or partial(make_comparison, [c.to_dict() for c in self.configs], self.labels)
        super().__init__(factory, self.trainers, on_finish)

    @property
    def total_steps(self) -> int:
        return max(c.train.steps for c in self.configs)
