"""The Runs page: saved runs listed, filtered, reopened, overlaid, exported and deleted.

Everything here reads the shared runs folder through ``resnorm.serving.runs``; nothing is kept between
reruns but the widgets' state, so a run saved by another session appears on the next rerun.
Folder names, labels, reasons and notes come from an untrusted folder: every one is shown through
``ui.safe`` (Markdown-escaped and cut short; Plotly trace names HTML-escaped in ``figures.runs_overlay_figure``).
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from resnorm.studies import figures as F
from resnorm.serving import runs as R
from resnorm.science.variants import block_latex
from ui import safe
from ui.panels import PLOTLY_CONFIG, saved_run_tabs
from ui.i18n import chart_labels, choice, choice_name, options, say, status, t

SELECT_KEY = "runs_selected"
FLASH_KEY = "runs_flash"
FILTERS = ["norm_position", "norm", "residual", "status"]  # labels: runs.filter.<attr>
OVERLAY_METRICS = ["train/loss", "val/loss", "train/accuracy", "val/accuracy", "grad/total_norm", "lr"]
ROW_COLUMNS = ("date", "final loss", "layers", "steps")  # i18n: ids (columns of row())
DATE, FINAL_LOSS, LAYERS, STEPS = ROW_COLUMNS
DATE_FORMAT = "YYYY-MM-DD HH:mm"  # i18n: ids


md_escape = safe.md  # every untrusted string goes through ui.safe (escaped and cut short)


def listing() -> tuple[Path, list[R.RunEntry], list[str]]:
    root = R.runs_root()
    entries, notes = R.list_runs(root)
    return root, entries, notes


def header(root: Path, entries: list, notes: list[str]) -> None:
    n = len(entries)
    st.caption(t("runs.header", folder=safe.md_code(os.path.abspath(root), 300),
                 count=t("runs.count_one" if n == 1 else "runs.count_many", n=n)))
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, msg = flash
        (st.success if kind == "success" else st.error)(msg, icon=":material/delete:" if kind == "success"
                                                        else ":material/error:")
    if notes:
        lines = "\n".join(f"- {md_escape(n, 400)}" for n in notes[:50])
        head = t("runs.skipped_one" if len(notes) == 1 else "runs.skipped_many", n=len(notes))
        st.warning(f"{head}\n\n{lines}", icon=":material/warning:")


def filters(entries: list) -> list:
    """Multiselects over the values present; an empty selection means any."""
    cols = st.columns(len(FILTERS))
    chosen = {}
    for col, attr in zip(cols, FILTERS):
        present = sorted({getattr(e, attr) for e in entries})
        chosen[attr] = col.multiselect(t(f"runs.filter.{attr}"), present, key=f"runs_filter_{attr}",
                                       placeholder=t("runs.any"),
                                       format_func=options("status.", True) if attr == "status" else choice(attr))
    return R.filter_runs(entries, **chosen)


def row(e: R.RunEntry) -> dict:
    """A run's row in the Runs page's table."""
    return {"name": e.name, "date": e.created.astimezone().replace(tzinfo=None),  # i18n: ids (shown via runs.col.*)
            "norm position": choice_name("norm_position", e.norm_position), "norm": choice_name("norm", e.norm),
            "residual": choice_name("residual", e.residual), "layers": e.layers, "arch": choice_name("arch", e.arch),
            "status": status(e.status), "steps": e.steps, "final loss": _number(e.final_loss), "label": e.label or "",
            "task": choice_name("task", e.task), "source": choice_name("source", e.source or "cli")}


def _number(x) -> str:
    """A loss in a table cell: 4 decimals, or a dash when the run has none (never "None")."""
    return "—" if x is None or x != x else f"{x:.4f}"


def table(entries: list) -> None:
    if not entries:
        st.info(t("runs.none_match"), icon=":material/folder_open:")
        return
    df = pd.DataFrame([row(e) for e in entries])
    columns = {c: t(f"runs.col.{c}") for c in df.columns}
    columns.update({
        DATE: st.column_config.DatetimeColumn(columns[DATE], format=DATE_FORMAT),
        LAYERS: st.column_config.NumberColumn(columns[LAYERS], format="%d"),
        STEPS: st.column_config.NumberColumn(columns[STEPS], format="%d"),
    })
    st.dataframe(df, hide_index=True, width="stretch", key="runs_table", column_config=columns)


def choose(entries: list) -> list[str]:
    """Runs to open: one shows its charts, several are overlaid."""
    names = [e.name for e in entries]
    labels = {e.name: f"{e.name} · {e.label}" if e.label else e.name for e in entries}
    if SELECT_KEY in st.session_state:  # drop runs filtered out or deleted since
        st.session_state[SELECT_KEY] = [n for n in st.session_state[SELECT_KEY] if n in labels]
    return st.multiselect(t("runs.open"), names, format_func=lambda n: labels.get(n, n), key=SELECT_KEY,
                          placeholder=t("runs.choose"), disabled=not names)


@st.cache_data(max_entries=32, show_spinner=False)
def _load(root: str, name: str, stamp: tuple) -> R.RunRecord:
    return R.load_run(name, root)


def _stamp(root: Path, name: str) -> tuple:
    """Changes whenever a file of the run changes (the cache key of a loaded run)."""
    out = []
    for f in R.RUN_FILES:
        try:
            st_ = os.lstat(R.run_path(name, root) / f)
            out.append((f, st_.st_mtime_ns, st_.st_size, st_.st_ino))
        except OSError:
            out.append((f, None))
    return tuple(out)


def load(root: Path, name: str) -> R.RunRecord | None:
    """The run, or None after showing why it cannot be opened."""
    try:
        return _load(str(root), name, _stamp(root, name))
    except (R.RunLoadError, ValueError, OSError) as e:
        st.error(t("runs.cannot_open", name=md_escape(name), error=md_escape(e, 600)), icon=":material/error:")
        return None


def single(root: Path, name: str) -> None:
    rec = load(root, name)
    if rec is None:
        return
    cfg, s = rec.config, rec.summary
    m = cfg.model
    st.subheader(safe.md(rec.label))
    loss = s.get("final_loss")
    st.caption(md_escape(t("runs.summary_line", status=status(s["status"]), steps=s["steps"],
                           loss="—" if loss is None else f"{loss:.4f}", arch=choice_name("arch", m.arch), layers=m.layers,
                           position=choice_name("norm_position", m.norm_position), norm=choice_name("norm", m.norm),
                           residual=choice_name("residual", m.residual), task=choice_name("task", cfg.task.task),
                           source=choice_name("source", rec.meta.get("source") or "cli")), 800))
    if s.get("reason"):
        (st.error if s["status"] in ("diverged", "failed") else st.caption)(md_escape(say(s["reason"]), 600))
    for note in rec.notes:
        st.info(md_escape(note, 600), icon=":material/info:")
    st.latex(block_latex(m.norm_position, m.residual, m.norm, m.arch))
    charts(rec)
    s_curves(root, rec)
    with st.expander(t("runs.config"), icon=":material/settings:"):
        st.json(cfg.to_dict(), expanded=False)
    exports(root, rec)
    delete(root, name)


def charts(rec: R.RunRecord) -> None:
    """The run's views (``F.RUN_VIEWS``, drawn as on the Live page), one tab each."""
    series, markers = rec.series(), rec.markers()
    saved_run_tabs(series, markers, rec.config.train.grad_clip, f"saved-{rec.name}-", "runs_chart", "runs_log_loss")
    if not F.block_prefixes(series):
        st.caption(t("runs.no_probes"))


def s_curves(root: Path, rec: R.RunRecord) -> None:
    """Issue 18: a run with DyT or Derf and saved weights shows each norm's input against output."""
    from resnorm.science.variants import NORM_TYPES
    from resnorm.studies.scurves import s_curves_of_run

    m = rec.config.model
    if not NORM_TYPES[m.norm].alpha_init or m.norm_position == "none":
        return
    with st.expander(t("attn.scurve.heading"), icon=":material/show_chart:"):
        try:
            samples = s_curves_of_run(rec.config, R.load_weights(rec.name, root))
        except Exception as e:  # noqa: BLE001 — no weights saved, or a task that cannot be rebuilt here
            st.caption(md_escape(say(str(e)), 600))
            return
        st.caption(t("attn.scurve.caption"))
        _chart(F.s_curve_figure(samples, uirevision=f"scurve-{rec.name}", labels=chart_labels()), "runs_chart_scurve")


def _chart(fig, key: str) -> None:
    st.plotly_chart(F.prebuilt(fig), key=key, config=PLOTLY_CONFIG)  # the one config (ui.panels)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def exports(root: Path, rec: R.RunRecord) -> None:
    """Downloads, each generated only when clicked."""
    name = rec.name
    st.markdown(t("runs.export"))
    c = st.columns(5)
    kw = dict(on_click="ignore", width="stretch", icon=":material/download:")
    c[0].download_button(t("runs.dl.csv"), lambda: R.read_file(name, R.METRICS, root), f"{name}-metrics.csv",
                         "text/csv", key="runs_dl_csv", help=t("runs.dl.csv_help"), **kw)
    c[1].download_button(t("runs.dl.parquet"), lambda: parquet_bytes(rec.frame), f"{name}-metrics.parquet",
                         "application/octet-stream", key="runs_dl_parquet", help=t("runs.dl.parquet_help"), **kw)
    c[2].download_button(t("runs.dl.config"), rec.config.to_json() + "\n", f"{name}-config.json", "application/json",
                         key="runs_dl_config", help=t("runs.dl.config_help"), **kw)
    c[3].download_button(t("runs.dl.summary"), json.dumps(R.json_safe(rec.summary), indent=2) + "\n",
                         f"{name}-summary.json", "application/json", key="runs_dl_summary",
                         help=t("runs.dl.summary_help"), **kw)
    c[4].download_button(t("runs.dl.zip"), lambda: R.export_zip_file(name, root), f"{name}.zip", "application/zip",
                         key="runs_dl_zip", help=t("runs.dl.zip_help"), **kw)


def _delete(root: Path, name: str) -> None:
    try:
        R.delete_run(name, root)
    except (R.RunLoadError, ValueError, OSError) as e:
        st.session_state[FLASH_KEY] = ("error", t("runs.delete_failed", name=md_escape(name), error=md_escape(e, 600)))
        return
    st.session_state[SELECT_KEY] = [n for n in st.session_state.get(SELECT_KEY, []) if n != name]
    st.session_state[FLASH_KEY] = ("success", t("runs.deleted", name=md_escape(name)))


def delete(root: Path, name: str) -> None:
    with st.expander(t("runs.delete_panel"), icon=":material/delete:"):
        sure = st.checkbox(t("runs.delete_confirm", name=md_escape(name)), key="runs_delete_confirm")
        st.button(t("runs.delete"), icon=":material/delete_forever:", type="primary", disabled=not sure,
                  key="runs_delete", on_click=_delete, args=(root, name))


def overlay(root: Path, names: list[str]) -> None:
    records = [r for r in (load(root, n) for n in names) if r is not None]
    if not records:
        return
    labels = [r.label for r in records]
    if len(set(labels)) != len(labels):
        labels = [r.name for r in records]
    present = [m for m in OVERLAY_METRICS if any(m in set(r.frame["name"].unique()) for r in records)]
    c1, c2 = st.columns([3, 1])
    metric = c1.selectbox(t("runs.metric"), present or OVERLAY_METRICS, key="runs_overlay_metric",
                          format_func=lambda m, L=chart_labels(): F.metric_name(m, L))
    log_y = c2.toggle(t("live.log_scale"), key="runs_overlay_log")
    series = {lab: r.series() for lab, r in zip(labels, records)}
    markers = {lab: r.markers() for lab, r in zip(labels, records)}
    dashed = "val/loss" if metric == "train/loss" else None
    _chart(F.runs_overlay_figure(series, metric, dashed=dashed, log_y=log_y, markers=markers,
                            uirevision="runs-overlay-" + metric, labels=chart_labels()), "runs_chart_overlay")
    rows = [{"run": lab, "status": status(r.summary["status"]), "steps": r.summary["steps"],
             "final_loss": _number(r.summary.get("final_loss")),
             "norm_position": choice_name("norm_position", r.config.model.norm_position),
             "norm": choice_name("norm", r.config.model.norm), "residual": choice_name("residual", r.config.model.residual),
             "layers": r.config.model.layers}
            for lab, r in zip(labels, records)]
    columns = {c: t("runs.col." + c.replace("_", " ")) for c in rows[0]}
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="runs_overlay_table",
                 column_config=columns)
