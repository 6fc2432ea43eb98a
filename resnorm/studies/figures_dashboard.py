"""The Live page's one-screen dashboard: four small charts a room reads together while a run trains.

In the spirit of TensorFlow Playground, where everything is visible at once: the loss (train,
validation, and the session's previous runs as faint "ghosts"), the residual stream's size per layer
(layer × step heatmap of the RMS, log colour), the gradient norm per layer of each sublayer kind
(attention, MLP), and one attention map. Pure functions of the run's metric series, like
``figures`` (plain-dict ``Fig``s, words from ``labels``, sizes from ``fonts``); a chart with nothing
recorded yet says "starting…" and draws no axes (an empty axis "layer −1…4" reads as a result).

Why these four: the loss says *whether* it learns; the stream's size per layer is what the norm
position changes (Pre-LN's stream grows with depth, Post-LN's stays at the norm's scale); the
per-layer gradient norm is Xiong et al. (2020)'s argument (Post-LN's last layers get the largest
gradients at initialisation); the attention map shows *what* it learns.
"""
from __future__ import annotations

import html
import math

import numpy as np

from ..i18n import EN, Labels, translate_or
from .figures import (COLORSCALE, NORMAL, Fig, Fonts, _get, _layout, _mark, _unique_labels, block_prefixes,
                      colorscale, layer_colors, layer_step_matrix, short, subplots, thin)

HEIGHT = 250  # px: 2 × 2 of these, the run controls and the title fit a 1280×720 screen
MARGIN = dict(l=48, r=12, t=34, b=30)
GHOSTS = 3  # previous runs kept on the loss chart
GHOST_COLORS = ("#d62728", "#2ca02c", "#9467bd")  # newest first; drawn faint (GHOST_OPACITY)
GHOST_OPACITY = 0.45
GHOST_POINTS = 300  # points kept per ghost curve: a ghost is a shape, not data to zoom into


def _compact(fig: Fig, title: str, uirevision: str, fonts: Fonts, height: int, hovermode: str = "x unified",
             labels: Labels = EN) -> Fig:
    """The shared layout, tightened for a quarter of a screen."""
    fig = _layout(fig, title, uirevision, height=height, hovermode=hovermode, fonts=fonts, labels=labels)
    fig.update_layout(margin=dict(MARGIN, t=MARGIN["t"] + 2 * max(fonts.title - NORMAL.title, 0)))
    return fig


def starting(title: str, *, uirevision: str, labels: Labels = EN, fonts: Fonts = NORMAL, height: int = HEIGHT) -> Fig:
    """A panel before its first point: its title and "starting…", no axes."""
    fig = Fig()
    fig.add_annotation(text=labels("dash.starting"), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=fonts.note + 2, color="#888"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _compact(fig, title, uirevision, fonts, height, labels=labels)


def _step_axis(fig: Fig, *step_arrays) -> None:
    """Whole steps on every x axis: the recorded steps themselves while there are fewer than six
    (Plotly would label a one- or two-step axis 0.5, 1.5 …), Plotly's own ticks after that."""
    steps = np.unique(np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in step_arrays])) \
        if step_arrays else np.zeros(0)
    if 0 < len(steps) < 6:
        fig.update_xaxes(tickmode="array", tickvals=steps, ticktext=[f"{v:.0f}" for v in steps])


def log_ticks(*arrays, most: int = 6) -> list[float]:
    """Tick values for a log axis over the positive finite values of ``arrays``, people's numbers
    only: powers of ten when the data span two decades or more; else 1, 2, 5 × 10ᵏ inside the range;
    else (a narrow range) three values spread evenly in log, to two significant digits (three where
    two would fall outside the data). At most
    ``most`` (every other decade beyond). Never Plotly's bare minor digits ("2" meaning 0.2)."""
    values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.zeros(0)
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return []
    lo, hi = math.log10(values.min()), math.log10(values.max())
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        step = math.ceil(len(decades) / most)
        return [10.0 ** k for k in decades[::step]]
    nice = [m * 10.0 ** k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)
            if lo - 1e-9 <= math.log10(m * 10.0 ** k) <= hi + 1e-9]
    if len(nice) >= 2:
        return nice
    spread = [_inside(10 ** x, values.min(), values.max()) for x in (np.linspace(lo, hi, 3) if hi > lo else [lo])]
    return sorted(set(spread))


def _inside(x: float, lo: float, hi: float) -> float:
    """``x`` to two significant digits, or three (…) when the rounding would leave [lo, hi]."""
    for digits in (2, 3, 4):
        r = float(f"{x:.{digits}g}")
        if lo <= r <= hi:
            return r
    return x


def _log_axis(fig: Fig, ticks: list[float], **where) -> None:
    """A log y axis labelled at ``ticks`` in plain numbers (0.5, 1e-4: never SI suffixes)."""
    fig.update_yaxes(type="log", tickmode="array", tickvals=ticks, ticktext=[_plain(v) for v in ticks], **where)


# ---- 1. loss ------------------------------------------------------------------------------------------
def loss_panel(series, ghosts=(), *, markers=(), uirevision: str = "dash-loss", labels: Labels = EN,
               fonts: Fonts = NORMAL, height: int = HEIGHT) -> Fig:
    """Train and validation loss on a log axis (a loss that falls from 2.3 to 1e-4 is a flat line on a
    linear one), and ``ghosts``: ``[(label, series)]``, the session's previous runs, newest first, as
    faint lines of their train loss. Ghosts alone draw no chart: the panel waits for this run."""
    title = labels("dash.loss_title")
    s_train, v_train = thin(*_get(series, "train/loss"))
    if not len(s_train):
        return starting(title, uirevision=uirevision, labels=labels, fonts=fonts, height=height)
    fig = Fig()
    for (label, g), color in zip(list(ghosts)[:GHOSTS], GHOST_COLORS):
        s, v = thin(*_get(g, "train/loss"), GHOST_POINTS)
        if len(s):
            fig.add_trace(dict(type="scatter", x=s, y=v, mode="lines", name=labels("dash.ghost", what=label),
                               line=dict(color=color, width=1.5), opacity=GHOST_OPACITY, legendrank=2000,
                               hoverinfo="skip"))
    fig.add_trace(dict(type="scatter", x=s_train, y=v_train, name=labels("dash.train"), mode="lines" if len(s_train) > 1
                       else "markers", line=dict(color="#1f77b4", width=2.2)))
    s, v = thin(*_get(series, "val/loss"))
    if len(s):
        fig.add_trace(dict(type="scatter", x=s, y=v, name=labels("dash.val"), mode="lines+markers",
                           line=dict(color="#ff7f0e", width=2), marker=dict(size=5)))
    _log_axis(fig, log_ticks(*(tr["y"] for tr in fig.data)))
    _step_axis(fig, s_train)
    _mark(fig, markers, labels)
    fig = _compact(fig, title, uirevision, fonts, height, labels=labels)
    fig.update_layout(legend=dict(x=1, xanchor="right", y=1, yanchor="top", bgcolor="rgba(255,255,255,0.7)"))
    return fig


# ---- 2. residual stream -------------------------------------------------------------------------------
def resid_panel(series, *, markers=(), uirevision: str = "dash-resid", labels: Labels = EN, fonts: Fonts = NORMAL,
                height: int = HEIGHT) -> Fig:
    """Layer × step heatmap of the residual stream's RMS after each block (``{block}.resid_post.rms``),
    colour on a log₁₀ scale, the input layer at the top; the colour bar is labelled in plain values."""
    title = labels("dash.resid_title")
    matrix = layer_step_matrix(series, "resid_post.rms", 300)
    if matrix is None:
        return starting(title, uirevision=uirevision, labels=labels, fonts=fonts, height=height)
    prefixes, steps_t, z, logz = matrix
    ticks = [math.log10(v) for v in log_ticks(z, most=4)]
    fig = Fig()
    fig.add_trace(dict(type="heatmap", x=steps_t, y=[short(p) for p in prefixes], z=logz, customdata=z,
                       colorscale=colorscale(COLORSCALE), xgap=0, ygap=1,
                       colorbar=dict(thickness=10, len=0.9, tickvals=ticks, ticktext=[_plain(10.0 ** t) for t in ticks]),
                       hovertemplate=labels("dash.resid_hover") + "<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    _step_axis(fig, steps_t)
    _mark(fig, markers, labels)
    return _compact(fig, title, uirevision, fonts, height, labels=labels, hovermode="closest")


def _plain(x: float) -> str:
    """A value as people write it: 0.5, 12, 3e-4, 2e+5 (never an SI suffix)."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.2g}" if abs(x) < 10 else f"{x:.0f}"
    return _e(x)


def _e(x: float) -> str:
    """1e-2, 3e-4, 2.5e-3: the shortest mantissa that keeps two significant digits."""
    mantissa, exp = f"{x:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


# ---- 3. gradient norm per layer -------------------------------------------------------------------------
SUBLAYERS = ("attn", "cross_attn", "mlp")
LEGEND_LAYERS = 6  # more layers: the legend names the first and the last (the colours run light → dark)


def grad_panel(series, *, markers=(), uirevision: str = "dash-grad", labels: Labels = EN, fonts: Fonts = NORMAL,
               height: int = HEIGHT) -> Fig:
    """The gradient norm of each layer's attention and MLP weights (``{block}.{sub}.grad_norm``) over
    steps, one small plot per sublayer kind side by side on one shared log axis, one colour per
    layer (``figures.layer_colors``: light at the input, dark at the output). The kind is written
    under its plot (its x axis's title), so no subplot title meets the chart's title."""
    title = labels("dash.grad_title")
    prefixes = block_prefixes(series)
    subs = [s for s in SUBLAYERS if any(len(_get(series, f"{p}.{s}.grad_norm")[0]) for p in prefixes)]
    if not subs:
        return starting(title, uirevision=uirevision, labels=labels, fonts=fonts, height=height)
    colors = layer_colors(len(prefixes))
    named = set(prefixes) if len(prefixes) <= LEGEND_LAYERS else {prefixes[0], prefixes[-1]}  # light → dark
    fig = subplots(rows=1, cols=len(subs), shared_yaxes=True, horizontal_spacing=0.07)
    for j, sub in enumerate(subs):
        for p, c in zip(prefixes, colors):
            s, v = thin(*_get(series, f"{p}.{sub}.grad_norm"))
            if len(s):
                fig.add_trace(dict(type="scatter", x=s, y=v, mode="lines" if len(s) > 1 else "markers", name=short(p),
                                   legendgroup=p,
                                   showlegend=j == 0 and p in named, line=dict(color=c, width=1.6)), row=1, col=j + 1)
        fig.update_xaxes(title=dict(text=f"<b>{labels(f'branch.{_SUB_NAMES[sub]}')}</b>", standoff=4), row=1, col=j + 1)
    _log_axis(fig, log_ticks(*(tr["y"] for tr in fig.data)))
    _step_axis(fig, *(tr["x"] for tr in fig.data))
    _mark(fig, markers, labels)
    fig = _compact(fig, title, uirevision, fonts, height, labels=labels)
    fig.update_layout(legend=dict(x=1.01, xanchor="left", y=1, yanchor="top", tracegroupgap=0))
    return fig


_SUB_NAMES = {"attn": "attention", "cross_attn": "cross-attention", "mlp": "MLP"}  # branch.* keys


# ---- 4. one attention map -------------------------------------------------------------------------------
def focused_head(maps: np.ndarray) -> int:
    """The head whose attention is sharpest: the lowest mean row entropy −Σ_k p log p (nats) of
    ``maps`` (heads × queries × keys); the first such head on a tie. The map a room learns most from."""
    p = np.clip(np.nan_to_num(maps.astype(np.float64), nan=0.0), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1).mean(axis=-1)
    return int(np.argmin(h))


def attention_panel(snapshot, *, uirevision: str = "dash-attn", labels: Labels = EN, fonts: Fonts = NORMAL,
                    height: int = HEIGHT, max_ticks: int = 10) -> Fig:
    """The deepest layer's sharpest head (``focused_head``) of the latest captured attention maps,
    queries down, keys across, on the probe example's tokens. At most ``max_ticks`` token labels per
    axis (every k-th), so that labels never run together."""
    layers = list(snapshot.maps) if snapshot is not None else []
    title = labels("dash.attn_title")
    if not layers:
        return starting(title, uirevision=uirevision, labels=labels, fonts=fonts, height=height)
    layer = layers[-1]
    maps = snapshot.maps[layer]
    head = focused_head(maps)
    q_tokens, k_tokens = snapshot.labels[layer]
    z = np.nan_to_num(maps[head].astype(np.float64), nan=0.0)
    fig = Fig()
    fig.add_trace(dict(type="heatmap", z=z, x=list(range(z.shape[1])), y=list(range(z.shape[0])), zmin=0, zmax=1,
                       colorscale=colorscale("Blues"), colorbar=dict(thickness=10, len=0.9),
                       customdata=[[[q, k] for k in _unique_labels(k_tokens)] for q in _unique_labels(q_tokens)],
                       hovertemplate=labels("dash.attn_hover") + "<extra></extra>"))
    for axis, tokens in (("x", k_tokens), ("y", q_tokens)):
        vals = _tick_positions(len(tokens), max_ticks)
        glyphs = _unique_labels(tokens)
        kw = dict(tickmode="array", tickvals=vals, ticktext=[glyphs[i].split(":", 1)[1] for i in vals],
                  title_text=labels("dash.keys" if axis == "x" else "dash.queries"), showgrid=False)
        (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**kw)
    fig.update_xaxes(tickangle=0)
    fig.update_yaxes(autorange="reversed")
    title = labels("dash.attn_title_at", layer=short(layer.rsplit(".", 1)[0]) + _sub_suffix(layer), head=head,
                   step=snapshot.step)
    return _compact(fig, title, uirevision, fonts, height, labels=labels, hovermode="closest")


def _sub_suffix(layer: str) -> str:
    """`` ×`` for a cross-attention layer (its keys are the encoder's), nothing for self-attention."""
    return " ×" if layer.endswith("cross_attn") else ""


def _tick_positions(n: int, max_ticks: int) -> list[int]:
    """0, k, 2k … with k the smallest step that keeps at most ``max_ticks`` labels."""
    step = max(1, math.ceil(n / max_ticks))
    return list(range(0, n, step))


def dashboard(series, snapshot, ghosts=(), *, markers=(), rid: str = "run", labels: Labels = EN,
              fonts: Fonts = NORMAL, height: int = HEIGHT) -> dict[str, Fig]:
    """The four panels by key (``loss``, ``resid``, ``grad``, ``attn``), in reading order."""
    return {"loss": loss_panel(series, ghosts, markers=markers, uirevision=rid + "dl", labels=labels, fonts=fonts,
                               height=height),
            "resid": resid_panel(series, markers=markers, uirevision=rid + "dr", labels=labels, fonts=fonts,
                                 height=height),
            "grad": grad_panel(series, markers=markers, uirevision=rid + "dg", labels=labels, fonts=fonts,
                               height=height),
            "attn": attention_panel(snapshot, uirevision=rid + "da", labels=labels, fonts=fonts, height=height)}


# ---- ghosts: what differed ------------------------------------------------------------------------------
def ghost_label(ghost: dict, current: dict, labels: Labels = EN, most: int = 2) -> str:
    """What the previous run's flat config ``ghost`` set differently from ``current`` (``RunConfig.to_flat``
    of both), as a room would say it: ``Post-LN``, ``RMSNorm``, ``lr 1e-2``, ``layers 8`` — at most
    ``most`` differences, then ``+n``; ``same settings`` when nothing differs (another seed's rerun
    differs by its seed)."""
    diffs = [k for k in current if k in ghost and ghost[k] != current[k]]
    diffs += [k for k in ghost if k not in current]
    if not diffs:
        return labels("dash.same")
    shown = [_setting(k, ghost[k], labels) for k in diffs[:most]]
    if len(diffs) > most:
        shown.append(f"+{len(diffs) - most}")
    return ", ".join(shown)


def _setting(key: str, value, labels: Labels) -> str:
    if key == "norm_position":
        return translate_or(f"name.position.{value}", str(value), labels.lang)
    if key == "norm":
        return translate_or(f"name.norm.{value}", str(value), labels.lang)
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, float):  # lr 1e-2, as a learning rate is said; dropout 0.1
        return f"{key} {_e(value) if 0 < abs(value) < 0.1 else _plain(value)}"
    return html.escape(f"{key} {value}"[:40])  # a text_file path is the user's text: never Plotly's HTML


__all__ = ["log_ticks", "HEIGHT", "GHOSTS", "dashboard", "loss_panel", "resid_panel", "grad_panel", "attention_panel", "starting",
           "focused_head", "ghost_label"]
