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
        self.setup_s: float | None = None  # seconds from the start to the first step (building): see ``_ready``

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

    @property
    def training_elapsed(self) -> float:
        """Seconds spent taking steps: ``elapsed`` less ``setup_s`` (the process start, imports, data
        and model building before the first step); 0 until the setup has ended."""
        return 0.0 if self.setup_s is None else max(self.elapsed - self.setup_s, 0.0)

    @property
    def steps_per_s(self) -> float:
        """Training speed: steps / ``training_elapsed`` (0 before the first step). Neither a worker's
        start-up nor building the data and the model counts: a run that took 5 s to set up and then
        10 steps in 1 s reads 10 steps/s, not 10 / 6."""
        t = self.training_elapsed
        return self.step / t if t > 0 and getattr(self, "step", 0) else 0.0

    def _ready(self):
        """The setup has ended; the steps begin now (``setup_s``)."""
        self.setup_s = self.elapsed

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
