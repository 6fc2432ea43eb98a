"""Training in a separate process, with the ``Trainer`` interface the UI already uses.

A Streamlit server is one Python process: a training thread there competes for the GIL with every
session's reruns. ``ProcessTrainer`` runs the real ``Trainer`` in a child process (``spawn``
context: no forked locks or CUDA state) and mirrors its metric store in the parent: the child
sends what it recorded in batches (every ``FLUSH_S`` seconds and at the end), the parent's reader
thread adds them to ``self.store``. Pause / resume / stop travel on a command queue and take
effect within one step. If the child dies (killed, out of memory), the run ends as ``failed``
with what had arrived so far kept.
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import queue
import threading
import time

import torch

from .config import RunConfig
from .store import MetricStore
from .trainer import Summary
from .worker import Worker

FLUSH_S = 0.25


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


def _child(cfg_dict: dict, commands, events) -> None:
    """The child process: train, stream what is recorded, obey commands."""
    from .trainer import Trainer

    cfg = RunConfig.from_dict(cfg_dict)
    last = [time.perf_counter()]

    def flush(tr, force=False):
        now = time.perf_counter()
        if force or now - last[0] >= FLUSH_S:
            last[0] = now
            batch = tr.store.drain()
            events.put(("batch", batch, tr.status, tr.step, tr.elapsed))

    tr = Trainer(cfg, on_step=lambda step, t: flush(t))
    tr.store = _RecordingStore(max_points=cfg.train.max_points)

    def listen():
        while True:
            cmd = commands.get()
            if cmd == "pause":
                tr.pause()
                end = time.perf_counter() + 10
                while tr.status in ("idle", "running") and time.perf_counter() < end:
                    time.sleep(0.005)
                if tr.status == "paused":  # the training thread waits now: safe to drain
                    events.put(("batch", tr.store.drain(), "paused", tr.step, tr.elapsed))
            elif cmd == "resume":
                tr.resume()
            elif cmd in ("stop", "exit"):
                tr.stop()
                if cmd == "exit":
                    return

    threading.Thread(target=listen, daemon=True).start()
    tr.run()
    flush(tr, force=True)
    state = None
    if tr.model is not None:  # as bytes: tensors on a queue would travel as shared-memory handles
        buf = io.BytesIO()      # that vanish when this process exits
        torch.save({k: v.detach().cpu() for k, v in tr.model.state_dict().items()}, buf)
        state = buf.getvalue()
    events.put(("done", tr.summary.to_dict(), tr.diverged_step, state))


_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_main():
    """Start a spawned child without re-running the parent's ``__main__``.

    ``spawn`` normally re-executes the parent's main script in the child so that pickled objects
    from it resolve. Under Streamlit the main script is the app itself: the child would run the
    UI. The child only needs ``resnorm.procworker._child``, so the main-module entries are dropped
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


class _Weights:
    """Stands in for the model in the parent: what ``save_run`` needs of it."""

    def __init__(self, data: bytes):
        self._data = data

    def state_dict(self) -> dict:
        return torch.load(io.BytesIO(self._data), weights_only=True)


class ProcessTrainer(Worker):
    """``Trainer``'s interface (status, step, store, summary, pause/resume/stop/join, on_finish)
    for a run that trains in a child process."""

    def __init__(self, cfg: RunConfig, on_finish=None):
        super().__init__()
        self.cfg, self.on_finish = cfg, on_finish
        self.store = MetricStore(max_points=cfg.train.max_points)
        self.step, self.reason, self.diverged_step = 0, "", None
        self.summary: Summary | None = None
        self.model = None
        self.device = cfg.train.device
        ctx = mp.get_context("spawn")
        self._commands, self._events = ctx.Queue(), ctx.Queue()
        self._proc = ctx.Process(target=_child, args=(cfg.to_dict(), self._commands, self._events), daemon=True)
        self._child_elapsed = 0.0

    def start(self) -> "ProcessTrainer":
        self.status = "running"
        try:
            with _without_main():
                self._proc.start()
        except Exception as e:  # e.g. too many open files: end as failed, free the slot, tell the caller
            self._finish_failed(f"the training process could not start: {type(e).__name__}: {e}")
            self._call_on_finish()
            raise
        self._thread = threading.Thread(target=self._read, name="resnorm-proc-reader", daemon=True)
        self._thread.start()
        return self

    def run(self) -> Summary:
        self.start()
        self.join()
        return self.summary

    # control: forwarded to the child
    def pause(self):
        if not self.done:
            self._commands.put("pause")

    def resume(self):
        self._commands.put("resume")
        if self.status == "paused":
            self.status = "running"

    def stop(self):
        if not self.done:
            self._commands.put("stop")

    def kill(self):
        """End the child at once (tests use it to simulate a crash)."""
        self._proc.kill()

    @property
    def elapsed(self) -> float:
        return self._child_elapsed

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def _apply(self, batch: list) -> None:
        for item in batch:
            if item[0] == "metrics":
                self.store.add(item[1], item[2])
            elif item[0] == "attention":
                self.store.add_attention(item[1])
            else:
                self.store.mark(item[1], item[2], item[3])

    def _read(self) -> None:
        try:
            while True:
                try:
                    msg = self._events.get(timeout=0.5)
                except queue.Empty:
                    msg = None
                except (OSError, EOFError, ValueError) as e:  # the pipe broke under a dying child
                    self._proc.join(2)
                    self._finish_failed(f"lost contact with the training process ({type(e).__name__})")
                    return
                if msg is None:
                    if self._proc.is_alive():
                        continue
                    try:  # its last words may have arrived just after the time-out
                        msg = self._events.get(timeout=0.2)
                    except Exception:  # noqa: BLE001 - nothing more will come
                        self._finish_failed(f"the training process ended unexpectedly "
                                            f"(exit code {self._proc.exitcode})")
                        return
                if msg[0] == "batch":
                    _, batch, status, step, elapsed = msg
                    self._apply(batch)
                    self.step, self._child_elapsed = step, elapsed
                    if status in ("running", "paused"):
                        self.status = status
                else:
                    _, summary, diverged_step, state = msg
                    self.summary = Summary(**{k: summary[k] for k in
                                              ("status", "steps", "final_loss", "reason", "diverged_step",
                                               "elapsed_s", "device")})
                    self.step, self.reason, self.diverged_step = summary["steps"], summary["reason"], diverged_step
                    self._child_elapsed = summary["elapsed_s"]
                    self.model = _Weights(state) if state is not None else None
                    self.status = summary["status"]
                    self._proc.join(5)
                    return
        except Exception as e:  # noqa: BLE001 - a broken message must not leave the run "running"
            self._finish_failed(f"lost the training process's messages ({type(e).__name__}: {e})")
        finally:
            self._call_on_finish()

    def _call_on_finish(self) -> None:
        if self.on_finish is not None:
            try:
                self.on_finish(self)
            except Exception:  # noqa: BLE001 - a callback must not hide the run's end
                pass

    def _finish_failed(self, reason: str) -> None:
        if self._proc.is_alive():  # never leave a child training on its own
            self._proc.kill()
        self.reason = reason
        self.summary = Summary(status="failed", steps=self.step, final_loss=self.store.latest("train/loss"),
                               reason=reason, elapsed_s=self._child_elapsed, device=str(self.device))
        self.status = "failed"
