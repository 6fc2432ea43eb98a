"""Lessons pace a class (issue 13, item 8): a Pause, the measured duration on the run button, the
quick run for every learner, a list that asks instead of telling, the right hint for the
at-initialisation lesson, one letter per variant across a lesson's charts, and lesson 6's two
blocks side by side."""
import re
import time

import pytest

from resnorm import i18n as I
from resnorm.studies import lessons as LS
from helpers import app_test
from ui.lessons_view import letter


def _lesson(n, **q):
    at = app_test(lesson=str(n), **q)
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("lesson_id", list(LS.LESSONS))
def test_every_lesson_has_a_measured_duration_at_both_scales_on_its_button(lesson_id):
    lesson = LS.LESSONS[lesson_id]
    full, quick = lesson.expected_seconds("full"), lesson.expected_seconds("reduced")
    assert full > 0 and quick > 0
    at = _lesson(lesson_id)
    label = at.button(key="lesson_run").label
    assert label.endswith(f"(≈ {max(1, round(full))} s)"), label
    at.toggle(key="lesson_quick").set_value(True).run()  # no teacher unlock needed
    assert at.button(key="lesson_run").label.endswith(f"(≈ {max(1, round(quick))} s)")
    assert not at.toggle(key="lesson_unlock").value


def test_the_lesson_list_poses_questions_without_answers():
    for lang in ("en", "zh"):
        for n in LS.LESSONS:
            summary = I.translate(f"lesson.{n}.summary", lang)
            assert summary.rstrip().endswith(("?", "？")), (lang, n, summary)
    assert "needs it" not in I.translate("lesson.3.summary", "en")
    assert "fails" not in I.translate("lesson.5.summary", "en") and "stalls" not in I.translate("lesson.1.summary", "en")


def test_no_lesson_refers_to_an_article_the_learners_never_see():
    en = {k: v for k, v in I.TABLES["en"].items() if k.startswith(("lesson", "lessons"))}
    zh = {k: v for k, v in I.TABLES["zh"].items() if k.startswith(("lesson", "lessons"))}
    assert not [k for k, v in en.items() if re.search(r"\barticle", v, re.I)]
    assert not [k for k, v in zh.items() if "原文" in v or "文章" in v]


def test_the_init_lesson_hint_names_its_own_button_and_promises_no_training():
    at = _lesson(2)
    button = at.button(key="lesson_run").label
    assert button.startswith(I.translate("lessons.run_init", "en"))
    hints = [i.value for i in at.info]
    assert any(I.translate("lessons.run_init", "en") in h for h in hints)
    assert not any("as it trains" in h for h in hints)
    assert not [b for b in at.button if b.key == "lesson_pause"]  # nothing to pause in one forward pass


def test_lesson_5_gives_one_letter_per_variant_across_its_training_and_init_charts():
    lesson = LS.LESSONS[5]
    assert [letter(lesson, v.id) for v in lesson.variants] == ["A", "B", "C", "D"]
    assert letter(lesson, "pre") == "D" and letter(lesson, "lns") == "E"  # Pre-LN is D in both charts
    assert {v.id for v in lesson.init_variants} == {"pre", "lns"}


def test_lesson_6_shows_the_buggy_block_next_to_the_correct_one():
    at = _lesson(6)
    codes = [c.value for c in at.code]
    assert LS.SEED_ARTICLE_CODE in codes and LS.CORRECT_CODE in codes
    assert "x = x + self.norm3(x)" in LS.SEED_ARTICLE_CODE and "norm3" not in LS.CORRECT_CODE
    assert "x = self.norm2(x)" in LS.CORRECT_CODE


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_lesson_says_why_its_settings_were_chosen(lang):
    for n in LS.LESSONS:
        assert I.translate(f"why.lesson.{n}", lang) != f"why.lesson.{n}"
    at = _lesson(3, lang=lang)
    why = I.translate("lessons_pacing.why_settings", lang, why=I.translate("why.lesson.3", lang))
    assert any(why == c.value for c in at.caption)


def _until(at, cond, timeout=60.0) -> bool:
    end = time.time() + timeout
    while time.time() < end and not cond():
        time.sleep(0.3)
        at.run()
    return cond()


def test_a_lesson_run_pauses_and_resumes_like_a_live_run():
    at = _lesson(6)
    assert at.button(key="lesson_pause").disabled  # nothing runs yet
    at.number_input(key="lsn6_steps").set_value(5000).run()  # long enough not to end during the test
    at.button(key="lesson_run").click().run()
    assert _until(at, lambda: not at.button(key="lesson_pause").disabled)
    at.button(key="lesson_pause").click().run()
    resume, pause = I.translate("live.resume", "en"), I.translate("live.pause", "en")
    assert _until(at, lambda: at.button(key="lesson_pause").label == resume)
    paused = I.translate("status.paused", "en")
    assert any(paused in p.proto.text for p in at.get("progress"))  # the run itself says paused
    at.button(key="lesson_pause").click().run()
    assert _until(at, lambda: at.button(key="lesson_pause").label == pause)
    at.button(key="lesson_stop").click().run()
    assert not at.exception
