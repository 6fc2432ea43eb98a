"""A thread-safe, bounded metric store: the trainer writes, the UI snapshots at any time.

Memory stays bounded on long runs: each series keeps its newest ``max_points/2`` points at full
resolution and, before them, an evenly spaced sample of the whole history — the n-th point ever
recorded is kept while n is a multiple of the series' stride, and the stride doubles whenever the
series outgrows ``max_points``. Marked steps (divergence, markers) are always kept. A 20 000-step
run therefore holds at most ~``max_points`` points per metric, spread over all of its steps.
Attention snapshots are thinned the same way.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class AttentionSnapshot:
    step: int
    maps: dict  # "blocks.3.attn" -> array (heads, query, key)
    labels: dict  # "blocks.3.attn" -> (query tokens, key tokens)


@dataclass
class Marker:
    step: int
    kind: str  # e.g. "diverged"
    text: str


@dataclass
class _Thinned:
    """Items with their arrival number n; thinning keeps the newest ``recent`` items and, before
    them, the items with n % stride == 0 (or protected)."""

    items: list = field(default_factory=list)  # (n, item)
    count: int = 0
    stride: int = 1

    def append(self, item, cap: int, protected) -> None:
        self.items.append((self.count, item))
        self.count += 1
        if len(self.items) <= cap:
            return
        recent = max(cap // 2, 1)
        while True:  # sample the older part at the current stride; coarsen only if still too long
            cut = len(self.items) - recent
            self.items = [(n, it) for n, it in self.items[:cut] if n % self.stride == 0 or protected(it)] \
                + self.items[cut:]
            if len(self.items) <= cap - cap // 4 or self.stride > 2**40:
                break
            self.stride *= 2

    def values(self) -> list:
        return [it for _, it in self.items]


ATTENTION_BYTES = 16 * 2**20  # attention maps one store keeps, at most (older snapshots are thinned)


def snapshot_bytes(snap: "AttentionSnapshot") -> int:
    return sum(getattr(m, "nbytes", 0) for m in snap.maps.values())


class MetricStore:
    def __init__(self, max_points: int = 2000, max_attention: int = 64, attention_bytes: int | None = None):
        self.max_points, self.max_attention = max_points, max_attention
        self.attention_bytes = ATTENTION_BYTES if attention_bytes is None else attention_bytes
        self._lock = threading.Lock()
        self._series: dict[str, _Thinned] = {}
        self._attention = _Thinned()
        self._markers: list[Marker] = []
        self._protected: set[int] = set()
        self.version = 0  # increases with every write; cheap change detection for the UI

    # ---- writing (trainer thread) --------------------------------------------------------------
    def add(self, step: int, values: dict[str, float]) -> None:
        with self._lock:
            keep = lambda it: it[0] in self._protected  # noqa: E731
            for name, v in values.items():
                s = self._series.get(name)
                if s is None:
                    s = self._series[name] = _Thinned()
                s.append((step, float(v)), self.max_points, keep)
            self.version += 1

    def add_attention(self, snap: AttentionSnapshot) -> None:
        """Keep ``snap``; the snapshots kept are bounded by count (``max_attention``) and by bytes
        (``attention_bytes``): the worker and the server's mirror of a run each hold at most that."""
        size = max(1, snapshot_bytes(snap))
        if size > self.attention_bytes:  # one snapshot over the budget: nothing of it is kept
            return
        cap = max(1, min(self.max_attention, self.attention_bytes // size))
        with self._lock:
            self._attention.append(snap, cap, lambda it: it.step in self._protected)
            while len(self._attention.items) > cap:  # protected snapshots may outnumber the cap
                self._attention.items.pop(0)
            self.version += 1

    def clear_attention(self) -> None:
        """Forget the attention snapshots and keep no more (a session that ended: its metrics stay,
        the maps go, including any the run captures while it stops)."""
        with self._lock:
            self._attention = _Thinned()
            self.attention_bytes = 0
            self.version += 1

    def mark(self, step: int, kind: str, text: str) -> None:
        with self._lock:
            self._markers.append(Marker(step, kind, text))
            self._protected.add(step)
            self.version += 1

    # ---- reading (any thread) ------------------------------------------------------------------
    def frame(self, names=None) -> "pd.DataFrame":
        """Long-format copy: columns step, name, value (docs/ARCHITECTURE.md §3)."""
        import pandas as pd  # here, not at the top: the command line writes its files without pandas

        return pd.DataFrame(self.columns(names))

    def columns(self, names=None) -> dict[str, np.ndarray]:
        """The long format as arrays: {"step": int64, "name": object, "value": float64}, one row per
        point, series after series (what ``frame`` holds, without pandas)."""
        with self._lock:
            chosen = [n for n in (names or self._series) if n in self._series]
            parts = [(*self._arrays(n), n) for n in chosen]
        if not parts:
            return {"step": np.zeros(0, dtype="int64"), "name": np.zeros(0, dtype=object),
                    "value": np.zeros(0, dtype="float64")}
        return {"step": np.concatenate([p[0] for p in parts]).astype("int64"),
                "name": np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts]),
                "value": np.concatenate([p[1] for p in parts]).astype("float64")}

    def _arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        pairs = self._series[name].values()
        return (np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs)),
                np.fromiter((p[1] for p in pairs), dtype=np.float64, count=len(pairs)))

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if name not in self._series:
                return np.zeros(0, dtype=np.int64), np.zeros(0)
            return self._arrays(name)

    def all_series(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{name: (steps, values)} copies of every series (the input of ``resnorm.studies.figures``)."""
        with self._lock:
            return {n: self._arrays(n) for n in self._series}

    def latest(self, name: str, default=None):
        with self._lock:
            s = self._series.get(name)
            return s.items[-1][1][1] if s and s.items else default

    def names(self) -> list[str]:
        with self._lock:
            return list(self._series)

    def attention(self) -> list[AttentionSnapshot]:
        with self._lock:
            return self._attention.values()

    def markers(self) -> list[Marker]:
        with self._lock:
            return list(self._markers)

    def n_points(self) -> int:
        with self._lock:
            return sum(len(s.items) for s in self._series.values())
