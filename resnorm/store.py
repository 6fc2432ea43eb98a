"""A thread-safe, bounded metric store: the trainer writes, the UI snapshots at any time.

Memory stays bounded on long runs: when a series exceeds ``max_points`` its older half is thinned
(every other point dropped) while the newest half and every marked step (divergence, markers) are
kept, so a 20 000-step run holds at most ~``max_points`` points per metric and the recent past at
full resolution. Attention snapshots are thinned the same way.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class AttentionSnapshot:
    step: int
    maps: dict  # "blocks.3.attn" -> array (heads, query, key)
    query_tokens: list
    key_tokens: list


@dataclass
class Marker:
    step: int
    kind: str  # e.g. "diverged"
    text: str


def _thin(items: list, keep_newest: int, protected) -> list:
    """Drop every other item among the older ones (those before the newest ``keep_newest``),
    never dropping an item for which ``protected(item)`` is true."""
    cut = len(items) - keep_newest
    old, new = items[:cut], items[cut:]
    return [it for i, it in enumerate(old) if i % 2 == 0 or protected(it)] + new


@dataclass
class _Series:
    steps: list = field(default_factory=list)
    values: list = field(default_factory=list)


class MetricStore:
    def __init__(self, max_points: int = 2000, max_attention: int = 64):
        self.max_points, self.max_attention = max_points, max_attention
        self._lock = threading.Lock()
        self._series: dict[str, _Series] = {}
        self._attention: list[AttentionSnapshot] = []
        self._markers: list[Marker] = []
        self._protected: set[int] = set()
        self.version = 0  # increases with every write; cheap change detection for the UI

    # ---- writing (trainer thread) --------------------------------------------------------------
    def add(self, step: int, values: dict[str, float]) -> None:
        with self._lock:
            for name, v in values.items():
                s = self._series.get(name)
                if s is None:
                    s = self._series[name] = _Series()
                s.steps.append(step)
                s.values.append(float(v))
                if len(s.steps) > self.max_points:
                    pairs = _thin(list(zip(s.steps, s.values)), self.max_points // 2,
                                  lambda it: it[0] in self._protected)
                    s.steps, s.values = [p[0] for p in pairs], [p[1] for p in pairs]
            self.version += 1

    def add_attention(self, snap: AttentionSnapshot) -> None:
        with self._lock:
            self._attention.append(snap)
            if len(self._attention) > self.max_attention:
                self._attention = _thin(self._attention, self.max_attention // 2,
                                        lambda it: it.step in self._protected)
            self.version += 1

    def mark(self, step: int, kind: str, text: str) -> None:
        with self._lock:
            self._markers.append(Marker(step, kind, text))
            self._protected.add(step)
            self.version += 1

    # ---- reading (any thread) ------------------------------------------------------------------
    def frame(self, names=None) -> pd.DataFrame:
        """Long-format copy: columns step, name, value (DESIGN.md §3)."""
        with self._lock:
            chosen = [n for n in (names or self._series) if n in self._series]
            parts = [(np.asarray(self._series[n].steps), n, np.asarray(self._series[n].values)) for n in chosen]
        if not parts:
            return pd.DataFrame({"step": pd.Series([], dtype="int64"), "name": pd.Series([], dtype="object"),
                                 "value": pd.Series([], dtype="float64")})
        return pd.DataFrame({
            "step": np.concatenate([p[0] for p in parts]).astype("int64"),
            "name": np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in parts]),
            "value": np.concatenate([p[2] for p in parts]).astype("float64"),
        })

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            s = self._series.get(name)
            if s is None:
                return np.zeros(0, dtype=np.int64), np.zeros(0)
            return np.asarray(s.steps, dtype=np.int64), np.asarray(s.values, dtype=np.float64)

    def all_series(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{name: (steps, values)} copies of every series (the input of ``resnorm.figures``)."""
        with self._lock:
            return {n: (np.asarray(s.steps, dtype=np.int64), np.asarray(s.values, dtype=np.float64))
                    for n, s in self._series.items()}

    def latest(self, name: str, default=None):
        with self._lock:
            s = self._series.get(name)
            return s.values[-1] if s and s.values else default

    def names(self) -> list[str]:
        with self._lock:
            return list(self._series)

    def attention(self) -> list[AttentionSnapshot]:
        with self._lock:
            return list(self._attention)

    def markers(self) -> list[Marker]:
        with self._lock:
            return list(self._markers)

    def n_points(self) -> int:
        with self._lock:
            return sum(len(s.steps) for s in self._series.values())
