"""The trainability map's figure (``resnorm.studies.figures_map``) against its rows: each heatmap cell
is the row's value (log₁₀ of it on the log scale), a cell not yet run is blank, a diverged cell has no
colour and an ✕ at its place with its reason in the hover, facets split by the third axis, and the
dict is a valid Plotly figure (``go.Figure`` accepts it unchanged)."""
from __future__ import annotations

import base64
import math

import numpy as np
import plotly.graph_objects as go

from resnorm.i18n import Labels
from resnorm.studies import figures_map as FM


def _marks(fig):
    """The visible status marks (not the invisible per-cell click targets)."""
    return [t for t in fig["data"] if t["type"] == "scatter" and t.get("legendgroup") != FM.CELLS]


def _cells(fig, panel: int = 0):
    return [t for t in fig["data"] if t.get("legendgroup") == FM.CELLS][panel]


def _array(v):
    """A trace's array as numpy: typed-array specs (``{"dtype", "bdata", "shape"}``) decoded."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            a = a.reshape(tuple(int(s) for s in v["shape"].split(",")))
        return a
    return np.asarray(v, dtype=float)


AXES = {"layers": (2, 4, 8), "lr": (3e-4, 1e-3, 1e-2)}


def _rows():
    rows = []
    for i, L in enumerate(AXES["layers"]):
        for j, lr in enumerate(AXES["lr"]):
            if (L, lr) == (8, 1e-2):
                rows.append(dict(layers=L, lr=lr, status="diverged", final_loss=None, reason="loss is nan at step 7"))
            elif (L, lr) == (4, 1e-2):
                continue  # not finished yet
            else:
                rows.append(dict(layers=L, lr=lr, status="completed", final_loss=0.01 * (i + 1) * 10 ** j,
                                 steps_to_target=10 * (i + j + 1), reason=""))
    return rows


def test_heatmap_cells_equal_the_rows_values_on_a_log_scale():
    rows = _rows()
    fig = FM.map_figure(rows, AXES, "final_loss", log=True).to_dict()
    heat = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert len(heat) == 1
    z = _array(heat[0]["z"])
    assert heat[0]["y"] == ["2", "4", "8"] and heat[0]["x"] == ["0.0003", "0.001", "0.01"]
    for r in rows:
        i, j = AXES["layers"].index(r["layers"]), AXES["lr"].index(r["lr"])
        if r["status"] == "completed":
            assert math.isclose(z[i, j], math.log10(r["final_loss"]), rel_tol=1e-12)
        else:
            assert math.isnan(z[i, j])  # diverged: no colour
    assert math.isnan(z[1, 2])  # not finished: blank
    cells = _cells(fig)  # the hover: one text per cell, row by row
    assert list(zip(cells["y"], cells["x"]))[5] == ("4", "0.01") and "not finished" in cells["text"][5]
    assert "0.1" in cells["text"][1] and "completed" in cells["text"][1]  # layers 2, lr 1e-3: 0.01 × 10
    go.Figure(fig)  # a valid figure


def test_a_linear_scale_shows_the_values_themselves():
    rows = _rows()
    fig = FM.map_figure(rows, AXES, "steps_to_target", log=False).to_dict()
    z = _array(next(t for t in fig["data"] if t["type"] == "heatmap")["z"])
    for r in rows:
        if r["status"] == "completed":
            assert z[AXES["layers"].index(r["layers"]), AXES["lr"].index(r["lr"])] == r["steps_to_target"]


def test_diverged_cells_are_marked_and_listed_with_their_reason():
    rows = _rows()
    fig = FM.map_figure(rows, AXES).to_dict()
    marks = _marks(fig)
    assert len(marks) == 1 and marks[0]["marker"]["symbol"] == "x"
    assert marks[0]["x"] == ["0.01"] and marks[0]["y"] == ["8"]
    assert "diverged" in marks[0]["text"][0] and "loss is nan at step 7" in marks[0]["text"][0]
    assert FM.diverged_cells(rows, AXES) == [{"layers": 8, "lr": 1e-2}]
    zh = FM.map_figure(rows, AXES, labels=Labels("zh")).to_dict()
    assert _marks(zh)[0]["name"] == "发散"


def test_failed_cells_are_marked_differently_and_the_hover_escapes_html():
    rows = [dict(layers=2, lr=3e-4, status="failed", final_loss=None, reason="<b>boom</b>")]
    fig = FM.map_figure(rows, AXES).to_dict()
    mark = _marks(fig)[0]
    assert mark["marker"]["symbol"] == "circle-open"
    assert "&lt;b&gt;boom" in mark["text"][0] and "<b>boom" not in mark["text"][0]


def test_a_third_axis_gives_one_panel_per_value():
    axes = {**AXES, "norm_position": ("post", "pre")}
    rows = [dict(r, norm_position=p, final_loss=(r["final_loss"] or 0) * (1 if p == "post" else 2))
            for r in _rows() for p in ("post", "pre")]
    fig = FM.map_figure(rows, axes).to_dict()
    heat = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert [h.get("xaxis", "x") for h in heat] == ["x", "x2"]
    z_post, z_pre = _array(heat[0]["z"]), _array(heat[1]["z"])
    ok = np.isfinite(z_post)
    assert ok.sum() == 7 and np.allclose(z_pre[ok] - z_post[ok], math.log10(2))
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["norm_position = post", "norm_position = pre"]
    assert len([t for t in _marks(fig) if t["showlegend"]]) == 1  # ✕ once in the legend
    go.Figure(fig)


def test_values_read_back_from_a_csv_match_the_axes():
    """cells.csv gives "2" or 2.0 for an int axis: the cell still lands in its place."""
    rows = [dict(layers="4", lr="0.001", status="completed", final_loss="0.5")]
    z = _array(next(t for t in FM.map_figure(rows, AXES, log=False).to_dict()["data"] if t["type"] == "heatmap")["z"])
    assert z[1, 1] == 0.5 and np.isnan(z).sum() == 8
