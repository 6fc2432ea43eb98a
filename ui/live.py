"""The live-training panels: the block as maths and picture, run controls, progress, charts, export.

Charts redraw inside ``st.fragment(run_every=REFRESH_S)`` from a snapshot of the run's metric store
while the run is active; when it ends the fragment asks for one full rerun, which draws the page
without the timer. The training thread never touches Streamlit.
"""
from __future__ import annotations

import io
import json

import plotly.io as pio
import streamlit as st

from resnorm.studies import figures as F
from resnorm.science.config import RunConfig
from resnorm.serving.sessions import SessionRun
from resnorm.science.tasks import not_held_out
from resnorm.science.variants import NORM_POSITIONS, NORM_TYPES, block_dot, block_latex
from ui.i18n import chart_labels, options, say, status, t
from ui.panels import chart, job_buttons, queued_notice, refreshing, run_view

STATUS_ICON = {"idle": ":material/radio_button_unchecked:", "running": ":material/directions_run:",
               "paused": ":material/pause_circle:", "completed": ":material/check_circle:",
               "stopped": ":material/stop_circle:", "diverged": ":material/error:", "failed": ":material/cancel:"}


@st.cache_resource(scope="session", on_release=lambda run: run.close())
def session_run() -> SessionRun:
    """This browser session's run; released (and stopped) when the session ends."""
    return SessionRun()


def block_view(pos: str, res: str, norm: str, arch: str) -> None:
    """The chosen block as its update formula and a diagram, both from ``resnorm.science.variants``."""
    left, right = st.columns([1, 1])
    with left:
        st.markdown(t("live.block_heading"))
        st.latex(block_latex(pos, res, norm, arch))
        if norm != "none" and pos != "none":
            st.latex(NORM_TYPES[norm].symbol + r"(x) = " + NORM_TYPES[norm].formula)
        notes = [t("live.position_note", pos=pos, source=NORM_POSITIONS[pos].source),
                 t("live.residual_note", res=res, help=t(f"residual.{res}.help"))]
        if NORM_POSITIONS[pos].final_norm and norm != "none":
            notes.append(t("live.final_norm_note"))
        st.caption(" ".join(notes))
    with right:
        st.graphviz_chart(block_dot(pos, res, norm), width="stretch")


def run_controls(run: SessionRun, cfg: RunConfig | None, problems: dict[str, str]) -> None:
    reason = None
    if cfg is None:
        reason = t("live.fix_first", problems="; ".join(f"{k}: {v}" for k, v in problems.items()))
    elif run.active:
        reason = t("live.in_progress")
    job_buttons(run, keys=("btn_train", "btn_pause", "btn_stop", "btn_reset"), labels=(t("live.train"), t("live.stop")),
                reason=reason, train_help=t("live.train_help"), start=lambda: run.start(cfg),
                can_reset=run.trainer is not None, reset_help=t("live.reset_help"))
    if reason and cfg is None:
        st.warning(reason, icon=":material/warning:")


def progress(run: SessionRun) -> None:
    tr = run.trainer
    if queued_notice(run):
        return
    if tr is None:
        st.info(t("live.start_hint"))
        return
    total = tr.cfg.train.steps
    if run.phase == "starting":  # the worker builds the model: say so rather than show empty axes
        st.progress(0.0, text=t("feedback.starting"))
        return
    elapsed, rate = tr.elapsed, tr.steps_per_s  # steps/s: training time only, not the start-up
    text = t("live.progress", icon=STATUS_ICON.get(tr.status, ""), status=status(tr.status), step=tr.step,
             total=total, rate=rate, elapsed=elapsed)
    st.progress(min(tr.step / total, 1.0), text=text)
    try:
        n_examples = not_held_out(tr.cfg.task, tr.cfg.model.arch)
    except Exception:  # noqa: BLE001 — the run itself reports a task that cannot be built
        n_examples = None
    if n_examples is not None:
        st.caption(t("live.not_held_out", n=n_examples))
    if tr.status == "diverged":
        st.error(t("live.diverged", step=tr.diverged_step, reason=say(tr.reason)), icon=":material/error:")
    elif tr.status == "failed":
        st.error(t("live.failed", reason=say(tr.reason)))
    if run.saved_to:
        st.caption(t("live.saved", path=run.saved_to))
    elif run.save_error:
        st.warning(t("live.not_saved", error=run.save_error), icon=":material/save:")


ATTENTION = "Attention"
VIEWS = [v.id for v in F.RUN_VIEWS[:4]] + [ATTENTION] + [v.id for v in F.RUN_VIEWS[4:]]  # i18n: ids (view.*)


def charts(run: SessionRun) -> None:
    """The chosen view's charts. Only the visible view is built, and only when the run's store
    changed since the last refresh: every figure costs the server time that other sessions wait for."""
    tr = run.trainer
    if tr is None:
        return
    view = st.segmented_control(t("live.view"), VIEWS, default=VIEWS[0], key="opt_view", label_visibility="collapsed",
                                format_func=options("view.")) or VIEWS[0]
    store, cfg = tr.store, tr.cfg
    rid = f"run{run.run_id}"
    stamp = (rid, store.version)
    if view != ATTENTION:
        run_view(next(v for v in F.RUN_VIEWS if v.id == view), store.all_series, store.markers,
                 cfg.train.grad_clip, rid, stamp, "chart", "opt_log_loss")
        return
    L = chart_labels()
    snaps = store.attention()
    snap = snaps[-1] if snaps else None
    layers = F.attention_layers(snap)
    if not layers:
        st.caption(t("live.no_attention"))
        return
    c1, c2 = st.columns(2)
    layer = c1.selectbox(t("live.layer"), layers, key="opt_attn_layer")
    all_heads = t("live.all_heads")
    shown_heads = snap.maps[layer].shape[0] if layer in snap.maps else cfg.model.heads  # at most 8 kept
    head = c2.selectbox(t("live.head"), ["all"] + list(range(shown_heads)), key="opt_attn_head",
                        format_func=lambda h: all_heads if h == "all" else str(h))
    left, right = st.columns([3, 2])
    with left:
        chart("chart_attn", (stamp, layer, head), lambda: F.attention_figure(
            snap, layer, None if head == "all" else head, uirevision=rid + "attn", labels=L))
    with right:
        chart("chart_entropy", (stamp, layer), lambda: F.entropy_figure(store.all_series(), layer,
                                                                       markers=store.markers(),
                                                                       uirevision=rid + "ent", labels=L))


def export(run: SessionRun) -> None:
    """Downloads, generated only when clicked (deferred ``data`` callables)."""
    tr = run.trainer
    if tr is None or tr.store.n_points() == 0:
        return
    store, cfg = tr.store, tr.cfg

    def parquet() -> bytes:
        buf = io.BytesIO()
        store.frame().to_parquet(buf, index=False)
        return buf.getvalue()

    L = chart_labels()  # the callables below run outside the session

    def figures() -> dict:
        series, markers = store.all_series(), store.markers()
        return {k: (lambda c=c: c.build(series, markers, cfg.train.grad_clip, L, k, False))
                for k, c in F.run_charts().items()}

    with st.expander(t("live.export")):
        c = st.columns(4)
        kw = dict(on_click="ignore", width="stretch")
        c[0].download_button("metrics.csv", lambda: store.frame().to_csv(index=False), "metrics.csv", "text/csv",
                             key="dl_csv", **kw)
        c[1].download_button("metrics.parquet", parquet, "metrics.parquet", "application/octet-stream",
                             key="dl_parquet", **kw)
        c[2].download_button("config.json", cfg.to_json(), "config.json", "application/json", key="dl_cfg", **kw)
        c[3].download_button("summary.json", lambda: json.dumps(tr.summary.to_dict() if tr.summary else
                                                                {"status": tr.status, "steps": tr.step}, indent=2),
                             "summary.json", "application/json", key="dl_summary", **kw)
        name = st.selectbox(t("live.export_html"), list(figures()), key="opt_export_chart",
                            format_func=options("export."))
        st.download_button(f"{name}.html", lambda: pio.to_html(figures()[name]().to_dict(),
                                                               include_plotlyjs=True, full_html=True),
                           f"{name}.html", "text/html", key="dl_html", **kw)
        st.caption(t("live.export_png"))


def live_panel(run: SessionRun) -> None:
    """Progress and charts; refreshed every REFRESH_S while the run is active."""
    refreshing(run, lambda: (progress(run), charts(run)))


def restore() -> None:
    """Apply this page's link to its controls (before they are drawn), once per session."""
    from ui import share
    from ui.controls import set_controls

    values, _, ignored = share.read_query("live")
    set_controls(values)
    if ignored:
        st.session_state["_url_ignored"] = ignored
