"""A process-wide cap on concurrent trainings, so a room of students cannot overload one server.

Capacity: ``RESNORM_MAX_TRAININGS`` if set, else one per GPU when CUDA is present, else the number
of CPU cores. ``acquire`` never blocks: when every slot is busy the caller is told so at once and
can say "all training slots busy — try again in a moment".
"""
from __future__ import annotations

import os
import threading


def default_capacity() -> int:
    env = os.environ.get("RESNORM_MAX_TRAININGS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"RESNORM_MAX_TRAININGS must be a whole number, not {env!r}") from None
        if n < 1:
            raise ValueError(f"RESNORM_MAX_TRAININGS must be at least 1, not {n}")
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

    def acquire(self) -> int | None:
        """A slot token, or None when all are busy."""
        with self._lock:
            if len(self._holders) >= self.capacity:
                return None
            self._next += 1
            self._holders.add(self._next)
            return self._next

    def release(self, token: int | None) -> None:
        with self._lock:
            self._holders.discard(token)

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
