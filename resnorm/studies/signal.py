"""Signal propagation at initialisation — the one init-analysis module: along depth, across depths,
and the command line's ``init-stats``.

The unit of work is ``init_metrics``: one forward/backward of a fresh model for one config and one
seed, no optimizer step, recording what a training step's probes record (the §3 metrics of
docs/ARCHITECTURE.md, from the same probes: a depth profile at init and a curve during training are
the same quantity). Units are computed once per process and shown in two shapes:

- ``init_stats(cfg, seeds)``: every metric, long format ``seed, name, value`` (the CLI's
  ``init-stats`` output, its names those of §3);
- ``depth_profile(cfg, seeds)``: the per-block metrics of ``METRICS``, tidy::

    seed  layer  stack   metric          value
    0     0      blocks  resid_ms        2.59
    0     0      blocks  grad_norm       2.22
    ...

``layer`` is the 0-based block index within its ``stack`` (``blocks`` for decoder/encoder, ``enc``
and ``dec`` for encoder-decoder). ``METRICS`` lists the metrics kept and what they mean.

``depth_sweep(cfg, depths, seeds)`` stacks profiles of ``cfg.replace(layers=d)`` with a ``depth``
column, and ``depth_summary`` reduces a sweep to the numbers plotted against depth (first/last block
gradient norm, the last block's residual mean square).

Every config is checked by ``resnorm.science.feasibility.require`` before anything is built. Results are
cached in-process: each (config, seed) unit, keyed by the config's JSON with the fields that cannot
change an initialisation (learning rate, steps, ...) reset, and each assembled frame, keyed by
(config JSON, seeds). A page that re-renders, adds a seed or widens the depth range only computes
what is new. On the CPU, computing follows the trainer's thread convention: torch's (process-wide)
intra-op threads are set to ``resnorm.science.trainer.cpu_threads()`` (``RESNORM_CPU_THREADS``, default 1),
as a training would; with two OpenMP threads on a busy 2-core machine a profile was ~8× slower.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from ..science import names
from ..science.config import RunConfig, TaskConfig, TrainConfig
from ..science.feasibility import require
from ..science.model import build_model, sequence_loss
from ..science.probes import ActivationProbe, ParamGroups, total_grad_norm
from ..science.seeds import stream_seed
from ..science.tasks import make_task
from ..science.trainer import cpu_threads, resolve_device

#: metric (column ``metric``) → (source name suffix in docs/ARCHITECTURE.md §3, meaning)
METRICS: dict[str, tuple[str, str]] = {
    "resid_ms": ("resid_post.rms", "residual-stream mean square E[x²] after the block (= rms²)"),
    "grad_norm": ("grad_norm", "L2 norm of the gradient of all the block's parameters"),
    "attn.grad_norm": ("attn.grad_norm", "gradient norm of the self-attention weights"),
    "cross_attn.grad_norm": ("cross_attn.grad_norm", "gradient norm of the cross-attention weights"),
    "mlp.grad_norm": ("mlp.grad_norm", "gradient norm of the MLP weights"),
    "attn_out.change": ("attn_out.change", "‖x_out − x_in‖/‖x_in‖: how much the self-attention sublayer's "
                        "whole update (gate, scale, norms included) changes the stream"),
    "cross_attn_out.change": ("cross_attn_out.change", "‖x_out − x_in‖/‖x_in‖ of the cross-attention sublayer"),
    "mlp_out.change": ("mlp_out.change", "‖x_out − x_in‖/‖x_in‖ of the MLP sublayer"),
    "attn_out.ratio": ("attn_out.ratio", "‖F‖/‖x‖, the raw self-attention branch output (before a ReZero gate, "
                       "the 1/√(2L) scale, Sandwich's N_out; against x, not DeepNorm's αx) against the stream"),
    "cross_attn_out.ratio": ("cross_attn_out.ratio", "‖F‖/‖x‖ of the raw cross-attention branch output"),
    "mlp_out.ratio": ("mlp_out.ratio", "‖F‖/‖x‖ of the raw MLP branch output against the stream it reads"),
    "rank_residual": ("rank_residual", "‖X − 1x̄ᵀ‖_F/‖X‖_F of the stream after the block (0 = rank collapse)"),
    "rank_residual_l1inf": ("rank_residual_l1inf", "the same ratio in Dong et al.'s composite norm "
                            "‖·‖_{1,∞} = √(‖·‖₁‖·‖_∞)"),
    "attn.entropy": ("attn.entropy", "attention entropy (nats), mean over heads and queries"),
}
# ---- issue 18 (i-attn): the diagnostics that are defined at initialisation (resnorm/science/probes.py)
DIAGNOSTICS = {
    "attn.max_logit": ("attn.max_logit", "largest self-attention logit the softmax reads (after scale and soft-cap)"),
    "attn.sink": ("attn.sink", "fraction of self-attention heads whose mean attention to the first key exceeds 0.3"),
    "resid_post.massive": ("resid_post.massive", "max |x| / median |x| of the stream after the block "
                           "(massive activations)"),
    "angular_distance": ("angular_distance", "arccos(cos(x_in, x_out))/π between the stream entering and "
                         "leaving the block, mean over tokens"),
}
METRICS.update(DIAGNOSTICS)
_BY_SOURCE = {src: metric for metric, (src, _) in METRICS.items()}
STACK_ORDER = names.STACK_ORDER

STATS_COLUMNS = ["seed", "name", "value"]  # init_stats: the command line's init-stats
COLUMNS = ["seed", "layer", "stack", "metric", "value"]
SWEEP_COLUMNS = ["depth"] + COLUMNS
SUMMARY_COLUMNS = ["depth", "seed", "stack", "metric", "value"]

# train fields that an initialisation depends on; the rest are reset in cache keys
_INIT_TRAIN_FIELDS = ("batch_size", "device")
MAX_UNITS = 1024   # cached (config, seed) units, each a few hundred floats
MAX_FRAMES = 128   # cached assembled frames

Progress = Callable[[float], None]


# ---- cache keys and the unit of work ------------------------------------------------------------
def cache_key(cfg: RunConfig) -> str:
    """The config as JSON, with training fields that cannot affect an initialisation at their defaults
    (so a changed learning rate still hits the cache)."""
    d = cfg.to_dict()
    defaults = TrainConfig().to_dict()
    d["train"] = {k: (v if k in _INIT_TRAIN_FIELDS else defaults[k]) for k, v in d["train"].items()}
    return RunConfig.from_dict(d).to_json()


@lru_cache(maxsize=16)
def _task(task_json: str, arch: str):
    return make_task(TaskConfig(**json.loads(task_json)), arch)


def _reshape(metrics: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """§3 metric dict → parallel arrays (layer, stack, metric, value) of the kept per-block metrics."""
    layer, stack, metric, value = [], [], [], []
    for name, v in metrics.items():
        b = names.parse(name)
        if b is None or b.rest not in _BY_SOURCE:
            continue
        key = _BY_SOURCE[b.rest]
        layer.append(b.block)
        stack.append(b.stack)
        metric.append(key)
        value.append(v * v if key == "resid_ms" else v)
    return (np.asarray(layer, np.int64), np.asarray(stack, object), np.asarray(metric, object),
            np.asarray(value, np.float64))


class _Stats:
    def __init__(self):
        self.unit_hits = self.unit_misses = self.frame_hits = self.frame_misses = 0


_stats = _Stats()
_lock = threading.Lock()
_units: OrderedDict[tuple[str, int], dict] = OrderedDict()
_frames: OrderedDict[tuple, pd.DataFrame] = OrderedDict()


def _lru_get(store: OrderedDict, key):
    with _lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    return None


def _lru_put(store: OrderedDict, key, value, limit: int) -> None:
    with _lock:
        store[key] = value
        store.move_to_end(key)
        while len(store) > limit:
            store.popitem(last=False)


def init_metrics(cfg: RunConfig, seed: int, task=None) -> dict[str, float]:
    """§3 metrics after one forward/backward at initialisation with weights and batch from ``seed``'s
    ``weights`` and ``train`` streams (``resnorm.science.seeds``): a training run's step 1. ``task``: the
    config's task, when the caller has built it (else it is checked and built here)."""
    task = task or make_task(require(cfg).task, cfg.model.arch)
    device = resolve_device(cfg.train.device)
    model = build_model(cfg.model, task.vocab_size, task.max_len, seed=seed).to(device).train()
    batch = task.sample(cfg.train.batch_size, torch.Generator().manual_seed(stream_seed(seed, "train")),
                        "train").to(device)
    probe = ActivationProbe(model)
    with probe.capture():
        loss = sequence_loss(model(*batch.model_args()), batch.targets)
    loss.backward()
    values = probe.pop()
    values.update(ParamGroups(model).grad_norms())
    values["train/loss"] = loss.item()
    values["grad/total_norm"] = total_grad_norm(model.parameters()).item()
    return values


def _unit(key: str, seed: int, threads: int | None = None) -> dict[str, float]:
    """``init_metrics`` of one (config, seed), computed once per process; do not modify the result.
    On a CPU it computes with ``threads`` intra-op threads (default ``cpu_threads()``, the server's
    convention; the command line passes its own)."""
    hit = _lru_get(_units, (key, seed))
    if hit is not None:
        _stats.unit_hits += 1
        return hit
    _stats.unit_misses += 1
    cfg = RunConfig.from_json(key)
    want = cpu_threads() if threads is None else threads
    if resolve_device(cfg.train.device).type == "cpu" and torch.get_num_threads() != want:
        torch.set_num_threads(want)  # process-wide: see cpu_threads
    task = _task(json.dumps(cfg.task.to_dict(), sort_keys=True), cfg.model.arch)
    metrics = init_metrics(cfg, seed, task)
    _lru_put(_units, (key, seed), metrics, MAX_UNITS)
    return metrics


def cache_info() -> dict[str, int]:
    """Hits and misses of the unit and frame caches, and their current sizes."""
    return dict(unit_hits=_stats.unit_hits, unit_misses=_stats.unit_misses, units=len(_units),
                frame_hits=_stats.frame_hits, frame_misses=_stats.frame_misses, frames=len(_frames))


def cache_clear() -> None:
    with _lock:
        _units.clear()
        _frames.clear()
        _task.cache_clear()
        _stats.__init__()


def _seeds(seeds: Iterable[int]) -> tuple[int, ...]:
    out = tuple(int(s) for s in seeds)
    if not out:
        raise ValueError("seeds: give at least one seed")
    return out


# ---- public API -----------------------------------------------------------------------------------
def _cached_frame(key, on_progress: Progress | None) -> pd.DataFrame | None:
    """A copy of the cached frame for ``key`` (progress reported as done), or None on a miss."""
    frame = _lru_get(_frames, key)
    if frame is None:
        _stats.frame_misses += 1
        return None
    _stats.frame_hits += 1
    if on_progress is not None:
        on_progress(1.0)
    return frame.copy()


def depth_profile(cfg: RunConfig, seeds: Iterable[int] = range(3), on_progress: Progress | None = None
                  ) -> pd.DataFrame:
    """Per-block metrics at initialisation of ``cfg``, one forward/backward per seed.

    Columns ``seed, layer, stack, metric, value`` (see the module docstring); ``on_progress(f)`` is
    called with the fraction done after each seed. Cached; the caller gets its own copy.
    """
    key, seeds = cache_key(require(cfg)), _seeds(seeds)
    frame = _cached_frame(("profile", key, seeds), on_progress)
    if frame is not None:
        return frame
    parts = []
    for i, seed in enumerate(seeds):
        layer, stack, metric, value = _reshape(_unit(key, seed))
        parts.append(pd.DataFrame({"seed": np.full(len(layer), seed, np.int64), "layer": layer,
                                   "stack": stack, "metric": metric, "value": value}))
        if on_progress is not None:
            on_progress((i + 1) / len(seeds))
    frame = pd.concat(parts, ignore_index=True)[COLUMNS]
    _lru_put(_frames, ("profile", key, seeds), frame, MAX_FRAMES)
    return frame.copy()


def init_stats(cfg: RunConfig, seeds: Iterable[int] = range(3), on_seed: Callable[[int], None] | None = None,
               threads: int | None = None) -> pd.DataFrame:
    """Every §3 metric at initialisation, long format: columns ``seed, name, value`` over ``seeds``
    (the command line's ``init-stats``); ``on_seed(i)`` is called after the i-th seed; ``threads``
    as for ``_unit``."""
    key, seeds = cache_key(require(cfg)), _seeds(seeds)
    rows = []
    for i, seed in enumerate(seeds):
        rows.extend((seed, name, value) for name, value in _unit(key, seed, threads).items())
        if on_seed is not None:
            on_seed(i)
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def depth_grid(lo: int, hi: int, points: int = 8, spacing: str = "geometric") -> list[int]:
    """At most ``points`` integer depths from ``lo`` to ``hi``, both included: ``geometric`` spacing
    (even on a log axis, and cheap: the sweep's cost is the sum of its depths) or ``linear``."""
    lo, hi = sorted((max(1, int(lo)), max(1, int(hi))))
    n = max(1, min(points, hi - lo + 1))
    out = list(range(lo, hi + 1))
    for k in range(n, 4 * n):  # rounding can merge geometric points: take more until n are distinct
        grid = np.geomspace(lo, hi, k) if spacing == "geometric" else np.linspace(lo, hi, k)
        distinct = sorted({int(round(float(d))) for d in grid})
        if len(distinct) >= n:
            out = distinct
            break
    return [out[i] for i in np.unique(np.linspace(0, len(out) - 1, n).round().astype(int))]


def depth_sweep(cfg: RunConfig, depths: Iterable[int], seeds: Iterable[int] = range(3),
                on_progress: Progress | None = None) -> pd.DataFrame:
    """``depth_profile`` of ``cfg.replace(layers=d)`` for each depth d, stacked with a ``depth`` column.

    Progress is weighted by the number of blocks, the cost of a unit. Raises ``ConfigError`` if a
    depth is out of the config's range.
    """
    depths, seeds = tuple(sorted({int(d) for d in depths})), _seeds(seeds)
    if not depths:
        raise ValueError("depths: give at least one depth")
    cfgs = [require(cfg.replace(layers=d)) for d in depths]  # every depth can be built, before any is
    key = ("sweep", cache_key(cfg), depths, seeds)
    frame = _cached_frame(key, on_progress)
    if frame is not None:
        return frame
    total, done, parts = float(sum(depths)), 0.0, []
    for d, c in zip(depths, cfgs):
        def sub(f, d=d, done=done):
            if on_progress is not None:
                on_progress((done + f * d) / total)
        part = depth_profile(c, seeds, on_progress=sub)
        part.insert(0, "depth", d)
        parts.append(part)
        done += d
    frame = pd.concat(parts, ignore_index=True)[SWEEP_COLUMNS]
    _lru_put(_frames, key, frame, MAX_FRAMES)
    return frame.copy()


def depth_summary(sweep: pd.DataFrame) -> pd.DataFrame:
    """The numbers plotted against depth, per (depth, seed, stack):

    - ``first.grad_norm`` / ``last.grad_norm``: gradient norm of the first / last block;
    - ``last_over_first.grad_norm``: their ratio (> 1: gradients larger near the output);
    - ``last.resid_ms``: residual-stream mean square after the last block (before any final norm).

    Columns ``depth, seed, stack, metric, value``.
    """
    if sweep.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    rows = []
    keep = sweep[sweep["metric"].isin(["grad_norm", "resid_ms"])]
    for (depth, seed, stack), part in keep.groupby(["depth", "seed", "stack"], sort=True):
        by = part.set_index(["metric", "layer"])["value"]
        first, last = part["layer"].min(), part["layer"].max()
        g0, g1 = by.get(("grad_norm", first), np.nan), by.get(("grad_norm", last), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.float64(g1) / np.float64(g0)
        rows += [(depth, seed, stack, "first.grad_norm", g0), (depth, seed, stack, "last.grad_norm", g1),
                 (depth, seed, stack, "last_over_first.grad_norm", ratio),
                 (depth, seed, stack, "last.resid_ms", by.get(("resid_ms", last), np.nan))]
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out["value"] = out["value"].astype(np.float64)
    return out


def band(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """Seed statistics of a long frame per (stack, metric, ``x``): median, min, max, mean, std, n.

    Non-finite values are left out of the statistics (all non-finite → NaN, a gap when plotted).
    """
    cols = ["stack", "metric", x]
    if frame.empty:
        return pd.DataFrame(columns=cols + ["median", "min", "max", "mean", "std", "n"])
    f = frame.assign(value=frame["value"].where(np.isfinite(frame["value"].astype(np.float64))))
    g = f.groupby(cols, sort=True)["value"]
    out = g.agg(["median", "min", "max", "mean", "std", "count"]).rename(columns={"count": "n"}).reset_index()
    out["std"] = out["std"].fillna(0.0).where(out["n"] > 0)
    return out


# ---- Xiong et al. 2020, Theorem 1: the last block's gradient against the total depth ----------------------
THEOREM1_DEPTHS = (2, 4, 8, 16, 32, 48)
THEOREM1_COLUMNS = ["position", "depth", "seed", "value"]


def theorem1_sweep(cfg: RunConfig, depths: Iterable[int] = THEOREM1_DEPTHS, seeds: Iterable[int] = range(3),
                   on_progress: Progress | None = None) -> pd.DataFrame:
    """The picture of Xiong et al. 2020's Theorem 1: the gradient norm of the *last* block at
    initialisation against the *total* depth L, for the Post-LN and the Pre-LN version of ``cfg``
    (everything else as in ``cfg``; the stack next to the output for encoder-decoder).

    The theorem bounds the last layer's gradient by O(d·√ln d) for Post-LN — independent of L — and by
    O(d·√(ln d / L)) for Pre-LN: it shrinks like L^-½ as the model gets deeper. It is a statement
    about the total depth, not about how the gradient varies along one model's layers.
    Columns ``position, depth, seed, value``; cached like every sweep.
    """
    depths, seeds = tuple(sorted({int(d) for d in depths})), _seeds(seeds)
    parts = []
    for k, position in enumerate(("post", "pre")):
        def sub(f, k=k):
            if on_progress is not None:
                on_progress((k + f) / 2)
        summary = depth_summary(depth_sweep(cfg.replace(norm_position=position), depths, seeds, on_progress=sub))
        stack = "dec" if "dec" in set(summary["stack"]) else "blocks"
        part = summary[(summary["metric"] == "last.grad_norm") & (summary["stack"] == stack)]
        parts.append(pd.DataFrame({"position": position, "depth": part["depth"].to_numpy(np.int64),
                                   "seed": part["seed"].to_numpy(np.int64),
                                   "value": part["value"].to_numpy(np.float64)}))
    return pd.concat(parts, ignore_index=True)[THEOREM1_COLUMNS]


def theorem1_slopes(frame: pd.DataFrame) -> dict[str, float]:
    """Per position, the least-squares slope of ln(median over seeds of the last block's gradient
    norm) against ln L: 0 for a flat curve, −½ for L^-½."""
    out = {}
    for position, part in frame.groupby("position"):
        med = part.groupby("depth")["value"].median()
        ok = np.isfinite(med.to_numpy()) & (med.to_numpy() > 0)
        out[str(position)] = (float(np.polyfit(np.log(med.index.to_numpy(float)[ok]), np.log(med.to_numpy()[ok]), 1)[0])
                              if ok.sum() >= 2 else float("nan"))
    return out
