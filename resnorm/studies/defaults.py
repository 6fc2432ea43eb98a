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

PER_VARIANT = ("norm_position", "norm", "residual", "init", "lr", "warmup",  # Compare: set per column
               # issue 18: the 2025-26 options a comparison sets per column (toggles and numbers)
               "qk_norm", "logit_softcap", "attn_gate", "z_loss", "dyt_alpha", "residual_alpha", "streams",
               "mixln_alpha")

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


# issue 18 presets: QK-norm at a learning rate where the attention logits of a plain block grow (lesson 8's
# model); an 8-block stack for the gradient profiles over depth and the angular distance between blocks
QK_SHARED = {"layers": 4, "steps": 300, "task": "reverse", "d_model": 32, "d_ff": 64, "batch_size": 16}
QK_LR = 1e-1
DEPTH_SHARED = {"layers": 8, "steps": 300, "task": "reverse", "d_model": 32, "d_ff": 64, "batch_size": 16}

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
    # ---- issue 18: the 2025-26 variants, each with the diagnostic that shows its point. Figures measured
    # ---- with ``Comparison`` at these settings on 2 CPU cores (BENCHMARKS.md, "Compare presets, issue 18")
    ComparePreset("qk-norm-high-lr", QK_SHARED,
                  ({"lr": QK_LR, "qk_norm": False}, {"lr": QK_LR, "qk_norm": True}),
                  measured={"logit0": 5.2, "logit_plain": 38294, "logit_qk": 29.2, "loss_plain": 2.31,
                            "loss_qk": 0.0001, "held": 3, "seeds": 3, "seconds": 10}),
    ComparePreset("pre-peri-mix", DEPTH_SHARED,
                  ({"norm_position": "pre"}, {"norm_position": "sandwich"}, {"norm_position": "mixln"}),
                  measured={"deep_mix_lo": 2.2, "deep_mix_hi": 2.4, "deep_peri_lo": 0.8, "deep_peri_hi": 2.6,
                            "loss_lo": 0.012, "loss_hi": 0.021, "seeds": 2, "seconds": 41}),
    ComparePreset("hyper-vs-pre", DEPTH_SHARED,
                  ({"residual": "on"}, {"residual": "hyper"}, {"residual": "mhc"}),
                  measured={"ang_pre": 0.118, "ang_hyper": 0.146, "ang_mhc": 0.118, "loss_pre": 0.012,
                            "loss_hyper": 0.0086, "loss_mhc": 0.012, "seeds": 2, "seconds": 40}),
]}
DEFAULT_COMPARE = "post-pre-stall"
