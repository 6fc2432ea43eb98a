"""The trainability map's figure: a heatmap of one value per sweep cell (final loss by default), one
panel per value of an optional third axis (facets). Pure: rows in, a plain-dict figure out
(``figures.Fig``; see ``resnorm.studies.figures`` for the conventions).

The first axis runs down the rows (its first value on top), the second across the columns, each in the sweep's own order
(categorical axes: ``lr`` 3e-4, 1e-3, 3e-3 are evenly spaced, as a learning-rate grid is read).
With ``log=True`` the colour is log₁₀ of the value (losses span decades between a trained cell and
one stuck at chance), the hover shows the value itself. A cell that has not finished is blank; a
diverged cell has no colour (its loss is not a number to compare) and is marked with an ✕, a failed
cell with an open circle, and the hover of each names its status and reason.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..i18n import EN, Labels
from .figures import COLORSCALE, Fig, _layout, colorscale, subplots

DIVERGED, FAILED = "diverged", "failed"
CELLS = "cells"  # the legend group of the invisible per-cell markers (hover and click)
MARKS = {DIVERGED: ("x", "#d62728"), FAILED: ("circle-open", "#7f7f7f")}  # status -> (symbol, colour)


def value_text(v) -> str:
    """An axis value as a tick label: floats as ``%g`` (3e-4 → 0.0003), booleans as true/false."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _number(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _same(a, b) -> bool:
    """An axis value and a cell's value (read back from a CSV or JSON, so 2 may be 2.0 or "2")."""
    if a == b:
        return True
    return value_text(a) == value_text(b) or (isinstance(a, (int, float)) and _number(b) == float(a))


def grid(rows, y: str, y_values, x: str, x_values, metric: str, where: dict | None = None):
    """The cells of one panel as matrices ``(z, status, reason, key)``, shape (len(y_values), len(x_values)):
    ``z`` the metric (NaN where missing or not finite), ``status`` "" where the cell has not finished,
    ``key`` the row's ``key`` (its run folder; "" when absent).
    ``where`` keeps only rows with those values (the facet's)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    z = np.full((len(y_values), len(x_values)), np.nan)
    status = np.full(z.shape, "", dtype=object)
    reason = np.full(z.shape, "", dtype=object)
    key = np.full(z.shape, "", dtype=object)
    for r in frame.to_dict("records"):
        if any(not _same(v, r.get(k)) for k, v in (where or {}).items()):
            continue
        i = next((n for n, v in enumerate(y_values) if _same(v, r.get(y))), None)
        j = next((n for n, v in enumerate(x_values) if _same(v, r.get(x))), None)
        if i is None or j is None:
            continue
        value = _number(r.get(metric))
        z[i, j] = value if math.isfinite(value) else np.nan
        status[i, j] = str(r.get("status") or "")
        why = r.get("reason")
        reason[i, j] = "" if why is None or (isinstance(why, float) and math.isnan(why)) else str(why)[:120]
        key[i, j] = str(r.get("key") or "")
    return z, status, reason, key


def map_figure(rows, axes: dict, metric: str = "final_loss", *, log: bool = True, title: str | None = None,
               uirevision: str = "map", labels: Labels = EN, names: dict | None = None) -> Fig:
    """Heatmap of ``metric`` over the sweep's cells. ``rows``: cells.csv (frame or dicts); ``axes``:
    ``{field: values}`` in the sweep's order — the first is the rows (y), the second the columns (x),
    a third one panel per value; with one axis the map is one row. ``names``: a display name per
    field and per metric (default: the field's name). ``log``: colour by log₁₀ (values ≤ 0 blank)."""
    names = names or {}
    fields = list(axes)
    if len(fields) == 1:
        y, x, facet = None, fields[0], None
    else:
        y, x = fields[0], fields[1]
        facet = fields[2] if len(fields) > 2 else None
    y_values = list(axes[y]) if y else [None]
    x_values = list(axes[x])
    f_values = list(axes[facet]) if facet else [None]
    name = names.get(metric, metric)
    x_ticks = [value_text(v) for v in x_values]
    y_ticks = [value_text(v) for v in y_values] if y else [""]
    n = len(f_values)
    fig = subplots(rows=1, cols=n, shared_yaxes=True, horizontal_spacing=0.04 if n > 1 else 0.2,
                   subplot_titles=[f"{names.get(facet, facet)} = {value_text(v)}" for v in f_values] if facet else None)
    all_z, in_legend = [], set()
    for k, fv in enumerate(f_values, 1):
        where = {facet: fv} if facet else None
        z, status, reason, keys = grid(rows, y, y_values, x, x_values, metric, where) if y else \
            grid(_one_row(rows), "_row", [None], x, x_values, metric, where)
        all_z.append(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = np.where(z > 0, np.log10(np.where(z > 0, z, 1.0)), np.nan) if log else z
        text = [[_hover(labels, names, y, yv, x, xv, name, z[i, j], status[i, j], reason[i, j])
                 for j, xv in enumerate(x_values)] for i, yv in enumerate(y_values)]
        fig.add_trace(dict(type="heatmap", x=x_ticks, y=y_ticks, z=shown, coloraxis="coloraxis", hoverinfo="skip",
                           xgap=1, ygap=1, name=name), row=1, col=k)
        # one invisible marker per cell: what the hover reads and a click selects (a heatmap's cells
        # cannot be selected in Streamlit; a scatter's points can)
        fig.add_trace(dict(type="scatter", mode="markers", x=[x for _ in y_ticks for x in x_ticks],
                           y=[y for y in y_ticks for _ in x_ticks], text=[h for row in text for h in row],
                           marker=dict(symbol="square", size=22, opacity=0, color="#000000"),
                           customdata=[k for row in keys for k in row],
                           hovertemplate="%{text}<extra></extra>", showlegend=False, legendgroup=CELLS,
                           name=name), row=1, col=k)
        for st_ in (DIVERGED, FAILED):
            ii, jj = np.nonzero(status == st_)
            if not len(ii):
                continue
            symbol, color = MARKS[st_]
            fig.add_trace(dict(type="scatter", mode="markers", x=[x_ticks[j] for j in jj], y=[y_ticks[i] for i in ii],
                               marker=dict(symbol=symbol, size=14, color=color, line=dict(width=2, color=color)),
                               name=labels(f"map.fig.{st_}"), legendgroup=st_, showlegend=st_ not in in_legend,
                               text=[text[i][j] for i, j in zip(ii, jj)], hovertemplate="%{text}<extra></extra>"),
                          row=1, col=k)
            in_legend.add(st_)
    fig.update_xaxes(type="category", title_text=names.get(x, x), categoryorder="array", categoryarray=x_ticks)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=y_ticks, autorange="reversed")  # first on top
    fig.update_yaxes(title_text=names.get(y, y) if y else None, row=1, col=1)
    finite = np.concatenate([z.ravel() for z in all_z])
    finite = finite[np.isfinite(finite) & ((finite > 0) if log else True)]
    bar = dict(title=dict(text=f"log₁₀ {name}" if log else name), len=1.0, thickness=16)
    if log and len(finite):  # ticks at round values, labelled by the value itself
        lo, hi = math.floor(np.log10(finite.min())), math.ceil(np.log10(finite.max()))
        steps = (1, 2, 5) if hi - lo <= 2 else (1, 3) if hi - lo <= 4 else (1,)  # at most ~8 ticks
        ticks = [p + math.log10(m) for p in range(lo, hi + 1) for m in steps if p + math.log10(m) <= hi]
        bar.update(tickvals=ticks, ticktext=[f"{10 ** t:.3g}" for t in ticks], title=dict(text=name))
    fig.update_layout(coloraxis=dict(colorscale=colorscale(COLORSCALE), colorbar=bar),
                      legend=dict(orientation="h", y=-0.18, x=0))
    height = max(340, 150 + 40 * len(y_values))  # a short map still has a readable colour bar
    fig = _layout(fig, title if title is not None else labels("map.fig.title", metric=name), uirevision,
                  height=height, hovermode="closest", labels=labels)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0))
    if facet:  # room for the panels' titles under the chart's
        fig.update_layout(margin=dict(t=75))
    return fig


def _one_row(rows):
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    return frame.assign(_row=None)


def _hover(labels: Labels, names: dict, y, yv, x, xv, metric_name: str, value, status: str, reason: str) -> str:
    parts = []
    if y:
        parts.append(f"{names.get(y, y)} = {value_text(yv)}")
    parts.append(f"{names.get(x, x)} = {value_text(xv)}")
    if not status:
        parts.append(labels("map.fig.pending"))
        return "<br>".join(parts)
    parts.append(f"{metric_name}: {'—' if not math.isfinite(value) else f'{value:.4g}'}")
    parts.append(labels(f"map.fig.{status}") if status in ("completed", "stopped", DIVERGED, FAILED) else status)
    if reason and status in (DIVERGED, FAILED):
        parts.append(_escape(reason))
    return "<br>".join(parts)


def _escape(text: str) -> str:
    """A reason in a hover label: HTML-escaped (Plotly renders a subset of HTML)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def diverged_cells(rows, axes: dict) -> list[dict]:
    """The axis values of every diverged cell, in the sweep's order (what the map marks ✕)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty or "status" not in frame:
        return []
    return [{k: r.get(k) for k in axes} for r in frame.to_dict("records") if r.get("status") == DIVERGED]
