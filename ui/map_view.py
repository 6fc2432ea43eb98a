"""The Trainability map page: a base config (the sidebar, as on Live), two swept fields and an optional
third as facets, Run; the cells fill a heatmap as they finish (``resnorm.studies.figures_map``); the
predictors' rank correlation with the final loss; one cell's run opened with the Live page's views.

The running sweep is this session's ``resnorm.serving.sweep_session.SessionSweep`` (a session-scoped
resource: a rerun never starts it twice, leaving the page or closing the tab stops it). A saved sweep
(``?sweep=<name>``, from the Runs page) is shown from its folder; Run on the same settings resumes it.

Widget keys: ``map_axis{1,2,3}_field`` / ``map_axis{1,2,3}_values``, ``map_target``, ``map_metric``,
``map_cell``; the base config uses the sidebar's ``cfg_*`` keys (shared with Live and Compare).
"""
from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from resnorm.science.config import NOT_FROM_TEXT, ConfigError, RunConfig, field_index, non_default, parse_query
from resnorm.serving import sweep_session as SS
from resnorm.serving.sweep import SweepRecord
from resnorm.studies import figures as F
from resnorm.studies import figures_map as FM
from resnorm.studies import lessons as LS
from resnorm.studies import predictors as P
from resnorm.studies.sweep_spec import NOT_SWEPT, SweepSpec, cells, parse_axis
from ui import safe, share
from ui.controls import set_controls
from ui.i18n import chart_labels, field_label, say, say_problems, status, t
from ui.panels import PLOTLY_CONFIG, refreshing, saved_run_tabs

AXES = ("axis1", "axis2", "axis3")        # URL keys and widget key stems; axis3 = facets (optional)
NONE = "-"                                 # the facet selector's "no facets"
DEFAULTS = {"axis1": ("layers", "2,4,8"), "axis2": ("lr", "3e-4,1e-3,3e-3"), "axis3": (NONE, "")}
URL_KEYS = set(AXES) | {"target", "sweep"}
METRICS = ["final_loss", "steps_to_target"] + P.COLUMNS   # i18n: ids (map.metric.*)
LOG_METRICS = {"final_loss", "pred_grad_ratio", "pred_resid_growth"}
OPEN_KEY = "map_open"                      # the saved sweep shown (its folder name)


@st.cache_resource(scope="session", on_release=lambda s: s.close())
def session_sweep() -> SS.SessionSweep:
    """This browser session's sweep; stopped when the session ends."""
    return SS.SessionSweep()


def sweepable() -> list[str]:
    return [n for n in field_index() if n not in NOT_SWEPT and n not in NOT_FROM_TEXT]


def _field_name(n: str) -> str:
    """A field as the axis selector shows it: its label, and its config name when that differs."""
    if n == NONE:
        return t("map.no_facets")
    label = field_label(n)
    return label if label == n else f"{label} ({n})"


def axis_text(values) -> str:
    return ",".join(FM.value_text(v) for v in values)


# ---- the link -------------------------------------------------------------------------------------
def restore() -> None:
    """Once per session: the link's base config into the sidebar, its axes into the axis controls; a
    ``?sweep=`` name opens that saved sweep (its own base and axes)."""
    if st.session_state.get("_url_read_map"):
        return
    share.mark_read("map")
    raw = {k: st.query_params[k] for k in st.query_params if k not in share.APP_PARAMS}
    ignored = []
    name = raw.pop("sweep", None)
    if name:
        try:
            rec = SS.open_sweep(name)
            preset(rec.spec)
            st.session_state[OPEN_KEY] = name
            return
        except ConfigError as e:
            ignored.append(f"sweep ({say_problems(e.problems)})")
    for i, key in enumerate(AXES):
        text = raw.pop(key, None)
        if text and "=" in text:
            field_, _, values = text.partition("=")
            st.session_state[f"map_{key}_field"] = field_.strip()
            st.session_state[f"map_{key}_values"] = values
    target = raw.pop("target", None)
    if target:
        try:
            st.session_state["map_target"] = float(target)
        except ValueError:
            ignored.append(f"target={safe.cut(target, 40)}")
    values, notes = parse_query({k: v for k, v in raw.items() if k not in share.NOT_FROM_LINKS})
    set_controls(values)
    ignored += notes
    if ignored:
        st.session_state["_url_ignored"] = ignored


def preset(spec: SweepSpec) -> None:
    """Put a sweep's base config and axes into the controls (before they are drawn)."""
    set_controls(spec.base.to_flat() if hasattr(spec.base, "to_flat") else non_default(spec.base))
    if spec.steps is not None:
        set_controls({"steps": spec.steps})
    fields = list(spec.axes)
    for key in AXES:
        st.session_state.pop(f"map_{key}_field", None)
        st.session_state.pop(f"map_{key}_values", None)
    for key, name in zip(AXES, fields):
        st.session_state[f"map_{key}_field"] = name
        st.session_state[f"map_{key}_values"] = axis_text(spec.axes[name])
    if len(fields) < 3:
        st.session_state["map_axis3_field"] = NONE
    st.session_state["map_target"] = spec.target


def link_params(spec: SweepSpec) -> dict:
    params = {k: v for k, v in non_default(spec.base).items() if k not in share.NOT_FROM_LINKS}
    for key, (name, values) in zip(AXES, spec.axes.items()):
        params[key] = f"{name}={axis_text(values)}"
    if spec.target is not None:
        params["target"] = f"{spec.target:g}"
    return params


# ---- the sweep's settings ------------------------------------------------------------------------------
def axis_controls() -> tuple[dict | None, list[str]]:
    """Three rows (field, values); the third may be "none". Returns ({field: values} or None, problems),
    every problem naming its axis."""
    fields = sweepable()
    axes, problems = {}, []
    for i, key in enumerate(AXES):
        fkey, vkey = f"map_{key}_field", f"map_{key}_values"
        default_field, default_values = DEFAULTS[key]
        options = fields + [NONE] if key == "axis3" else fields
        if st.session_state.get(fkey) not in options:
            st.session_state[fkey] = default_field
        st.session_state.setdefault(vkey, default_values)
        c1, c2 = st.columns([1, 2])
        name = c1.selectbox(t(f"map.{key}"), options, key=fkey,
                            format_func=_field_name)
        text = c2.text_input(t("map.values"), key=vkey, help=t("map.values_help"),
                             disabled=name == NONE, placeholder="2,4,8")
        if name == NONE:
            continue
        if name in axes:
            problems.append(t("map.bad_axis", axis=name, why=t("map.twice")))
            continue
        try:
            _, values = parse_axis(f"{name}={text}")
        except ConfigError as e:
            problems.append(t("map.bad_axis", axis=name, why=say_problems(e.problems)))
            continue
        axes[name] = values
    return (axes if not problems else None), problems


def target_control() -> float | None:
    st.session_state.setdefault("map_target", None)
    return st.number_input(t("map.target"), min_value=0.0, value=None, step=0.1, format="%.3g", key="map_target",
                           help=t("map.target_help"))


def build_spec(base: RunConfig | None, axes: dict | None, target) -> tuple[SweepSpec | None, list[str]]:
    """The sweep, checked against the cap on cells (``RESNORM_MAX_SWEEP_CELLS``); problems name the axis."""
    if base is None or axes is None:
        return None, []
    try:
        spec = SweepSpec(base=base, axes=axes, target=target)
        cells(spec, SS.max_cells())
    except ConfigError as e:
        return None, [t("map.bad_axis", axis=k, why=say(v)) for k, v in e.problems]
    return spec, []


def buttons(sweep: SS.SessionSweep, spec: SweepSpec | None, problems: list[str]) -> None:
    for p in problems:
        st.error(p, icon=":material/error:")
    if spec is not None:
        st.caption(t("map.cells", n=spec.n_cells, cap=SS.max_cells()))
    c = st.columns(4)
    running = sweep.active
    if c[0].button(t("map.run"), icon=":material/play_arrow:", type="primary", key="map_run",
                   disabled=spec is None or running, width="stretch",
                   help=t("map.busy") if running else t("map.run_help")):
        why = sweep.start(spec)
        if why:
            st.session_state["_map_error"] = say(why)
        else:
            st.session_state.pop(OPEN_KEY, None)
        st.rerun()
    if c[1].button(t("map.stop"), icon=":material/stop:", key="map_stop", disabled=not running, width="stretch"):
        sweep.stop()
        st.rerun()
    err = st.session_state.pop("_map_error", None)
    if err:
        st.error(err, icon=":material/error:")


# ---- what is shown ------------------------------------------------------------------------------------
def shown(sweep: SS.SessionSweep) -> tuple[SweepSpec, pd.DataFrame, SweepRecord, object] | None:
    """(spec, rows, record, stamp) of the session's sweep, else of the saved sweep opened; None: nothing."""
    job = sweep.job
    if job is not None:
        return job.spec, job.frame(), SweepRecord(job.out, job.spec), (sweep.run_id, job.done)
    name = st.session_state.get(OPEN_KEY)
    if name:
        try:
            rec = SS.open_sweep(name)
        except ConfigError as e:
            st.error(say_problems(e.problems))
            return None
        return rec.spec, rec.rows, rec, (name, len(rec.rows))
    return None


def panel(sweep: SS.SessionSweep) -> None:
    """Progress, the map, the predictors and one cell's charts; refreshed while the sweep runs."""
    refreshing(sweep, lambda: _panel(sweep), every=1.0)


def progress(sweep: SS.SessionSweep) -> None:
    job = sweep.job
    if job is None:
        return
    p = job.progress()
    if p["status"] == "queued":
        st.info(t("map.queued", position=p["queue_position"] or 1, running=sweep.slots.busy,
                  capacity=sweep.slots.capacity), icon=":material/hourglass_top:")
        return
    eta = p["eta_s"]
    text = t("map.progress", status=status(p["status"]), done=p["done"], total=p["total"], workers=p["workers"],
             eta="—" if eta is None else f"{eta:.0f}")
    st.progress(min(p["done"] / max(p["total"], 1), 1.0), text=text)
    if p["skipped"]:
        st.caption(t("map.skipped", n=p["skipped"]))
    if job.status == "failed" and job.error:
        st.error(safe.md(job.error, 400), icon=":material/error:")
    st.caption(t("map.saved", path=safe.md_code(str(job.out), 300)))


def metric_names() -> dict:
    """Display names of fields and metrics for the figure (session's language)."""
    names = {n: field_label(n) for n in field_index()}
    names.update({m: t(f"map.metric.{m}") for m in METRICS})
    return names


def _panel(sweep: SS.SessionSweep) -> None:
    progress(sweep)
    got = shown(sweep)
    if got is None:
        st.info(t("map.hint"), icon=":material/grid_on:")
        return
    spec, rows, rec, stamp = got
    available = [m for m in METRICS if m != "steps_to_target" or spec.target is not None]
    metric = st.segmented_control(t("map.colour_by"), available, default="final_loss", key="map_metric",
                                  format_func=lambda m: t(f"map.metric.{m}")) or "final_loss"
    log = metric in LOG_METRICS
    fig = FM.map_figure(rows, spec.axes, metric, log=log, labels=chart_labels(), names=metric_names(),
                        uirevision="map-" + SS.sweep_name(spec))
    event = st.plotly_chart(F.prebuilt(fig), key="map_chart", config=PLOTLY_CONFIG, on_select="rerun",
                            selection_mode="points")
    diverged = FM.diverged_cells(rows, spec.axes)
    if diverged:
        st.caption(t("map.diverged", n=len(diverged), cells="; ".join(
            ", ".join(f"{k}={FM.value_text(v)}" for k, v in d.items()) for d in diverged[:12])))
    correlations(rows)
    cell_charts(spec, rows, rec, event)


def correlations(rows: pd.DataFrame) -> None:
    st.markdown(t("map.predictors"))
    corr = P.predictor_correlation(rows)
    rho = [f"{r:+.2f}" if math.isfinite(r) else "—" for r in corr["spearman"]]  # — : fewer than 3 cells, or constant
    table = pd.DataFrame({t("map.col.predictor"): [t(f"map.metric.pred_{p}") for p in corr["predictor"]],
                          t("map.col.spearman"): rho, t("map.col.n"): corr["n"]})
    st.dataframe(table, hide_index=True, width="stretch", key="map_corr")
    st.caption(t("map.predictors_help"))


def _cell_label(spec: SweepSpec, r: dict) -> str:
    values = ", ".join(f"{k}={FM.value_text(r.get(k))}" for k in spec.axes)
    loss = r.get("final_loss")
    loss = "—" if loss is None or (isinstance(loss, float) and not math.isfinite(loss)) else f"{float(loss):.4g}"
    return f"{values} · {status(str(r.get('status')))} · {loss}"


def _picked(spec: SweepSpec, records: list[dict], event) -> str | None:
    """The key of the cell clicked on the map (its first point), or None."""
    try:
        points = event.selection.points if event is not None else []
    except AttributeError:
        return None
    fields = list(spec.axes)
    keys = {str(r["key"]) for r in records}
    for pt in points or []:
        key = pt.get("customdata")
        key = key[0] if isinstance(key, (list, tuple)) and key else key
        if isinstance(key, str) and key in keys:
            return key
        x, y = str(pt.get("x")), str(pt.get("y"))
        for r in records:
            xs = FM.value_text(r.get(fields[1] if len(fields) > 1 else fields[0]))
            ys = FM.value_text(r.get(fields[0])) if len(fields) > 1 else y
            if xs == x and ys == y:
                return str(r["key"])
    return None


def cell_charts(spec: SweepSpec, rows: pd.DataFrame, rec: SweepRecord, event=None) -> None:
    """One finished cell's run with the Live page's views (click a cell, or choose it here)."""
    records = [r for r in rows.to_dict("records") if r.get("status") in ("completed", "diverged")]
    if not records:
        return
    keys = [str(r["key"]) for r in records]
    labels = {str(r["key"]): _cell_label(spec, r) for r in records}
    clicked = _picked(spec, records, event)
    if clicked and clicked in labels:
        st.session_state["map_cell"] = clicked
    if st.session_state.get("map_cell") not in labels:
        st.session_state["map_cell"] = None
    key = st.selectbox(t("map.open_cell"), keys, index=None, key="map_cell", format_func=lambda k: labels.get(k, k),
                       placeholder=t("map.open_cell_hint"))
    if key is None:
        return
    try:
        run = rec.load_cell(key)
    except Exception as e:  # noqa: BLE001 — a cell folder removed or damaged meanwhile
        st.error(t("map.cannot_open", error=safe.md(str(e), 300)), icon=":material/error:")
        return
    saved_run_tabs(run.series(), run.markers(), run.config.train.grad_clip, f"map-{key}-", "map_chart_run",
                   "map_log_loss")


def share_panel(spec: SweepSpec | None) -> None:
    """The sweep's link and its command line."""
    if spec is None:
        return
    with st.expander(t("share.panel"), icon=":material/share:"):
        st.caption(t("share.link"))
        st.code(share.link_for(link_params(spec)), language=None, wrap_lines=True)
        st.caption(t("share.cli"))
        st.code(spec.to_cli(out=f"sweeps/{SS.sweep_name(spec)}"), language="bash", wrap_lines=True)


# ---- the Runs page's section ------------------------------------------------------------------------------
def sweeps_section() -> None:
    """Saved sweeps (newest first), each reopened on the map with one click."""
    found = SS.list_sweeps()
    if not found:
        return
    st.subheader(t("map.saved_sweeps"))
    for name, mtime, rec in found[:30]:
        c1, c2 = st.columns([4, 1])
        if isinstance(rec, str):
            c1.caption(f"{safe.md(name, 40)}: {safe.md(rec, 300)}")
            continue
        axes = " × ".join(f"{k} ({len(v)})" for k, v in rec.spec.axes.items())
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))
        c1.markdown(t("map.sweep_line", name=name, when=when, axes=safe.md(axes, 200), done=len(rec.rows),
                      total=rec.spec.n_cells))
        if c2.button(t("map.reopen"), key=f"map_reopen_{name}", icon=":material/grid_on:", width="stretch"):
            st.session_state[OPEN_KEY] = name
            preset(rec.spec)
            st.session_state["_url_read_map"] = True
            params = {"sweep": name}
            if st.query_params.get("lang"):
                params["lang"] = st.query_params["lang"]
            st.switch_page("app_pages/map.py", query_params=params)


# ---- a map lesson (the Lessons page, ``kind == "map"``) ------------------------------------------------------
@st.cache_resource(scope="session", on_release=lambda s: s.close())
def session_lesson_sweep() -> SS.SessionSweep:
    """This session's lesson sweep (apart from the map page's own); stopped when the session ends."""
    return SS.SessionSweep()


def lesson_spec(lesson: LS.Lesson, scale: str, changes: dict | None) -> SweepSpec:
    base = RunConfig.from_flat(lesson.base_flat(scale, changes))  # steps as the CLI's --steps: the same cells
    return SweepSpec(base=base, axes=lesson.sweep_axes(scale), steps=base.train.steps)


def lesson_experiment(lesson: LS.Lesson, changes: dict | None, quick: bool) -> None:
    """What the lesson sweeps, and Run / Stop / Reset (the Lessons page's keys)."""
    st.subheader(t("lessons.experiment"))
    st.markdown(t(f"lesson.{lesson.id}.run"))
    scale = "reduced" if quick else "full"
    spec = lesson_spec(lesson, scale, changes) if changes is not None else None
    if spec is not None:
        axes = " × ".join(f"{field_label(k)} {{{axis_text(v)}}}" for k, v in spec.axes.items())
        st.caption(t("map.lesson_cells", n=spec.n_cells, axes=axes, steps=spec.base.train.steps))
    sweep = session_lesson_sweep()
    running = sweep.active
    cols = st.columns(3)
    from ui.lessons_view import run_label, stop_reset_buttons  # here: lessons_view hands map lessons to this module

    if cols[0].button(run_label(lesson, scale), icon=":material/play_arrow:", type="primary", key="lesson_run",
                      disabled=spec is None or running, width="stretch",
                      help=t("lessons.busy") if running else t("map.run_help")):
        why = sweep.start(spec, tag=(lesson.id, scale, tuple(sorted((changes or {}).items()))))
        if why:
            st.session_state["lesson_error"] = say(why)
        st.rerun()
    stop_reset_buttons(cols[1], cols[2], sweep, running, has_result=sweep.job is not None)
    err = st.session_state.pop("lesson_error", None)
    if err:
        st.error(err)
    st.subheader(t("lessons.look"))
    st.markdown(t(f"lesson.{lesson.id}.look"))


def lesson_results(lesson: LS.Lesson, show_verdict) -> None:
    """The lesson's map filling in, the largest trainable rate per depth, and — once every cell has
    finished — the verdict (``show_verdict(lesson, verdict)``, the Lessons page's)."""
    sweep = session_lesson_sweep()
    refreshing(sweep, lambda: _lesson_results(lesson, sweep, show_verdict), every=1.0)


def _lesson_results(lesson: LS.Lesson, sweep: SS.SessionSweep, show_verdict) -> None:
    job = sweep.job
    if job is None or sweep.tag is None or sweep.tag[0] != lesson.id:
        st.info(t("lessons.start_hint"), icon=":material/science:")
        return
    progress(sweep)
    rows = job.frame()
    fig = FM.map_figure(rows, job.spec.axes, "final_loss", log=True, labels=chart_labels(), names=metric_names(),
                        uirevision=f"lesson{lesson.id}-{sweep.run_id}")
    st.plotly_chart(F.prebuilt(fig), key="lesson_map", config=PLOTLY_CONFIG)
    trained = lesson.margins["trained"]
    table = {}
    for v in lesson.variants:
        best = LS.largest_trainable(rows, v.changes, trained)
        table[t(f"lesson.{lesson.id}.variant.{v.id}")] = {L: (f"{lr:g}" if lr > 0 else "—") for L, lr in best.items()}
    if any(table.values()):
        st.caption(t("map.lesson_best", trained=trained))
        frame = pd.DataFrame(table).T
        frame.columns = [f"{field_label('layers')} {c}" for c in frame.columns]
        st.dataframe(frame, width="stretch", key="lesson_best")
    if job.finished:
        if job.status == "completed" and len(rows) == job.total:
            _, scale, changes = sweep.tag
            try:
                show_verdict(lesson, lesson.check(LS.sweep_results(lesson, rows, scale, dict(changes))))
            except Exception as e:  # noqa: BLE001 — said, not raised
                st.error(f"{type(e).__name__}: {safe.md(str(e), 300)}", icon=":material/error:")
        else:
            st.warning(t("lessons.no_verdict"), icon=":material/stop_circle:")


def lesson_open_button(lesson: LS.Lesson, changes: dict | None) -> None:
    """For a teacher: the lesson's sweep on the Trainability map page, to change and extend."""
    if changes is None:
        return
    if st.button(t("lessons.open_in", page=t("map.page")), icon=":material/open_in_new:", key="lesson_open_in",
                 help=t("lessons.open_in_help")):
        preset(lesson_spec(lesson, "full", changes))
        st.session_state["_url_read_map"] = True
        st.session_state.pop(OPEN_KEY, None)
        params = {"lang": st.query_params["lang"]} if st.query_params.get("lang") else {}
        st.switch_page("app_pages/map.py", query_params=params)
