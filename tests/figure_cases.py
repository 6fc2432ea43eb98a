"""Every chart of ``resnorm.figures`` on fixed synthetic data, for the test that checks each one
still renders exactly as the Plotly object-model builders drew it (``test_figures.py``).

``data/figures_golden.json`` holds each case's figure as Plotly's JSON (``layout.template`` left
out: it is the stock ``plotly_white``, checked separately). It was written by the builders as they
were before issue 16 (``go.Figure`` / ``make_subplots``, validated): ``python3 tests/figure_cases.py
--write`` rewrites it from the current builders — do that only when a chart changes on purpose.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "data" / "figures_golden.json"


class Marker:
    def __init__(self, step, kind):
        self.step, self.kind, self.text = step, kind, kind


class Snapshot:
    def __init__(self, step, maps, labels):
        self.step, self.maps, self.labels = step, maps, labels


def series(layers: int = 3, heads: int = 2, points: int = 40, seed: int = 0, mlp: bool = True):
    """A metric series of every kind the charts read, with a non-finite value or two."""
    rng = np.random.default_rng(seed)
    steps = np.arange(1, points + 1, dtype=np.int64)
    out = {}

    def put(name, values):
        out[name] = (steps.copy(), np.asarray(values, dtype=np.float64))

    put("train/loss", 3 * np.exp(-steps / 15) + 0.1 * rng.random(points))
    put("train/accuracy", np.clip(steps / points + 0.05 * rng.random(points), 0, 1))
    out["val/loss"] = (steps[::10].copy(), 3 * np.exp(-steps[::10] / 15))
    out["val/accuracy"] = (steps[::10].copy(), steps[::10] / points)
    put("lr", np.minimum(steps / 10, 1) * 1e-3)
    put("grad/total_norm", 1 + rng.random(points))
    for i in range(layers):
        p = f"blocks.{i}"
        put(f"{p}.resid_post.rms", (i + 1) * (1 + steps / points))
        put(f"{p}.attn.grad_norm", rng.random(points) + i)
        put(f"{p}.attn_out.ratio", rng.random(points) + 0.1)
        if mlp:
            put(f"{p}.mlp.grad_norm", rng.random(points) + 2 * i)
            put(f"{p}.mlp_out.ratio", rng.random(points) + 0.2)
        put(f"{p}.update_ratio", 1e-3 * (1 + rng.random(points)))
        put(f"{p}.rank_residual", np.exp(-steps / (10 * (i + 1))))
        for h in range(heads):
            put(f"{p}.attn.head{h}.entropy", np.log(8) * (1 - steps / (2 * points)) + 0.01 * h)
        put(f"{p}.attn.entropy", np.log(8) * (1 - steps / (2 * points)))
    out["train/loss"][1][5] = np.inf  # a gap
    out["blocks.1.attn.grad_norm"][1][7] = np.nan
    return out


def snapshot(heads: int = 2, n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    maps = {}
    for layer in ("blocks.0.attn", "blocks.1.attn"):
        a = rng.random((heads, n, n))
        maps[layer] = a / a.sum(-1, keepdims=True)
    tokens = list("ab c\n")[:n]
    return Snapshot(30, maps, {layer: (tokens, tokens) for layer in maps})


def cases() -> dict:
    """case name → zero-argument builder."""
    from resnorm import figures as F

    s, s2, snap = series(), series(layers=2, seed=1, mlp=False), snapshot()
    marks = [Marker(12, "diverged")]
    runs = [("A", s, ()), ("B", s2, ())]
    return {
        "loss": lambda: F.loss_figure(s, uirevision="r1loss"),
        "loss log, marker": lambda: F.loss_figure(s, log_y=True, markers=marks),
        "loss, one point": lambda: F.loss_figure({k: (v[0][:1], v[1][:1]) for k, v in s.items()}),
        "loss, empty": lambda: F.loss_figure({}),
        "resid heatmap": lambda: F.resid_heatmap(s, markers=marks),
        "resid heatmap, empty": lambda: F.resid_heatmap({}),
        "depth profile": lambda: F.depth_profile(s, ("resid_post.rms",), title="RMS", y_title="rms"),
        "depth profile, two metrics": lambda: F.depth_profile(s, ("resid_post.rms", "attn.grad_norm"), log_y=True),
        "gradients": lambda: F.grad_figure(s, grad_clip=1.0, markers=marks),
        "gradients, no mlp, no clip": lambda: F.grad_figure(s2, log_y=False),
        "ratios": lambda: F.ratio_figure(s, markers=marks),
        "ratios, no mlp": lambda: F.ratio_figure(s2),
        "attention, all heads": lambda: F.attention_figure(snap, "blocks.1.attn"),
        "attention, one head": lambda: F.attention_figure(snap, "blocks.0.attn", head=1),
        "attention, none yet": lambda: F.attention_figure(None, "blocks.0.attn"),
        "attention, five heads": lambda: F.attention_figure(snapshot(heads=5), "blocks.0.attn"),
        "entropy": lambda: F.entropy_figure(s, "blocks.1.attn", markers=marks),
        "rank": lambda: F.rank_figure(s, markers=marks),
        "overlay": lambda: F.overlay_figure(runs, "train/loss", title="loss", log_y=True),
        "profiles": lambda: F.profiles_side_by_side(runs, "grad_norm", title="grad"),
        "difference": lambda: F.difference_figure("A", s, "B", s2),
        "difference, same depth": lambda: F.difference_figure("A", s, "B", series(seed=2)),
    }


def plotly_json(fig) -> dict:
    """A figure (a Plotly object or a ``resnorm.figures.Fig``) as the browser receives it, decoded."""
    import plotly.io as pio

    return json.loads(pio.to_json(fig.to_dict(), validate=False, engine="json"))


def write() -> None:
    out = {}
    for name, build in cases().items():
        spec = plotly_json(build())
        spec["layout"].pop("template", None)
        out[name] = spec
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(__doc__)
