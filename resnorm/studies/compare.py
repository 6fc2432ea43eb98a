"""Comparisons: 2–4 configs trained in lockstep, and what to say about them afterwards.

Lockstep means one thread advances every run by one step in turn: same step clock, started
together, paused and stopped together. Each run draws its data from its own generator, seeded from
its own seed's ``train`` stream (``resnorm.science.seeds``), so runs with the same seed and task see the same
batches in the same order — two identical configs give identical metrics.

Events marked automatically (``detect_events``):

- ``diverged``: the run's loss or gradient became non-finite;
- ``grad jump``: the global gradient norm grew more than ``GRAD_JUMP`` (10)× within ``GRAD_WINDOW`` (10)
  steps *and* reached at least ``GRAD_FLOOR`` (1)× the run's early-training gradient norm (the median
  over its first ``GRAD_EARLY`` (20) recorded steps). The floor keeps a converged run's small
  fluctuations (×17 from 0.018 to 0.31 while the loss stays at 0.005) from counting; every
  qualifying jump is reported, one per ``GRAD_WINDOW`` steps;
- ``stalled``: the training loss stayed within ``STALL_MARGIN`` (0.1) nats of the task's unigram
  entropy — the loss of predicting only how often each target token occurs (ln 10 ≈ 2.303 for the
  symbol tasks with 10 symbols) — for ``STALL_STEPS`` (100) consecutive recorded steps: the run is
  stuck at the unigram loss (how Post-LN fails in this app). Reported once per stall, at its first step;
- ``entropy collapse``: a layer's mean attention entropy fell below ``ENTROPY_FRACTION`` (5 %) of the
  entropy of uniform attention over the keys it may see (ln T for T keys; the mean of ln i over the
  queries of a causal layer) after having been above it: almost every query attends to one key.
  A layer that is below it from the first step has not collapsed during training and is not marked.

The stall and the entropy collapse need the run's task (``event_context``); without it they are
not checked. Measured on 10 runs (lesson 3 quick run, 2 seeds × its 4 variants; the default config
for 1,000 steps, Pre-LN and Post-LN): both Post-LN runs stuck at chance (2.31–2.33 against 2.303)
were marked stalled and nothing else was; the lowest layer entropy of any run was 16–59 % of uniform
attention's, so none was marked collapsed; the converged runs had no gradient jump; jumps were marked
only in Post-LN with warm-up at learning rate 10⁻², where the loss spiked with them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..science import names
from ..science.config import RunConfig
from ..messages import msg
from ..science.store import Marker
from ..science.trainer import Trainer
from ..science.worker import Worker

MAX_CONFIGS = 4
LETTERS = "ABCD"
GRAD_JUMP = 10.0
GRAD_WINDOW = 10
GRAD_EARLY = 20
GRAD_FLOOR = 1.0
STALL_MARGIN = 0.1
STALL_STEPS = 100
ENTROPY_FRACTION = 0.05


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
            self._ready()
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
def uniform_entropy(keys: int, causal: bool) -> float:
    """Mean entropy (nats) of attention spread evenly over the keys each query may see: ln T for T
    keys, or the mean over queries i = 1..T of ln i for a causal layer (query i sees i keys)."""
    if causal:
        return float(np.mean(np.log(np.arange(1, keys + 1))))
    return float(np.log(keys))


@functools.lru_cache(maxsize=64)
def event_context(cfg: RunConfig) -> dict:
    """What ``detect_events`` needs to know about a run's task: ``unigram`` (nats), the entropy of the
    task's target tokens, and ``uniform`` = {attention layer: entropy of uniform attention}. Cached per
    config: do not modify the result."""
    from ..science.tasks import make_task

    task = make_task(cfg.task, cfg.model.arch)
    probe = task.sample(1, torch.Generator().manual_seed(0))
    src = probe.inputs.shape[1]
    tgt = probe.dec_inputs.shape[1] if probe.dec_inputs is not None else src
    arch, L = cfg.model.arch, cfg.model.layers
    uniform = {}
    for i in range(L):
        if arch == "encoder-decoder":
            uniform[names.metric("enc", i, "attn")] = uniform_entropy(src, False)
            uniform[names.metric("dec", i, "attn")] = uniform_entropy(tgt, True)
            uniform[names.metric("dec", i, "cross_attn")] = uniform_entropy(src, False)
        else:
            uniform[names.metric("blocks", i, "attn")] = uniform_entropy(src, arch == "decoder")
    return {"unigram": task.unigram_entropy(), "uniform": uniform}


def _grad_jumps(steps: np.ndarray, g: np.ndarray) -> list[Marker]:
    finite = np.isfinite(g) & (g > 0)
    early = g[finite][:GRAD_EARLY]
    if not len(early):
        return []
    floor = GRAD_FLOOR * float(np.median(early))
    out, last = [], None
    for i in range(len(g)):
        if not finite[i] or g[i] < floor or (last is not None and steps[i] - last <= GRAD_WINDOW):
            continue
        lo = np.searchsorted(steps, steps[i] - GRAD_WINDOW)
        window = g[lo:i][finite[lo:i]]
        if len(window) and g[i] > GRAD_JUMP * window.min():
            out.append(Marker(int(steps[i]), "grad jump",
                              msg("event.detail.grad_jump", factor=g[i] / window.min(), window=GRAD_WINDOW,
                                  norm=g[i], early=floor / GRAD_FLOOR)))
            last = steps[i]
    return out


def _stalls(steps: np.ndarray, loss: np.ndarray, unigram: float) -> list[Marker]:
    near = np.isfinite(loss) & (np.abs(loss - unigram) <= STALL_MARGIN)
    out, start, marked = [], None, False
    for i in range(len(loss)):
        if not near[i]:
            start, marked = None, False
            continue
        start = i if start is None else start
        if not marked and steps[i] - steps[start] + 1 >= STALL_STEPS:
            out.append(Marker(int(steps[start]), "stalled",
                              msg("event.detail.stalled", margin=STALL_MARGIN, unigram=unigram,
                                  start=int(steps[start]), end=int(steps[i]))))
            marked = True
    return out


def _entropy_collapses(series: dict, uniform: dict) -> list[Marker]:
    out = []
    for layer, ref in uniform.items():
        s, v = series.get(f"{layer}.entropy", (np.zeros(0), np.zeros(0)))
        threshold = ENTROPY_FRACTION * ref
        above = np.nonzero(np.isfinite(v) & (v >= threshold))[0]
        if not len(above) or ref <= 0:
            continue
        low = np.nonzero(np.isfinite(v[above[0]:]) & (v[above[0]:] < threshold))[0]
        if len(low):
            k = above[0] + low[0]
            out.append(Marker(int(s[k]), "entropy collapse",
                              msg("event.detail.entropy_collapse", layer=layer, entropy=v[k],
                                  fraction=ENTROPY_FRACTION, uniform=ref)))
    return out


def detect_events(series: dict, markers=(), context: dict | None = None) -> list[Marker]:
    """The run's own markers (divergence) plus every gradient jump and, given the run's
    ``event_context``, stalls at the unigram loss and attention-entropy collapses."""
    events = list(markers)
    steps, g = series.get("grad/total_norm", (np.zeros(0), np.zeros(0)))
    events += _grad_jumps(np.asarray(steps), np.asarray(g, dtype=float))
    if context:
        ls, loss = series.get("train/loss", (np.zeros(0), np.zeros(0)))
        events += _stalls(np.asarray(ls), np.asarray(loss, dtype=float), context["unigram"])
        events += _entropy_collapses(series, context["uniform"])
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


def differences(configs: list[RunConfig]) -> list[dict]:
    """Per config, ``{field: value}`` of the flat fields whose values are not the same in every config,
    in the configs' field order (``RunConfig.to_flat``). What two identical configs differ in is ``{}``."""
    flats = [c.to_flat() for c in configs]
    differ = [k for k in flats[0] if len({repr(f[k]) for f in flats}) > 1]
    return [{k: f[k] for k in differ} for f in flats]


def plain_value(field: str, value) -> str:
    """A field's value as the default label shows it: a choice as its id, a number as ``{:g}``
    (``0.01``, ``1e-05``), anything else ``field=value``."""
    if isinstance(value, float):
        return f"{field} {value:g}"
    if isinstance(value, bool) or isinstance(value, int):
        return f"{field} {value}"
    return str(value)


def variant_labels(configs: list[RunConfig], describe=plain_value, letters: str = LETTERS) -> list[str]:
    """Each config's legend name: its letter and what differs from the others, ``"A · post"``,
    ``"B · pre"`` (``describe(field, value)`` words a value, e.g. in the session's language:
    ``"A · Post-LN"``). Differences are joined with ``", "``; when nothing differs, the letter alone."""
    return [" · ".join([letters[i]] + ([", ".join(describe(k, v) for k, v in d.items())] if d else []))
            for i, d in enumerate(differences(configs))]


def layer_profile(series: dict, metric: str) -> tuple[list[str], np.ndarray]:
    """(block names, latest value of ``{block}.{metric}``) in forward order."""
    prefixes = names.block_prefixes(series)
    vals = [series[f"{p}.{metric}"][1][-1] if f"{p}.{metric}" in series and len(series[f"{p}.{metric}"][1])
            else np.nan for p in prefixes]
    return prefixes, np.asarray(vals, dtype=float)
