"""The chart builders emit plain dicts; each must render exactly as the validated Plotly figure.

Two checks per chart (``figure_cases.py``): Plotly's object model validates the dict and changes
nothing (``go.Figure(d)`` serialises to the same JSON as ``d``), and that JSON equals the golden
one written by the ``go.Figure`` / ``make_subplots`` builders these replaced (floats up to noise).
"""
import json
import math

import plotly.graph_objects as go
import plotly.io as pio
import pytest

import figure_cases as C
from resnorm import figures as F

GOLDEN = None


def golden() -> dict:
    global GOLDEN
    if GOLDEN is None:
        import json

        GOLDEN = json.loads(C.GOLDEN.read_text(encoding="utf-8"))
    return GOLDEN


def same(a, b, path="") -> list[str]:
    """Where two decoded JSON values differ (floats compared to 1e-12 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only in {'first' if k in a else 'second'}" for k in set(a) ^ set(b)]
        return out + [d for k in set(a) & set(b) for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return [] if math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


CASES = C.cases()


@pytest.mark.parametrize("name", list(CASES))
def test_each_chart_is_a_plain_dict_that_validation_leaves_unchanged(name):
    fig = CASES[name]()
    assert type(fig.to_dict()) is dict and set(fig) == set(fig.to_dict()) == {"data", "layout"}
    assert all(type(t) is dict for t in fig["data"])
    validated = go.Figure(fig.to_dict())  # raises on any property Plotly does not know
    assert same(C.plotly_json(validated), C.plotly_json(fig)) == []


@pytest.mark.parametrize("name", list(CASES))
def test_each_chart_renders_as_the_object_model_builders_drew_it(name):
    spec = C.plotly_json(CASES[name]())
    assert spec["layout"].pop("template") == C.plotly_json(go.Figure(layout=dict(template="plotly_white")))[
        "layout"]["template"]
    assert same(spec, golden()[name]) == []


def test_the_comparison_can_fail():
    spec = C.plotly_json(CASES["gradients"]())
    spec["layout"].pop("template")
    spec["layout"]["shapes"][1]["yref"] = "y3 domain"  # a marker on the wrong panel
    spec["data"][0]["line"]["width"] += 1e-6  # a line a hair wider
    assert len(same(spec, golden()["gradients"])) == 2


def test_subplot_grids_are_computed_once_per_shape():
    F._grid.cache_clear()
    for _ in range(3):
        CASES["gradients"]()
    info = F._grid.cache_info()
    assert info.misses == 1 and info.hits == 2


def test_a_marker_skips_empty_panels_like_plotly():
    class M:
        step, kind = 5, "diverged"

    series = {"blocks.0.attn.grad_norm": C.series()["blocks.0.attn.grad_norm"]}  # no global norm: last panel empty
    got = C.plotly_json(F.grad_figure(series, markers=[M()]))
    want = C.plotly_json(go.Figure(F.grad_figure(series).to_dict()).add_vline(x=5, line=dict(
        color="#d62728", dash="dash", width=1.5)))
    assert [s["xref"] for s in got["layout"]["shapes"]] == [s["xref"] for s in want["layout"]["shapes"]] == ["x"]


def test_streamlit_gets_the_dict_without_validating_it_again(monkeypatch):
    """``st.plotly_chart`` (Streamlit 1.67) turns its argument into a dict with
    ``plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)`` and sends
    ``plotly.io.to_json(that, validate=False)``: a plain dict would be validated into a
    ``go.Figure`` there; ``prebuilt`` must not be, and must send the same JSON."""
    import plotly.graph_objs
    import plotly.tools

    fig = CASES["loss log, marker"]()
    pre = F.prebuilt(fig)
    assert isinstance(pre, go.Figure)
    other = go.Figure()
    assert F.prebuilt(other) is other  # a validated figure goes through unchanged

    def refuse(*a, **k):
        raise AssertionError("validated again")

    monkeypatch.setattr(plotly.graph_objs, "Figure", refuse)
    sent = plotly.tools.return_figure_from_figure_or_data(pre, validate_figure=True)
    assert json.loads(pio.to_json(sent, validate=False)) == C.plotly_json(fig)
    with pytest.raises(AssertionError, match="validated again"):  # what a plain dict would cost
        plotly.tools.return_figure_from_figure_or_data(fig.to_dict(), validate_figure=True)
