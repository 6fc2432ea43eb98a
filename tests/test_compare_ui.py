"""The Compare page shows only the settings that apply (shared ones in the sidebar, per-variant ones in
the columns), opens on a preset that states why it was chosen, shares every variant as its own
command, and names the variants in its legends by what differs (issue 13, item 6)."""
import json
import shlex
import time

import pytest

from resnorm import i18n as I
from resnorm.cli import _config_from_args, build_parser
from resnorm.studies.defaults import COMPARE_PRESETS, DEFAULT_COMPARE, LIVE, PER_VARIANT
from helpers import app_test


def _compare(**query):
    at = app_test(run=False)
    at.query_params.update(query)
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    return at


def _sidebar_fields(at) -> set[str]:
    widgets = [*at.sidebar.number_input, *at.sidebar.selectbox, *at.sidebar.toggle]
    return {w.key[len("cmpb_"):] for w in widgets if w.key and w.key.startswith("cmpb_")}


def test_sidebar_holds_only_shared_settings_and_the_columns_the_per_variant_ones():
    at = _compare()
    shown = _sidebar_fields(at)
    assert shown and not shown & set(PER_VARIANT)  # nothing in the sidebar is overridden by a column
    assert {"layers", "steps", "task", "seed"} <= shown
    for i in range(2):
        for field in PER_VARIANT:
            assert at.session_state[f"cmp_{i}_{field}"] is not None


def test_a_new_session_opens_on_the_default_preset_with_its_reason():
    at = _compare()
    p = COMPARE_PRESETS[DEFAULT_COMPARE]
    s = at.session_state
    assert s["cmp_preset"] == DEFAULT_COMPARE and s["cmp_n"] == len(p.variants)
    for i, v in enumerate(p.variants):
        for field, value in v.items():
            assert s[f"cmp_{i}_{field}"] == value
    for field, value in p.shared.items():
        assert s[f"cmpb_{field}"] == value
    why = I.translate(f"why.compare.{DEFAULT_COMPARE}", "en", **p.measured)
    assert any(why in c.value for c in at.caption)


def test_choosing_another_preset_sets_sidebar_and_columns():
    at = _compare()
    at.selectbox(key="cmp_preset").set_value("warmup-rescue").run()
    s = at.session_state
    assert [s["cmp_0_warmup"], s["cmp_1_warmup"]] == [0, 150] and s["cmpb_task"] == "reverse"
    assert s["cmpb_layers"] == 6
    assert any(I.translate("why.compare.warmup-rescue", "en") in c.value for c in at.caption)


def test_compare_leaves_the_live_settings_alone():
    at = app_test()  # the Live page first: its own defaults
    assert at.session_state["cfg_task"] == LIVE["task"] and at.session_state["cfg_steps"] == LIVE["steps"]
    at.switch_page("app_pages/compare.py").run()
    at.number_input(key="cmpb_layers").set_value(2).run()
    at.switch_page("app_pages/live.py").run()
    assert not at.exception and at.session_state["cfg_layers"] == 4


def test_share_panel_gives_one_command_per_variant_that_rebuilds_it():
    at = _compare()
    commands = [c.value for c in at.code if c.value.startswith("python -m resnorm train")]
    assert len(commands) == 2 and len({shlex.split(c)[-1] for c in commands}) == 2  # each its own folder
    configs = [_config_from_args(build_parser().parse_args(["train"] + shlex.split(c)[4:])) for c in commands]
    assert [c.model.norm_position for c in configs] == ["post", "pre"]
    assert all(c.model.layers == 8 and c.train.lr == pytest.approx(1e-2) for c in configs)
    assert any("A · Post-LN" == c.value for c in at.caption) and any("B · Pre-LN" == c.value for c in at.caption)


@pytest.mark.parametrize("lang, names", [("en", {"A · Post-LN", "B · Pre-LN"}), ("zh", {"A · Post-LN", "B · Pre-LN"})])
def test_legends_name_the_variants_by_what_differs(lang, names):
    at = _compare(norm_position="post,pre", layers="1", d_model="16", heads="2", d_ff="32", batch_size="4",
                  seq_len="4", steps="6", lang=lang)
    at.button(key="cmp_train").click().run()
    end = time.time() + 120
    verdict = I.translate("compare.verdict", lang)
    while time.time() < end and not any(verdict in m.value for m in at.markdown):
        time.sleep(0.3)
        at.run()
    assert not at.exception and any(verdict in m.value for m in at.markdown)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    loss = next(s for s in specs if I.translate("compare.train_loss", lang) in json.dumps(s["layout"]["title"],
                                                                                        ensure_ascii=False))
    assert {t["name"] for t in loss["data"] if t.get("name")} >= names
    lines = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert lines[0].startswith("- A · Post-LN") and lines[1].startswith("- B · Pre-LN")


def test_a_differing_learning_rate_is_named_with_its_field():
    at = _compare(norm_position="pre", lr="0.01,0.001", layers="1", steps="5")
    captions = [c.value for c in at.caption]
    lr = I.translate("field.lr.label", "en")
    assert f"A · {lr} 0.01" in captions and f"B · {lr} 0.001" in captions


def test_a_changed_preset_says_its_reason_no_longer_applies():
    at = _compare()
    changed = I.translate("compare_setup.changed", "en")
    assert not any(changed == c.value for c in at.caption)
    at.selectbox(key="cmp_1_norm_position").set_value("sandwich").run()
    assert any(changed == c.value for c in at.caption)
