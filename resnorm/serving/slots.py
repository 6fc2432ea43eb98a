"""A process-wide cap on concurrent trainings, so a room of students cannot overload one server.

Capacity: ``RESNORM_MAX_TRAININGS`` if set, else one per GPU when CUDA is present, else the number
of CPU cores. ``acquire`` never blocks: when every slot is busy the caller is told so at once.
``acquire_or_queue`` instead joins a first-come-first-served queue: the next release hands its
slot straight to the first waiter (its callback runs in the releasing thread), and a waiter can
see its position or leave the queue.
"""
from __future__ import annotations

import os
import threading


def default_capacity() -> int:
    from .. import settings

    n = settings.get("RESNORM_MAX_TRAININGS")
    if n is not None:
        return n
    import torch

    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return os.cpu_count() or 1


class TrainingSlots:
    def __init__(self, capacity: int | None = None):
        self.capacity = capacity if capacity is not None else default_capacity()
        self._lock = threading.Lock()
        self._holders: set[int] = set()
        self._next = 0
        self._waiting: list[tuple[int, object]] = []  # (ticket, on_granted(token))

    def acquire(self) -> int | None:
        """A slot token, or None when all are busy."""
        with self._lock:
            if len(self._holders) >= self.capacity:
                return None
            self._next += 1
            self._holders.add(self._next)
            return self._next

    def acquire_or_queue(self, on_granted) -> tuple[int | None, int | None]:
        """(token, None) when a slot is free now; else (None, ticket) and ``on_granted(token)`` is
        called when this ticket reaches a free slot."""
        with self._lock:
            self._next += 1
            if len(self._holders) < self.capacity and not self._waiting:
                self._holders.add(self._next)
                return self._next, None
            self._waiting.append((self._next, on_granted))
            return None, self._next

    def position(self, ticket: int | None) -> int | None:
        """1-based place of ``ticket`` in the queue, or None if it is not waiting."""
        with self._lock:
            for i, (t, _) in enumerate(self._waiting):
                if t == ticket:
                    return i + 1
        return None

    def cancel(self, ticket: int | None) -> None:
        with self._lock:
            self._waiting = [(t, cb) for t, cb in self._waiting if t != ticket]

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._waiting)

    def take(self, n: int) -> list[int]:
        """Up to ``n`` slot tokens that are free now and not owed to a waiter (possibly none); never
        blocks. A sweep holds one slot per worker process it runs: ``take(workers)``, release each."""
        with self._lock:
            out = []
            while len(out) < n and len(self._holders) < self.capacity and not self._waiting:
                self._next += 1
                self._holders.add(self._next)
                out.append(self._next)
            return out

    def release(self, token: int | None) -> None:
        while True:
            with self._lock:
                if token in self._holders:
                    self._holders.discard(token)
                    token = None
                if not self._waiting or len(self._holders) >= self.capacity:
                    return
                ticket, on_granted = self._waiting.pop(0)
                self._next += 1
                granted = self._next
                self._holders.add(granted)
            try:
                on_granted(granted)
                return
            except Exception:  # the waiter could not start: give the slot to the next one
                token = granted

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._holders)


_GLOBAL: TrainingSlots | None = None
_GLOBAL_LOCK = threading.Lock()


def global_slots() -> TrainingSlots:
    global _GLOBAL
    with _GLOBAL_LOCK:
        if _GLOBAL is None:
            _GLOBAL = TrainingSlots()
        return _GLOBAL
