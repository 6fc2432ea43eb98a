"""What every training view shares (Live, Compare, Lessons): the job buttons, the queue notice, the
refreshing fragment and the memoised chart.

The views differ in what they train and draw; how a job is started, paused, stopped and reset, how a
chart is rebuilt only when its data changed, and how a panel refreshes while its job runs, is here once.
"""
from __future__ import annotations

import time

import streamlit as st

from resnorm.serving.sessions import SessionJob
from resnorm.studies import figures as F
from ui.i18n import chart_labels, lang, say, t

REFRESH_S = 0.5
QUEUED_REFRESH_S = 2.0  # a place in the queue changes seldom: look less often
SETTLE_WAIT_S = 10.0  # the longest a refresh waits for an ended job to be saved before drawing its end


def job_buttons(session: SessionJob, *, keys: tuple[str, str, str, str], labels: tuple[str, str], reason: str | None,
                train_help: str, start, can_reset: bool, reset_help: str | None = None, columns: int = 5) -> None:
    """Train / Pause / Stop / Reset of the session's job in one row. ``keys`` are the four buttons'
    widget keys, ``labels`` the Train and Stop texts, ``reason`` why Train is disabled (None: it is
    enabled), ``start()`` starts the job and returns None or why it could not start (shown under the
    row after the rerun)."""
    train_key, pause_key, stop_key, reset_key = keys
    cols = st.columns(columns, gap="small")
    if cols[0].button(labels[0], icon=":material/play_arrow:", type="primary", disabled=reason is not None,
                      key=train_key, help=reason or train_help, width="stretch"):
        msg = start()
        if msg:
            st.session_state[f"_{train_key}_error"] = say(msg)
        st.rerun()
    pause_button(cols[1], session, pause_key)
    ended = session.job is not None and session.job.done
    if cols[2].button(labels[1], icon=":material/stop:", disabled=not session.active or ended, key=stop_key,
                      width="stretch"):
        session.stop()
        st.rerun()
    if cols[3].button(t("live.reset"), icon=":material/restart_alt:", disabled=not can_reset, key=reset_key,
                      width="stretch", help=reset_help):
        session.reset()
        st.rerun()
    err = st.session_state.pop(f"_{train_key}_error", None)
    if err:
        st.error(err)
    return cols


def pause_button(col, session: SessionJob, key: str) -> None:
    """Pause / Resume of the session's job (Live and Compare pages); disabled while it waits in
    the queue or has ended. The label follows the job once the worker has obeyed."""
    job = session.job
    paused = job is not None and job.status == "paused"
    if col.button(t("live.resume") if paused else t("live.pause"), icon=":material/resume:" if paused else
                  ":material/pause:", disabled=job is None or job.done, key=key, width="stretch"):
        session.resume() if paused else session.pause()
        wait_for(lambda: job.status != ("paused" if paused else "running") or job.done)
        st.rerun()


def wait_for(cond, timeout: float = 2.0) -> None:
    """Wait up to ``timeout`` s for ``cond()``: a pause reaches a worker process a moment later,
    and the page's buttons should show its effect."""
    end = time.time() + timeout
    while not cond() and time.time() < end:
        time.sleep(0.02)


def queued_notice(job: SessionJob, key: str = "live.queued") -> bool:
    """Say where the session's job waits in the training-slot queue (True), or — when it does not
    wait — why its turn to start failed, or that it was stopped to free its slot (False)."""
    if job.status != "queued":
        if job.start_error and job.job is None:
            st.error(say(job.start_error), icon=":material/error:")
        if job.preempted_after is not None and job.job is not None and job.job.done:
            st.info(t("job.preempted", seconds=round(job.preempted_after)), icon=":material/hourglass_disabled:")
        return False
    st.info(t(key, position=job.queue_position or 1, running=job.slots.busy, capacity=job.slots.capacity),
            icon=":material/hourglass_top:")
    return True


PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def memo(key: str, stamp, build):
    """``build()``, computed again only when ``stamp`` changed since this session last asked for
    ``key`` (one value kept per key)."""
    cache = st.session_state.setdefault("_memo", {})
    hit = cache.get(key)
    if hit is None or hit[0] != stamp:
        hit = cache[key] = (stamp, build())
    return hit[1]


VIEW_PARAM, PROJECTOR = "view", "projector"  # ?view=projector
_PROJECTOR_KEY = "_projector"


def projector() -> bool:
    """Whether this session draws its charts for a projector: ``?view=projector`` in the link the
    session opened (read once), then the page's toggle (``projector_toggle``)."""
    if _PROJECTOR_KEY not in st.session_state:
        st.session_state[_PROJECTOR_KEY] = st.query_params.get(VIEW_PARAM) == PROJECTOR
    return bool(st.session_state[_PROJECTOR_KEY])


def fonts() -> F.Fonts:
    return F.PROJECTOR if projector() else F.NORMAL


def keep_view_in_url() -> None:
    """The URL says ``view=projector`` exactly while the mode is on (a page switch drops the query;
    a copied link must keep the mode). Call after ``st.navigation``, like ``ui.i18n.keep_in_url``."""
    on = projector()
    if on and st.query_params.get(VIEW_PARAM) != PROJECTOR:
        st.query_params[VIEW_PARAM] = PROJECTOR
    elif not on and VIEW_PARAM in st.query_params:
        del st.query_params[VIEW_PARAM]


def projector_toggle(where=st) -> None:
    """The projector switch, kept in the URL."""
    def switched():
        st.session_state[_PROJECTOR_KEY] = bool(st.session_state.get("opt_projector"))
        keep_view_in_url()

    st.session_state["opt_projector"] = projector()
    where.toggle(t("dash.projector"), key="opt_projector", on_change=switched, help=t("dash.projector_help"))


COMPACT_CSS = (  # i18n: ids (CSS). The header's strip is see-through: only its menu, top right, takes clicks
    "<style>"
    '[data-testid="stHeader"] {background: transparent; pointer-events: none;}'
    '[data-testid="stHeader"] [data-testid="stToolbar"] {pointer-events: auto;}'
    '[data-testid="stMainBlockContainer"] {padding: 0.9rem 2.6rem 2rem 1.5rem;}'
    '[data-testid="stMainBlockContainer"] h1 {font-size: 1.8rem; padding: 0;}'
    "</style>")


def compact_page() -> None:
    """Less padding around the main area and a smaller page title: a one-screen page (Live at
    1280×720) needs the space Streamlit leaves above and beside its content."""
    st.html(COMPACT_CSS)


def chart(key: str, stamp, build, config: dict = PLOTLY_CONFIG) -> None:
    """Draw the figure ``build()`` under ``key``, rebuilt only when ``stamp`` (the data's version
    and the chart's options) or the language changed since this session last drew it.

    A live page redraws twice a second and every session shares the server's GIL: the builders
    emit plain dicts (a millisecond or two, where a validated Plotly figure cost 10–30 ms), handed to
    Streamlit through ``resnorm.studies.figures.prebuilt`` so that nothing validates them again; a paused or finished
    run's charts, and a page that reruns for an unrelated widget, then cost nothing to rebuild."""
    big = projector()
    st.plotly_chart(memo(key, (stamp, lang(), big), lambda: F.prebuilt(_sized(build(), big))), key=key,
                    config=config)


def _sized(fig, big: bool):
    """The chart with the projector's fonts when the mode is on (``figures.restyle``)."""
    if not big:
        return fig
    if isinstance(fig, F.Fig):
        return F.restyle(fig, F.PROJECTOR)
    return F.restyle(fig.to_dict(), F.PROJECTOR) if hasattr(fig, "to_dict") else fig


def refreshing(job: SessionJob, body, every: float = REFRESH_S) -> None:
    """Run ``body()`` in a fragment redrawn every ``every`` seconds while ``job`` is active (every
    ``QUEUED_REFRESH_S`` while it waits for a slot). When the job ends, or leaves the queue, the
    whole page reruns once, so its buttons and its timer match the new state."""
    active, queued = job.active, job.status == "queued"

    @st.fragment(run_every=(QUEUED_REFRESH_S if queued else every) if active else None)
    def _panel():
        if active and job.job is not None and job.job.done:
            # Ended, and settling (slot freed, run saved): the buttons outside this fragment still show
            # a running job, so the end is not drawn here. Wait for it to settle, then the whole page
            # draws the final state once — status, Train enabled, Pause and Stop disabled together.
            wait_for(lambda: not job.active, timeout=SETTLE_WAIT_S)
            st.rerun(scope="app")
        body()
        if (active and not job.active) or (queued and job.status != "queued"):
            st.rerun(scope="app")

    _panel()


def run_view(view: F.RunView, series, markers, grad_clip: float, rid: str, stamp, prefix: str,
             log_key: str) -> None:
    """One view of ``F.RUN_VIEWS`` for a run: its charts side by side, each rebuilt only when ``stamp``
    (the data's version) or its options changed. The Live and Runs pages both draw their views here."""
    L = chart_labels()  # the charts' words, in the session's language
    log_y = st.toggle(t("live.log_scale"), key=log_key) if view.log else False
    cols = st.columns([c.width for c in view.charts]) if len(view.charts) > 1 else [st.container()]
    for col, c in zip(cols, view.charts):
        with col:
            chart(f"{prefix}_{c.key}", (stamp, log_y), lambda c=c: c.build(series(), markers(), grad_clip, L,
                                                                          rid + c.key, log_y))


def saved_run_tabs(series, markers, grad_clip: float, rid: str, prefix: str, log_key: str) -> None:
    """A finished run's views (``F.RUN_VIEWS``, drawn as on the Live page), one tab each: the Runs
    page's saved runs and the map's cells."""
    tabs = st.tabs([t(f"view.{v.id}") for v in F.RUN_VIEWS])
    for tab, view in zip(tabs, F.RUN_VIEWS):
        with tab:
            run_view(view, lambda: series, lambda: markers, grad_clip, rid, (rid,), prefix, log_key)
