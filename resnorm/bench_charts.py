"""``python -m resnorm bench --charts``: what one live chart costs the server, build and serialise.

Every refresh of a Live page whose run moved builds the visible figures and serialises each to JSON
for the browser. Both steps run in the server's one interpreter, so their milliseconds are what
other sessions wait for. Two routes, measured side by side on the same figures:

- **dict** (what the page does, ``ui.live.chart``): the builder emits a plain dict
  (``resnorm.figures.Fig``), ``prebuilt`` fixes its final form once (numpy arrays as typed
  arrays), and ``st.plotly_chart`` takes it through ``plotly.tools.return_figure_from_figure_or_data``
  and ``plotly.io.to_json(…, validate=False)`` (``orjson`` when installed, else ``json``);
- **validated** (the Plotly object model, what every chart cost before the dict builders):
  the same figure validated into a ``go.Figure``, then the same two Streamlit calls — there
  ``to_dict()`` deep-copies the figure before serialising.

Columns: ``dict build`` (the builder), ``dict total <engine>`` (build + prebuilt + Streamlit's two
calls), ``validated total <engine>`` (validation + Streamlit's two calls, the build of the dict not
counted), and the JSON size. The total of the engine Streamlit picks is the figure's cost per
refresh.

The data: a short real run of the default config with every probe recorded every step, each series
then stretched to ``points`` points (values repeated, steps 1…points) — the shape of a long run,
without training one. Medians over ``repeats``, the routes interleaved.
"""
from __future__ import annotations

import importlib.util
import statistics
import time

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import plotly.tools

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


def _send(fig, engine: str) -> str:
    """What ``st.plotly_chart`` does with a figure before it leaves the interpreter."""
    spec = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    return pio.to_json(spec, validate=False, engine=engine)


def dict_route(build, engine: str) -> str:
    return _send(F.prebuilt(build()), engine)


def validated_route(fig, engine: str) -> str:
    return _send(go.Figure(fig.to_dict()), engine)


def measure(points: int = 2000, repeats: int = 15) -> dict:
    """{chart: {"dict build": ms, "dict <engine>": ms, "validated <engine>": ms, "kB": size}},
    medians of ``repeats`` with the routes interleaved in each repeat."""
    series, snap, cfg = long_series(points)
    out = {}
    for name, build in live_figures(series, snap, cfg).items():
        fig = build()
        cases = {"dict build": build}
        for engine in engines():
            cases[f"dict {engine}"] = lambda e=engine: dict_route(build, e)
            cases[f"validated {engine}"] = lambda e=engine: validated_route(fig, e)
        times = {case: [] for case in cases}
        for _ in range(repeats):
            for case, fn in cases.items():
                times[case].append(_median_ms(fn, 1))
        row = {case: statistics.median(v) for case, v in times.items()}
        row["kB"] = len(dict_route(build, "json")) / 1000
        out[name] = row
    return out


def table(results: dict) -> str:
    eng = engines()
    head = ("| chart | dict build ms | " + " | ".join(f"dict total ms ({e})" for e in eng) + " | "
            + " | ".join(f"validated total ms ({e})" for e in eng) + " | JSON kB |")
    lines = [head, "|---|---:|" + "---:|" * (2 * len(eng)) + "---:|"]
    rows = list(results.items())
    for name, row in rows:
        lines.append(f"| {name} | {row['dict build']:.2f} | " + " | ".join(f"{row['dict ' + e]:.2f}" for e in eng)
                     + " | " + " | ".join(f"{row['validated ' + e]:.1f}" for e in eng) + f" | {row['kB']:.0f} |")
    med = {k: statistics.median(r[k] for _, r in rows) for k in rows[0][1]}
    lines.append("| **median chart** | " + f"{med['dict build']:.2f} | "
                 + " | ".join(f"**{med['dict ' + e]:.2f}**" for e in eng) + " | "
                 + " | ".join(f"{med['validated ' + e]:.1f}" for e in eng) + f" | {med['kB']:.0f} |")
    return "\n".join(lines)
