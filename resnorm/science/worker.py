"""Start / pause / resume / stop for a loop that runs in a background thread (a training run, a
comparison). The loop calls ``_wait_if_paused`` between steps and checks ``_stop``; every control
therefore takes effect within one step."""
from __future__ import annotations

import threading
import time

FINAL_STATUSES = ("completed", "stopped", "diverged", "failed")


class Worker:
    thread_name = "resnorm-worker"

    def __init__(self):
        self.status = "idle"
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self._t0 = self._elapsed = 0.0

    def run(self):  # the loop; subclasses define it
        raise NotImplementedError

    def start(self):
        """Run ``run`` in a daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError(f"this {type(self).__name__} was already started; make a new one")
        self.status = "running"
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def pause(self):
        if not self.done:
            self._running.clear()

    def resume(self):
        self._running.set()

    def stop(self):
        self._stop.set()
        self._running.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has ended (or was never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def active(self) -> bool:
        return self.status in ("running", "paused")

    @property
    def elapsed(self) -> float:
        """Seconds spent running, pauses excluded."""
        return self._elapsed + (time.perf_counter() - self._t0 if self.status == "running" else 0.0)

    def _begin(self):
        self.status = "running"
        self._t0 = time.perf_counter()

    def _wait_if_paused(self):
        if self._running.is_set():
            return
        self.status = "paused"
        self._elapsed += time.perf_counter() - self._t0
        self._running.wait()
        self._t0 = time.perf_counter()
        self.status = "running"

    def _end(self, status: str):
        if self.status == "running":
            self._elapsed += time.perf_counter() - self._t0
        self.status = status
