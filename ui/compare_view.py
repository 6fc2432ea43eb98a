"""The Compare page: 2–4 variants trained in lockstep. The sidebar holds only what the configs share
(keys ``cmpb_<field>``, this page's own: the Live page's settings are not changed by a comparison);
each column holds only what is set per config (``PER_VARIANT``, keys ``cmp_<i>_<field>``), so no
control is silently overridden. Presets (``resnorm.studies.defaults.COMPARE_PRESETS``) set both,
each with its reason; a new session opens at ``DEFAULT_COMPARE``."""
from __future__ import annotations

import streamlit as st

from resnorm.studies import defaults as D
from resnorm.studies import figures as F
from resnorm.studies.compare import LETTERS, MAX_CONFIGS, detect_events, event_context, variant_labels, verdict
from resnorm.science import feasibility
from resnorm.science.config import RunConfig, non_default
from resnorm.serving.sessions import SessionCompare
from ui import share
from ui.controls import FIELDS, remember, set_controls
from ui.panels import chart, job_buttons, memo, queued_notice, refreshing
from ui.i18n import chart_labels, choice, field_help, field_label, lang, options, say_problems, status, t, t_or

VARY = list(D.PER_VARIANT)  # per-config fields: the columns; every other field: the sidebar
PREFIX = "cmpb_"  # the sidebar's keys on this page
REFRESH_S = 1.0  # six charts per refresh
OVERLAY_HEIGHT = 270  # three overlays side by side fit a 1280×720 screen under the buttons


@st.cache_resource(scope="session", on_release=lambda c: c.close())
def session_compare() -> SessionCompare:
    return SessionCompare()


def _set(configs_flat: list[dict], shared: dict) -> None:
    """Sidebar fields from ``shared`` (the rest back to the schema's defaults), one column per config."""
    set_controls({k: shared.get(k, f.default) for k, f in FIELDS.items() if k not in VARY and k != "text_file"},
                 prefix=PREFIX)
    st.session_state["cmp_n"] = max(2, len(configs_flat))
    for i in range(MAX_CONFIGS):
        flat = configs_flat[min(i, len(configs_flat) - 1)]
        for field in VARY:
            st.session_state[f"cmp_{i}_{field}"] = remember(f"cmp_{i}_{field}", flat.get(field, FIELDS[field].default))


def apply_preset() -> None:
    """The chosen preset (``cmp_preset``) into the sidebar and the columns."""
    p = D.COMPARE_PRESETS.get(st.session_state.get("cmp_preset"), D.COMPARE_PRESETS[D.DEFAULT_COMPARE])
    _set(p.flats(), p.shared)


def preset(configs: list[RunConfig]) -> None:
    """Open this view with ``configs`` (another view calls this before switching here): the first
    config's shared fields set the sidebar, each config's VARY fields its column."""
    flats = [c.to_flat() for c in configs]
    _set(flats, {k: v for k, v in flats[0].items() if k != "text_file"})
    st.session_state["cmp_preset"] = None  # these configs, not a preset
    share.mark_read("compare")  # these configs, not the link's


def restore() -> None:
    """Apply this page's link, once per session: base fields set the sidebar; comma lists in VARY
    fields set the configs (``norm_position=post,pre``). A session without a link opens at the
    default preset."""
    first = not st.session_state.get("_url_read_compare")
    singles, lists, ignored = share.read_query("compare", multi=set(VARY))
    if first and "cmp_preset" not in st.session_state:
        if singles or lists:
            st.session_state["cmp_preset"] = None
            _set([{}], {})  # a link says what differs from the schema's defaults
        else:
            st.session_state["cmp_preset"] = D.DEFAULT_COMPARE
            apply_preset()
    set_controls({k: v for k, v in singles.items() if k not in VARY}, prefix=PREFIX)
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


def preset_picker() -> None:
    """The presets and how many configs, side by side, and the chosen preset's reason in one line."""
    ids = [None, *D.COMPARE_PRESETS]
    name = options("compare_preset.")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(t("compare_setup.preset"), ids, key="cmp_preset", on_change=apply_preset,
                            format_func=lambda v: t("compare_setup.preset_none") if v is None else name(v),
                            help=t("compare_setup.preset_help"))
    remember("cmp_preset", chosen)
    n = right.segmented_control(t("compare.n_configs"), [2, 3, 4], default=st.session_state.get("cmp_n", 2),
                                help=t("compare.n_configs_help")) or 2
    st.session_state["cmp_n"] = n
    if chosen is not None:
        p = D.COMPARE_PRESETS[chosen]
        st.caption(t("compare_setup.why", why=t(f"why.compare.{chosen}", **p.measured)))


def describe(field: str, value) -> str:
    """A differing value as a legend says it, in the session's language: ``Post-LN``, ``RMSNorm``,
    ``learning rate 0.01``."""
    if field == "norm_position":
        return t_or(f"name.position.{value}", str(value))
    if field == "norm":
        return t_or(f"name.norm.{value}", str(value))
    if isinstance(value, bool):  # issue 18: "QK-norm" / "no QK-norm"
        return field_label(field) if value else t("compare_v18.without", label=field_label(field))
    if isinstance(value, float):
        return f"{field_label(field)} {value:g}"
    return f"{field_label(field)} {value}"


def names_of(configs: list[RunConfig]) -> list[str]:
    """The configs' legend names in the session's language: ``A · Post-LN``, ``B · Pre-LN``."""
    return variant_labels(configs, describe)


def setup(base: RunConfig | None, folded: bool = False) -> tuple[list[RunConfig] | None, list[str]]:
    """The preset, its reason and the per-config columns; returns (configs or None, problems). While a
    comparison is shown (``folded``) they fold into an expander, leaving the first screen to the
    buttons and the overlaid charts."""
    box = st.expander(t("compare_setup.variants"), expanded=False, icon=":material/tune:") if folded \
        else st.container()
    with box:
        preset_picker()
        configs, problems = variant_controls(base)
        chosen = D.COMPARE_PRESETS.get(st.session_state.get("cmp_preset"))
        if chosen is not None and configs is not None and \
                [c.to_flat() for c in configs] != [RunConfig.from_flat(f).to_flat() for f in chosen.flats()]:
            st.caption(t("compare_setup.changed"))  # the reason above was for the preset as it was
        return configs, problems


def variant_controls(base: RunConfig | None) -> tuple[list[RunConfig] | None, list[str]]:
    """Columns of per-config settings (two to a row inside each column); returns (configs or None,
    problems)."""
    configs, problems = [], []
    n = st.session_state.get("cmp_n", 2)
    cols = st.columns(n, border=True)
    for i, col in enumerate(cols):
        with col:
            st.markdown(t("compare.config", letter=LETTERS[i]))
            values = {}
            pair = st.columns(2)
            for j, field in enumerate(VARY):
                key = f"cmp_{i}_{field}"
                if key not in st.session_state:
                    st.session_state[key] = FIELDS[field].default
                with pair[j % 2]:
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
    if str(f.type) == "bool":  # issue 18: QK-norm, gated attention
        return st.toggle(label, key=key, help=help_)
    if str(f.type) == "int":
        return st.number_input(label, min_value=f.metadata.get("lo"), max_value=f.metadata.get("hi"), step=1,
                               key=key, help=help_)
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    small = field in ("lr", "z_loss")  # rates and coefficients: powers of ten; the others: plain numbers
    return st.number_input(label, min_value=float(lo) if lo is not None else 0.0,
                           max_value=float(hi) if hi is not None else None,
                           step=1e-4 if small else (1.0 if field == "logit_softcap" else 0.05),
                           format="%.1e" if small else "%.3g", key=key, help=help_)


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
                train_help=t("compare.train_all_help"),
                start=lambda: sc.start(configs, variant_labels(configs)),  # saved runs: "compare A · post"
                can_reset=sc.comparison is not None, columns=4)


def _sized(fig, height: int = OVERLAY_HEIGHT):
    fig["layout"]["height"] = height
    return fig


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
    labels = names_of(c.configs)
    runs = memo("cmp_runs", (stamp, lang()), lambda: labelled_runs(labels, c.trainers))
    cols = st.columns(3)  # the overlays together, on the first screen
    for col, (key, metric, title) in zip(cols, [("loss", "train/loss", "compare.train_loss"),
                                                ("val", "val/loss", "compare.val_loss"),
                                                ("gnorm", "grad/total_norm", "compare.grad_norm")]):
        with col:
            chart(f"cmp_{key}", stamp, lambda metric=metric, title=title, key=key: _sized(F.overlay_figure(
                runs, metric, title=t(title), log_y=True, uirevision=rid + key, labels=L)))
    target = st.number_input(t("compare.target"), min_value=0.0, value=0.5, step=0.1, key="cmp_target")
    st.markdown(t("compare.verdict") if c.done else t("compare.so_far"))
    for (label, _, events), tr in zip(runs, c.trainers):
        st.markdown("- " + verdict_line(verdict(label, tr, target), target, events))
    if sc.saved:
        st.caption(t("compare.saved", names=", ".join(f"`{p.name}`" for p in sc.saved)))
    for err in sc.save_errors:
        st.warning(t("compare.not_saved", error=err), icon=":material/save:")
    left, right = st.columns(2)
    with left:
        chart("cmp_prof_grad", stamp, lambda: F.profiles_side_by_side(
            runs, "grad_norm", title=t("compare.grad_profiles"), uirevision=rid + "pg", labels=L))
    with right:
        chart("cmp_prof_resid", stamp, lambda: F.profiles_side_by_side(
            runs, "resid_post.rms", title=t("compare.resid_profiles"), uirevision=rid + "pr", labels=L))
    others = list(range(1, len(labels)))
    j = st.selectbox(t("compare.diff_with", a=labels[0]), others, format_func=lambda k: labels[k], key="cmp_diff_with")
    j = j if j in others else 1
    chart("cmp_diff", (stamp, j), lambda: F.difference_figure(labels[0], runs[0][1], labels[j], runs[j][1],
                                                             uirevision=rid + "diff", labels=L))
    diagnostics_profiles(runs, stamp, rid, L)


DIAGNOSTICS = ("attn.max_logit", "attn.sink", "resid_post.massive", "angular_distance", "prune_dloss")  # issue 18


def diagnostics_profiles(runs, stamp, rid: str, L) -> None:
    """Issue 18: one diagnostic per layer, at the first and latest step, one panel per config."""
    present = [m for m in DIAGNOSTICS if any(n.endswith("." + m) for _, series, _ in runs for n in series)]
    if not present:
        return
    metric = st.segmented_control(t("init.diag.choose"), present, default=present[0], key="cmp_diag",
                                  format_func=options("init.diag.metric."), label_visibility="collapsed") or present[0]
    chart("cmp_prof_diag", (stamp, metric), lambda: F.profiles_side_by_side(
        runs, metric, title=t(f"init.diag.metric.{metric}"), log_y=metric == "resid_post.massive",
        uirevision=rid + "pd", labels=L))


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
