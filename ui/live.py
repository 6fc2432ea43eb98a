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
from resnorm.studies import figures_dashboard as FD
from resnorm.science.config import RunConfig
from resnorm.serving.sessions import SessionRun
from resnorm.science.tasks import not_held_out
from resnorm.science.variants import NORM_POSITIONS, NORM_TYPES, active_options, block_dot, block_latex, norm_latex
from ui.i18n import chart_labels, choice_name, options, say, status, t
from ui.panels import chart, fonts, job_buttons, projector_toggle, queued_notice, refreshing, run_view

STATUS_ICON = {"idle": ":material/radio_button_unchecked:", "running": ":material/directions_run:",
               "paused": ":material/pause_circle:", "completed": ":material/check_circle:",
               "stopped": ":material/stop_circle:", "diverged": ":material/error:", "failed": ":material/cancel:"}


@st.cache_resource(scope="session", on_release=lambda run: run.close())
def session_run() -> SessionRun:
    """This browser session's run; released (and stopped) when the session ends."""
    return SessionRun()


def block_view(pos: str, res: str, norm: str, arch: str, values: dict | None = None) -> None:
    """The chosen block as its update formula and a diagram, both from ``resnorm.science.variants``;
    ``values`` (the flat config) adds the initial a of DyT/Derf and the attention and loss options
    that are on, each formula with its paper (issue 18)."""
    values = values or {}
    left, right = st.columns([1, 1])
    with left:
        st.markdown(t("live.block_heading"))
        st.latex(block_latex(pos, res, norm, arch))
        if norm != "none" and NORM_POSITIONS[pos].normalises:  # nGPT uses its own U(v) = v/‖v‖
            st.latex(NORM_TYPES[norm].symbol + r"(x) = " + norm_latex(norm, values.get("dyt_alpha", 0.5)))
        st.caption(_block_notes(pos, res, norm))
        options = active_options(values)
        if options:
            st.markdown(t("attn.options_heading"))
            for o in options:
                st.latex(o.latex)
            st.caption(" ".join(t("attn.option_note", name=o.field, source=o.source) for o in options))
    with right:
        st.graphviz_chart(_diagram(pos, res, norm), width="stretch")


def _diagram(pos: str, res: str, norm: str) -> str:
    """The block diagram in the session's language."""
    return block_dot(pos, res, norm, words={k: t(f"diagram.{k}") for k in ("branch", "skip", "init 0", "in", "out")},
                     norm_name=choice_name("norm", norm))


def _block_notes(pos: str, res: str, norm: str) -> str:
    """Where the norm sits and what the skip path does, by name, with their papers."""
    notes = [t("live.position_note", pos=choice_name("norm_position", pos), source=NORM_POSITIONS[pos].source),
             t("live.residual_note", res=choice_name("residual", res), help=t(f"residual.{res}.help"))]
    if norm != "none" and pos != "none":  # issue 18: the norm's paper beside its formula
        notes.append(t(f"attn.norm_help.{norm}"))
    if NORM_POSITIONS[pos].final_norm and norm != "none":
        notes.append(t("live.final_norm_note"))
    return " ".join(notes)


def header_strip(pos: str, res: str, norm: str, arch: str) -> None:
    """The page's first row, one line high: title (and the projector switch), the block's update
    formula and norm as inline maths (the notes in its help), and the block diagram as a strip.
    ``block_view`` is the same at full size."""
    title, formula, diagram = st.columns([1.05, 1.25, 1.7], vertical_alignment="center", gap="small")
    with title:
        st.title(t("live.title"), help=t("live.caption"))
        projector_toggle()
    with formula:
        st.markdown("$" + block_latex(pos, res, norm, arch) + "$", help=_block_notes(pos, res, norm))
        if norm != "none" and NORM_POSITIONS[pos].normalises:  # nGPT uses its own U(v) = v/‖v‖
            st.caption("$" + NORM_TYPES[norm].symbol + r"(x) = " + NORM_TYPES[norm].formula + "$")
    with diagram:
        st.graphviz_chart(_diagram(pos, res, norm), width="stretch", height=76)


def run_controls(run: SessionRun, cfg: RunConfig | None, problems: dict[str, str], ghost_button: bool = False) -> None:
    reason = None
    if cfg is None:
        reason = t("live.fix_first", problems="; ".join(f"{k}: {v}" for k, v in problems.items()))
    elif run.active:
        reason = t("live.in_progress")

    def start():
        remember(run)  # the run on screen becomes a ghost of the next
        return run.start(cfg)

    cols = job_buttons(run, keys=("btn_train", "btn_pause", "btn_stop", "btn_reset"),
                       labels=(t("live.train"), t("live.stop")), reason=reason, train_help=t("live.train_help"),
                       start=start, can_reset=run.trainer is not None, reset_help=t("live.reset_help"))
    if ghost_button and cols[4].button(t("dash.clear_ghosts"), key="btn_clear_ghosts", width="stretch",
                                       disabled=not ghosts(run), help=t("dash.clear_ghosts_help")):
        clear_ghosts(run)
        st.rerun()
    if reason and cfg is None:
        st.warning(reason, icon=":material/warning:")


# ---- ghosts: the session's previous runs on the loss chart ------------------------------------------------
GHOSTS_KEY = "_ghosts"  # [{"id", "cfg" (flat), "series" {name: (steps, values)}}], oldest first


def remember(run: SessionRun) -> None:
    """Keep the run on screen, once it has ended, as a future ghost: its flat config and its loss
    series, thinned to ``FD.GHOST_POINTS`` (a few kB per run; the last ``FD.GHOSTS`` + 1 kept)."""
    tr = run.trainer
    kept = st.session_state.setdefault(GHOSTS_KEY, [])
    if tr is None or run.active or any(g["id"] == run.run_id for g in kept):
        return
    loss = tr.store.series("train/loss")
    if not len(loss[0]):
        return
    kept.append({"id": run.run_id, "cfg": tr.cfg.to_flat(), "series": {"train/loss": F.thin(*loss, FD.GHOST_POINTS)}})
    del kept[:-(FD.GHOSTS + 1)]


def ghosts(run: SessionRun) -> list[dict]:
    """The previous runs to draw behind this one, newest first."""
    on_screen = run.run_id if run.trainer is not None else None
    return [g for g in reversed(st.session_state.get(GHOSTS_KEY, [])) if g["id"] != on_screen][:FD.GHOSTS]


def clear_ghosts(run: SessionRun) -> None:
    """Forget the previous runs; the run on screen (if any) stays, as the next run's "before"."""
    on_screen = run.run_id if run.trainer is not None else None
    st.session_state[GHOSTS_KEY] = [g for g in st.session_state.get(GHOSTS_KEY, []) if g["id"] == on_screen]


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
    if tr.status == "diverged":
        st.error(t("live.diverged", step=tr.diverged_step, reason=say(tr.reason)), icon=":material/error:")
    elif tr.status == "failed":
        st.error(t("live.failed", reason=say(tr.reason)))


def progress_notes(run: SessionRun) -> None:
    """What the progress line does not say in one line (under the dashboard, so the first screen
    keeps its four panels): validation not held out, where the run was saved."""
    tr = run.trainer
    if tr is None or run.status == "queued":
        return
    try:
        n_examples = not_held_out(tr.cfg.task, tr.cfg.model.arch)
    except Exception:  # noqa: BLE001 — the run itself reports a task that cannot be built
        n_examples = None
    if n_examples is not None:
        st.caption(t("live.not_held_out", n=n_examples))
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


def dashboard(run: SessionRun) -> None:
    """The four live panels in a 2 × 2 grid (``resnorm.studies.figures_dashboard``): loss with the
    session's ghosts, residual stream per layer, gradient norm per layer, one attention map. Each is
    rebuilt only when the run's store (or the ghosts, the language, the projector mode) changed."""
    tr = run.trainer
    if tr is None:
        return
    store, L, size = tr.store, chart_labels(), fonts()
    rid = f"run{run.run_id}"
    stamp = (rid, store.version)
    shown = ghosts(run)
    now = tr.cfg.to_flat()
    ghost_series = [(FD.ghost_label(g["cfg"], now, L), g["series"]) for g in shown]
    builds = {
        "loss": (tuple(g["id"] for g in shown), lambda: FD.loss_panel(
            store.all_series(), ghost_series, markers=store.markers(), uirevision=rid + "dl", labels=L, fonts=size)),
        "resid": ((), lambda: FD.resid_panel(store.all_series(), markers=store.markers(), uirevision=rid + "dr",
                                             labels=L, fonts=size)),
        "grad": ((), lambda: FD.grad_panel(store.all_series(), markers=store.markers(), uirevision=rid + "dg",
                                           labels=L, fonts=size)),
        "attn": ((), lambda: FD.attention_panel((store.attention() or [None])[-1], uirevision=rid + "da",
                                                labels=L, fonts=size)),
    }
    keys = list(builds)
    for row in (keys[:2], keys[2:]):
        for col, key in zip(st.columns(2, gap="small"), row):
            with col:
                extra, build = builds[key]
                chart(f"dash_{key}", (stamp, extra), build)


LIVE_REFRESH_S = 1.0  # the dashboard redraws five things; twice a second overran a loaded server


def live_panel(run: SessionRun, cfg: RunConfig | None, problems: dict[str, str]) -> None:
    """The run controls beside the progress, the dashboard, then every view in detail (while the run
    trains only when asked), in one fragment refreshed every ``LIVE_REFRESH_S`` while the run is
    active. One fragment, and few charts per refresh: a refresh that overran the next one made the
    browser drop the charts between them (blank panels on a loaded server)."""
    def body():
        buttons, status = st.columns([3.4, 2], vertical_alignment="center", gap="small")
        with buttons:
            run_controls(run, cfg, problems, ghost_button=True)
        with status:
            progress(run)
        dashboard(run)
        progress_notes(run)
        if run.trainer is None:
            return
        if not run.trainer.done and not st.toggle(t("dash.more_live"), key="opt_details_live", help=t("dash.more_live_help")):
            return  # while it trains, only the dashboard redraws: every chart costs the server and the browser
        st.caption(t("dash.more"))
        charts(run)

    refreshing(run, body, every=LIVE_REFRESH_S)


def restore() -> None:
    """Apply this page's link to its controls (before they are drawn), once per session."""
    from ui import share
    from ui.controls import set_controls

    values, _, ignored = share.read_query("live")
    set_controls(values)
    if ignored:
        st.session_state["_url_ignored"] = ignored
