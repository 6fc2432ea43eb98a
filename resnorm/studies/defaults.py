"""The settings the pages open with, and why each was chosen: a default should *teach*.

- ``LIVE``: the Live page's changes to the schema's defaults (``resnorm.science.config``). The schema's
  own default (copy, 500 steps) is learnt by step ~100 and then draws a flat line; the Live default is
  a task whose curves still move at the end of the run (measured: ``BENCHMARKS.md``, "Defaults").
- ``COMPARE_PRESETS``: what the Compare page offers, each as the settings its configs share (the
  sidebar) and one set of per-config settings per variant (the columns, ``PER_VARIANT`` fields only).
  ``DEFAULT_COMPARE`` is the one a new session opens with: a contrast a room can see — Post-LN stays
  at chance while Pre-LN learns — checked over seeds by ``python -m resnorm bench --defaults``
  (``resnorm.bench_defaults``).

Each default's one-line reason is the text ``why.live``, ``why.compare.<id>`` (and, for the other
pages' presets, ``why.init.<id>`` and ``why.lesson.<n>``) in ``resnorm/i18n``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

PER_VARIANT = ("norm_position", "norm", "residual", "init", "lr", "warmup")  # Compare: set per column

LIVE = {"task": "sort", "lr": 3e-4, "steps": 400}  # why.live


@dataclass(frozen=True)
class ComparePreset:
    id: str                  # text: preset.compare.<id> (name), why.compare.<id> (reason)
    shared: dict             # flat fields every config shares (on top of the schema's defaults)
    variants: tuple          # per config: flat ``PER_VARIANT`` fields
    measured: dict = field(default_factory=dict)  # figures its reason quotes (``why.compare.<id>``), from ``bench --defaults``

    def flats(self) -> list[dict]:
        """Each config's flat fields: shared, then its own."""
        return [{**self.shared, **v} for v in self.variants]


COMPARE_PRESETS = {p.id: p for p in [
    ComparePreset("post-pre-stall", {"layers": 8, "steps": 300},
                  ({"norm_position": "post", "lr": 1e-2}, {"norm_position": "pre", "lr": 1e-2}),
                  measured={"held": 5, "seconds": 30}),
    ComparePreset("warmup-rescue", {"layers": 6, "steps": 300, "task": "reverse", "d_model": 32, "d_ff": 64,
                                    "batch_size": 16},  # lesson 3's model and task
                  ({"norm_position": "post", "lr": 1e-2, "warmup": 0},
                   {"norm_position": "post", "lr": 1e-2, "warmup": 150})),
    ComparePreset("layernorm-rmsnorm", {"steps": 300},
                  ({"norm_position": "pre", "norm": "layernorm"}, {"norm_position": "pre", "norm": "rmsnorm"})),
]}
DEFAULT_COMPARE = "post-pre-stall"
