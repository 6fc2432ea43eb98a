"""The Lessons page: the list of lessons, and one lesson in predict → run → observe → why form.

A lesson link (``?lesson=2&lang=zh``) opens that lesson *locked*: the sidebar shows only the few
settings the lesson lets learners change (``Lesson.controls``), so a room follows one experiment;
"Teacher: unlock all controls" shows every setting. The experiment runs inline with one click (a
``resnorm.serving.sessions.LessonSession`` per browser session, holding one training slot like a comparison);
when it ends, the lesson's own check gives the verdict with its numbers.

Widget keys: ``lsn<id>_<field>`` for the lesson's settings (never the Live page's ``cfg_*``),
``lesson<id>_prediction`` for the learner's prediction, ``lesson_unlock`` and ``lesson_quick``.
"""
from __future__ import annotations

import streamlit as st

from resnorm.science import feasibility
from resnorm.studies import figures as F
from resnorm.studies import figures_init as FI
from resnorm.studies import lessons as LS
from resnorm.studies.compare import LETTERS
from resnorm.science.config import ConfigError
from resnorm.i18n import DEFAULT_LANG
from resnorm.serving.sessions import LessonSession
from ui import controls, share
from ui import compare_view, map_view
from ui.compare_view import labelled_runs
from ui.controls import FIELDS, GROUPS, STORE
from ui.panels import PLOTLY_CONFIG, chart, memo, pause_button, queued_notice, refreshing
from ui import safe
from ui.i18n import chart_labels, choice_name, cite, field_label, lang, options, say, say_problems, status, t

REFRESH_S = 1.0
CHARTS = {1: ("loss", "rank"), 3: ("loss", "grad"), 4: ("loss", "resid"), 5: ("loss", "resid", "grad_layers"),
          6: ("loss", "resid", "grad_layers"), 8: ("loss", "max_logit")}
PROFILE_METRIC = {"rank": "rank_residual", "resid": "resid_post.rms", "grad_layers": "grad_norm",
                  "max_logit": "attn.max_logit"}
TITLE = {"max_logit": "init.diag.metric.attn.max_logit"}  # charts titled by the diagnostics' own names


@st.cache_resource(scope="session", on_release=lambda s: s.close())
def session_lesson() -> LessonSession:
    """This browser session's lesson run; stopped when the session ends."""
    return LessonSession()


# ---- which lesson ------------------------------------------------------------------------------------
def current() -> LS.Lesson | None:
    """The lesson named by ``?lesson=`` (None: show the list; an unknown id is said so there)."""
    value = st.query_params.get("lesson")
    if value is None:
        return None
    lesson = LS.get(value)
    if lesson is None:
        st.warning(t("lessons.unknown", value=safe.md(value, 40)), icon=":material/help:")
    return lesson


def _params(lesson_id: int | None = None) -> dict:
    params = {"lesson": str(lesson_id)} if lesson_id is not None else {}
    if lang() != DEFAULT_LANG:
        params["lang"] = lang()
    return params


def index() -> None:
    """Every lesson with its question, paper and a link that opens it."""
    st.title(t("lessons.title"))
    st.caption(t("lessons.caption"))
    for lesson in LS.LESSONS.values():
        box = st.container(border=True)
        box.markdown(f"#### {t(f'lesson.{lesson.id}.title')}")
        box.markdown(t(f"lesson.{lesson.id}.summary"))
        box.caption(t("lessons.paper", citation=cite(lesson.citation)))
        box.button(t("lessons.open", n=lesson.id), icon=":material/arrow_forward:", key=f"lesson_open_{lesson.id}",
                   on_click=_go, args=(lesson.id,))


def _go(lesson_id: int | None) -> None:
    """Open a lesson (or the list) by rewriting the URL, so the address bar always names the lesson shown
    (a page link to the same page would not put its query into the address bar)."""
    if lesson_id is None:
        st.query_params.pop("lesson", None)
    else:
        st.query_params["lesson"] = str(lesson_id)


# ---- the sidebar: the lesson's settings ---------------------------------------------------------------
def _key(lesson: LS.Lesson, name: str) -> str:
    return f"lsn{lesson.id}_{name}"


def _defaults(lesson: LS.Lesson, names) -> None:
    """The lesson's own values, or what this session last set here (widget state does not survive a visit
    to another page; the remembered values do)."""
    kept = st.session_state.get(STORE, {})
    for name in names:
        key = _key(lesson, name)
        if key not in st.session_state:
            st.session_state[key] = kept.get(key, lesson.base.get(name, FIELDS[name].default))


def _reset(lesson: LS.Lesson) -> None:
    kept = st.session_state.get(STORE, {})
    for name in FIELDS:
        st.session_state.pop(_key(lesson, name), None)
        kept.pop(_key(lesson, name), None)


def set_by_variants(lesson: LS.Lesson) -> set[str]:
    return {k for v in lesson.variants + lesson.init_variants for k in v.changes}


def sidebar(lesson: LS.Lesson) -> tuple[dict | None, bool]:
    """Draw the lesson's settings (all of them when unlocked); return (changes against the lesson, quick)."""
    sb = st.sidebar
    unlocked = sb.toggle(t("lessons.unlock"), key="lesson_unlock", help=t("lessons.unlock_help"))
    fixed = set_by_variants(lesson)
    if unlocked:
        groups = [(title, [n for n in names if n not in fixed]) for title, names, _ in GROUPS]
    else:
        groups = [("lessons.controls", [n for n in lesson.controls if n not in fixed])]
    values = {}
    for title, names in groups:
        _defaults(lesson, names)
        box = sb.expander(t(title), expanded=True)
        if title == "lessons.controls":
            box.caption(t("lessons.controls_help"))
        for name in names:
            values[name] = controls.field_widget(box, name, prefix=f"lsn{lesson.id}_")
    if unlocked and fixed:
        sb.caption(t("lessons.set_by_lesson", fields=", ".join(field_label(n) for n in sorted(fixed))))
    sb.button(t("lessons.defaults"), icon=":material/restart_alt:", key="lesson_defaults", on_click=_reset,
              args=(lesson,), width="stretch")
    quick = sb.toggle(t("lessons.quick"), key="lesson_quick", help=t("lessons.quick_help"))  # for every learner
    changes = {k: v for k, v in values.items() if v != lesson.base.get(k, FIELDS[k].default)}
    try:  # valid, and each variant able to train here (resnorm.science.feasibility)
        built = lesson.configs("reduced" if quick else "full", changes)
        problems = list(dict.fromkeys(p for _, cfg in built for p in feasibility.check(cfg)))
    except ConfigError as e:
        problems = e.problems
    if problems:
        st.error(t("lessons.settings_problem", problems=say_problems(problems)),
                 icon=":material/warning:")
        return None, quick
    return changes, quick


# ---- the lesson ----------------------------------------------------------------------------------------
def follow(lesson: LS.Lesson) -> None:
    """Opening another lesson ends the run of the previous one (and frees its training slot)."""
    session = session_lesson()
    if session.lesson is not None and session.lesson is not lesson:
        session.reset()
        session.lesson = None


def variant_name(lesson: LS.Lesson, vid: str) -> str:
    return t(f"lesson.{lesson.id}.variant.{vid}")


def header(lesson: LS.Lesson) -> None:
    n = lesson.id
    st.button(t("lessons.all"), icon=":material/arrow_back:", key="lesson_back", on_click=_go, args=(None,))
    st.title(t(f"lesson.{n}.title"))
    st.caption(t("lessons.paper", citation=cite(lesson.citation)))
    st.subheader(t("lessons.question"))
    st.markdown(t(f"lesson.{n}.question"))
    if any(v.block == "seed_article" for v in lesson.variants):  # the two blocks' code, side by side
        st.caption(t("lessons.seed_code"))
        left, right = st.columns(2)
        left.code(LS.SEED_ARTICLE_CODE, language="python", wrap_lines=True)
        right.code(LS.CORRECT_CODE, language="python", wrap_lines=True)
    st.subheader(t("lessons.predict"))
    text = options(f"lesson.{n}.option.")
    st.radio(t("lessons.predict_label"), lesson.options, index=None, key=f"lesson{n}_prediction",
             format_func=lambda o: f"({o}) {text(o)}")


def experiment(lesson: LS.Lesson, changes: dict | None, quick: bool) -> None:
    """What runs (a table of the configs) and the buttons."""
    if lesson.kind == "map":  # a sweep (lesson 7): the Trainability map's machinery
        return map_view.lesson_experiment(lesson, changes, quick)
    n = lesson.id
    st.subheader(t("lessons.experiment"))
    st.markdown(t(f"lesson.{n}.run"))
    st.caption(t("lessons_pacing.why_settings", why=t(f"why.lesson.{n}")))
    scale = "reduced" if quick else "full"
    if changes is not None:
        _config_table(lesson, lesson.configs(scale, changes))
    session = session_lesson()
    running = session.active
    cols = st.columns([2, 1, 1, 1])  # the run button carries its duration: room for it
    label = run_label(lesson, scale)
    if cols[0].button(label, icon=":material/play_arrow:", type="primary", key="lesson_run",
                      disabled=changes is None or running, width="stretch",
                      help=t("lessons.busy") if running else t(f"lessons.run_help.{lesson.kind}")):
        with st.spinner(t("lessons.computing")):
            msg = session.start(lesson, scale, changes)
        if msg:
            st.session_state["lesson_error"] = say(msg)
        st.rerun()
    if lesson.kind == "train":  # Pause / Resume next to Run, as on the Live page
        pause_button(cols[1], session, "lesson_pause")
    stop_reset_buttons(cols[2], cols[3], session, running, has_result=session.lesson is not None)
    st.caption(t("lessons_pacing.timed_on"))
    err = st.session_state.pop("lesson_error", None)
    if err:
        st.error(err)
    st.subheader(t("lessons.look"))
    st.markdown(t(f"lesson.{n}.look"))


def _config_table(lesson: LS.Lesson, configs) -> None:
    flats = [c.to_flat() for _, c in configs]
    differ = [k for k in flats[0] if len({str(f[k]) for f in flats}) > 1]
    shared = ["arch", "layers", "d_model", "norm_position", "norm", "residual", "init"]
    if lesson.kind == "train":
        shared += ["lr", "warmup", "steps", "seed"]
    shared_text = " · ".join(f"{field_label(k)} {choice_name(k, flats[0][k])}" for k in shared if k not in differ)
    rows = []
    for i, ((vid, _), flat, v) in enumerate(zip(configs, flats, lesson.variants)):
        row = {t("lessons.col.config"): f"{LETTERS[i]} · {variant_name(lesson, vid)}"}
        row.update({field_label(k): choice_name(k, flat[k]) for k in differ})
        if any(x.block for x in lesson.variants):
            row[t("lessons.col.block")] = t(f"lessons.block.{v.block or 'standard'}")
        rows.append(row)
    st.caption(t(f"lessons.configs.{lesson.kind}"))
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(t("lessons.shared", shared=shared_text))


def results(lesson: LS.Lesson) -> None:
    """Progress, charts and — once the run has ended — the verdict; refreshed while it trains."""
    if lesson.kind == "map":
        return map_view.lesson_results(lesson, verdict)
    session = session_lesson()
    refreshing(session, lambda: _results(lesson, session), REFRESH_S)


def _results(lesson: LS.Lesson, session: LessonSession) -> None:
    if session.lesson is lesson and queued_notice(session, "lessons.queued"):
        return
    if session.lesson is not lesson or (session.comparison is None and session.results is None and not session.error):
        st.info(t("lessons_pacing.start_init" if lesson.kind == "init" else "lessons.start_hint"), icon=":material/science:")
        return
    c = session.comparison
    if c is not None:
        st.progress(min(c.step / c.total_steps, 1.0),
                    text=t("lessons.progress", status=status(c.status), step=c.step, total=c.total_steps,
                           elapsed=c.elapsed))
        _train_charts(lesson, session)
    frames = session.results.init if session.results is not None else session.init
    if frames:
        _init_charts(lesson, frames)
        if lesson.id == 2 and session.configs:  # Theorem 1 itself: the last block against the total depth
            from ui import init_view as iv

            iv.theorem1_section(session.configs[0][1], tuple(lesson.seeds_at(session.scale))[:3], "lesson2")
    if session.error:
        st.error(say(session.error), icon=":material/error:")
    elif session.verdict is not None:
        verdict(lesson, session.verdict)
    elif c is not None and c.done:
        st.warning(t("lessons.no_verdict"), icon=":material/stop_circle:")


def run_label(lesson: LS.Lesson, scale: str) -> str:
    """The run button's text with the run's measured duration (``Lesson.seconds``): ``Run the
    experiment (≈ 40 s)``."""
    seconds = lesson.expected_seconds(scale)
    key = "lessons.run_init" if lesson.kind == "init" else "lessons.run"
    return t("lessons_pacing.run_timed", label=t(key), seconds=max(1, round(seconds))) if seconds else t(key)


def stop_reset_buttons(stop_col, reset_col, target, running: bool, has_result: bool) -> None:
    """Stop (while ``running``) and Reset (once there is a result, not while running) of a lesson's
    run or sweep (``target.stop()`` / ``target.reset()``), under the Lessons page's keys."""
    if stop_col.button(t("lessons.stop"), icon=":material/stop:", key="lesson_stop", disabled=not running,
                       width="stretch"):
        target.stop()
        st.rerun()
    if reset_col.button(t("lessons.reset"), icon=":material/restart_alt:", key="lesson_reset", width="stretch",
                        disabled=not has_result or running):
        target.reset()
        st.rerun()


def _label(lesson: LS.Lesson, i: int, vid: str) -> str:
    return f"{letter(lesson, vid)} · {variant_name(lesson, vid)}"


def letter(lesson: LS.Lesson, vid: str) -> str:
    """One letter per variant id across the lesson's training and at-initialisation charts: a variant
    keeps its training letter (lesson 5: Pre-LN is D in both), extra init variants take the next ones."""
    ids = [v.id for v in lesson.variants]
    ids += [v.id for v in lesson.init_variants if v.id not in ids]
    return chr(ord("A") + ids.index(vid))


def _train_charts(lesson: LS.Lesson, session: LessonSession) -> None:
    c = session.comparison
    rid = f"lesson{lesson.id}-{session.run_id}-"
    stamp = (rid, tuple(tr.store.version for tr in c.trainers))  # charts are rebuilt only when this changes
    L = chart_labels()  # the charts' words, in the session's language
    runs = memo("lesson_runs", (stamp, lang()), lambda: labelled_runs(
        [_label(lesson, i, vid) for i, vid in enumerate(c.labels)], c.trainers))

    def figure(name: str):
        if name == "loss":
            return F.overlay_figure(runs, "train/loss", title=t("lessons.chart.loss"), log_y=True,
                                    uirevision=rid + "loss", labels=L)
        if name == "grad":
            return F.overlay_figure(runs, "grad/total_norm", title=t("lessons.chart.grad"), log_y=True,
                                    uirevision=rid + "grad", labels=L)
        return F.profiles_side_by_side(runs, PROFILE_METRIC[name], title=t(TITLE.get(name, f"lessons.chart.{name}")),
                                       uirevision=rid + name, labels=L)

    for name in CHARTS.get(lesson.id, ("loss",)):
        chart(f"lesson_chart_{name}", stamp, lambda: figure(name))


def _init_charts(lesson: LS.Lesson, frames: dict) -> None:
    variants = lesson.variants if lesson.kind == "init" else lesson.init_variants
    profiles = {_label(lesson, 0, v.id): frames[v.id] for v in variants if v.id in frames}
    metrics = (("grad_norm", "init_grad"), ("resid_ms", "init_resid")) if lesson.kind == "init" else \
        (("resid_ms", "init_resid"),)
    cols = st.columns(len(metrics))
    for col, (metric, title) in zip(cols, metrics):
        with col:
            st.plotly_chart(FI.profile_figure(profiles, metric, title=t(f"lessons.chart.{title}"), log_y=True,
                                              labels=chart_labels()), key=f"lesson_init_{metric}",
                            config=PLOTLY_CONFIG)


def verdict(lesson: LS.Lesson, v: LS.Verdict) -> None:
    st.subheader(t("lessons.verdict"))
    head = t("lessons.verdict_ok" if v.ok else "lessons.verdict_fail")
    (st.success if v.ok else st.warning)(f"{head} {t(v.message_key)}",
                                         icon=":material/task_alt:" if v.ok else ":material/help:")
    for key, held in v.claims:
        st.markdown("- " + t("lessons.claim_ok" if held else "lessons.claim_fail", text=t(key, **v.numbers)))
    yours = st.session_state.get(f"lesson{lesson.id}_prediction")
    st.markdown(t("lessons.you_predicted", yours=yours, answer=lesson.answer) if yours else t("lessons.no_prediction"))
    if not v.ok:
        st.caption(t("lessons.fail_hint"))


def explanation(lesson: LS.Lesson) -> None:
    with st.expander(t("lessons.why_after"), icon=":material/lightbulb:"):
        st.markdown(t(f"lesson.{lesson.id}.why"))
    with st.expander(t("lessons.note"), icon=":material/straighten:"):
        st.markdown(t(f"lesson.{lesson.id}.note"))


def footer(lesson: LS.Lesson, changes: dict | None) -> None:
    """The room's link; for a teacher (unlocked), the configs on the full page."""
    st.caption(t("lessons.link"))
    st.code(share.link_for({"lesson": lesson.id}), language=None, wrap_lines=True)
    if not st.session_state.get("lesson_unlock") or changes is None or any(v.block for v in lesson.variants):
        return
    if lesson.kind == "map":
        return map_view.lesson_open_button(lesson, changes)
    target = "init" if lesson.kind == "init" else "compare"
    if st.button(t("lessons.open_in", page=t(f"page.{target}")), icon=":material/open_in_new:", key="lesson_open_in",
                 help=t("lessons.open_in_help")):
        (_open_in_init if target == "init" else _open_in_compare)(lesson, changes)


def _open_in_compare(lesson: LS.Lesson, changes: dict) -> None:
    compare_view.preset([cfg for _, cfg in lesson.configs("full", changes)])
    st.switch_page("app_pages/compare.py", query_params=_params())


def _open_in_init(lesson: LS.Lesson, changes: dict) -> None:
    from ui import init_view

    init_view.preset([cfg for _, cfg in lesson.configs("full", changes)])
    st.switch_page("app_pages/init.py", query_params=_params())
