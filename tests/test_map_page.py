"""The Trainability map page (AppTest): it renders in English and Chinese, a bad axis is an error naming
the axis (never a traceback, Run disabled), a tiny 4-cell sweep fills the heatmap with the cells' own
final losses, and the saved sweep is listed on the Runs page and reopens on the map."""
from __future__ import annotations

import math

import pytest

from helpers import app_test, wait
from test_figures_map import _array


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _map(**query):
    at = app_test(run=False, **query)
    at.switch_page("app_pages/map.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("lang, title", [("en", "Trainability map"), ("zh", "可训练性地图")])
def test_the_page_renders_in_both_languages(lang, title, runs_dir):
    at = _map(lang=lang)
    assert [x.value for x in at.title] == [title]
    assert not at.error
    assert not at.button(key="map_run").disabled


@pytest.mark.parametrize("key, text, axis", [("map_axis2_values", "3e-4,abc", "lr"),
                                             ("map_axis1_values", "2,-1", "layers"),
                                             ("map_axis1_values", "", "layers")])
def test_a_bad_axis_is_an_error_naming_the_axis(key, text, axis, runs_dir):
    at = _map()
    at.text_input(key=key).set_value(text).run()
    assert not at.exception
    assert any(e.value.startswith(f"Axis {axis}:") for e in at.error), [e.value for e in at.error]
    assert at.button(key="map_run").disabled


def test_the_same_field_twice_and_too_many_cells_are_errors(runs_dir, monkeypatch):
    at = _map()
    at.selectbox(key="map_axis2_field").set_value("layers").run()
    assert any("Axis layers" in e.value for e in at.error)
    monkeypatch.setenv("RESNORM_MAX_SWEEP_CELLS", "4")
    at = _map()
    at.text_input(key="map_axis1_values").set_value("1,2,3").run()  # 3 × 3 = 9 cells > 4
    assert any("more than the limit of 4" in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="map_run").disabled


def _tiny(at, steps: int, layers: str, lrs: str):
    """A tiny model in the sidebar, layers × learning rate on the map's two axes."""
    for k, v in dict(layers=1, d_model=16, heads=2, d_ff=32, batch_size=4, seq_len=6, steps=steps).items():
        at.number_input(key=f"cfg_{k}").set_value(v)
    at.text_input(key="map_axis1_values").set_value(layers)
    return at.text_input(key="map_axis2_values").set_value(lrs).run()


def test_a_tiny_sweep_fills_the_heatmap_and_reopens_from_the_runs_page(runs_dir):
    from resnorm.serving import sweep_session as SS

    at = _tiny(_map(), steps=5, layers="1,2", lrs="1e-3,1e-2")
    assert any("4 cells" in c.value for c in at.caption)
    at.button(key="map_run").click().run()
    assert not at.exception
    assert wait(lambda: not [e for e in at.run().error] and any(
        "4 of 4 cells" in str(p.proto) for p in at.get("progress")), timeout=240), [e.value for e in at.error]
    found = SS.list_sweeps()
    assert len(found) == 1
    name, _, rec = found[0]
    rows = rec.rows
    assert len(rows) == 4 and set(rows["status"]) <= {"completed", "diverged"}
    chart = at.get("plotly_chart")[0]
    import json

    fig = json.loads(chart.proto.spec)
    heat = next(tr for tr in fig["data"] if tr["type"] == "heatmap")
    assert heat["y"] == ["1", "2"] and heat["x"] == ["0.001", "0.01"]
    z = _array(heat["z"])
    checked = 0
    for r in rows.to_dict("records"):
        i, j = [1, 2].index(int(r["layers"])), [1e-3, 1e-2].index(float(r["lr"]))
        if r["status"] == "completed":
            assert math.isclose(z[i, j], math.log10(r["final_loss"]), rel_tol=1e-9)
            checked += 1
        else:
            assert math.isnan(z[i, j])
    assert checked >= 3  # tiny cells at these rates train
    # the Runs page lists the sweep; its button opens it on the map
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception
    assert any(name in m.value for m in at.markdown)
    at.button(key=f"map_reopen_{name}").click().run()
    assert not at.exception
    assert [x.value for x in at.title] == ["Trainability map"]
    assert at.get("plotly_chart")


def test_leaving_the_page_stops_the_sweep_and_a_rerun_never_starts_it_twice(runs_dir):
    at = _tiny(_map(), steps=1_000_000, layers="1", lrs="1e-3")
    # AppTest's sessions share the session-scoped resources: an earlier test's sweep may still be closing
    assert wait(lambda: not at.run().button(key="map_run").disabled, timeout=120)
    at.button(key="map_run").click().run()
    assert not at.exception
    assert at.button(key="map_run").disabled and not at.button(key="map_stop").disabled  # running: no second start
    at.run()
    assert at.button(key="map_run").disabled
    at.switch_page("app_pages/live.py").run()  # leaving the page stops it
    at.switch_page("app_pages/map.py")
    assert wait(lambda: not at.run().button(key="map_run").disabled, timeout=120)
    assert any("stopped" in str(p.proto) for p in at.get("progress"))


def test_the_link_restores_the_base_and_the_axes_and_the_share_panel_gives_the_command(runs_dir):
    at = _map(layers="3", axis1="d_model=16,32", axis2="lr=1e-3,1e-2", axis3="norm_position=post,pre", target="0.5")
    assert at.number_input(key="cfg_layers").value == 3
    assert at.selectbox(key="map_axis1_field").value == "d_model" and at.text_input(key="map_axis1_values").value == "16,32"
    assert at.selectbox(key="map_axis3_field").value == "norm_position"
    assert at.number_input(key="map_target").value == 0.5
    assert any("8 cells" in c.value for c in at.caption)
    code = " ".join(c.value for c in at.code)
    assert "python -m resnorm sweep" in code and "--axis d_model=16,32" in code and "--target 0.5" in code
    assert "axis1=d_model" in code  # the link


@pytest.mark.parametrize("query, shown", [({"sweep": "../../etc"}, "sweep"), ({"target": "abc"}, "target=abc"),
                                          ({"axis2": "lr=abc"}, "Axis lr")])
def test_a_bad_link_is_named_never_a_traceback(query, shown, runs_dir):
    at = _map(**query)
    assert not at.exception
    assert any(shown in x.value for x in list(at.info) + list(at.error)), [x.value for x in list(at.info) + list(at.error)]
