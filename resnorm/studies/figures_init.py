"""Plotly builders for the "At initialisation" view: pure functions from the frames of
``resnorm.studies.signal`` to figures (no Streamlit, no I/O).

Every figure overlays one to four configs, one colour per config (``CONFIG_COLORS``). For each
config a solid median line over seeds, and the seed spread (min–max, or mean ± std) as a filled
band in the same colour at low opacity. All traces of a config share ``legendgroup`` = its label,
so one legend click hides the config with its band; band traces are named ``"<label> · seed band"``
and carry ``meta={"role": "band"}``, median lines ``meta={"role": "median"}``.
Encoder-decoder stacks are drawn dotted (encoder) and solid (decoder). Non-finite values become
gaps, and values ≤ 0 are gaps on a log axis.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import _layout as figures_layout
from ..i18n import EN, Labels
from .signal import METRICS, STACK_ORDER, band

CONFIG_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
STACK_DASH = {"blocks": None, "dec": None, "enc": "dot"}
BANDS = ("minmax", "std")

#: y-axis title and default log scale per metric
AXES = {
    "resid_ms": ("mean square E[x²]", True),
    "grad_norm": ("‖∇θ‖ of the block", True),
    "attn.grad_norm": ("‖∇θ‖ attention", True),
    "cross_attn.grad_norm": ("‖∇θ‖ cross-attention", True),
    "mlp.grad_norm": ("‖∇θ‖ MLP", True),
    "attn_out.change": ("‖x_out − x_in‖/‖x_in‖", True),
    "cross_attn_out.change": ("‖x_out − x_in‖/‖x_in‖", True),
    "mlp_out.change": ("‖x_out − x_in‖/‖x_in‖", True),
    "attn_out.ratio": ("‖F(x)‖/‖x‖", True),
    "cross_attn_out.ratio": ("‖F(x)‖/‖x‖", True),
    "mlp_out.ratio": ("‖F(x)‖/‖x‖", True),
    "rank_residual": ("‖X − 1x̄ᵀ‖/‖X‖", False),
    "rank_residual_l1inf": ("‖X − 1x̄ᵀ‖₁,∞/‖X‖₁,∞", False),
    "attn.entropy": ("entropy (nats)", False),
    "first.grad_norm": ("‖∇θ‖ first block", True),
    "last.grad_norm": ("‖∇θ‖ last block", True),
    "last_over_first.grad_norm": ("‖∇θ‖ last / first", True),
    "last.resid_ms": ("mean square E[x²], last block", True),
}


def config_color(i: int) -> str:
    return CONFIG_COLORS[i % len(CONFIG_COLORS)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[k:k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _clean(values, log_y: bool) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v) | ((v <= 0) if log_y else False)
    return np.where(bad, np.nan, v)


def _band_polygon(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[list, list]:
    """Closed outlines (upper edge forward, lower edge back) of each run of finite points, joined
    by ``None`` so that ``fill="toself"`` fills every run on its own and leaves gaps empty."""
    ok = np.isfinite(lo) & np.isfinite(hi)
    xs: list = []
    ys: list = []
    start = None
    for i in range(len(x) + 1):
        if i < len(x) and ok[i]:
            start = i if start is None else start
            continue
        if start is not None:
            seg = slice(start, i)
            if xs:
                xs.append(None)
                ys.append(None)
            xs += list(x[seg]) + list(x[seg][::-1])
            ys += list(hi[seg]) + list(lo[seg][::-1])
            start = None
    return xs, ys


def _add_config(fig: go.Figure, stats: pd.DataFrame, x: str, label: str, color: str, *, log_y: bool,
                band_kind: str, dash=None, name: str | None = None, showlegend: bool = True, row=None, col=None,
                stack: str = "", labels: Labels = EN) -> None:
    """Median line and seed band of one config (one stack, one metric) from ``band`` statistics."""
    stats = stats.sort_values(x)
    xv = stats[x].to_numpy()
    med = _clean(stats["median"], log_y)
    if band_kind == "std":
        lo, hi = stats["mean"] - stats["std"], stats["mean"] + stats["std"]
    else:
        lo, hi = stats["min"], stats["max"]
    lo, hi = _clean(lo, log_y), _clean(hi, log_y)
    kw = dict(row=row, col=col) if row is not None else {}
    name = label if name is None else name
    n = stats["n"].to_numpy()
    if np.nanmax(n, initial=0) > 1:
        bx, by = _band_polygon(xv, lo, hi)
        if bx:
            fig.add_trace(go.Scatter(x=bx, y=by, mode="lines", fill="toself", fillcolor=_rgba(color, 0.18),
                                     line=dict(width=0, color=_rgba(color, 0.0)), hoverinfo="skip",
                                     name=labels("fig.t.seed_band", label=name), legendgroup=label, showlegend=False,
                                     meta={"role": "band", "config": label, "stack": stack}), **kw)
    custom = np.stack([_clean(lo, False), _clean(hi, False), n], axis=-1)
    fig.add_trace(go.Scatter(x=xv, y=med, mode="lines+markers", name=name, legendgroup=label,
                             showlegend=showlegend, line=dict(color=color, width=2, dash=dash),
                             marker=dict(size=5, color=color), customdata=custom,
                             meta={"role": "median", "config": label, "stack": stack},
                             hovertemplate=f"{name}<br>{x} %{{x}}<br>median %{{y:.4g}}"
                                           "<br>seed range %{customdata[0]:.4g} – %{customdata[1]:.4g}"
                                           " (n=%{customdata[2]})<extra></extra>"), **kw)


def _layout(fig: go.Figure, title: str, uirevision: str, height: int, labels: Labels = EN) -> go.Figure:
    return figures_layout(fig, title, uirevision, height, hovermode="closest", labels=labels)  # the one layout (figures.py)


def _empty_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(color="#888"))


def _stacks(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["stack"].unique(), key=lambda s: STACK_ORDER.get(s, 9)) if not frame.empty else []


def profile_figure(profiles: Mapping[str, pd.DataFrame], metric: str, *, title: str | None = None,
                   log_y: bool | None = None, band_kind: str = "minmax", uirevision: str | None = None,
                   height: int = 340, labels: Labels = EN) -> go.Figure:
    """``metric`` against block index for each config: ``profiles`` maps a config label to its
    ``depth_profile`` frame (columns seed, layer, stack, metric, value). ``labels``: the chart's words
    in one language (``resnorm.i18n.Labels``; English by default)."""
    y_title, default_log = AXES.get(metric, (metric, False))
    log_y = default_log if log_y is None else log_y
    fig = go.Figure()
    drawn = 0
    for i, (label, frame) in enumerate(profiles.items()):
        part = frame[frame["metric"] == metric]
        stacks = _stacks(part)
        for k, stack in enumerate(stacks):
            stats = band(part[part["stack"] == stack], "layer")
            name = f"{label} · {stack}" if len(stacks) > 1 else label
            _add_config(fig, stats, "layer", label, config_color(i), log_y=log_y, band_kind=band_kind,
                        dash=STACK_DASH.get(stack), name=name, stack=stack, labels=labels)
            drawn += 1
    if not drawn:
        _empty_note(fig, labels("fig.t.no_metric", metric=metric))
    fig.update_xaxes(title_text=labels.word("layer (block index, 0 = nearest the input)"), rangemode="tozero")
    fig.update_yaxes(title_text=labels.word(y_title), type="log" if log_y else "linear",
                     **({"rangemode": "tozero"} if not log_y else {}))
    return _layout(fig, title or METRICS.get(metric, (metric, metric))[1], uirevision or f"init-{metric}", height, labels=labels)


def output_stack(frame: pd.DataFrame) -> str:
    """The stack next to the output head: ``dec`` for encoder-decoder, else ``blocks``."""
    stacks = _stacks(frame)
    return stacks[-1] if stacks else "blocks"


def depth_figure(summaries: Mapping[str, pd.DataFrame], *, band_kind: str = "minmax", log_x: bool = True,
                 uirevision: str = "init-depth", height: int = 380, labels: Labels = EN) -> go.Figure:
    """Against depth, per config (``summaries`` maps a label to ``depth_summary`` of its sweep), for
    the stack next to the output: left, the gradient norm of the last block (solid) and of the first
    block (dotted); right, the residual-stream mean square after the last block. Log-log by default
    (power laws in L, such as Pre-LN's ~L growth or ~1/√L last-block gradient, are straight lines);
    the depths are the x ticks."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.09,
                        subplot_titles=[labels.word("gradient norm of the last (solid) and first (dotted) block"),
                                        labels.word("residual mean square after the last block")])
    drawn = 0
    for i, (label, summary) in enumerate(summaries.items()):
        if summary.empty:
            continue
        stack = output_stack(summary)
        part = summary[summary["stack"] == stack]
        color = config_color(i)
        first = labels("fig.t.first_block", label=label)
        panels = [("last.grad_norm", 1, None, label, True), ("first.grad_norm", 1, "dot", first, False),
                  ("last.resid_ms", 2, None, label, False)]
        for metric, col, dash, name, legend in panels:
            stats = band(part[part["metric"] == metric], "depth")
            if stats.empty:
                continue
            _add_config(fig, stats, "depth", label, color, log_y=True, band_kind=band_kind, dash=dash,
                        name=name, showlegend=legend, row=1, col=col, stack=stack, labels=labels)
            drawn += 1
    if not drawn:
        _empty_note(fig, labels.word("no depth sweep yet"))
    depths = sorted({int(d) for summary in summaries.values() if not summary.empty for d in summary["depth"]})
    fig.update_xaxes(title_text=labels.word("depth L (blocks)"), type="log" if log_x else "linear",
                     **({"tickmode": "array", "tickvals": depths} if log_x and depths else {}))
    fig.update_yaxes(type="log")
    fig.update_yaxes(title_text="‖∇θ‖", row=1, col=1)
    fig.update_yaxes(title_text="E[x²]", row=1, col=2)
    fig = _layout(fig, labels.word("Gradient norm and residual mean square against depth"), uirevision, height, labels=labels)
    return fig


def band_traces(fig: go.Figure) -> list:
    """The seed-band traces of a figure built here."""
    return [t for t in fig.data if isinstance(t.meta, dict) and t.meta.get("role") == "band"]


def median_traces(fig: go.Figure) -> list:
    return [t for t in fig.data if isinstance(t.meta, dict) and t.meta.get("role") == "median"]


def theorem1_figure(frame: pd.DataFrame, *, band_kind: str = "minmax", uirevision: str = "init-theorem1",
                    height: int = 360, labels: Labels = EN) -> go.Figure:
    """Xiong et al. 2020, Theorem 1 (``resnorm.studies.signal.theorem1_sweep``): the last block's gradient norm
    against the total depth L, log-log, Post-LN and Pre-LN as measured (median and seed band), with the
    theorem's shapes as dashed grey references through each curve's first point: flat for Post-LN,
    ∝ L^-½ for Pre-LN."""
    fig = go.Figure()
    names = {p: labels.choice("norm_position", p) for p in ("post", "pre")}
    for i, position in enumerate(("post", "pre")):
        part = frame[frame["position"] == position]
        if part.empty:
            continue
        stats = band(part.assign(stack="blocks", metric="last.grad_norm"), "depth").sort_values("depth")
        _add_config(fig, stats, "depth", names[position], config_color(i), log_y=True, band_kind=band_kind,
                    labels=labels)
        L, first = stats["depth"].to_numpy(float), float(stats["median"].iloc[0])
        ref = np.full(len(L), first) if position == "post" else first * (L / L[0]) ** -0.5
        fig.add_trace(go.Scatter(x=L, y=ref, mode="lines", line=dict(color="#888", dash="dash", width=1),
                                 name=labels.word("flat (Theorem 1, Post-LN)" if position == "post"
                                                  else "∝ L^-½ (Theorem 1, Pre-LN)"), meta={"role": "reference"}))
    if not len(fig.data):
        _empty_note(fig, labels.word("no depth sweep yet"))
    depths = sorted({int(d) for d in frame["depth"]}) if not frame.empty else []
    fig.update_xaxes(title_text=labels.word("depth L (blocks)"), type="log",
                     **({"tickmode": "array", "tickvals": depths} if depths else {}))
    fig.update_yaxes(title_text=labels.word("‖∇θ‖ of the last block"), type="log")
    return _layout(fig, labels.word("Last block's gradient norm against total depth (Xiong et al. 2020, Theorem 1)"),
                   uirevision, height, labels=labels)
