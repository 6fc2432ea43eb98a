"""``python -m resnorm bench --charts``: what one live chart costs the server, build and serialise.

Every refresh of a Live page builds the visible figures and serialises each to JSON for the browser
(Streamlit calls ``plotly.io.to_json(fig, validate=False)``, which uses ``orjson`` when it is
installed, else the standard library's ``json``). Both steps run in the server's one interpreter,
so their milliseconds are what other sessions wait for.

The data: a short real run of the default config with every probe recorded every step, each series
then stretched to ``points`` points (values repeated, steps 1…points) — the shape of a long run,
without training one. Medians over ``repeats`` of: building each figure, and serialising it with
each available JSON engine.
"""
from __future__ import annotations

import importlib.util
import statistics
import time

import numpy as np
import plotly.io as pio

from . import figures as F
from .config import RunConfig
from .trainer import Trainer


def engines() -> list[str]:
    """The JSON engines plotly can use here: ``json`` always, ``orjson`` when installed."""
    return ["json"] + (["orjson"] if importlib.util.find_spec("orjson") else [])


def long_series(points: int, seed: int = 0):
    """The default run's metric series, each stretched to ``points`` points, plus its last attention
    snapshot, markers and config."""
    cfg = RunConfig.from_flat({"steps": 30, "probe_every": 1, "eval_every": 10, "attention_every": 10,
                               "seed": seed, "device": "cpu"})
    tr = Trainer(cfg, on_step=None)
    tr.run()
    steps = np.arange(1, points + 1, dtype=np.int64)
    series = {name: (steps, np.resize(v, points).astype(np.float64))
              for name, (_, v) in tr.store.all_series().items() if len(v)}
    return series, tr.store.attention()[-1], cfg


def live_figures(series, snap, cfg) -> dict:
    """name → zero-argument builder, one per chart of the Live page's views."""
    layer = F.attention_layers(snap)[0]
    return {
        "loss": lambda: F.loss_figure(series),
        "residual heatmap": lambda: F.resid_heatmap(series),
        "depth profile": lambda: F.depth_profile(series),
        "gradients": lambda: F.grad_figure(series, grad_clip=cfg.train.grad_clip),
        "ratios": lambda: F.ratio_figure(series),
        "attention (all heads)": lambda: F.attention_figure(snap, layer),
        "attention entropy": lambda: F.entropy_figure(series, layer),
        "rank": lambda: F.rank_figure(series),
    }


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def measure(points: int = 2000, repeats: int = 15) -> dict:
    """{chart: {"build": ms, "<engine>": ms, ...}} plus the JSON size in kB, medians of ``repeats``."""
    series, snap, cfg = long_series(points)
    out = {}
    for name, build in live_figures(series, snap, cfg).items():
        fig = build()
        row = {"build": _median_ms(build, repeats)}
        for engine in engines():
            row[engine] = _median_ms(lambda: pio.to_json(fig, validate=False, engine=engine), repeats)
        row["kB"] = len(pio.to_json(fig, validate=False, engine="json")) / 1000
        out[name] = row
    return out


def table(results: dict) -> str:
    eng = engines()
    head = "| chart | build ms | " + " | ".join(f"serialise ms ({e})" for e in eng) + " | JSON kB |"
    lines = [head, "|---|---:|" + "---:|" * len(eng) + "---:|"]
    for name, row in results.items():
        lines.append(f"| {name} | {row['build']:.1f} | " + " | ".join(f"{row[e]:.2f}" for e in eng)
                     + f" | {row['kB']:.0f} |")
    return "\n".join(lines)
