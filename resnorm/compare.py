"""Comparisons: 2–4 configs trained in lockstep, and what to say about them afterwards.

Lockstep means one thread advances every run by one step in turn: same step clock, started
together, paused and stopped together. Each run draws its data from its own generator seeded with
its own seed, so runs with the same seed and task see the same batches in the same order — two
identical configs give identical metrics.

Events marked automatically (``detect_events``):

- ``diverged``: the run's loss or gradient became non-finite;
- ``grad jump``: the global gradient norm grew more than 10× within 10 steps;
- ``entropy collapse``: a layer's mean attention entropy fell below 10 % of its first value
  (every query attends to ~one key).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RunConfig
from .store import Marker
from .trainer import Trainer
from .worker import Worker

MAX_CONFIGS = 4
LETTERS = "ABCD"
GRAD_JUMP = 10.0
GRAD_WINDOW = 10
ENTROPY_FRACTION = 0.1


def check_configs(configs: list[RunConfig]) -> list[RunConfig]:
    """The configs as a list, or ValueError when there are not 2 to ``MAX_CONFIGS`` of them."""
    if not 2 <= len(configs) <= MAX_CONFIGS:
        raise ValueError(f"a comparison needs 2 to {MAX_CONFIGS} configs, got {len(configs)}")
    return list(configs)


class Comparison(Worker):
    thread_name = "resnorm-compare"

    def __init__(self, configs: list[RunConfig], labels: list[str] | None = None, on_finish=None):
        super().__init__()
        self.configs = check_configs(configs)
        self.labels = labels or [LETTERS[i] for i in range(len(configs))]
        self.trainers = [Trainer(c) for c in configs]
        self.on_finish = on_finish
        self.step = 0

    @property
    def total_steps(self) -> int:
        return max(c.train.steps for c in self.configs)

    # ---- the lockstep loop ---------------------------------------------------------------------
    def run(self) -> None:
        self._begin()
        try:
            for tr in self.trainers:
                try:
                    tr.prepare()
                except Exception as e:  # one config failing must not take the others down
                    tr.fail(e)
            while any(not tr.done for tr in self.trainers):
                self._wait_if_paused()
                if self._stop.is_set():
                    for tr in self.trainers:
                        if not tr.done:
                            tr.stop()
                            tr.advance()
                    break
                for tr in self.trainers:
                    if not tr.done:
                        try:
                            tr.advance()
                        except Exception as e:
                            tr.fail(e)
                self.step += 1
        finally:
            self._end("stopped" if self._stop.is_set() else "completed")
            if self.on_finish is not None:
                self.on_finish(self)


# ---- what to say about a finished comparison ------------------------------------------------------
def detect_events(series: dict, markers=()) -> list[Marker]:
    """The run's own markers (divergence) plus gradient jumps and attention-entropy collapse."""
    events = list(markers)
    steps, g = series.get("grad/total_norm", (np.zeros(0), np.zeros(0)))
    for i in range(len(g)):
        lo = np.searchsorted(steps, steps[i] - GRAD_WINDOW)
        window = g[lo:i]
        window = window[np.isfinite(window) & (window > 0)]
        if len(window) and np.isfinite(g[i]) and g[i] > GRAD_JUMP * window.min():
            events.append(Marker(int(steps[i]), "grad jump",
                                 f"gradient norm ×{g[i] / window.min():.0f} within {GRAD_WINDOW} steps"))
            break
    for name, (s, v) in series.items():
        if not name.endswith(".entropy") or ".head" in name or len(v) < 2 or not v[0] > 0:
            continue
        low = np.nonzero(v < ENTROPY_FRACTION * v[0])[0]
        if len(low):
            layer = name.rsplit(".", 1)[0]
            events.append(Marker(int(s[low[0]]), "entropy collapse",
                                 f"{layer}: attention entropy {v[low[0]]:.2f} < 10% of its start {v[0]:.2f}"))
    return sorted(events, key=lambda m: m.step)


@dataclass
class Verdict:
    label: str
    status: str
    final_loss: float | None
    steps: int
    steps_to_target: int | None
    diverged_step: int | None

    def line(self, target: float) -> str:
        if self.status == "diverged":
            head = f"{self.label}: diverged at step {self.diverged_step}"
        else:
            loss = f"{self.final_loss:.4f}" if self.final_loss is not None else "n/a"
            head = f"{self.label}: final loss {loss} after {self.steps} steps ({self.status})"
        reach = (f"reached loss ≤ {target:g} at step {self.steps_to_target}" if self.steps_to_target
                 else f"never reached loss ≤ {target:g}")
        return f"{head}; {reach}"


def verdict(label: str, trainer: Trainer, target: float) -> Verdict:
    steps, loss = trainer.store.series("train/loss")
    hit = np.nonzero(np.isfinite(loss) & (loss <= target))[0]
    final = float(loss[np.isfinite(loss)][-1]) if np.isfinite(loss).any() and trainer.status != "diverged" else None
    return Verdict(label, trainer.status, final, trainer.step, int(steps[hit[0]]) if len(hit) else None,
                   trainer.diverged_step)


def difference(series_a: dict, series_b: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, b − a) at the steps both recorded."""
    sa, va = series_a.get(name, (np.zeros(0, np.int64), np.zeros(0)))
    sb, vb = series_b.get(name, (np.zeros(0, np.int64), np.zeros(0)))
    common, ia, ib = np.intersect1d(sa, sb, return_indices=True)
    return common, vb[ib] - va[ia]


def layer_profile(series: dict, metric: str) -> tuple[list[str], np.ndarray]:
    """(block names, latest value of ``{block}.{metric}``) in forward order."""
    from .figures import block_prefixes

    prefixes = block_prefixes(series)
    vals = [series[f"{p}.{metric}"][1][-1] if f"{p}.{metric}" in series and len(series[f"{p}.{metric}"][1])
            else np.nan for p in prefixes]
    return prefixes, np.asarray(vals, dtype=float)
