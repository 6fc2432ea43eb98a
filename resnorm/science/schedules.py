"""Learning-rate schedules: the factor that multiplies the peak learning rate at step t (1-based).

With w warmup steps and T total steps:

- ``constant``: min(1, t/w)
- ``linear``:   t/w during warmup, then (T − t)/(T − w), reaching 0 at t = T
- ``cosine``:   t/w during warmup, then ½(1 + cos(π (t − w)/(T − w)))
- ``noam``:     √w · min(t^−½, t·w^−³ᐟ²) = min(√(w/t), t/w): Vaswani et al. 2017, eq. 3,
  lrate = d_model^−½ · min(t^−½, t·w^−³ᐟ²), rescaled so that its peak (at t = w) equals ``lr``.
"""
from __future__ import annotations

import math


def lr_factor(schedule: str, step: int, warmup: int, total: int) -> float:
    t = max(step, 1)
    if schedule == "noam":
        w = max(warmup, 1)
        return min(math.sqrt(w / t), t / w)
    warm = min(1.0, t / warmup) if warmup > 0 else 1.0
    if schedule == "constant" or t <= warmup:
        return warm
    frac = (t - warmup) / max(total - warmup, 1)
    frac = min(max(frac, 0.0), 1.0)
    if schedule == "linear":
        return 1.0 - frac
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    raise ValueError(f"unknown schedule {schedule!r}")
