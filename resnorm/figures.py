"""Plotly figure builders: pure functions from metric series to figures (no Streamlit, no I/O).

Input is ``series``: ``{metric name: (steps, values)}`` as numpy arrays (``MetricStore.all_series``
or ``series_from_frame`` of a long frame). Conventions shared by every chart:

- one colour per layer everywhere (``layer_colors``), light at the input, dark at the output;
- at most ``MAX_POINTS`` points per trace (evenly thinned, the newest kept);
- non-finite values become gaps, never errors;
- every marker (e.g. divergence) is a dashed vertical line on every step axis;
- ``uirevision`` is the caller's key, so zoom and legend choices survive live refreshes.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from . import names

MAX_POINTS = 1000
COLORSCALE = "Viridis"

Series = dict[str, tuple[np.ndarray, np.ndarray]]


def series_from_frame(df: pd.DataFrame) -> Series:
    """Long frame (step, name, value) → {name: (steps, values)} sorted by step."""
    out: Series = {}
    for name, part in df.groupby("name", sort=False):
        part = part.sort_values("step")
        out[str(name)] = (part["step"].to_numpy(np.int64), part["value"].to_numpy(np.float64))
    return out


def block_prefixes(series: Series) -> list[str]:
    """Block names present in the metrics, in forward order (``resnorm.names``)."""
    return names.block_prefixes(series)


def layer_colors(n: int) -> list[str]:
    if n <= 1:
        return sample_colorscale(COLORSCALE, [0.35])
    return sample_colorscale(COLORSCALE, [0.9 * i / (n - 1) for i in range(n)])


short = names.short  # blocks.3 → L3; enc.blocks.1 → enc L1


def thin(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS):
    """At most ``max_points`` evenly spaced points (first and last kept); ±inf → NaN (a gap)."""
    values = np.where(np.isfinite(values), values, np.nan)
    if len(steps) > max_points:
        idx = np.unique(np.linspace(0, len(steps) - 1, max_points).round().astype(int))
        steps, values = steps[idx], values[idx]
    return steps, values


def _get(series: Series, name: str):
    return series.get(name, (np.zeros(0, np.int64), np.zeros(0)))


def _mark(fig: go.Figure, markers, **where) -> None:
    for m in markers or ():
        fig.add_vline(x=m.step, line=dict(color="#d62728", dash="dash", width=1.5), **where)
        fig.add_annotation(x=m.step, y=1, yref="paper", text=f"{m.kind} @ {m.step}", showarrow=False,
                           font=dict(color="#d62728", size=11), xanchor="left", yanchor="bottom")


def _layout(fig: go.Figure, title: str, uirevision: str, height: int = 320) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=height, uirevision=uirevision,
                      margin=dict(l=50, r=20, t=40, b=40), legend=dict(font=dict(size=10)),
                      template="plotly_white", hovermode="x unified")
    return fig


def _lines(fig, series, prefixes, metric, colors, *, row=None, col=None, dash=None, showlegend=True,
           legendgroup_suffix=""):
    for p, c in zip(prefixes, colors):
        s, v = thin(*_get(series, f"{p}.{metric}"))
        if len(s) == 0:
            continue
        kw = dict(row=row, col=col) if row is not None else {}
        fig.add_trace(go.Scatter(x=s, y=v, mode="lines", name=short(p), line=dict(color=c, width=1.6, dash=dash),
                                 legendgroup=p + legendgroup_suffix, showlegend=showlegend), **kw)


# ---- 1. loss, accuracy, learning rate ----------------------------------------------------------
def loss_figure(series: Series, *, log_y: bool = False, markers=(), uirevision: str = "loss") -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06,
                        specs=[[{"secondary_y": True}], [{}]])
    styles = {"train/loss": ("#1f77b4", None), "val/loss": ("#ff7f0e", None),
              "train/accuracy": ("#1f77b4", "dot"), "val/accuracy": ("#ff7f0e", "dot")}
    for name, (color, dash) in styles.items():
        s, v = thin(*_get(series, name))
        if len(s):
            fig.add_trace(go.Scatter(x=s, y=v, name=name, mode="lines" if len(s) > 1 else "markers",
                                     line=dict(color=color, dash=dash)),
                          row=1, col=1, secondary_y="accuracy" in name)
    s, v = thin(*_get(series, "lr"))
    if len(s):
        fig.add_trace(go.Scatter(x=s, y=v, name="learning rate", line=dict(color="#7f7f7f")), row=2, col=1)
    fig.update_yaxes(title_text="loss", type="log" if log_y else "linear", row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickmode="array", tickvals=[0, 0.25, 0.5, 0.75, 1],
                     tickformat=".0%", row=1, col=1, secondary_y=True, showgrid=False)
    lr_max = float(np.nanmax(v)) if len(s) and np.isfinite(v).any() else 1.0
    fig.update_yaxes(title_text="lr", row=2, col=1, exponentformat="e", range=[0, 1.15 * lr_max or 1.0])
    fig.update_xaxes(title_text="step", row=2, col=1)
    _mark(fig, markers)
    return _layout(fig, "Loss and accuracy (train, validation), learning rate", uirevision, height=420)


# ---- 2. residual stream --------------------------------------------------------------------------
def resid_heatmap(series: Series, *, metric: str = "resid_post.rms", markers=(), uirevision: str = "resid") -> go.Figure:
    """Layer × step heatmap of a per-layer metric (default: residual-stream RMS), log10 colour scale."""
    prefixes = block_prefixes(series)
    rows = [_get(series, f"{p}.{metric}") for p in prefixes]
    fig = go.Figure()
    if rows and len(rows[0][0]):
        steps = rows[0][0]
        z = np.full((len(prefixes), len(steps)), np.nan)
        for i, (s, v) in enumerate(rows):
            n = min(len(s), len(steps))
            z[i, :n] = v[:n]
        steps_t, _ = thin(steps, steps.astype(float), 400)
        keep = np.searchsorted(steps, steps_t)
        z = z[:, keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            logz = np.where(np.isfinite(z) & (z > 0), np.log10(np.where(z > 0, z, 1)), np.nan)
        fig.add_trace(go.Heatmap(x=steps_t, y=[short(p) for p in prefixes], z=logz, customdata=z,
                                 colorscale=COLORSCALE, colorbar=dict(title="log₁₀"),
                                 hovertemplate="step %{x}<br>%{y}<br>value %{customdata:.4g}<extra></extra>"))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="layer", autorange="reversed")
    _mark(fig, markers)
    fig = _layout(fig, f"Residual stream {metric.split('.')[-1].upper()} per layer over training", uirevision)
    fig.update_layout(hovermode="closest")
    return fig


def depth_profile(series: Series, metrics=("resid_post.rms",), *, title: str = "Depth profile",
                  y_title: str = "", log_y: bool = False, uirevision: str = "depth") -> go.Figure:
    """Value per layer (x = layer) at the latest recorded step, with the first step in grey."""
    prefixes = block_prefixes(series)
    fig = go.Figure()
    dashes = [None, "dot", "dash"]
    for k, metric in enumerate(metrics):
        first, last, step_first, step_last = [], [], None, None
        for p in prefixes:
            s, v = _get(series, f"{p}.{metric}")
            first.append(v[0] if len(v) else np.nan)
            last.append(v[-1] if len(v) else np.nan)
            if len(s):
                step_first, step_last = s[0], s[-1]
        x = [short(p) for p in prefixes]
        clean = lambda a: np.where(np.isfinite(a), a, np.nan)  # noqa: E731
        label = metric if len(metrics) > 1 else ""
        if step_first is not None and step_first != step_last:
            fig.add_trace(go.Scatter(x=x, y=clean(np.array(first)), name=f"{label} step {step_first}".strip(),
                                     mode="lines+markers", line=dict(color="#b0b0b0", dash=dashes[k % 3])))
        fig.add_trace(go.Scatter(x=x, y=clean(np.array(last)), name=f"{label} step {step_last}".strip(),
                                 mode="lines+markers", line=dict(color="#1f4e99", dash=dashes[k % 3]),
                                 marker=dict(color=layer_colors(len(prefixes)), size=9)))
    fig.update_xaxes(title_text="layer")
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    fig = _layout(fig, title, uirevision)
    fig.update_layout(hovermode="closest")
    return fig


# ---- 3. gradient norms ---------------------------------------------------------------------------
def grad_figure(series: Series, *, grad_clip: float = 0.0, log_y: bool = True, markers=(),
                uirevision: str = "grad") -> go.Figure:
    prefixes = block_prefixes(series)
    colors = layer_colors(len(prefixes))
    subs = [s for s in ("attn", "cross_attn", "mlp") if any(f"{p}.{s}.grad_norm" in series for p in prefixes)]
    titles = [f"{s} weights ‖∇‖ per layer" for s in subs] + ["global ‖∇‖ (before clipping)"]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, shared_yaxes=False,
                        horizontal_spacing=0.06)
    for j, sub in enumerate(subs):
        _lines(fig, series, prefixes, f"{sub}.grad_norm", colors, row=1, col=j + 1, showlegend=j == 0)
    s, v = thin(*_get(series, "grad/total_norm"))
    col = len(titles)
    if len(s):
        fig.add_trace(go.Scatter(x=s, y=v, name="global norm", line=dict(color="#444")), row=1, col=col)
        if grad_clip > 0:
            fig.add_trace(go.Scatter(x=[s[0], s[-1]], y=[grad_clip, grad_clip], name=f"clip = {grad_clip:g}",
                                     mode="lines", line=dict(color="#d62728", dash="dot")), row=1, col=col)
    fig.update_yaxes(type="log" if log_y else "linear")
    fig.update_xaxes(title_text="step")
    _mark(fig, markers)
    return _layout(fig, "Gradient norm per layer", uirevision, height=340)


# ---- 4. branch/stream and update ratios ---------------------------------------------------------
def ratio_figure(series: Series, *, markers=(), uirevision: str = "ratio") -> go.Figure:
    """How much each sublayer changes the stream, ‖x_out − x_in‖/‖x_in‖ (``{sub}_out.change``), and
    the update ratio per layer. Runs saved before that metric existed show the raw branch ratio
    ‖F‖/‖x‖ (``{sub}_out.ratio``) instead, titled as what it is."""
    prefixes = block_prefixes(series)
    colors = layer_colors(len(prefixes))
    subs, titles = [], []
    for s in ("attn", "cross_attn", "mlp"):
        for metric, title in ((f"{s}_out.change", f"stream change ‖x_out − x_in‖/‖x_in‖, {s}"),
                              (f"{s}_out.ratio", f"raw branch ‖F‖/‖x‖ (before gate, scale, N_out), {s}")):
            if any(f"{p}.{metric}" in series for p in prefixes):
                subs.append(metric)
                titles.append(title)
                break
    titles.append("update ratio ‖Δθ‖/‖θ‖")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.06)
    for j, metric in enumerate(subs):
        _lines(fig, series, prefixes, metric, colors, row=1, col=j + 1, showlegend=j == 0)
    _lines(fig, series, prefixes, "update_ratio", colors, row=1, col=len(titles), showlegend=not subs)
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text="step")
    _mark(fig, markers)
    return _layout(fig, "Stream change per sublayer and update ratio per layer", uirevision, height=340)


# ---- 5. attention ------------------------------------------------------------------------------
def attention_figure(snapshot, layer: str, head: int | None = None, *, uirevision: str = "attn") -> go.Figure:
    """One head's map, or all heads of ``layer`` as small multiples; probe tokens on the axes."""
    maps = snapshot.maps[layer] if snapshot is not None and layer in snapshot.maps else None
    if maps is None:
        fig = go.Figure()
        fig.add_annotation(text="no attention map captured yet", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        return _layout(fig, "Attention", uirevision)
    heads = [head] if head is not None else list(range(maps.shape[0]))
    cols = min(len(heads), 4)
    rows = math.ceil(len(heads) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"head {h}" for h in heads],
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    q_tokens, k_tokens = snapshot.labels[layer]
    q, k = _unique_labels(q_tokens), _unique_labels(k_tokens)
    for n, h in enumerate(heads):
        fig.add_trace(go.Heatmap(z=np.nan_to_num(maps[h], nan=0.0), x=k, y=q, zmin=0, zmax=1,
                                 colorscale="Blues", showscale=n == 0,
                                 hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"),
                      row=n // cols + 1, col=n % cols + 1)
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9))
    fig.update_xaxes(tickfont=dict(size=9), tickangle=0)
    fig = _layout(fig, f"Attention of {layer} at step {snapshot.step} (probe example)", uirevision,
                  height=260 * rows + 60)
    fig.update_layout(hovermode="closest")
    return fig


def _unique_labels(tokens) -> list[str]:
    """Plotly merges equal category labels; prefix each token with its position."""
    return [f"{i}:{'␤' if t == chr(10) else '␠' if t == ' ' else t}" for i, t in enumerate(tokens)]


def entropy_figure(series: Series, layer: str, *, markers=(), uirevision: str = "entropy") -> go.Figure:
    """Attention entropy per head of ``layer`` (e.g. ``blocks.2.attn``) over training, in nats."""
    heads = sorted((b.head, n) for n in series if n.startswith(layer + ".head") and n.endswith(".entropy")
                   and (b := names.parse(n)) is not None and b.head is not None)
    colors = sample_colorscale("Plasma", [0.85 * i / max(len(heads) - 1, 1) for i in range(len(heads))])
    fig = go.Figure()
    for (h, name), c in zip(heads, colors):
        s, v = thin(*series[name])
        fig.add_trace(go.Scatter(x=s, y=v, name=f"head {h}", line=dict(color=c)))
    s, v = thin(*_get(series, f"{layer}.entropy"))
    if len(s):
        fig.add_trace(go.Scatter(x=s, y=v, name="mean", line=dict(color="#222", width=2.5, dash="dot")))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="entropy (nats)", rangemode="tozero")
    _mark(fig, markers)
    return _layout(fig, f"Attention entropy per head, {layer}", uirevision)


# ---- 6. rank residual ----------------------------------------------------------------------------
def rank_figure(series: Series, *, markers=(), uirevision: str = "rank") -> go.Figure:
    prefixes = block_prefixes(series)
    fig = go.Figure()
    _lines(fig, series, prefixes, "rank_residual", layer_colors(len(prefixes)))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="‖X − 1x̄ᵀ‖/‖X‖", type="log")
    _mark(fig, markers)
    return _layout(fig, "Rank residual per layer (→ 0: tokens collapse to one vector)", uirevision)


def attention_layers(snapshot) -> list[str]:
    return list(snapshot.maps) if snapshot is not None else []


# ---- comparisons ---------------------------------------------------------------------------------
CONFIG_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def overlay_figure(runs, name: str, *, title: str, log_y: bool = False, uirevision: str = "overlay") -> go.Figure:
    """One curve per config (``runs``: list of (label, series, markers)), one colour per config;
    each config's events are dashed lines in its colour."""
    fig = go.Figure()
    for k, (label, series, markers) in enumerate(runs):
        color = CONFIG_COLORS[k % len(CONFIG_COLORS)]
        s, v = thin(*_get(series, name))
        if len(s):
            fig.add_trace(go.Scatter(x=s, y=v, name=label, mode="lines" if len(s) > 1 else "markers",
                                     line=dict(color=color, width=2)))
        for m in markers or ():
            fig.add_vline(x=m.step, line=dict(color=color, dash="dash", width=1.2))
            fig.add_annotation(x=m.step, y=1, yref="paper", text=m.kind, showarrow=False, textangle=-90,
                               font=dict(color=color, size=10), xanchor="right", yanchor="top")
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(type="log" if log_y else "linear")
    return _layout(fig, title, uirevision)


def profiles_side_by_side(runs, metric: str, *, title: str, log_y: bool = True,
                          uirevision: str = "profiles") -> go.Figure:
    """Per-layer ``metric`` at the latest step (and the first, in grey), one panel per config."""
    fig = make_subplots(rows=1, cols=len(runs), subplot_titles=[label for label, _, _ in runs], shared_yaxes=True,
                        horizontal_spacing=0.03)
    for k, (label, series, _) in enumerate(runs):
        prefixes = block_prefixes(series)
        x = [short(p) for p in prefixes]
        for which, color, width in ((0, "#b0b0b0", 1.5), (-1, CONFIG_COLORS[k % len(CONFIG_COLORS)], 2.5)):
            y = []
            step = None
            for p in prefixes:
                s, v = _get(series, f"{p}.{metric}")
                y.append(v[which] if len(v) else np.nan)
                step = s[which] if len(s) else step
            y = np.where(np.isfinite(y), y, np.nan)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color=color, width=width),
                                     name=f"{label} step {step}", showlegend=True), row=1, col=k + 1)
    fig.update_yaxes(type="log" if log_y else "linear")
    fig = _layout(fig, title, uirevision, height=300)
    fig.update_layout(hovermode="closest")
    return fig


def difference_figure(label_a: str, series_a, label_b: str, series_b, *, uirevision: str = "diff") -> go.Figure:
    """Left: loss of B minus loss of A over steps. Right: per-layer gradient norm, B − A, latest step."""
    from .compare import difference, layer_profile

    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], subplot_titles=[
        f"train loss, {label_b} − {label_a}", f"gradient norm per layer, {label_b} − {label_a} (latest)"])
    s, d = difference(series_a, series_b, "train/loss")
    s, d = thin(s, d)
    fig.add_trace(go.Scatter(x=s, y=d, name="Δ loss", line=dict(color="#444")), row=1, col=1)
    fig.add_hline(y=0, line=dict(color="#999", width=1), row=1, col=1)
    pa, va = layer_profile(series_a, "grad_norm")
    pb, vb = layer_profile(series_b, "grad_norm")
    if pa == pb and len(pa):
        delta = np.where(np.isfinite(vb - va), vb - va, np.nan)
        fig.add_trace(go.Bar(x=[short(p) for p in pa], y=delta, name="Δ ‖∇‖",
                             marker_color=["#2ca02c" if v >= 0 else "#d62728" for v in np.nan_to_num(delta)]),
                      row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig = _layout(fig, f"Difference view ({label_b} − {label_a})", uirevision, height=300)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig
