"""Issue 18 in the app: the At-initialisation presets of the new variants run without errors and
label their curves with the variants' display names; the sidebar shows the chosen variant's formula
and paper, and draws a variant's own setting only when that variant is chosen."""
from __future__ import annotations

import json

import pytest

from helpers import app_test

PRESETS = {
    "Where the norm sits, 2025: Pre-LN vs Peri-LN vs Mix-LN": ["1 · Pre-LN", "2 · Peri-LN / Sandwich-LN", "3 · Mix-LN"],
    "Post-LN made trainable: Post-LN vs Admin vs T-Fixup": None,
    "The skip path, 2025: Pre-LN vs depth-μP vs hyper-connections vs mHC": None,
}


@pytest.fixture(scope="module")
def init_page():
    at = app_test()
    at.switch_page("app_pages/init.py").run()
    assert not at.exception, at.exception
    at.sidebar.slider(key="init_depth").set_range(2, 4).run()
    at.sidebar.slider(key="init_seeds").set_value(1).run()
    return at


@pytest.mark.parametrize("name", list(PRESETS))
def test_new_init_presets_draw_without_error(init_page, name):
    at = init_page
    at.selectbox(key="init_preset").set_value(name).run()
    assert not at.exception and not at.sidebar.error, [e.value for e in at.sidebar.error]  # AppTests share session runs
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert specs
    medians = [t["name"] for t in specs[0]["data"] if (t.get("meta") or {}).get("role") == "median"]
    assert len(medians) == (4 if name.startswith("The skip") else 3)
    if PRESETS[name]:
        assert medians == PRESETS[name]


def test_sidebar_shows_the_variant_and_its_own_settings():
    at = app_test()
    at.run()
    assert not at.exception
    keys = {w.key for w in at.sidebar.number_input} | {w.key for w in at.sidebar.toggle}
    assert "cfg_mixln_alpha" not in keys and "cfg_streams" not in keys  # not chosen: not drawn
    assert "cfg_value_residual" in keys
    at.sidebar.selectbox(key="cfg_norm_position").set_value("mixln").run()
    at.sidebar.selectbox(key="cfg_residual").set_value("depthmup").run()
    assert not at.exception and not at.sidebar.error, [e.value for e in at.sidebar.error]  # AppTests share session runs
    keys = {w.key for w in at.sidebar.number_input}
    assert {"cfg_mixln_alpha", "cfg_residual_alpha"} <= keys and "cfg_streams" not in keys
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Li et al. 2025" in captions and "Mix-LN" in captions and "CompleteP" in captions
    at.sidebar.selectbox(key="cfg_norm_position").set_value("pre").run()
    at.sidebar.selectbox(key="cfg_residual").set_value("hyper").run()
    assert not at.exception and not at.sidebar.error, [e.value for e in at.sidebar.error]  # AppTests share session runs
    keys = {w.key for w in at.sidebar.number_input} | {w.key for w in at.sidebar.toggle}
    assert {"cfg_streams", "cfg_hc_dynamic"} <= keys and "cfg_mixln_alpha" not in keys
    assert "Zhu et al. 2025" in " ".join(c.value for c in at.sidebar.caption)
    at.sidebar.selectbox(key="cfg_norm_position").set_value("post").run()  # hyper + post: refused
    assert any("norm_position post" in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]
