"""The Compare page: 2–4 variants of the sidebar's base config, trained in lockstep."""
from __future__ import annotations

import streamlit as st

from resnorm.studies import figures as F
from resnorm.studies.compare import LETTERS, MAX_CONFIGS, detect_events, event_context, verdict
from resnorm.science import feasibility
from resnorm.science.config import RunConfig, non_default
from resnorm.serving.sessions import SessionCompare
from ui import share
from ui.controls import FIELDS, remember, set_controls
from ui.panels import chart, job_buttons, memo, queued_notice, refreshing
from ui.i18n import chart_labels, choice, field_help, field_label, say_problems, status, t, t_or

VARY = ["norm_position", "norm", "residual", "init", "lr", "warmup"]  # per-config fields
DEFAULTS = [{"norm_position": "post"}, {"norm_position": "pre"},
            {"norm_position": "pre", "norm": "rmsnorm"}, {"norm_position": "deepnorm"}]
REFRESH_S = 1.0  # six charts per refresh


@st.cache_resource(scope="session", on_release=lambda c: c.close())
def session_compare() -> SessionCompare:
    return SessionCompare()


def preset(configs: list[RunConfig]) -> None:
    """Open this view with ``configs`` (another view calls this before switching here): the first
    config's fields set the sidebar, each config's VARY fields its column."""
    set_controls({k: v for k, v in configs[0].to_flat().items() if k != "text_file"})
    st.session_state["cmp_n"] = len(configs)
    for i, cfg in enumerate(configs):
        flat = cfg.to_flat()
        for field in VARY:
            st.session_state[f"cmp_{i}_{field}"] = remember(f"cmp_{i}_{field}", flat[field])
    share.mark_read("compare")  # these configs, not the link's


def restore() -> None:
    """Apply this page's link, once per session: base fields set the sidebar; comma lists in VARY
    fields set the configs (``norm_position=post,pre``)."""
    singles, lists, ignored = share.read_query("compare", multi=set(VARY))
    base = {k: v for k, v in singles.items() if k not in VARY}
    set_controls(base)
    if lists:
        n = max(2, min(MAX_CONFIGS, max(len(v) for v in lists.values())))
        st.session_state["cmp_n"] = n
        for field, vals in lists.items():
            for i in range(n):
                st.session_state[f"cmp_{i}_{field}"] = remember(f"cmp_{i}_{field}", vals[i] if i < len(vals) else vals[-1])
    for k, v in singles.items():  # a single value of a VARY field applies to every config
        if k in VARY:
            for i in range(MAX_CONFIGS):
                st.session_state[f"cmp_{i}_{k}"] = remember(f"cmp_{i}_{k}", v)
    if ignored:
        st.session_state["_url_ignored"] = ignored


def variant_controls(base: RunConfig | None) -> tuple[list[RunConfig] | None, list[str]]:
    """Columns of per-config overrides; returns (configs or None, problems)."""
    n = st.segmented_control(t("compare.n_configs"), [2, 3, 4], default=st.session_state.get("cmp_n", 2),
                             help=t("compare.n_configs_help")) or 2
    st.session_state["cmp_n"] = n
    cols = st.columns(n)
    configs, problems = [], []
    for i, col in enumerate(cols):
        with col:
            st.markdown(t("compare.config", letter=LETTERS[i]))
            values = {}
            for field in VARY:
                key = f"cmp_{i}_{field}"
                if key not in st.session_state:
                    st.session_state[key] = DEFAULTS[i].get(field, st.session_state.get(f"cfg_{field}",
                                                                                       FIELDS[field].default))
                values[field] = remember(key, _vary_widget(field, key))
            if base is not None:
                cfg, found = feasibility.build(values, base=base)
                if found:
                    msg = say_problems(found)
                    st.error(msg, icon=":material/warning:")
                    problems.append(f"{LETTERS[i]}: {msg}")
                else:
                    configs.append(cfg)
    return (configs if base is not None and not problems else None), problems


def _vary_widget(field: str, key: str):
    f = FIELDS[field]
    label, help_ = field_label(field), field_help(field)
    if f.metadata.get("choices"):
        return st.selectbox(label, list(f.metadata["choices"]), key=key, help=help_, format_func=choice(field))
    if str(f.type) == "int":
        return st.number_input(label, min_value=f.metadata.get("lo"), step=1, key=key, help=help_)
    return st.number_input(label, min_value=0.0, step=1e-4, format="%.1e", key=key, help=help_)


def link_params(configs: list[RunConfig]) -> dict:
    """Shared fields as single values, per-config fields as comma lists."""
    params = {k: v for k, v in non_default(configs[0]).items() if k not in VARY}
    for field in VARY:
        vals = [c.to_flat()[field] for c in configs]
        if any(v != FIELDS[field].default for v in vals) or len(set(vals)) > 1:
            params[field] = ",".join(str(v) for v in vals)
    return params


def buttons(sc: SessionCompare, configs, problems) -> None:
    reason = t("compare.fix_first", problems="; ".join(problems)) if configs is None else \
        (t("compare.running") if sc.active else None)
    job_buttons(sc, keys=("cmp_train", "cmp_pause", "cmp_stop", "cmp_reset"),
                labels=(t("compare.train_all"), t("compare.stop_all")), reason=reason,
                train_help=t("compare.train_all_help"), start=lambda: sc.start(configs, list(LETTERS[:len(configs)])),
                can_reset=sc.comparison is not None, columns=4)


def results(sc: SessionCompare) -> None:
    c = sc.comparison
    if queued_notice(sc, "compare.queued"):
        return
    if c is None:
        st.info(t("compare.start_hint"))
        return
    st.progress(min(c.step / c.total_steps, 1.0),
                text=t("compare.progress", status=status(c.status), step=c.step, total=c.total_steps,
                       elapsed=c.elapsed))
    rid = f"cmp{sc.run_id}"
    stamp = (rid, tuple(tr.store.version for tr in c.trainers))  # charts are rebuilt only when this changes
    L = chart_labels()  # the charts' words, in the session's language
    runs = memo("cmp_runs", stamp, lambda: labelled_runs(c.labels, c.trainers))
    left, right = st.columns(2)
    with left:
        chart("cmp_loss", stamp, lambda: F.overlay_figure(runs, "train/loss", title=t("compare.train_loss"),
                                                          log_y=True, uirevision=rid + "loss", labels=L))
        chart("cmp_gnorm", stamp, lambda: F.overlay_figure(runs, "grad/total_norm", title=t("compare.grad_norm"),
                                                           log_y=True, uirevision=rid + "gnorm", labels=L))
    with right:
        chart("cmp_val", stamp, lambda: F.overlay_figure(runs, "val/loss", title=t("compare.val_loss"), log_y=True,
                                                         uirevision=rid + "val", labels=L))
        other = st.selectbox(t("compare.diff_with"), c.labels[1:], key="cmp_diff_with")
        j = c.labels.index(other)
        chart("cmp_diff", (stamp, other), lambda: F.difference_figure("A", runs[0][1], other, runs[j][1],
                                                                      uirevision=rid + "diff", labels=L))
    chart("cmp_prof_grad", stamp, lambda: F.profiles_side_by_side(runs, "grad_norm", title=t("compare.grad_profiles"),
                                                                  uirevision=rid + "pg", labels=L))
    chart("cmp_prof_resid", stamp, lambda: F.profiles_side_by_side(
        runs, "resid_post.rms", title=t("compare.resid_profiles"), uirevision=rid + "pr", labels=L))
    target = st.number_input(t("compare.target"), min_value=0.0, value=0.5, step=0.1, key="cmp_target")
    if sc.saved:
        st.caption(t("compare.saved", names=", ".join(f"`{p.name}`" for p in sc.saved)))
    for err in sc.save_errors:
        st.warning(t("compare.not_saved", error=err), icon=":material/save:")
    st.markdown(t("compare.verdict") if c.done else t("compare.so_far"))
    for (label, _, events), tr in zip(runs, c.trainers):
        st.markdown("- " + verdict_line(verdict(label, tr, target), target, events))


def labelled_runs(labels, trainers) -> list[tuple[str, dict, list]]:
    """(label, metric series, detected events) per run, as the overlay figures take them."""
    runs = []
    for label, tr in zip(labels, trainers):
        series = tr.store.all_series()
        try:
            context = event_context(tr.cfg)
        except Exception:  # noqa: BLE001 — e.g. a text file gone since: the other events still show
            context = None
        runs.append((label, series, detect_events(series, tr.store.markers(), context)))
    return runs


def verdict_line(v, target: float, events=()) -> str:
    """``resnorm.studies.compare.Verdict.line`` in the session's language, with the run's events."""
    if v.status == "diverged":
        head = t("verdict.diverged", label=v.label, step=v.diverged_step)
    else:
        loss = f"{v.final_loss:.4f}" if v.final_loss is not None else t("verdict.na")
        head = t("verdict.final", label=v.label, loss=loss, steps=v.steps, status=status(v.status))
    reach = (t("verdict.reached", target=f"{target:g}", step=v.steps_to_target) if v.steps_to_target
             else t("verdict.never", target=f"{target:g}"))
    notes = "; ".join(t("verdict.event", kind=t_or(f"event.{e.kind}", e.kind), step=e.step) for e in events)
    return f"{head}; {reach}" + (t("verdict.events", events=notes) if notes else "")


def live_results(sc: SessionCompare) -> None:
    refreshing(sc, lambda: results(sc), REFRESH_S)
