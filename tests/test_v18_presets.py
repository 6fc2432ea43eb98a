"""Issue 18, the last two points: Compare presets that show the 2025-26 variants' points (QK-norm at a
high learning rate with the max-logit diagnostic; Pre-LN vs Peri-LN vs Mix-LN gradient profiles;
hyper-connections / mHC vs Pre-LN angular distance), and lesson 8 (why QK-norm?).

The presets are checked as data (valid configs, one field that differs, reasons in both languages whose
measured figures say what the preset claims); lesson 8's check is fed constructed metrics at and just
past each of its margins, so its logic is tested against hand-made cases, not against a run."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from resnorm import i18n as I
from resnorm.science import feasibility
from resnorm.science.config import RunConfig
from resnorm.studies import lessons as LS
from resnorm.studies.compare import differences
from resnorm.studies.defaults import COMPARE_PRESETS, PER_VARIANT
from helpers import app_test

NEW = {"qk-norm-high-lr": "qk_norm", "pre-peri-mix": "norm_position", "hyper-vs-pre": "residual"}


# ---- the presets as data ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pid, field", NEW.items())
def test_each_new_preset_builds_valid_configs_that_differ_in_its_one_field(pid, field):
    p = COMPARE_PRESETS[pid]
    assert 2 <= len(p.variants) <= 4
    assert all(set(v) <= set(PER_VARIANT) for v in p.variants) and not set(p.shared) & set(PER_VARIANT)
    configs = [RunConfig.from_flat(f) for f in p.flats()]
    for c in configs:  # trainable here, not only a valid value
        _, problems = feasibility.build(c.to_flat())
        assert not problems, (pid, problems)
    diffs = differences(configs)
    assert all(set(d) == {field} for d in diffs), (pid, diffs)
    assert len({c.to_flat()[field] for c in configs}) == len(configs)


def test_the_qk_norm_preset_is_lesson_8s_model_at_its_learning_rate():
    p, lesson = COMPARE_PRESETS["qk-norm-high-lr"], LS.LESSONS[8]
    preset = {c.model.qk_norm: c for c in (RunConfig.from_flat(f) for f in p.flats())}
    taught = {c.model.qk_norm: c for _, c in lesson.configs("full")}
    for on in (False, True):
        a, b = preset[on].to_flat(), taught[on].to_flat()
        same = ("layers", "d_model", "d_ff", "heads", "task", "lr", "steps", "warmup", "schedule", "batch_size")
        assert {k: a[k] for k in same} == {k: b[k] for k in same}


def test_the_new_fields_set_per_column_are_the_2026_options():
    assert {"qk_norm", "logit_softcap", "attn_gate", "z_loss", "dyt_alpha", "residual_alpha", "streams",
            "mixln_alpha"} <= set(PER_VARIANT)
    assert len(set(PER_VARIANT)) == len(PER_VARIANT)
    fields = RunConfig().to_flat()
    assert set(PER_VARIANT) <= set(fields)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("pid", list(NEW))
def test_each_new_preset_has_a_name_and_a_measured_reason_in_both_languages(pid, lang):
    p = COMPARE_PRESETS[pid]
    table = I.TABLES[lang]
    assert f"compare_preset.{pid}" in table and f"why.compare.{pid}" in table
    why = I.translate(f"why.compare.{pid}", lang, **p.measured)
    assert "{" not in why and why != f"why.compare.{pid}"
    assert p.measured and all(isinstance(v, (int, float)) for v in p.measured.values())
    for name in re.findall(r"{(\w+)", table[f"why.compare.{pid}"]):  # every figure it quotes is measured
        assert name in p.measured, (pid, name)


def test_the_measured_figures_say_what_each_preset_claims():
    qk = COMPARE_PRESETS["qk-norm-high-lr"].measured
    assert qk["logit_plain"] >= 3 * qk["logit_qk"] and qk["logit_plain"] >= 3 * qk["logit0"]
    assert qk["held"] <= qk["seeds"] and qk["held"] >= 1
    depth = COMPARE_PRESETS["pre-peri-mix"].measured
    assert 1 < depth["deep_mix_lo"] <= depth["deep_mix_hi"]  # Mix-LN's deep blocks: more gradient than Pre-LN's
    assert depth["deep_peri_lo"] < 1 < depth["deep_peri_hi"]  # Peri-LN's: either way (said so in the reason)
    assert depth["loss_lo"] <= depth["loss_hi"] < 0.1  # and all three learn
    hyper = COMPARE_PRESETS["hyper-vs-pre"].measured
    assert all(0 <= hyper[k] <= 1 for k in ("ang_pre", "ang_hyper", "ang_mhc"))  # arccos/π lies in [0, 1]
    assert hyper["ang_hyper"] > hyper["ang_pre"]


# ---- the Compare page takes the toggles and numbers of the new fields -------------------------------------
def test_the_qk_norm_preset_opens_with_a_toggle_per_column_and_names_the_columns_by_it():
    at = app_test(run=False)
    at.switch_page("app_pages/compare.py").run()
    at.selectbox(key="cmp_preset").set_value("qk-norm-high-lr").run()
    assert not at.exception, at.exception
    s = at.session_state
    assert [s["cmp_0_qk_norm"], s["cmp_1_qk_norm"]] == [False, True]
    assert [s["cmp_0_lr"], s["cmp_1_lr"]] == [pytest.approx(1e-1)] * 2
    assert at.toggle(key="cmp_1_qk_norm").value is True
    assert at.number_input(key="cmp_0_mixln_alpha").value == pytest.approx(0.25)
    why = I.translate("why.compare.qk-norm-high-lr", "en", **COMPARE_PRESETS["qk-norm-high-lr"].measured)
    assert any(why in c.value for c in at.caption)
    assert not at.error  # both columns build


def test_a_bool_column_is_named_by_the_option_on_and_off():
    from ui import compare_view as cv

    configs = [RunConfig.from_flat(f) for f in COMPARE_PRESETS["qk-norm-high-lr"].flats()]
    label = I.translate("field.qk_norm.label", "en")
    assert cv.names_of(configs) == [f"A · {I.translate('compare_v18.without', 'en', label=label)}", f"B · {label}"]


# ---- lesson 8's check against hand-made metrics ------------------------------------------------------------
STEPS = np.arange(1, 151, 10)


def _run(loss: float, logit0: float, logit_end: float, layers: int = 4) -> dict:
    """Metrics of a run whose loss ends at ``loss`` and whose largest attention logit (in its last block;
    the other blocks stay at half of it) goes from ``logit0`` at step 1 to ``logit_end``."""
    s = {"train/loss": (STEPS, np.full(len(STEPS), loss))}
    path = np.linspace(logit0, logit_end, len(STEPS))
    for i in range(layers):
        s[f"blocks.{i}.attn.max_logit"] = (STEPS, path if i == layers - 1 else path / 2)
    return s


def _check(plain: dict, qk: dict) -> LS.Verdict:
    lesson = LS.LESSONS[8]
    return lesson.check(LS.Results(series={"plain": plain, "qknorm": qk}, status={"plain": "completed",
                                   "qknorm": "completed"}, configs=dict(lesson.configs("reduced"))))


def _margins():
    return LS.LESSONS[8].margins


def test_lesson_8_passes_when_the_plain_logits_grow_and_qk_norm_trains():
    m = _margins()
    v = _check(_run(2.3, 2.0, 2.0 * m["grows"] * 2), _run(0.01, 2.0, 2.0))
    assert v.ok and v.message_key == "lesson.8.ok" and all(h for _, h in v.claims)
    assert v.numbers["logit_start"] == 2.0 and v.numbers["logit_end"] == 2.0 * m["grows"] * 2
    assert v.numbers["grew"] == pytest.approx(2 * m["grows"]) and v.numbers["logit_ratio"] == pytest.approx(2 * m["grows"])
    assert v.numbers["lr"] == pytest.approx(1e-1)


def test_lesson_8_margins_hold_at_the_margin_and_fail_just_past_it():
    m = _margins()
    start, qk_end = 1.0, 1.0
    end = max(m["grows"] * start, m["ratio"] * qk_end)
    good_qk = _run(m["trained"], 1.0, qk_end)
    claims = dict(_check(_run(m["trained"] + m["gap"], start, end), good_qk).claims)
    assert claims == {"lesson.8.claim.logits": True, "lesson.8.claim.training": True}  # exactly at the margins
    eps = 1e-3
    claims = dict(_check(_run(m["trained"] + m["gap"], start, end * (1 - eps)), good_qk).claims)
    assert claims["lesson.8.claim.logits"] is False  # grew a little less than ``grows``×
    claims = dict(_check(_run(m["trained"] + m["gap"], start * (1 + eps), end), good_qk).claims)
    assert claims["lesson.8.claim.logits"] is False
    claims = dict(_check(_run(m["trained"] + m["gap"], start, end), _run(m["trained"], 1.0, qk_end * (1 + eps))).claims)
    assert claims["lesson.8.claim.logits"] is False  # QK-norm's own logits a little too large: ratio short
    claims = dict(_check(_run(m["trained"] + m["gap"] - eps, start, end), good_qk).claims)
    assert claims["lesson.8.claim.training"] is False  # the plain model a little too close
    claims = dict(_check(_run(5.0, start, end), _run(m["trained"] + eps, 1.0, qk_end)).claims)
    assert claims["lesson.8.claim.training"] is False  # QK-norm did not train


def test_lesson_8_a_diverged_plain_run_counts_as_not_trained_and_no_logits_fail():
    m = _margins()
    plain = _run(2.3, 1.0, 10.0)
    plain["train/loss"] = (STEPS, np.r_[np.full(len(STEPS) - 1, 2.3), math.inf])
    v = _check(plain, _run(0.01, 1.0, 1.0))
    assert v.ok and v.numbers["loss_plain"] == math.inf  # a diverged plain model is the failure it predicts
    both_qk = _check(_run(0.01, 1.0, 1.0), _run(0.01, 1.0, 1.0))
    assert not both_qk.ok and dict(both_qk.claims) == {"lesson.8.claim.logits": False,
                                                      "lesson.8.claim.training": False}
    empty = {"train/loss": (STEPS, np.full(len(STEPS), 0.01))}  # no probes recorded: no logit claim
    assert dict(_check(empty, _run(0.01, 1.0, 1.0)).claims)["lesson.8.claim.logits"] is False


def test_max_logit_reads_the_largest_block_at_the_first_and_latest_step_and_over_the_run():
    s = _run(0.5, 2.0, 8.0, layers=3)
    assert LS.max_logit(s, 0) == 2.0 and LS.max_logit(s, -1) == 8.0 and LS.max_logit(s) == 8.0
    rise_fall = np.r_[np.linspace(2.0, 30.0, 8), np.linspace(20.0, 5.0, len(STEPS) - 9), math.nan]
    s["blocks.1.attn.max_logit"] = (STEPS, rise_fall)  # a peak, then a diverged (NaN) last probe
    assert LS.max_logit(s) == 30.0 and LS.max_logit(s, -1) == 8.0  # block 2's last; block 1's NaN left out
    assert math.isnan(LS.max_logit({"train/loss": (STEPS, np.zeros(len(STEPS)))}))


def test_lesson_8_is_qk_norm_against_none_at_a_high_rate_with_its_texts():
    lesson = LS.LESSONS[8]
    configs = dict(lesson.configs("full"))
    assert configs["plain"].model.qk_norm is False and configs["qknorm"].model.qk_norm is True
    assert differences([configs["plain"], configs["qknorm"]]) == [{"qk_norm": False}, {"qk_norm": True}]
    assert configs["plain"].train.lr >= 3e-2 and configs["plain"].train.warmup == 0
    assert lesson.kind == "train" and lesson.page == "compare" and lesson.answer in lesson.options
    for lang in ("en", "zh"):
        assert I.translate("why.lesson.8", lang) != "why.lesson.8"
        summary = I.translate("lesson.8.summary", lang)
        assert summary.rstrip().endswith(("?", "？"))
        for key in ("claim.logits", "claim.training"):
            text = I.translate(f"lesson.8.{key}", lang, **_check(_run(2.3, 1, 9), _run(0.01, 1, 1)).numbers)
            assert "{" not in text


@pytest.mark.parametrize("pid", list(NEW))
def test_each_new_preset_opens_on_the_compare_page_with_buildable_columns(pid):
    at = app_test(run=False)
    at.switch_page("app_pages/compare.py").run()
    at.selectbox(key="cmp_preset").set_value(pid).run()
    assert not at.exception, at.exception
    p = COMPARE_PRESETS[pid]
    assert at.session_state["cmp_n"] == len(p.variants)
    for i, v in enumerate(p.variants):
        assert all(at.session_state[f"cmp_{i}_{k}"] == x for k, x in v.items())
    assert not at.error  # every column is a config that can train here
    assert not any(I.translate("compare_setup.changed", "en") in c.value for c in at.caption)
