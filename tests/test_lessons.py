"""Lessons and workshop mode (issue 7): every lesson's configs at reduced size show the lesson's expected
effect, with the margins of the lesson's own check; the seed article's block is what the article wrote;
a lesson run in a session; each lesson page in English and Chinese; a lesson link locked to its settings."""
import json
import math
import time

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from resnorm import i18n as I
from resnorm.studies import lessons as LS
from resnorm.science.config import RunConfig
from resnorm.science.model import build_model
from resnorm.serving.slots import TrainingSlots
from resnorm.serving.sessions import LessonSession
from helpers import app_test

TEXT_KEYS = ("title", "summary", "question", "run", "look", "why", "note", "ok", "fail")


# ---- lessons as data ------------------------------------------------------------------------------------
def test_eight_lessons_with_paper_page_configs_and_texts():
    assert sorted(LS.LESSONS) == [1, 2, 3, 4, 5, 6, 7, 8]
    for lesson in LS.LESSONS.values():
        assert lesson.citation and lesson.page in ("live", "compare", "init", "map")
        assert lesson.kind in ("train", "init", "map")
        assert 1 <= len(lesson.variants) <= 4 and len({v.id for v in lesson.variants}) == len(lesson.variants)
        assert lesson.base["init"] == "xavier"  # the init is stated: effects depend on it (docs/ARCHITECTURE.md §2)
        assert lesson.answer in lesson.options and set(lesson.controls) <= set(RunConfig().to_flat())
        for scale in LS.SCALES:  # every config builds at both scales
            assert len(lesson.configs(scale)) == len(lesson.variants)
            lesson.init_configs(scale)
        for lang in ("en", "zh"):
            table = I.TABLES[lang]
            keys = [f"lesson.{lesson.id}.{k}" for k in TEXT_KEYS]
            keys += [f"lesson.{lesson.id}.option.{o}" for o in lesson.options]
            keys += [f"lesson.{lesson.id}.variant.{v.id}" for v in lesson.variants + lesson.init_variants]
            assert all(k in table for k in keys), [k for k in keys if k not in table]
    assert LS.get("2") is LS.LESSONS[2] and LS.get("x") is None and LS.get(9) is None


def test_learner_changes_apply_to_every_config_but_not_the_variants_own_fields():
    lesson = LS.LESSONS[3]
    configs = dict(lesson.configs("full", {"lr": 5e-3, "seed": 4}))
    assert {c.train.lr for c in configs.values()} == {5e-3} and {c.train.seed for c in configs.values()} == {4}
    assert configs["post"].model.norm_position == "post" and configs["post_warmup"].train.warmup == 150
    reduced = dict(lesson.configs("reduced"))
    assert reduced["post"].train.steps < configs["post"].train.steps


# ---- the seed article's block ----------------------------------------------------------------------------
def test_seed_article_block_is_the_article_forward_with_the_same_weights():
    cfg = RunConfig.from_flat({**LS.LESSONS[6].base, "layers": 2}).model
    correct = build_model(cfg, vocab_size=12, max_len=8, seed=3)
    buggy = build_model(cfg, vocab_size=12, max_len=8, seed=3)
    LS.use_block(buggy, "seed_article")
    for (n1, p1), (n2, p2) in zip(correct.named_parameters(), buggy.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)  # same parameters: only the forward differs
    x = torch.randn(2, 5, cfg.d_model, generator=torch.Generator().manual_seed(0))
    b = buggy.blocks[0]
    with torch.no_grad():
        h = b.norm_attn(x + b.attn(x))  # x = norm1(x + attn(x))
        h = b.mlp.W_2(torch.relu(b.mlp.W_1(h)))  # x = linear2(relu(linear1(x)))  — no residual
        expected = h + b.norm_mlp(h)  # x = x + norm3(x)
        assert torch.allclose(b(x), expected, atol=1e-6)
        assert not torch.allclose(correct.blocks[0](x), expected, atol=1e-3)
    assert "x = x + self.norm3(x)" in LS.SEED_ARTICLE_CODE


# ---- every lesson's effect at reduced size -----------------------------------------------------------------
def _explain(v: LS.Verdict) -> str:
    return "; ".join(I.translate(k, "en", **v.numbers) + (" OK" if held else " FAILED") for k, held in v.claims)


@pytest.mark.slow
@pytest.mark.parametrize("lesson_id", [1, 2, 3, 4, 5, 6, 8])
def test_lesson_shows_its_expected_effect_at_reduced_size(lesson_id):
    """The lesson's own check — the margins shown to learners — holds on the reduced configs."""
    lesson = LS.LESSONS[lesson_id]
    v = LS.run_lesson(lesson, "reduced")
    assert v.claims and v.message_key == f"lesson.{lesson_id}.ok", _explain(v)
    assert v.ok and all(held for _, held in v.claims), _explain(v)
    for name, margin in lesson.margins.items():  # the numbers the learner sees carry the same margins
        assert v.numbers[name] == margin
    assert all(isinstance(x, float) and not math.isnan(x) for x in v.numbers.values())


def test_a_check_fails_when_the_effect_is_absent():
    """Fed results without the effect (both lesson-1 configs with skips), the check says so — it does not
    always pass."""
    lesson = LS.LESSONS[1]
    r = LS.run_results(lesson, "reduced", {"steps": 5})
    r.series["noskip"] = r.series["skip"]
    v = lesson.check(r)
    assert not v.ok and v.message_key == "lesson.1.fail" and [h for _, h in v.claims] == [False, False]


# ---- a lesson in a browser session (no Streamlit) -------------------------------------------------------------
def test_lesson_session_runs_in_the_background_with_a_slot_and_checks_at_the_end():
    slots = TrainingSlots(1)
    s = LessonSession(slots)
    assert s.start(LS.LESSONS[6], "reduced", {"steps": 60}) is None
    assert slots.busy == 1
    other = LessonSession(slots)  # no free slot: queued behind s, started when s ends
    assert other.start(LS.LESSONS[6], "reduced", {"steps": 30}) is None
    assert (other.status, other.queue_position, other.comparison) == ("queued", 1, None)
    end = time.time() + 60
    while (s.active or s.verdict is None) and s.error is None and time.time() < end:
        time.sleep(0.05)
    assert s.error is None and s.verdict is not None and not s.active
    while (other.active or other.verdict is None) and other.error is None and time.time() < end:
        time.sleep(0.05)
    assert other.error is None and other.verdict is not None and other.comparison.step == 30
    assert slots.busy == 0 and slots.queued == 0
    assert s.verdict.claims[0] == ("lesson.6.claim.stream", True)  # the stream signature needs no training
    assert s.start(LS.LESSONS[2], "reduced") is None and s.verdict.ok  # init lessons: at once, no slot
    s.reset()
    assert s.verdict is None


def test_a_stopped_lesson_run_gives_no_verdict():
    s = LessonSession(TrainingSlots(1))
    assert s.start(LS.LESSONS[3], "reduced", {"steps": 100_000}) is None
    end = time.time() + 60
    while (s.comparison is None or s.comparison.step < 1) and s.error is None and time.time() < end:
        time.sleep(0.02)
    assert s.active and s.error is None and s.comparison.step >= 1  # it was training when stopped
    s.stop()
    assert not s.active and s.verdict is None and s.error is None and s.slots.busy == 0


# ---- the Lessons page -------------------------------------------------------------------------------------
def _app(**params) -> AppTest:
    return app_test(**params)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("lesson_id", [1, 2, 3, 4, 5, 6, 8])
def test_each_lesson_page_opens_in_both_languages(lesson_id, lang):
    at = _app(lesson=str(lesson_id), lang=lang)
    assert not at.exception, at.exception
    tr = lambda key: I.translate(key, lang)
    assert at.title[0].value == tr(f"lesson.{lesson_id}.title")
    body = [m.value for m in at.markdown]
    for key in ("question", "run", "look"):
        assert tr(f"lesson.{lesson_id}.{key}") in body, key
    radio = at.radio(key=f"lesson{lesson_id}_prediction")
    assert radio.value is None and tr(f"lesson.{lesson_id}.option.a") in radio.options[0]
    label = tr("lessons.run_init") if LS.LESSONS[lesson_id].kind == "init" else tr("lessons.run")
    assert at.button(key="lesson_run").label.startswith(label)  # then its measured duration
    hint = tr("lessons_pacing.start_init") if LS.LESSONS[lesson_id].kind == "init" else tr("lessons.start_hint")
    assert any(hint in i.value for i in at.info)


def test_lesson_list_links_every_lesson():
    at = _app(lang="zh")
    at.switch_page("app_pages/lessons.py").run()
    assert not at.exception and at.title[0].value == "课程"
    text = " ".join(m.value for m in at.markdown)
    assert all(I.translate(f"lesson.{n}.title", "zh") in text for n in LS.LESSONS)
    at.button(key="lesson_open_4").click().run()  # opening a lesson puts it into the address
    assert at.title[0].value == I.translate("lesson.4.title", "zh") and at.query_params["lesson"] in ("4", ["4"])
    at.button(key="lesson_back").click().run()
    assert at.title[0].value == "课程" and "lesson" not in at.query_params
    at.query_params["lesson"] = "9"
    at.run()
    assert not at.exception and at.title[0].value == "课程" and at.warning  # an unknown lesson is said so


def test_a_lesson_link_is_locked_to_its_settings_until_the_teacher_unlocks():
    at = _app(lesson="3")
    shown = {w.key for w in at.sidebar.number_input} | {w.key for w in at.sidebar.selectbox}
    assert shown == {f"lsn3_{f}" for f in LS.LESSONS[3].controls}  # lr, layers, steps, seed only
    assert at.number_input(key="lsn3_lr").value == pytest.approx(1e-2)
    at.toggle(key="lesson_unlock").set_value(True).run()
    shown = {w.key for w in at.sidebar.number_input} | {w.key for w in at.sidebar.selectbox}
    assert {"lsn3_d_model", "lsn3_arch", "lsn3_optimizer", "lsn3_norm"} <= shown
    assert "lsn3_norm_position" not in shown and "lsn3_warmup" not in shown  # set by the lesson's configs
    assert not at.exception


@pytest.mark.slow
def test_a_lesson_runs_from_its_link_to_a_verdict_in_chinese():
    at = _app(lesson="6", lang="zh")
    at.radio(key="lesson6_prediction").set_value("b")
    at.number_input(key="lsn6_steps").set_value(200)
    at.run()
    at.button(key="lesson_run").click().run()
    assert not at.exception
    end = time.time() + 90
    while time.time() < end and not (at.success or at.warning):
        time.sleep(0.3)
        at.run()
    verdicts = [s.value for s in at.success] + [w.value for w in at.warning]
    assert verdicts and verdicts[0].startswith(I.translate("lessons.verdict_ok", "zh")), verdicts
    claims = [m.value for m in at.markdown if m.value.startswith("- :material/")]
    assert len(claims) == 2 and all("check_circle" in c for c in claims) and "残差流不再归一化" in claims[0]
    assert any("你的预测是 **(b)**" in m.value for m in at.markdown)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]  # decoded: engines escape differently
    assert specs and "训练损失" in specs[0]["layout"]["title"]["text"]
    assert np.isfinite(at.session_state["lsn6_steps"])


def test_teacher_opens_the_lesson_configs_on_the_compare_page_in_the_same_language():
    at = _app(lesson="3", lang="zh")
    assert not [b for b in at.button if b.key == "lesson_open_in"]  # locked: learners only run the lesson
    at.toggle(key="lesson_unlock").set_value(True).run()
    at.button(key="lesson_open_in").click().run()
    assert not at.exception
    assert at.title[0].value == I.translate("compare.title", "zh") and at.session_state["lang"] == "zh"
    s = at.session_state
    assert s["cmp_n"] == 4 and [s[f"cmp_{i}_norm_position"] for i in range(4)] == ["post", "post", "pre", "pre"]
    assert [s[f"cmp_{i}_warmup"] for i in range(4)] == [0, 150, 0, 150]
    assert all(s[f"cmp_{i}_lr"] == pytest.approx(1e-2) for i in range(4))  # lr is set per config on Compare


def test_teacher_opens_an_init_lesson_on_the_init_page_with_its_configs():
    """The Lessons view opens the At-initialisation view through that view's own preset(): the
    lesson's configs, not the page's default preset or an old link."""
    at = _app(lesson="2")
    at.toggle(key="lesson_unlock").set_value(True).run()
    at.button(key="lesson_open_in").click().run()
    assert not at.exception
    assert at.title[0].value == I.translate("init.title", "en")
    s = at.session_state
    configs = [cfg for _, cfg in LS.LESSONS[2].configs("full", {})]
    assert s["init_n"] == len(configs) == 2
    assert [s[f"init_c{i}_norm_position"] for i in range(2)] == [c.model.norm_position for c in configs]
    assert s["init_depth"][1] == min(48, configs[0].model.layers)


@pytest.mark.slow
def test_a_lesson_trains_in_a_worker_process_with_its_own_blocks(monkeypatch):
    """Lesson 6 swaps in the seed article's buggy block: the child process must build the same
    lesson comparison, so the verdict and the metrics match the in-thread run's."""
    from resnorm.serving.procworker import ProcessComparison

    here = LessonSession(TrainingSlots(1))
    assert here.start(LS.LESSONS[6], "reduced", {"steps": 30}) is None
    monkeypatch.setenv("RESNORM_WORKERS", "process")
    there = LessonSession(TrainingSlots(1))
    assert there.start(LS.LESSONS[6], "reduced", {"steps": 30}) is None
    assert isinstance(there.comparison, ProcessComparison)
    end = time.time() + 120
    while (here.verdict is None or there.verdict is None) and not (here.error or there.error) and time.time() < end:
        time.sleep(0.05)
    assert here.error is None and there.error is None
    assert there.verdict == here.verdict
    for a, b in zip(here.comparison.trainers, there.comparison.trainers):
        assert b.store.frame().equals(a.store.frame())
