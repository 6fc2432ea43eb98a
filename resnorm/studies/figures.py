"""Plotly figure builders: pure functions from metric series to figures (no Streamlit, no I/O).

Input is ``series``: ``{metric name: (steps, values)}`` as numpy arrays (``MetricStore.all_series``
or ``series_from_frame`` of a long frame). Conventions shared by every chart:

- one colour per layer everywhere (``layer_colors``), light at the input, dark at the output;
- at most ``MAX_POINTS`` points per trace (evenly thinned, the newest kept);
- non-finite values become gaps, never errors;
- every marker (e.g. divergence) is a dashed vertical line on every step axis;
- ``uirevision`` is the caller's key, so zoom and legend choices survive live refreshes;
- every word a person reads (titles, axis and subplot titles, legend names, event markers) comes from
  the ``labels`` argument (``resnorm.i18n.Labels``; English, the table's, by default): a UI builds
  its charts in its language and never translates a built chart. Data names (metric names, config
  labels) are shown as they are.

Every builder returns a plain dict ``{"data": [...], "layout": {...}}``: the figure exactly as
Plotly's object model would serialise it (``go.Figure(d)`` validates it and changes nothing — a test
checks each chart against the validated one), built without that model. A live page redraws twice
a second and validating a figure cost the server 10–30 ms under the GIL; building the dict costs
about a millisecond. ``Fig`` is the small dict-building layer: the few ``go.Figure`` methods the
builders use (``add_trace``, ``update_layout``, ``update_xaxes``/``update_yaxes``, ``add_vline``,
``add_hline``, ``add_annotation``), with Plotly's semantics; ``subplots`` takes a subplot grid's
layout from ``make_subplots`` once per shape. Pass the dict to ``plotly.io.to_json`` /
``to_html``, or ``go.Figure(d)`` for the object.
"""
from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from _plotly_utils.utils import is_skipped_key, plotlyjsShortTypes
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..i18n import EN, Labels

from ..science import names

MAX_POINTS = 1000
COLORSCALE = "Viridis"

Series = dict[str, tuple[np.ndarray, np.ndarray]]


# ---- the dict-building layer ---------------------------------------------------------------------
def _merge(target: dict, updates: dict) -> dict:
    """Plotly's ``update``: nested dicts merge, other values replace, ``None`` is "not set",
    ``title_text=`` means ``title={"text": …}`` (magic underscores)."""
    for key, value in updates.items():
        if value is None:
            continue
        if "_" in key:
            head, _, rest = key.partition("_")
            _merge(target.setdefault(head, {}), {rest: value})
        elif isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _merge(target[key], value)
        else:
            target[key] = value
    return target


@lru_cache(maxsize=8)
def _template(name: str) -> dict:
    return pio.templates[name].to_plotly_json()


@lru_cache(maxsize=8)
def _colorscale(name: str) -> tuple:
    return go.Heatmap(colorscale=name).colorscale  # the named scale as Plotly expands it


def colorscale(name: str) -> list:
    return [list(stop) for stop in _colorscale(name)]


@lru_cache(maxsize=64)
def _grid(spec: str) -> tuple[str, tuple]:
    """(layout JSON, refs) of ``make_subplots(**json.loads(spec))``; refs[r][c] is the cell's
    ((xaxis, yaxis), (xaxis, yaxis of its secondary y) …) as trace references (``x2``, ``y3``),
    read from Plotly's own grid (``_grid_ref``, what its ``add_trace(row=, col=)`` uses)."""
    fig = make_subplots(**json.loads(spec))
    refs = tuple(tuple(tuple((ref.trace_kwargs["xaxis"], ref.trace_kwargs["yaxis"]) for ref in cell)
                       for cell in row) for row in fig._grid_ref)
    return json.dumps(fig.to_plotly_json()["layout"]), refs


def _wire(obj, key: str = ""):
    """``obj`` with numpy arrays as Plotly.js typed-array specs, as ``go.Figure.to_dict`` does
    (``_plotly_utils.utils.convert_to_base64``, without its deep copy of everything else)."""
    if isinstance(obj, np.ndarray):
        return obj if is_skipped_key(key) else _typed_array(obj)
    if isinstance(obj, dict):
        if key == "template" or not any(_has_array(v) for k, v in obj.items() if k != "template"):
            return obj
        return {k: _wire(v, k) for k, v in obj.items()}
    if isinstance(obj, list) and any(_has_array(v) for v in obj):
        return [_wire(v) for v in obj]
    return obj


def _typed_array(v: np.ndarray):
    """``_plotly_utils.utils.to_typed_array_spec`` for the arrays the builders make (numbers),
    without its generic conversion, which costs more than the encoding: int64 narrowed to the
    smallest int type that holds it (Plotly.js has no 64-bit ints), then base64 of the bytes."""
    if v.size == 0:
        return v
    if v.dtype == np.int64:
        lo, hi = v.min(), v.max()
        for t in (np.int8, np.int16, np.int32):
            if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
                v = v.astype(t)
                break
        else:
            return v
    code = plotlyjsShortTypes.get(str(v.dtype))
    if code is None:
        return v
    spec = {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(v)).decode("ascii")}
    if v.ndim > 1:
        spec["shape"] = str(v.shape)[1:-1]
    return spec


def _has_array(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return True
    if isinstance(obj, dict):
        return any(_has_array(v) for k, v in obj.items() if k != "template")
    if isinstance(obj, list):
        return any(isinstance(v, (np.ndarray, dict, list)) and _has_array(v) for v in obj)
    return False


def _axis_key(ref: str) -> str:
    """``x2`` → ``xaxis2``, ``y`` → ``yaxis``."""
    return ref[0] + "axis" + ref[1:]


class Fig(dict):
    """A figure as a plain dict (``{"data": [...], "layout": {...}}``) with the ``go.Figure``
    methods the builders use. Without a grid it is a single plot (``go.Figure()``); with one, a
    ``make_subplots`` figure (see ``subplots``)."""

    def __init__(self, layout: dict | None = None, refs=None):
        super().__init__(data=[], layout=layout or {})
        self._refs = refs  # None: no subplot grid

    @property
    def data(self) -> list:
        return self["data"]

    @property
    def layout(self) -> dict:
        return self["layout"]

    def to_dict(self) -> dict:
        """The figure as ``go.Figure.to_dict`` gives it, what Plotly.js receives: numpy arrays as
        typed-array specs (``{"dtype", "bdata"}``), everything else as built (not copied)."""
        return {"data": _wire(self["data"]), "layout": _wire(self["layout"])}

    def add_trace(self, trace: dict, row: int | None = None, col: int | None = None, secondary_y: bool = False):
        trace = _merge({}, trace)
        if row is not None and self._refs is not None:
            x, y = self._refs[row - 1][col - 1][1 if secondary_y else 0]
            trace.update(xaxis=x, yaxis=y)
        self["data"].append(trace)
        return self

    def update_layout(self, **kw):
        if isinstance(kw.get("template"), str):
            kw["template"] = _template(kw["template"])
        template = kw.pop("template", None)
        _merge(self["layout"], kw)
        if template is not None:
            self["layout"]["template"] = template  # shared, never mutated
        return self

    def _axes(self, letter: str, row, col, secondary_y) -> list[str]:
        if self._refs is None:
            return [letter + "axis"]
        keys = []
        for r, cells in enumerate(self._refs, 1):
            for c, cell in enumerate(cells, 1):
                if (row is None or row == r) and (col is None or col == c):
                    for k, ref in enumerate(cell):
                        if secondary_y is None or secondary_y == (k > 0):
                            key = _axis_key(ref[0] if letter == "x" else ref[1])
                            if key not in keys:
                                keys.append(key)
        return keys

    def update_xaxes(self, row=None, col=None, secondary_y=None, **kw):
        for key in self._axes("x", row, col, secondary_y):
            _merge(self["layout"].setdefault(key, {}), kw)
        return self

    def update_yaxes(self, row=None, col=None, secondary_y=None, **kw):
        for key in self._axes("y", row, col, secondary_y):
            _merge(self["layout"].setdefault(key, {}), kw)
        return self

    def add_annotation(self, **kw):
        self["layout"].setdefault("annotations", []).append(_merge({}, kw))
        return self

    def add_vline(self, x, row="all", col="all", **kw):
        return self._spanning(dict(type="line", x0=x, x1=x, y0=0, y1=1), "y", row, col, kw)

    def add_hline(self, y, row="all", col="all", **kw):
        return self._spanning(dict(type="line", x0=0, x1=1, y0=y, y1=y), "x", row, col, kw)

    def _spanning(self, shape: dict, across: str, row, col, kw) -> Fig:
        """A line across a subplot's whole domain on ``across``, in every selected subplot that
        holds something (Plotly's ``exclude_empty_subplots``), row by row."""
        shapes = self["layout"].setdefault("shapes", [])
        if self._refs is None:
            places = [("x", "y")]
        else:
            places = [cell[0] for r, cells in enumerate(self._refs, 1) for c, cell in enumerate(cells, 1)
                      if (row == "all" or row == r) and (col == "all" or col == c) and self._holds(*cell[0])]
        for x, y in places:
            refs = dict(xref=x + (" domain" if across == "x" else ""), yref=y + (" domain" if across == "y" else ""))
            shapes.append(_merge({**shape, **refs}, kw))
        return self

    def _holds(self, x: str, y: str) -> bool:
        items = [(t.get("xaxis", "x"), t.get("yaxis", "y")) for t in self["data"]]
        items += [(o.get("xref", "x"), o.get("yref", "y")) for part in ("shapes", "annotations")
                  for o in self["layout"].get(part, ())]
        return (x, y) in items


class Prebuilt(go.Figure):
    """A figure whose ``to_dict()`` is fixed: a ``Fig``'s final form, computed once. Consumers that
    take a ``go.Figure`` through ``to_dict()`` then use it as it is — ``st.plotly_chart`` does
    (Streamlit 1.67: ``plotly.tools.return_figure_from_figure_or_data``, then
    ``plotly.io.to_json(…, validate=False)``), where a plain dict would be validated into a
    ``go.Figure`` first, the cost the dict builders exist to avoid."""

    def __init__(self, spec: dict):  # noqa: super().__init__ skipped on purpose
        # go.Figure's own set-up (an empty figure and its default template) costs about 1 ms, as
        # much as building the chart; nothing reads that state: every use goes through to_dict.
        object.__setattr__(self, "_spec", spec)

    def to_dict(self) -> dict:
        return self._spec

    to_plotly_json = to_dict

    def __repr__(self) -> str:
        return f"Prebuilt({len(self._spec['data'])} traces)"


def prebuilt(fig):
    """A ``Fig`` as ``st.plotly_chart`` should get it; any other figure (a ``go.Figure``) unchanged."""
    return Prebuilt(fig.to_dict()) if isinstance(fig, Fig) else fig


def subplots(**kw) -> Fig:
    """``make_subplots(**kw)`` as a ``Fig``: the grid's layout (axis domains, subplot titles) is
    computed by Plotly once per distinct call and copied."""
    layout, refs = _grid(json.dumps(kw, sort_keys=True))
    return Fig(json.loads(layout), refs)


def series_from_frame(df: pd.DataFrame) -> Series:
    """Long frame (step, name, value) → {name: (steps, values)} sorted by step."""
    out: Series = {}
    for name, part in df.groupby("name", sort=False):
        part = part.sort_values("step")
        out[str(name)] = (part["step"].to_numpy(np.int64), part["value"].to_numpy(np.float64))
    return out


def block_prefixes(series: Series) -> list[str]:
    """Block names present in the metrics, in forward order (``resnorm.science.names``)."""
    return names.block_prefixes(series)


def layer_colors(n: int) -> list[str]:
    return list(_layer_colors(n))


@lru_cache(maxsize=256)
def _layer_colors(n: int) -> tuple[str, ...]:
    if n <= 1:
        return tuple(sample_colorscale(COLORSCALE, [0.35]))
    return tuple(sample_colorscale(COLORSCALE, [0.9 * i / (n - 1) for i in range(n)]))


short = names.short  # blocks.3 → L3; enc.blocks.1 → enc L1


def thin(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS):
    """At most ``max_points`` evenly spaced points (first and last kept); ±inf → NaN (a gap)."""
    values = np.where(np.isfinite(values), values, np.nan)
    if len(steps) > max_points:
        idx = _thin_index(len(steps), max_points)
        steps, values = steps[idx], values[idx]
    return steps, values


@lru_cache(maxsize=64)
def _thin_index(n: int, max_points: int) -> np.ndarray:
    """The kept positions of ``n`` points (every series of a run has the same few lengths)."""
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    idx.flags.writeable = False
    return idx


def _get(series: Series, name: str):
    return series.get(name, (np.zeros(0, np.int64), np.zeros(0)))


def _mark(fig, markers, labels: Labels = EN, **where) -> None:
    """Each marker a dashed red vertical line, named in the legend (one entry per kind, its steps
    listed) rather than by text on the chart, which collided with titles and with other markers."""
    by_kind: dict[str, list] = {}
    for m in markers or ():
        fig.add_vline(x=m.step, line=dict(color="#d62728", dash="dash", width=1.5), **where)
        by_kind.setdefault(m.kind, []).append(m.step)
    for kind, steps in by_kind.items():
        _legend_entry(fig, labels("fig.t.event_at", kind=labels.event(kind), step=_steps_text(steps)),
                      color="#d62728", dash="dash", group="events")


def _steps_text(steps, most: int = 4) -> str:
    """``120, 340`` — at most ``most`` steps, then ``…``."""
    shown = ", ".join(str(s) for s in steps[:most])
    return shown + (", …" if len(steps) > most else "")


def _legend_entry(fig, name: str, *, color: str, dash: str | None, group: str) -> None:
    """A legend entry without data (a line sample and its name): how the charts name their markers."""
    fig.add_trace(dict(type="scatter", x=[None], y=[None], mode="lines", name=name, legendgroup=group,
                       line=dict(color=color, dash=dash, width=1.5), hoverinfo="skip", showlegend=True))


@dataclass(frozen=True)
class Fonts:
    """Font sizes of a chart, in CSS pixels: its title, axis titles, tick labels, legend, and notes
    (subplot titles, event markers, "no data yet" texts). ``NORMAL`` is a screen at arm's length;
    ``PROJECTOR`` a room reading a projected 1280×720 image from its back rows (ticks and legends
    ≥ 14 px, the threshold the room test of issue 13 asks for)."""
    title: int = 14
    axis: int = 12
    tick: int = 12
    legend: int = 10
    note: int = 11


NORMAL = Fonts()
PROJECTOR = Fonts(title=21, axis=16, tick=15, legend=15, note=16)


def restyle(fig, fonts: Fonts):
    """``fig`` (a ``Fig`` or plain figure dict; changed in place and returned) with the sizes of
    ``fonts``: every axis's tick labels and title (colour bars too), the legend, the title, and
    annotations no smaller than ``fonts.note``. The top margin grows with the title so that a title
    never sits on the plot. Applied after a builder, so one switch serves every chart of a page."""
    layout = fig["layout"]
    _merge(layout, dict(title=dict(font=dict(size=fonts.title)), legend=dict(font=dict(size=fonts.legend)),
                        hoverlabel=dict(font=dict(size=fonts.legend))))
    _merge(layout, dict(font=dict(size=fonts.tick)))  # what nothing else sets (e.g. hover text)
    layout.setdefault("xaxis", {})
    layout.setdefault("yaxis", {})  # a single plot's axes exist even when no builder touched them
    for key, axis in layout.items():
        if key[:5] in ("xaxis", "yaxis") and (key[5:] == "" or key[5:].isdigit()):
            _merge(axis, dict(tickfont=dict(size=fonts.tick), automargin=True))
            if "title" in axis:
                _merge(axis, dict(title=dict(font=dict(size=fonts.axis))))
    for note in layout.get("annotations", ()):
        size = (note.get("font") or {}).get("size", fonts.note)
        _merge(note, dict(font=dict(size=max(size, fonts.note))))
    for trace in fig["data"]:
        if trace.get("type") == "heatmap":
            _merge(trace, dict(colorbar=dict(tickfont=dict(size=fonts.tick))))
    margin = layout.get("margin")
    if margin is not None and fonts.title > NORMAL.title:
        margin["t"] = max(margin.get("t", 40), 40 + 2 * (fonts.title - NORMAL.title))
    return fig


def _layout(fig, title: str, uirevision: str, height: int = 320, hovermode: str = "x unified",
            labels: Labels = EN, fonts: Fonts = NORMAL):
    """The one layout of every chart (a ``Fig`` or a ``go.Figure``): title at the left, margins, legend,
    template; ``hovermode`` "x unified" over steps, "closest" for profiles and maps. Then ``_readable``:
    the axes made legible from the data (see there); ``fonts`` the text sizes (``PROJECTOR`` for a room;
    see ``restyle``, which applies them to a built chart)."""
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=fonts.title)), height=height, uirevision=uirevision,
                      margin=dict(l=50, r=20, t=40, b=40), legend=dict(font=dict(size=fonts.legend)),
                      template="plotly_white", hovermode=hovermode)
    _readable(fig, labels)
    if fonts != NORMAL and isinstance(fig, Fig):
        restyle(fig, fonts)
    return fig


# ---- legible axes ----------------------------------------------------------------------------------
_AXIS = re.compile(r"^([xy])axis(\d*)$")


def _traces(fig) -> list[dict]:
    if isinstance(fig, Fig):
        return fig["data"]
    return [t.to_plotly_json() for t in fig.data]


def _layout_dict(fig) -> dict:
    return fig["layout"] if isinstance(fig, Fig) else fig.layout.to_plotly_json()


def _numbers(values) -> np.ndarray:
    """``values`` as floats (None → NaN); an empty array for text (categories) or nothing."""
    if values is None:
        return np.zeros(0)
    try:
        return np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.zeros(0)


def _has_data(trace: dict) -> bool:
    key = "z" if trace.get("type") in ("heatmap", "contour") else "y"
    v = _numbers(trace.get(key))
    return bool(np.isfinite(v).any())


def tick_text(v: float) -> str:
    """A log-axis tick in plain numbers from 0.001 to 10000 (``0.01``, ``0.2``, ``50``), else in
    1e-5 style (``1e-5``, ``2e6``) — never an SI suffix ("100µ") or a bare mantissa ("2" for 0.2)."""
    e = math.floor(math.log10(v) + 1e-9)
    if -3 <= e <= 4:
        return f"{v:.6g}" if e >= 0 else f"{v:.{-e + 5}f}".rstrip("0")
    m = v / 10 ** e
    return f"{m:.6g}e{e}"


def log_ticks(lo: float, hi: float, most: int = 8) -> list[float]:
    """Tick values of a log axis over the data range [lo, hi] (both > 0): the decades (every k-th
    decade when more than ``most``); when fewer than two decades lie inside, 1-2-5 steps; when
    fewer than two of those, 1…9 steps — so a short range is labelled too, each label a whole value."""
    e_lo, e_hi = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    inside = lambda vals: [v for v in vals if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]  # noqa: E731
    decades = list(range(e_lo, e_hi + 1))
    if len(inside([10.0 ** e for e in decades])) >= 2:
        k = math.ceil(len(decades) / most)
        return [float(f"1e{e}") for e in decades if (e - e_lo) % k == 0]
    for mantissas in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        vals = [float(f"{m}e{e}") for e in decades for m in mantissas]
        if len(inside(vals)) >= 2:
            return vals
    if hi <= lo:  # one value: itself
        return [float(f"{lo:.2g}")]
    step = 10.0 ** math.floor(math.log10(hi - lo))  # a range within one 1…9 step: even steps inside it
    while (hi - lo) / step > 8:
        step *= 2
    while math.floor(hi / step) - math.ceil(lo / step) < 1:  # at least two ticks inside
        step /= 2
    ticks = [float(f"{i * step:.12g}") for i in range(math.floor(lo / step), math.ceil(hi / step) + 1)]
    return list(dict.fromkeys(t for t in ticks if t > 0))


def _readable(fig, labels: Labels = EN) -> None:
    """What every chart's axes get from its data, once built:

    - no data at all (a run not started, a view before its first step): no axes, a centred note
      "waiting for the first step…" — never empty axes "layer −1…4" or a log range 0.1–10k;
    - log axes labelled at whole values only (``log_ticks``, ``tick_text``);
    - every axis writes small and large numbers as 1e-4, never with SI suffixes ("100µ");
    - a step axis spanning fewer than ten steps ticks at whole steps (never 1.2, 1.4 …);
    - subplot titles and the figure title never overlap: with subplot titles the figure title moves
      into a taller top margin."""
    traces, layout = _traces(fig), _layout_dict(fig)
    axes = {k for k in layout if _AXIS.match(k)} | {"xaxis", "yaxis"}
    if not any(_has_data(t) for t in traces):
        notes = [a for a in layout.get("annotations", ()) if a.get("x") == 0.5 and a.get("y") == 0.5]
        for key in sorted(axes):
            fig.update_layout(**{key: dict(visible=False)})
        if isinstance(fig, Fig) and layout.get("annotations"):  # subplot titles over nothing: only the note
            layout["annotations"] = notes
        if not notes:
            fig.add_annotation(text=labels("chart.waiting"), showarrow=False, x=0.5, y=0.5, xref="paper",
                               yref="paper", font=dict(color="#888", size=14))
        return
    values: dict[str, list[np.ndarray]] = {}
    for t in traces:
        for letter in "xy":
            ref = t.get(letter + "axis") or letter
            values.setdefault(letter + "axis" + ref[1:], []).append(_numbers(t.get(letter)))
    def root(key: str) -> str:  # axes that match another (shared y of side-by-side panels) share its ticks
        m = (layout.get(key) or {}).get("matches")
        return (m[0] + "axis" + m[1:]) if m else key

    pooled: dict[str, list[np.ndarray]] = {}
    for key in axes:
        pooled.setdefault(root(key), []).extend(values.get(key, []))
    for key in sorted(axes):
        axis = layout.get(key, {})
        update: dict = {"exponentformat": "e"}
        found = pooled.get(root(key), [])
        v = np.concatenate(found) if found else np.zeros(0)
        v = v[np.isfinite(v)]
        if axis.get("type") == "log":
            pos = v[v > 0]
            if len(pos) and axis.get("tickvals") is None:
                ticks = log_ticks(float(pos.min()), float(pos.max()))
                update.update(tickmode="array", tickvals=ticks, ticktext=[tick_text(x) for x in ticks])
            elif axis.get("tickvals") is None:
                update.update(dtick=1)
        elif key.startswith("x") and len(v) and axis.get("type") in (None, "linear", "-") \
                and np.all(v == np.round(v)) and v.max() - v.min() < 10 and axis.get("dtick") is None:
            update.update(tick0=0, dtick=1)
        fig.update_layout(**{key: update})
    titles = [a for a in layout.get("annotations", ()) if a.get("yanchor") == "bottom" and a.get("yref") == "paper"
              and a.get("y", 0) >= 0.9]
    if titles:  # subplot titles a size below the figure title's, so that long ones fit their panel
        if isinstance(fig, Fig):
            for a in titles:
                a["font"] = {**a.get("font", {}), "size": 13}
        else:
            fig.for_each_annotation(lambda a: a.update(font_size=13),
                                    selector=lambda a: a.yanchor == "bottom" and a.yref == "paper" and (a.y or 0) >= 0.9)
    if titles and (layout.get("title") or {}).get("text"):
        fig.update_layout(margin=dict(t=72), title=dict(yref="container", y=1, yanchor="top", pad=dict(t=10)))


def line_mode(values) -> str:
    """A line where it can be seen: a run that diverged at step 2 has one finite point per layer, which
    a line alone does not draw (an empty chart); a few points get markers on the line."""
    finite = int(np.isfinite(np.asarray(values, dtype=np.float64)).sum())
    return "lines" if finite > 3 else "lines+markers"


def _lines(fig, series, prefixes, metric, colors, *, row=None, col=None, dash=None, showlegend=True,
           legendgroup_suffix=""):
    for p, c in zip(prefixes, colors):
        s, v = thin(*_get(series, f"{p}.{metric}"))
        if len(s) == 0:
            continue
        kw = dict(row=row, col=col) if row is not None else {}
        fig.add_trace(dict(type="scatter", x=s, y=v, mode=line_mode(v), name=short(p), line=dict(color=c, width=1.6, dash=dash),
                                 legendgroup=p + legendgroup_suffix, showlegend=showlegend), **kw)


# ---- 1. loss, accuracy, learning rate ----------------------------------------------------------
def loss_figure(series: Series, *, log_y: bool = False, markers=(), uirevision: str = "loss", labels: Labels = EN) -> Fig:
    fig = subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06,
                        specs=[[{"secondary_y": True}], [{}]])
    styles = {"train/loss": ("#1f77b4", None), "val/loss": ("#ff7f0e", None),
              "train/accuracy": ("#1f77b4", "dot"), "val/accuracy": ("#ff7f0e", "dot")}
    for name, (color, dash) in styles.items():
        s, v = thin(*_get(series, name))
        if len(s):
            fig.add_trace(dict(type="scatter", x=s, y=v, name=metric_name(name, labels),
                               mode=line_mode(v),
                                     line=dict(color=color, dash=dash)),
                          row=1, col=1, secondary_y="accuracy" in name)
    s, v = thin(*_get(series, "lr"))
    if len(s):
        fig.add_trace(dict(type="scatter", x=s, y=v, name=labels.word("learning rate"), line=dict(color="#7f7f7f")), row=2, col=1)
    fig.update_yaxes(title_text=labels.word("loss"), type="log" if log_y else "linear", row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text=labels.word("accuracy"), range=[0, 1.02], tickmode="array", tickvals=[0, 0.25, 0.5, 0.75, 1],
                     tickformat=".0%", row=1, col=1, secondary_y=True, showgrid=False)
    lr_max = float(np.nanmax(v)) if len(s) and np.isfinite(v).any() else 1.0
    fig.update_yaxes(title_text="lr", row=2, col=1, exponentformat="e", range=[0, 1.15 * lr_max or 1.0])
    fig.update_xaxes(title_text=labels.word("step"), row=2, col=1)
    _mark(fig, markers, labels)
    return _layout(fig, labels.word("Loss and accuracy (train, validation), learning rate"), uirevision, height=420, labels=labels)


# ---- 2. residual stream --------------------------------------------------------------------------
def layer_step_matrix(series: Series, metric: str, most: int):
    """(block prefixes, steps, z, log₁₀ z) of a per-layer metric as a layer × step matrix: a row per
    block, the columns the first block's steps thinned to at most ``most``; log₁₀ z is NaN where z is
    missing, non-finite or ≤ 0. None before the first recorded step."""
    prefixes = block_prefixes(series)
    rows = [_get(series, f"{p}.{metric}") for p in prefixes]
    if not rows or not len(rows[0][0]):
        return None
    steps = rows[0][0]
    z = np.full((len(prefixes), len(steps)), np.nan)
    for i, (s, v) in enumerate(rows):
        n = min(len(s), len(steps))
        z[i, :n] = v[:n]
    steps_t, _ = thin(steps, steps.astype(float), most)
    z = z[:, np.searchsorted(steps, steps_t)]
    with np.errstate(divide="ignore", invalid="ignore"):
        logz = np.where(np.isfinite(z) & (z > 0), np.log10(np.where(z > 0, z, 1)), np.nan)
    return prefixes, steps_t, z, logz


def resid_heatmap(series: Series, *, metric: str = "resid_post.rms", markers=(), uirevision: str = "resid", labels: Labels = EN) -> Fig:
    """Layer × step heatmap of a per-layer metric (default: residual-stream RMS), log10 colour scale."""
    fig = Fig()
    matrix = layer_step_matrix(series, metric, 400)
    if matrix is not None:
        prefixes, steps_t, z, logz = matrix
        fig.add_trace(dict(type="heatmap", x=steps_t, y=[short(p) for p in prefixes], z=logz, customdata=z,
                                 colorscale=colorscale(COLORSCALE), colorbar=dict(title=dict(text="log₁₀")),
                                 hovertemplate="step %{x}<br>%{y}<br>value %{customdata:.4g}<extra></extra>"))
    fig.update_xaxes(title_text=labels.word("step"))
    fig.update_yaxes(title_text=labels.word("layer"), autorange="reversed")
    _mark(fig, markers, labels)
    fig = _layout(fig, labels("fig.t.resid_heatmap", stat=metric.split('.')[-1].upper()), uirevision, labels=labels)
    fig.update_layout(hovermode="closest")
    return fig


def depth_profile(series: Series, metrics=("resid_post.rms",), *, title: str | None = None,
                  y_title: str = "", log_y: bool = False, uirevision: str = "depth", labels: Labels = EN) -> Fig:
    """Value per layer (x = layer) at the latest recorded step, with the first step in grey."""
    prefixes = block_prefixes(series)
    fig = Fig()
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
            fig.add_trace(dict(type="scatter", x=x, y=clean(np.array(first)), name=_step_name(labels, label, step_first),
                                     mode="lines+markers", line=dict(color="#b0b0b0", dash=dashes[k % 3])))
        fig.add_trace(dict(type="scatter", x=x, y=clean(np.array(last)), name=_step_name(labels, label, step_last),
                                 mode="lines+markers", line=dict(color="#1f4e99", dash=dashes[k % 3]),
                                 marker=dict(color=layer_colors(len(prefixes)), size=9)))
    fig.update_xaxes(title_text=labels.word("layer"))
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    fig = _layout(fig, labels.word("Depth profile") if title is None else title, uirevision, labels=labels)
    fig.update_layout(hovermode="closest")
    return fig


def metric_name(metric: str, labels: Labels = EN) -> str:
    """A run-level metric as a learner reads it (``train/loss`` → "training loss" / 训练损失); the id
    itself for a metric the table does not name."""
    return labels.word(metric) if not I18N_KEYS.get(metric) else labels(I18N_KEYS[metric])


I18N_KEYS = {"train/loss": "chart.m.train_loss", "val/loss": "chart.m.val_loss",
             "train/accuracy": "chart.m.train_accuracy", "val/accuracy": "chart.m.val_accuracy",
             "grad/total_norm": "chart.m.grad_total_norm", "lr": "chart.m.lr"}


def _step_name(labels: Labels, label: str, step) -> str:
    """``A step 3``, or ``step 3`` without a label."""
    return labels("fig.t.label_step", label=label, step=step) if label else labels("fig.t.step", step=step)


# ---- 3. gradient norms ---------------------------------------------------------------------------
def grad_figure(series: Series, *, grad_clip: float = 0.0, log_y: bool = True, markers=(),
                uirevision: str = "grad", labels: Labels = EN) -> Fig:
    prefixes = block_prefixes(series)
    colors = layer_colors(len(prefixes))
    subs = [s for s in ("attn", "cross_attn", "mlp") if any(f"{p}.{s}.grad_norm" in series for p in prefixes)]
    titles = [labels("fig.t.grad_sub", sub=labels("chart.sub." + s)) for s in subs] + [labels.word("global ‖∇‖ (before clipping)")]
    fig = subplots(rows=1, cols=len(titles), subplot_titles=titles, shared_yaxes=False,
                        horizontal_spacing=0.06)
    for j, sub in enumerate(subs):
        _lines(fig, series, prefixes, f"{sub}.grad_norm", colors, row=1, col=j + 1, showlegend=j == 0)
    s, v = thin(*_get(series, "grad/total_norm"))
    col = len(titles)
    if len(s):
        fig.add_trace(dict(type="scatter", x=s, y=v, name=labels.word("global norm"), line=dict(color="#444")), row=1, col=col)
        if grad_clip > 0:
            fig.add_trace(dict(type="scatter", x=[s[0], s[-1]], y=[grad_clip, grad_clip], name=labels("fig.t.clip", clip=f"{grad_clip:g}"),
                                     mode="lines", line=dict(color="#d62728", dash="dot")), row=1, col=col)
    fig.update_yaxes(type="log" if log_y else "linear")
    fig.update_xaxes(title_text=labels.word("step"))
    _mark(fig, markers, labels)
    return _layout(fig, labels.word("Gradient norm per layer"), uirevision, height=340, labels=labels)


# ---- 4. branch/stream and update ratios ---------------------------------------------------------
def ratio_figure(series: Series, *, markers=(), uirevision: str = "ratio", labels: Labels = EN) -> Fig:
    """How much each sublayer changes the stream, ‖x_out − x_in‖/‖x_in‖ (``{sub}_out.change``), and
    the update ratio per layer. Runs saved before that metric existed show the raw branch ratio
    ‖F‖/‖x‖ (``{sub}_out.ratio``) instead, titled as what it is."""
    prefixes = block_prefixes(series)
    colors = layer_colors(len(prefixes))
    subs, titles = [], []
    for s in ("attn", "cross_attn", "mlp"):
        for metric, title in ((f"{s}_out.change", labels("fig.t.stream_change", sub=labels("chart.sub." + s))),
                              (f"{s}_out.ratio", labels("fig.t.raw_branch", sub=labels("chart.sub." + s)))):
            if any(f"{p}.{metric}" in series for p in prefixes):
                subs.append(metric)
                titles.append(title)
                break
    titles.append(labels.word("update ratio ‖Δθ‖/‖θ‖"))
    fig = subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.06)
    for j, metric in enumerate(subs):
        _lines(fig, series, prefixes, metric, colors, row=1, col=j + 1, showlegend=j == 0)
    _lines(fig, series, prefixes, "update_ratio", colors, row=1, col=len(titles), showlegend=not subs)
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text=labels.word("step"))
    _mark(fig, markers, labels)
    return _layout(fig, labels.word("Stream change per sublayer and update ratio per layer"), uirevision, height=340, labels=labels)


# ---- 5. attention ------------------------------------------------------------------------------
def attention_figure(snapshot, layer: str, head: int | None = None, *, uirevision: str = "attn", labels: Labels = EN) -> Fig:
    """One head's map, or all heads of ``layer`` as small multiples; probe tokens on the axes."""
    maps = snapshot.maps[layer] if snapshot is not None and layer in snapshot.maps else None
    if maps is None:
        fig = Fig()
        fig.add_annotation(text=labels.word("no attention map captured yet"), showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        return _layout(fig, labels.word("Attention"), uirevision, labels=labels)
    heads = [head] if head is not None else list(range(maps.shape[0]))
    cols = min(len(heads), 4)
    rows = math.ceil(len(heads) / cols)
    fig = subplots(rows=rows, cols=cols, subplot_titles=[labels("fig.t.head", h=h) for h in heads],
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    q_tokens, k_tokens = snapshot.labels[layer]
    q, k = _unique_labels(q_tokens), _unique_labels(k_tokens)
    for n, h in enumerate(heads):
        fig.add_trace(dict(type="heatmap", z=np.nan_to_num(maps[h], nan=0.0), x=k, y=q, zmin=0, zmax=1,
                                 colorscale=colorscale("Blues"), showscale=n == 0,
                                 hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"),
                      row=n // cols + 1, col=n % cols + 1)
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=11), **_token_ticks(q, q_tokens))
    fig.update_xaxes(tickfont=dict(size=11), tickangle=0, **_token_ticks(k, k_tokens))
    fig = _layout(fig, labels("fig.t.attention_of", layer=layer, step=snapshot.step), uirevision,
                  height=260 * rows + 60, labels=labels)
    fig.update_layout(hovermode="closest")
    return fig


def _glyph(token: str) -> str:
    """A token as it can be read on an axis: newline ␤, space ␠, other control characters as ␀-style
    pictures are not needed in the probe's alphabets."""
    return "␤" if token == chr(10) else "␠" if token == " " else token


def _token_ticks(categories: list[str], tokens, most: int = 16) -> dict:
    """Tick labels of an attention-map axis: the token glyphs themselves (the hover keeps the
    position), every k-th when there are more than ``most``, so they never run together."""
    k = max(1, math.ceil(len(categories) / most))
    keep = list(range(0, len(categories), k))
    return dict(tickmode="array", tickvals=[categories[i] for i in keep],
                ticktext=[_glyph(str(tokens[i])) for i in keep])


def _unique_labels(tokens) -> list[str]:
    """Plotly merges equal category labels; prefix each token with its position."""
    return [f"{i}:{'␤' if t == chr(10) else '␠' if t == ' ' else t}" for i, t in enumerate(tokens)]


def entropy_figure(series: Series, layer: str, *, markers=(), uirevision: str = "entropy", labels: Labels = EN) -> Fig:
    """Attention entropy per head of ``layer`` (e.g. ``blocks.2.attn``) over training, in nats."""
    heads = sorted((b.head, n) for n in series if n.startswith(layer + ".head") and n.endswith(".entropy")
                   and (b := names.parse(n)) is not None and b.head is not None)
    colors = sample_colorscale("Plasma", [0.85 * i / max(len(heads) - 1, 1) for i in range(len(heads))])
    fig = Fig()
    for (h, name), c in zip(heads, colors):
        s, v = thin(*series[name])
        fig.add_trace(dict(type="scatter", x=s, y=v, name=labels("fig.t.head", h=h), line=dict(color=c)))
    s, v = thin(*_get(series, f"{layer}.entropy"))
    if len(s):
        fig.add_trace(dict(type="scatter", x=s, y=v, name=labels.word("mean"), line=dict(color="#222", width=2.5, dash="dot")))
    fig.update_xaxes(title_text=labels.word("step"))
    fig.update_yaxes(title_text=labels.word("entropy (nats)"), rangemode="tozero")
    _mark(fig, markers, labels)
    return _layout(fig, labels("fig.t.entropy_of", layer=layer), uirevision, labels=labels)


# ---- 6. rank residual ----------------------------------------------------------------------------
def rank_figure(series: Series, *, markers=(), uirevision: str = "rank", labels: Labels = EN) -> Fig:
    prefixes = block_prefixes(series)
    fig = Fig()
    _lines(fig, series, prefixes, "rank_residual", layer_colors(len(prefixes)))
    fig.update_xaxes(title_text=labels.word("step"))
    fig.update_yaxes(title_text="‖X − 1x̄ᵀ‖/‖X‖", type="log")
    _mark(fig, markers, labels)
    return _layout(fig, labels.word("Rank residual per layer (→ 0: tokens collapse to one vector)"), uirevision, labels=labels)


def attention_layers(snapshot) -> list[str]:
    return list(snapshot.maps) if snapshot is not None else []


# ---- the views of one run: Live and Runs pages, and the HTML export -------------------------------------
@dataclass(frozen=True)
class RunChart:
    """One chart of a run view: ``key`` names it (widget key ``<page>_chart_<key>``, export ``<key>.html``),
    ``build(series, markers, grad_clip, labels, uirevision, log_y)`` draws it, ``width`` is its share of the
    view's row."""
    key: str
    build: Callable
    width: int = 1


@dataclass(frozen=True)
class RunView:
    """A view of a run's metrics (``id`` is shown through ``view.<id>``), its charts side by side; ``log``
    says the view offers a log-scale toggle."""
    id: str
    charts: tuple[RunChart, ...]
    log: bool = False


# ---- 7. issue 18 (i-attn): diagnostics, learned parameters, layer pruning, S-curves ---------------
DIAGNOSTIC_PANELS = (  # (metric suffix, title key, log y)
    ("attn.max_logit", "fig.diag.max_logit", False),
    ("attn.sink", "fig.diag.sink", False),
    ("resid_post.massive", "fig.diag.massive", True),
    ("angular_distance", "fig.diag.angular", False),
)


def _empty(fig, text: str) -> None:
    """A chart with nothing to show: its reason in the middle, no axes."""
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def diagnostics_figure(series: Series, *, markers=(), uirevision: str = "diag", labels: Labels = EN) -> Fig:
    """Per layer over training, 2 × 2: the largest attention logit, the attention-sink share, massive
    activations (max|x|/median|x|, log scale) and the angular distance between each block's input and
    output streams (``resnorm/science/probes.py``)."""
    prefixes = block_prefixes(series)
    colors = layer_colors(len(prefixes))
    fig = subplots(rows=2, cols=2, subplot_titles=[labels(k) for _, k, _ in DIAGNOSTIC_PANELS],
                   vertical_spacing=0.16, horizontal_spacing=0.08)
    for j, (metric, _, log_y) in enumerate(DIAGNOSTIC_PANELS):
        row, col = j // 2 + 1, j % 2 + 1
        _lines(fig, series, prefixes, metric, colors, row=row, col=col, showlegend=j == 0)
        fig.update_yaxes(type="log" if log_y else "linear", row=row, col=col)
    fig.update_xaxes(title_text=labels.word("step"), row=2)
    _mark(fig, markers, labels)
    return _layout(fig, labels("fig.diag.title"), uirevision, height=520, labels=labels)


def _learned_names(series: Series) -> tuple[list[str], list[str]]:
    """(scalar names, mixing-matrix entry names) recorded by ``probes.LearnedParams``, in layer order."""
    def key(n):
        b = names.parse(n)
        return (b.order if b else (9, 0), n)
    learned = sorted((n for n in series if ".param." in n or n.startswith("param/")), key=key)
    entry = lambda n: n.rsplit(".", 1)[-1].replace("_", "").isdigit() and "mix" in n  # noqa: E731
    return [n for n in learned if not entry(n)], [n for n in learned if entry(n)]


def learned_figure(series: Series, *, markers=(), uirevision: str = "learned", labels: Labels = EN) -> Fig:
    """Every learned scalar over training (ReZero gates, DyT/Derf a and s, any one-element parameter a
    variant registers), one line each, coloured by layer."""
    scalars, _ = _learned_names(series)
    prefixes = block_prefixes(series)
    colors = dict(zip(prefixes, layer_colors(len(prefixes))))
    fig = Fig()
    for n in scalars:
        s, v = thin(*series[n])
        b = names.parse(n)
        fig.add_trace(dict(type="scatter", x=s, y=v, mode="lines", name=n.replace("blocks.", "L").replace(".param.", " "),
                           line=dict(color=colors.get(b.prefix, "#444") if b else "#444", width=1.5)))
    if not scalars:
        _empty(fig, labels("fig.diag.no_scalars"))
    fig.update_xaxes(title_text=labels.word("step"))
    _mark(fig, markers, labels)
    return _layout(fig, labels("fig.diag.learned"), uirevision, height=360, labels=labels)


def mixing_figure(series: Series, *, markers=(), uirevision: str = "mixing", labels: Labels = EN) -> Fig:
    """The entries of every small mixing matrix (a 2-D parameter named ``…mix…``, e.g. hyper-connections)
    over training: one heatmap row per entry, steps across."""
    _, entries = _learned_names(series)
    fig = Fig()
    if entries:
        steps = np.unique(np.concatenate([series[n][0] for n in entries]))
        steps_t, _ = thin(steps, steps.astype(float), 400)
        z = np.full((len(entries), len(steps_t)), np.nan)
        for i, n in enumerate(entries):
            s, v = series[n]
            idx = np.searchsorted(s, steps_t)
            ok = (idx < len(s)) & (s[np.minimum(idx, len(s) - 1)] == steps_t)
            z[i, ok] = v[idx[ok]]
        fig.add_trace(dict(type="heatmap", x=steps_t, y=[n.replace("blocks.", "L").replace(".param.", " ") for n in entries],
                           z=z, colorscale=colorscale("RdBu"), zmid=0,
                           hovertemplate="step %{x}<br>%{y}<br>%{z:.4g}<extra></extra>"))
    else:
        _empty(fig, labels("fig.diag.no_mixing"))
    fig.update_xaxes(title_text=labels.word("step"))
    _mark(fig, markers, labels)
    fig = _layout(fig, labels("fig.diag.mixing"), uirevision, height=360, labels=labels)
    fig.update_layout(hovermode="closest")
    return fig


def pruning_figure(series: Series, *, uirevision: str = "prune", labels: Labels = EN) -> Fig:
    """Layer pruning: the validation-loss increase when each block is removed, measured at the end of
    a completed run (``{p}.prune_dloss``); a block near 0 does little (the curse of depth)."""
    prefixes = [p for p in block_prefixes(series) if f"{p}.prune_dloss" in series]
    fig = Fig()
    if prefixes:
        y = np.array([_get(series, f"{p}.prune_dloss")[1][-1] for p in prefixes], dtype=float)
        fig.add_trace(dict(type="bar", x=[short(p) for p in prefixes], y=np.where(np.isfinite(y), y, np.nan),
                           marker_color=layer_colors(len(prefixes)), name="Δ loss"))
    else:
        _empty(fig, labels("fig.diag.no_pruning"))
    fig.update_xaxes(title_text=labels.word("layer"))
    fig.update_yaxes(title_text=labels("fig.diag.dloss"))
    fig = _layout(fig, labels("fig.diag.pruning"), uirevision, height=360, labels=labels)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def s_curve_figure(samples: dict, *, uirevision: str = "scurve", labels: Labels = EN) -> Fig:
    """DyT/Derf input against output, one panel per norm (``samples``: {module name: (x, y)} from
    ``resnorm.studies.scurves.s_curves``): the S-curves of Zhu et al. 2025, Fig. 2."""
    keys = list(samples)
    fig = Fig()
    if not keys:
        fig.add_annotation(text=labels("fig.diag.no_scurve"), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return _layout(fig, labels("fig.diag.scurve"), uirevision, labels=labels)
    cols = min(len(keys), 4)
    rows = math.ceil(len(keys) / cols)
    fig = subplots(rows=rows, cols=cols, subplot_titles=[k.replace("blocks.", "L") for k in keys],
                   horizontal_spacing=0.05, vertical_spacing=0.14)
    colors = layer_colors(len(keys))
    for n, k in enumerate(keys):
        x, y = samples[k]
        fig.add_trace(dict(type="scattergl", x=np.asarray(x), y=np.asarray(y), mode="markers", name=k, showlegend=False,
                           marker=dict(size=3, color=colors[n], opacity=0.5)), row=n // cols + 1, col=n % cols + 1)
    fig.update_xaxes(title_text=labels("fig.diag.scurve_x"), row=rows)
    fig = _layout(fig, labels("fig.diag.scurve"), uirevision, height=230 * rows + 80, labels=labels)
    fig.update_layout(hovermode="closest")
    return fig


RUN_VIEWS = (
    RunView("Loss", (RunChart("loss", lambda s, m, clip, L, ui, log_y: loss_figure(
        s, log_y=log_y, markers=m, uirevision=ui, labels=L)),), log=True),
    RunView("Residual stream", (
        RunChart("resid", lambda s, m, clip, L, ui, log_y: resid_heatmap(s, markers=m, uirevision=ui, labels=L), 3),
        RunChart("depth", lambda s, m, clip, L, ui, log_y: depth_profile(
            s, ("resid_post.rms",), title=L("live.resid_by_layer"), y_title=L("live.rms"), uirevision=ui,
            labels=L), 2))),
    RunView("Gradients", (RunChart("grad", lambda s, m, clip, L, ui, log_y: grad_figure(
        s, grad_clip=clip, markers=m, uirevision=ui, labels=L)),)),
    RunView("Ratios", (RunChart("ratio", lambda s, m, clip, L, ui, log_y: ratio_figure(
        s, markers=m, uirevision=ui, labels=L)),)),
    RunView("Rank", (RunChart("rank", lambda s, m, clip, L, ui, log_y: rank_figure(
        s, markers=m, uirevision=ui, labels=L)),)),
    RunView("Diagnostics", (  # issue 18
        RunChart("diag", lambda s, m, clip, L, ui, log_y: diagnostics_figure(s, markers=m, uirevision=ui, labels=L), 3),
        RunChart("prune", lambda s, m, clip, L, ui, log_y: pruning_figure(s, uirevision=ui, labels=L), 2))),
    RunView("Learned parameters", (
        RunChart("learned", lambda s, m, clip, L, ui, log_y: learned_figure(s, markers=m, uirevision=ui, labels=L)),
        RunChart("mixing", lambda s, m, clip, L, ui, log_y: mixing_figure(s, markers=m, uirevision=ui, labels=L)))),
)  # i18n: ids (shown via view.*); the Live page adds its attention view (it needs the attention maps)


def run_charts() -> dict[str, RunChart]:
    """Every chart of ``RUN_VIEWS`` by key, in view order (the export's list)."""
    return {c.key: c for v in RUN_VIEWS for c in v.charts}


# ---- several runs: one colour per run or config ------------------------------------------------------
CONFIG_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]  # the one palette of runs and configs (layers use layer_colors)


def run_colors(n: int) -> list[str]:
    """``n`` colours for ``n`` runs or configs, in order (the palette repeats after ten)."""
    return [CONFIG_COLORS[i % len(CONFIG_COLORS)] for i in range(n)]


def runs_overlay_figure(runs: dict, metric: str = "train/loss", *, dashed: str | None = "val/loss",
                        log_y: bool = False, markers: dict | None = None, uirevision: str = "runs-overlay",
                        labels: Labels = EN) -> Fig:
    """Saved runs overlaid: ``metric`` of each run (``runs``: ``{label: series}``), one colour per run,
    and ``dashed`` (a second metric, None for none) dashed in the same colour; ``markers``:
    ``{label: [Marker]}``, a divergence a dotted line in the run's colour. Labels come from the runs
    folder: they are text, never Plotly's HTML (escaped)."""
    import html

    fig = Fig()
    for (label, series), color in zip(runs.items(), run_colors(len(runs))):
        for name, dash in ((metric, None), (dashed, "dash")):
            if not name:
                continue
            s, v = thin(*_get(series, name))
            if len(s):
                shown = html.escape(str(label)[:80])
                fig.add_trace(dict(type="scatter", x=s, y=v, name=f"{shown} · {metric_name(name, labels)}" if dashed else shown,
                                   mode=line_mode(v), legendgroup=str(label),
                                   line=dict(color=color, dash=dash, width=1.8)))
        for m in (markers or {}).get(label, ()):
            fig.add_vline(x=m.step, line=dict(color=color, dash="dot", width=1.5))
    fig.update_xaxes(title_text=labels.word("step"))
    fig.update_yaxes(title_text=metric_name(metric, labels), type="log" if log_y else "linear")
    title = labels("fig.t.runs_overlay_one" if len(runs) == 1 else "fig.t.runs_overlay", metric=metric_name(metric, labels),
                   n=len(runs))
    if dashed:
        title = labels("fig.t.runs_dashed", title=title, dashed=metric_name(dashed, labels))
    return _layout(fig, title, uirevision, height=420, labels=labels)


def overlay_figure(runs, name: str, *, title: str, log_y: bool = False, uirevision: str = "overlay", labels: Labels = EN) -> Fig:
    """One curve per config (``runs``: list of (label, series, markers)), one colour per config;
    each config's events are dashed lines in its colour."""
    fig = Fig()
    for k, (label, series, markers) in enumerate(runs):
        color = CONFIG_COLORS[k % len(CONFIG_COLORS)]
        s, v = thin(*_get(series, name))
        if len(s):
            fig.add_trace(dict(type="scatter", x=s, y=v, name=label, mode=line_mode(v),
                                     line=dict(color=color, width=2)))
        by_kind: dict[str, list] = {}
        for m in markers or ():
            fig.add_vline(x=m.step, line=dict(color=color, dash="dash", width=1.2))
            by_kind.setdefault(m.kind, []).append(m.step)
        for kind, steps in by_kind.items():  # named in the legend: text on the chart stacked unreadably
            _legend_entry(fig, labels("chart.event_of", label=label, kind=labels.event(kind), step=_steps_text(steps)),
                          color=color, dash="dash", group=f"events-{k}")
    fig.update_xaxes(title_text=labels.word("step"))
    fig.update_yaxes(type="log" if log_y else "linear")
    return _layout(fig, title, uirevision, labels=labels)


def profiles_side_by_side(runs, metric: str, *, title: str, log_y: bool = True,
                          uirevision: str = "profiles", labels: Labels = EN) -> Fig:
    """Per-layer ``metric`` at the latest step (and the first, in grey), one panel per config."""
    fig = subplots(rows=1, cols=len(runs), subplot_titles=[label for label, _, _ in runs], shared_yaxes=True,
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
            fig.add_trace(dict(type="scatter", x=x, y=y, mode="lines+markers", line=dict(color=color, width=width),
                                     name=labels("fig.t.label_step", label=label, step=step), showlegend=True), row=1, col=k + 1)
    fig.update_yaxes(type="log" if log_y else "linear")
    fig = _layout(fig, title, uirevision, height=300, labels=labels)
    fig.update_layout(hovermode="closest")
    return fig


def difference_figure(label_a: str, series_a, label_b: str, series_b, *, uirevision: str = "diff", labels: Labels = EN) -> Fig:
    """Left: loss of B minus loss of A over steps. Right: per-layer gradient norm, B − A, latest step."""
    from .compare import difference, layer_profile

    fig = subplots(rows=1, cols=2, column_widths=[0.6, 0.4], subplot_titles=[  # the labels are in the title
        labels("chart.diff_loss"), labels("chart.diff_grad")])
    s, d = difference(series_a, series_b, "train/loss")
    s, d = thin(s, d)
    fig.add_trace(dict(type="scatter", x=s, y=d, name=labels.word("Δ loss"), line=dict(color="#444")), row=1, col=1)
    fig.add_hline(y=0, line=dict(color="#999", width=1), row=1, col=1)
    pa, va = layer_profile(series_a, "grad_norm")
    pb, vb = layer_profile(series_b, "grad_norm")
    if pa == pb and len(pa):
        delta = np.where(np.isfinite(vb - va), vb - va, np.nan)
        fig.add_trace(dict(type="bar", x=[short(p) for p in pa], y=delta, name="Δ ‖∇‖",
                             marker_color=["#2ca02c" if v >= 0 else "#d62728" for v in np.nan_to_num(delta)]),
                      row=1, col=2)
    fig.update_xaxes(title_text=labels.word("step"), row=1, col=1)
    fig = _layout(fig, labels("fig.t.diff", a=label_a, b=label_b), uirevision, height=300, labels=labels)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig
