"""Lesson 7, "Where does Post-LN train?": its check against synthetic sweep rows (the largest trainable
learning rate per depth computed by hand), its sweep's axes at both scales, and its page in both
languages (the map lesson runs a sweep, not a comparison)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers import app_test
from resnorm import i18n as I
from resnorm.studies import lessons as LS

LESSON = LS.LESSONS[7]
DEPTHS, RATES = (2, 4, 8, 12), (3e-4, 1e-3, 3e-3, 1e-2)


def _rows(max_lr: dict, diverge_above: bool = False) -> pd.DataFrame:
    """Cells where a rate trains (loss 0.01) up to ``max_lr[(position, depth)]`` and is stuck at
    chance (2.30) or diverged above it."""
    rows = []
    for pos in ("post", "pre"):
        for L in DEPTHS:
            for lr in RATES:
                ok = lr <= max_lr[(pos, L)]
                status = "completed" if ok or not diverge_above else "diverged"
                rows.append(dict(layers=L, lr=lr, norm_position=pos, status=status,
                                 final_loss=0.01 if ok else (2.30 if status == "completed" else None)))
    return pd.DataFrame(rows)


def _check(rows):
    return LESSON.check(LS.sweep_results(LESSON, rows))


def test_post_ln_falling_and_pre_ln_holding_is_the_expected_effect():
    best = {**{("post", L): lr for L, lr in zip(DEPTHS, (1e-2, 3e-3, 3e-3, 1e-3))},
            **{("pre", L): 1e-2 for L in DEPTHS}}
    v = _check(_rows(best))
    assert v.ok and all(held for _, held in v.claims)
    n = v.numbers
    assert (n["lo"], n["hi"]) == (2, 12)
    assert n["lr_post_lo"] == 1e-2 and n["lr_post_hi"] == 1e-3 and math.isclose(n["fall_post"], 10.0)
    assert n["lr_pre_lo"] == n["lr_pre_hi"] == 1e-2 and n["fall_pre"] == 1.0
    assert LS.largest_trainable(_rows(best), {"norm_position": "post"}, 0.2) == {2: 1e-2, 4: 3e-3, 8: 3e-3, 12: 1e-3}


def test_no_rate_training_at_depth_is_an_infinite_fall():
    best = {**{("post", L): 1e-2 if L == 2 else 0.0 for L in DEPTHS}, **{("pre", L): 1e-2 for L in DEPTHS}}
    v = _check(_rows(best, diverge_above=True))  # diverged cells never count as trained
    assert v.ok and v.numbers["lr_post_hi"] == 0.0 and v.numbers["fall_post"] == math.inf


@pytest.mark.parametrize("pre_deep, claim", [(3e-3, None), (1e-3, None), (3e-4, "pre_less"), (0.0, "pre_less")])
def test_pre_ln_must_fall_much_less_and_still_train(pre_deep, claim):
    """Post-LN falls 10⁻² → 3·10⁻⁴ (33×): Pre-LN falling 3.3× or 10× is at least 3× less; 33× is not,
    and no rate training at 12 blocks is not "training at depth"."""
    best = {**{("post", L): (1e-2, 3e-3, 1e-3, 3e-4)[i] for i, L in enumerate(DEPTHS)},
            **{("pre", L): 1e-2 if L < 12 else pre_deep for L in DEPTHS}}
    v = _check(_rows(best))
    failed = [k.rsplit(".", 1)[1] for k, held in v.claims if not held]
    assert failed == ([] if claim is None else [claim]), (failed, v.numbers)


def test_a_flat_post_ln_map_fails_the_check():
    best = {(p, L): 1e-2 for p in ("post", "pre") for L in DEPTHS}
    v = _check(_rows(best))
    assert not v.ok and dict(v.claims)["lesson.7.claim.post_falls"] is False
    assert v.message_key == "lesson.7.fail"


def test_a_loss_above_the_margin_is_not_trained():
    rows = pd.DataFrame([dict(layers=2, lr=1e-2, norm_position="post", status="completed", final_loss=0.5),
                         dict(layers=2, lr=1e-3, norm_position="post", status="completed", final_loss=0.1)])
    assert LS.largest_trainable(rows, {"norm_position": "post"}, 0.2) == {2: 1e-3}


def test_the_sweeps_axes_and_the_quick_version():
    assert LESSON.kind == "map" and LESSON.page == "map"
    full, quick = LESSON.sweep_axes("full"), LESSON.sweep_axes("reduced")
    assert full == {"layers": DEPTHS, "lr": RATES, "norm_position": ("post", "pre")}
    assert quick == {"layers": (2, 8), "lr": (3e-3, 1e-2), "norm_position": ("post", "pre")}
    assert LESSON.base_flat("reduced")["steps"] < LESSON.base_flat("full")["steps"]
    assert LESSON.base["warmup"] == 0 and LESSON.base["schedule"] == "constant"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_lesson_page_opens_in_both_languages(lang):
    at = app_test(lesson="7", lang=lang)
    assert not at.exception, at.exception
    tr = lambda key: I.translate(key, lang)
    assert at.title[0].value == tr("lesson.7.title")
    body = [m.value for m in at.markdown]
    assert tr("lesson.7.question") in body and tr("lesson.7.run") in body and tr("lesson.7.look") in body
    assert not at.button(key="lesson_run").disabled
    assert any(tr("lessons.start_hint") in i.value for i in at.info)
    assert any("32" in c.value for c in at.caption)  # the full map: 4 depths × 4 rates × 2 positions


@pytest.mark.parametrize("fname, scale, post", [("lesson7_cells_seed0.csv", "full", {2: 1e-2, 4: 3e-3, 8: 3e-3, 12: 0.0}),
                                                ("lesson7_cells_seed1.csv", "full", {2: 1e-2, 4: 3e-3, 8: 3e-3, 12: 0.0}),
                                                ("lesson7_quick_cells_seed0.csv", "reduced", {2: 1e-2, 8: 0.0})])
def test_the_measured_maps_give_the_stated_verdict(fname, scale, post):
    """The cells this lesson's sweeps produced when it was written (``python -m resnorm sweep`` with the
    lesson's settings, seeds 0 and 1; the lesson's note states them): the check holds on both scales."""
    from helpers import ROOT

    rows = pd.read_csv(ROOT / "tests" / "data" / fname)
    assert len(rows) == math.prod(len(v) for v in LESSON.sweep_axes(scale).values())
    v = LESSON.check(LS.sweep_results(LESSON, rows, scale))
    assert v.ok, v.numbers
    assert LS.largest_trainable(rows, {"norm_position": "post"}, LESSON.margins["trained"]) == post
    assert set(LS.largest_trainable(rows, {"norm_position": "pre"}, LESSON.margins["trained"]).values()) == {1e-2}
