"""The "At initialisation" view: pick one to four block designs, a depth range and a number of seeds;
see the signal at initialisation along depth (``resnorm.studies.signal``, ``resnorm.studies.figures_init``).

Widgets use keys ``init_*`` (never the Live page's ``cfg_*``) and ``persist_state="session"``, so a
comparison survives a visit to another page. Settings are validated with the config schema; a
problem is shown as a message, never a traceback.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import streamlit as st

from resnorm.science import feasibility
from resnorm.studies import figures_init as FI
from resnorm.studies import signal as S
from resnorm.science.config import ConfigError, RunConfig, show_key
from resnorm.science.variants import NORM_POSITIONS, block_latex
from ui.panels import PLOTLY_CONFIG
from ui.controls import FIELDS
from ui.i18n import chart_labels, choice, choice_name, field_help, field_label, options, say, say_problems, t

PER_CONFIG = ["norm_position", "norm", "residual", "init", "arch"]
MAX_CONFIGS = 4
DEPTH_MIN, DEPTH_MAX, DEPTH_DEFAULT = 2, 48, (2, 24)
SEEDS_MAX, SEEDS_DEFAULT = 8, 3
SWEEP_POINTS = 8
TASKS = ["copy", "reverse", "sort", "add", "stdlib-lm"]  # text-lm needs an upload: the Live page has it
# shared settings: (field, default here, min, max) — bounded so that a profile stays fast on a CPU
SHARED = {"d_model": (64, 8, 256), "heads": (4, 1, 16), "d_ff": (256, 8, 1024), "seq_len": (8, 2, 32),
          "batch_size": (8, 2, 32)}


def position_name(v: str) -> str:
    return choice_name("norm_position", v)


def norm_name(v: str) -> str:
    return choice_name("norm", v)


BASE = {"norm_position": "pre", "norm": "layernorm", "residual": "on", "init": "xavier", "arch": "decoder"}
PRESETS: dict[str, list[dict]] = {  # i18n: ids (shown via preset.*)
    "Post-LN vs Pre-LN (Xiong et al. 2020)": [{"norm_position": "post"}, {"norm_position": "pre"}],
    "Pre-LN: LayerNorm vs RMSNorm vs DyT": [{"norm": "layernorm"}, {"norm": "rmsnorm"}, {"norm": "dyt"}],
    "Residual on vs off (Dong et al. 2021)": [{"residual": "on"}, {"residual": "off"}],
    "Taming Pre-LN growth: Pre-LN, Sandwich, DeepNorm, LN-Scaling": [
        {"norm_position": "pre"}, {"norm_position": "sandwich"}, {"norm_position": "deepnorm"},
        {"norm_position": "lns"}],
    "Initialisation: xavier vs gpt2 vs torch (Pre-LN)": [{"init": "xavier"}, {"init": "gpt2"}, {"init": "torch"}],
    # issue 18: the 2025–26 residual / norm-position variants
    "Where the norm sits, 2025: Pre-LN vs Peri-LN vs Mix-LN": [
        {"norm_position": "pre"}, {"norm_position": "sandwich"}, {"norm_position": "mixln"}],
    "Post-LN made trainable: Post-LN vs Admin vs T-Fixup": [
        {"norm_position": "post"}, {"norm_position": "post", "residual": "admin"},
        {"norm_position": "none", "init": "tfixup"}],
    "The skip path, 2025: Pre-LN vs depth-μP vs hyper-connections vs mHC": [
        {"residual": "on"}, {"residual": "depthmup"}, {"residual": "hyper"}, {"residual": "mhc"}],
}
DEFAULT_PRESET = next(iter(PRESETS))
KEEP = dict(persist_state="session")

BRANCHES = {"attention": "attn_out.change", "MLP": "mlp_out.change",  # i18n: ids (shown via branch.*)
            "cross-attention": "cross_attn_out.change"}  # ‖x_out − x_in‖/‖x_in‖ of the whole update


@dataclass
class Settings:
    lo: int
    hi: int
    seeds: tuple[int, ...]
    band: str
    shared: dict


# ---- controls -------------------------------------------------------------------------------------
def _label(name: str) -> str:
    return field_label(name)


def _apply_preset() -> None:
    rows = PRESETS.get(st.session_state.get("init_preset"), PRESETS[DEFAULT_PRESET])
    st.session_state["init_n"] = len(rows)
    for i in range(MAX_CONFIGS):
        values = {**BASE, **(rows[i] if i < len(rows) else rows[-1])}
        for name in PER_CONFIG:
            st.session_state[f"init_c{i}_{name}"] = values[name]


def _defaults() -> None:
    if "init_preset" not in st.session_state:
        st.session_state["init_preset"] = DEFAULT_PRESET
        _apply_preset()


SHARED_URL = [*SHARED, "mlp", "task"]  # config fields this page shares between its configs


def preset(configs: list[RunConfig]) -> None:
    """Open this view with ``configs`` (another view calls this before switching here): their
    per-config fields, a depth range up to the first config's depth, and its shared settings."""
    from ui import share

    flat = configs[0].to_flat()
    st.session_state["init_preset"] = DEFAULT_PRESET  # keeps the page from applying its default preset
    st.session_state["init_n"] = len(configs)
    for i, cfg in enumerate(configs):
        for name in PER_CONFIG:
            st.session_state[f"init_c{i}_{name}"] = cfg.to_flat()[name]
    st.session_state["init_depth"] = (DEPTH_MIN, max(DEPTH_MIN + 1, min(DEPTH_MAX, flat["layers"])))
    for name, (_, lo, hi) in SHARED.items():
        st.session_state[f"init_{name}"] = min(hi, max(lo, flat[name]))
    share.mark_read("init")  # these configs, not the link's


def restore() -> None:
    """Apply this page's link, once per session: shared fields as single values, the per-config fields
    as comma lists (``?norm_position=post,pre&d_model=32``), like the Compare page."""
    from ui import share

    singles, lists, ignored = share.read_query("init", multi=set(PER_CONFIG))
    if not (singles or lists or ignored):
        return
    _defaults()
    for k, v in singles.items():
        if k in PER_CONFIG:
            for i in range(MAX_CONFIGS):
                st.session_state[f"init_c{i}_{k}"] = v
        elif k in SHARED_URL and (k not in SHARED or SHARED[k][1] <= v <= SHARED[k][2]) \
                and (k != "task" or v in TASKS):
            st.session_state[f"init_{k}"] = v
        elif k in SHARED and not SHARED[k][1] <= v <= SHARED[k][2]:
            ignored.append(t("init.url_out_of_range", name=k, value=v, lo=SHARED[k][1], hi=SHARED[k][2]))
        elif k == "task" and v not in TASKS:
            ignored.append(t("init.url_task", value=v))
        elif k not in ("lang", "lesson"):
            ignored.append(t("init.url_ignored", name=show_key(k)))
    if lists:
        n = max(1, min(MAX_CONFIGS, max(len(v) for v in lists.values())))
        st.session_state["init_n"] = n
        for k, vals in lists.items():
            for i in range(MAX_CONFIGS):
                st.session_state[f"init_c{i}_{k}"] = vals[min(i, len(vals) - 1)]
    if ignored:
        st.session_state["_url_ignored"] = ignored


def link_params(configs: list[dict], s: Settings) -> dict:
    """What the URL must say to reopen this view: non-default shared fields, per-config lists."""
    params = {k: v for k, v in s.shared.items()
              if v != (SHARED[k][0] if k in SHARED else True if k == "mlp" else TASKS[0])}
    for name in PER_CONFIG:
        params[name] = ",".join(str(c[name]) for c in configs)
    return params


def settings() -> Settings:
    """Sidebar: depth range, seeds, band, and the settings every config shares."""
    _defaults()
    sb = st.sidebar
    box = sb.expander(t("init.depth_and_seeds"), expanded=True, icon=":material/layers:")
    lo, hi = box.slider(t("init.depth"), DEPTH_MIN, DEPTH_MAX, DEPTH_DEFAULT, key="init_depth",
                        help=t("init.depth_help", points=SWEEP_POINTS), **KEEP)
    n_seeds = box.slider(t("init.seeds"), 1, SEEDS_MAX, SEEDS_DEFAULT, key="init_seeds",
                         help=t("init.seeds_help"), **KEEP)
    band = box.segmented_control(t("init.band"), ["minmax", "std"], default="minmax", required=True, key="init_band",
                                 format_func=options("init.band."), **KEEP) or "minmax"
    shared = {}
    box = sb.expander(t("init.shared"), expanded=True, icon=":material/tune:")
    for name, (default, lo_, hi_) in SHARED.items():  # a value from a link is already in session state
        value = {} if f"init_{name}" in st.session_state else {"value": default}
        shared[name] = box.number_input(_label(name), min_value=lo_, max_value=hi_, step=1,
                                        key=f"init_{name}", help=field_help(name), **value, **KEEP)
    value = {} if "init_mlp" in st.session_state else {"value": True}
    shared["mlp"] = box.toggle(_label("mlp"), key="init_mlp", help=field_help("mlp"), **value, **KEEP)
    shared["task"] = box.selectbox(t("init.task"), TASKS, key="init_task", help=field_help("task"),
                                   format_func=choice("task"), **KEEP)
    return Settings(int(lo), int(hi), tuple(range(int(n_seeds))), band, shared)


def labels(configs: list[dict]) -> list[str]:
    """Short unique names: "1 · Post-LN", plus whatever else differs between the configs."""
    differ = [n for n in PER_CONFIG[1:] if len({c[n] for c in configs}) > 1]
    out = []
    for i, c in enumerate(configs):
        parts = [position_name(c["norm_position"])]
        for n in differ:
            v = c[n]
            parts.append(choice_name(n, v))
        out.append(f"{i + 1} · " + " · ".join(parts))
    return out


def config_editor() -> list[dict]:
    """Main area: a preset picker and one column of block choices per config."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.selectbox(t("init.preset"), list(PRESETS), key="init_preset", on_change=_apply_preset,
                   format_func=options("preset.", keep_unknown=True), help=t("init.preset_help"), **KEEP)
    left.caption(t(f"why.init.{st.session_state.get('init_preset')}"))  # why this preset was chosen
    n = right.number_input(t("init.n_configs"), 1, MAX_CONFIGS, key="init_n", step=1, **KEEP)
    configs = []
    cols = st.columns(int(n))
    for i, col in enumerate(cols):
        box = col.container(border=True)
        values = {}
        for name in PER_CONFIG:
            f = FIELDS[name]
            fmt = choice(name)
            values[name] = box.selectbox(_label(name), list(f.metadata["choices"]), key=f"init_c{i}_{name}",
                                         format_func=fmt, help=field_help(name), **KEEP)
        configs.append(values)
    names = labels(configs)
    for i, (col, c) in enumerate(zip(cols, configs)):
        c["label"] = names[i]
        with col:
            st.markdown(f"<span style='color:{FI.config_color(i)};font-size:1.3em'>●</span> **{names[i]}**",
                        unsafe_allow_html=True)
            st.latex(block_latex(c["norm_position"], c["residual"], c["norm"], c["arch"]))
            st.caption(NORM_POSITIONS[c["norm_position"]].source)
    return configs


def build(configs: list[dict], s: Settings) -> list[tuple[str, RunConfig]]:
    """Validated configs at the deepest depth; each problem shown as an error (never raised)."""
    _, found = feasibility.build({**BASE, **s.shared, "layers": s.hi})  # the shared settings once, so
    shared = [(f, m) for f, m in found if f in s.shared or f == "layers"]  # a problem is not repeated per config
    if shared:
        st.error(t("init.shared_problems", problems="; ".join(f"{_label(f)}: {say(m)}" for f, m in shared)),
                 icon=":material/error:")
        return []
    out = []
    for c in configs:
        flat = {**{k: v for k, v in c.items() if k != "label"}, **s.shared, "layers": s.hi}
        cfg, found = feasibility.build(flat)
        if found:
            st.error(t("init.cannot_build", label=c["label"],
                       problems=say_problems(found)), icon=":material/error:")
        else:
            out.append((c["label"], cfg))
    return out


# ---- computation and charts ---------------------------------------------------------------------------
def _chart(fig, key: str) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config=PLOTLY_CONFIG)


def theorem1_section(cfg: RunConfig, seeds, key: str) -> None:
    """Xiong et al. 2020's Theorem 1 as a picture: the last block's gradient norm against the total
    depth L = 2…48, Post-LN and Pre-LN versions of ``cfg``, computed when asked (a sweep of ~110
    blocks per position and seed), then kept for the session."""
    with st.expander(t("init.thm1.title"), icon=":material/functions:"):
        st.markdown(t("init.thm1.what"))
        shown = f"{key}_thm1_shown"
        if st.button(t("init.thm1.compute", seeds=len(seeds)), key=f"{key}_thm1_btn"):
            st.session_state[shown] = True
        if not st.session_state.get(shown):
            return
        bar = st.progress(0.0, text=t("init.computing"))
        frame = _guarded("Theorem 1", partial(S.theorem1_sweep, cfg, S.THEOREM1_DEPTHS, seeds,
                                              on_progress=lambda f: bar.progress(min(1.0, f))))
        bar.empty()
        if frame is None:
            return
        _chart(FI.theorem1_figure(frame, labels=chart_labels()), f"{key}_thm1_chart")
        slopes = S.theorem1_slopes(frame)
        st.caption(t("init.thm1.measured", post=slopes.get("post", float("nan")), pre=slopes.get("pre", float("nan")),
                     seeds=len(seeds), depths=", ".join(map(str, S.THEOREM1_DEPTHS))))


def _guarded(label: str, fn):
    try:
        return fn()
    except ConfigError as e:
        st.error(f"**{label}**: " + say_problems(e.problems), icon=":material/error:")
    except Exception as e:  # noqa: BLE001 — a numerical or build failure of one config must not take the page down
        st.error(t("init.failed", label=label, error=f"{type(e).__name__}: {e}"), icon=":material/error:")
    return None


INIT_WAIT_S = 60.0  # how long the page waits for a training slot before giving up (the user reruns)


def _slot():
    """A training slot for this page's computation (it runs in the server process and costs as much
    CPU as a small training): taken first-come-first-served with the trainings, or None after
    ``INIT_WAIT_S`` with a message."""
    import threading

    from resnorm.serving.slots import global_slots

    slots, got, ready = global_slots(), [], threading.Event()

    def granted(token):
        got.append(token)
        ready.set()

    token, ticket = slots.acquire_or_queue(granted)
    if token is not None:
        return slots, token
    note, end = st.empty(), time.monotonic() + INIT_WAIT_S
    while not ready.wait(0.5) and time.monotonic() < end:
        note.info(t("init.waiting_slot", position=slots.position(ticket) or 1, running=slots.busy,
                    capacity=slots.capacity), icon=":material/hourglass_top:")
    slots.cancel(ticket)
    note.empty()
    if got:
        return slots, got[0]
    st.warning(t("init.no_slot", seconds=round(INIT_WAIT_S)), icon=":material/hourglass_disabled:")
    return slots, None


def show(runs: list[tuple[str, RunConfig]], s: Settings) -> None:
    if not runs:
        st.info(t("init.nothing"), icon=":material/info:")
        return
    slots, token = _slot()
    if token is None:
        return
    try:
        _compute(runs, s)
    finally:
        slots.release(token)


def _compute(runs: list[tuple[str, RunConfig]], s: Settings) -> None:
    status = st.empty()
    bar = st.progress(0.0, text=t("init.computing"))
    before, t0 = S.cache_info(), time.perf_counter()
    depths = S.depth_grid(s.lo, s.hi, SWEEP_POINTS)
    # cost in blocks × seeds: the profile (deepest model) first, then the sweep
    cost_profile = s.hi
    cost_sweep = sum(d for d in depths if d != s.hi)
    total = len(runs) * (cost_profile + cost_sweep) or 1

    def progress(start: float, span: float, text: str):
        return lambda f: bar.progress(min(1.0, (start + f * span) / total), text=text)

    profiles = {}
    for i, (label, cfg) in enumerate(runs):
        on = progress(i * cost_profile, cost_profile, t("init.progress_profile", label=label, blocks=s.hi))
        frame = _guarded(label, partial(S.depth_profile, cfg, s.seeds, on_progress=on))
        if frame is not None:
            profiles[label] = frame
    t_profile = time.perf_counter() - t0
    _profile_charts(profiles, s)

    summaries = {}
    base = len(runs) * cost_profile
    for i, (label, cfg) in enumerate(runs):
        if label not in profiles:
            continue
        on = progress(base + i * cost_sweep, cost_sweep,
                      t("init.progress_sweep", label=label, lo=depths[0], hi=depths[-1]))
        sweep = _guarded(label, partial(S.depth_sweep, cfg, depths, s.seeds, on_progress=on))
        if sweep is not None:
            summaries[label] = S.depth_summary(sweep)
    elapsed = time.perf_counter() - t0
    bar.empty()
    st.markdown(t("init.against_depth"))
    _chart(FI.depth_figure(summaries, band_kind=s.band, labels=chart_labels()), "init_chart_depth")
    st.caption(t("init.look.depth") + " " + t("init.depths", depths=", ".join(map(str, depths))))
    try:
        base = RunConfig.from_flat({**BASE, **s.shared, "layers": 2})
    except ConfigError:
        base = None
    if base is not None:
        theorem1_section(base, s.seeds, "init")
    after = S.cache_info()
    new = after["unit_misses"] - before["unit_misses"]
    status.caption(t("init.timing", configs=len(runs), seeds=len(s.seeds), blocks=s.hi, t_profile=t_profile,
                     elapsed=elapsed, new=new))


def _profile_charts(profiles: dict, s: Settings) -> None:
    st.markdown(t("init.along_depth", blocks=s.hi))
    top, bottom = st.columns(2), st.columns(2)
    with top[0]:
        _chart(FI.profile_figure(profiles, "resid_ms", title=t("init.chart.resid"),
                                 band_kind=s.band, labels=chart_labels()), "init_chart_resid")
        st.caption(t("init.look.resid_ms"))
    with top[1]:
        _chart(FI.profile_figure(profiles, "grad_norm", title=t("init.chart.grad"),
                                 band_kind=s.band, labels=chart_labels()), "init_chart_grad")
        st.caption(t("init.look.grad_norm"))
    with bottom[0]:
        present = {m for f in profiles.values() for m in f["metric"].unique()}
        shown = [k for k, m in BRANCHES.items() if m in present] or ["attention"]
        if st.session_state.get("init_branch") not in shown:
            st.session_state["init_branch"] = shown[0]
        branch = st.segmented_control(t("init.branch"), shown, key="init_branch", required=True,
                                      format_func=options("branch."),
                                      label_visibility="collapsed") or shown[0]
        _chart(FI.profile_figure(profiles, BRANCHES[branch], title=t("init.chart.ratio", branch=t(f"branch.{branch}")),
                                 band_kind=s.band, labels=chart_labels()), "init_chart_ratio")
        st.caption(t("init.look.ratio"))
    with bottom[1]:
        c1, c2 = st.columns(2)
        log_y = c1.toggle(t("live.log_scale"), key="init_rank_log", help=t("init.log_scale_help"))
        dong = c2.toggle(t("init.rank_dong"), key="init_rank_dong", help=t("init.rank_dong_help"))
        _chart(FI.profile_figure(profiles, "rank_residual_l1inf" if dong else "rank_residual", title=t("init.chart.rank"),
                                 band_kind=s.band, log_y=log_y, labels=chart_labels()), "init_chart_rank")
        st.caption(t("init.look.rank_residual"))
    diagnostics_chart(profiles, s)


def diagnostics_chart(profiles: dict, s: Settings) -> None:
    """Issue 18: one of the diagnostics defined at initialisation (``signal.DIAGNOSTICS``) along depth."""
    present = {m for f in profiles.values() for m in f["metric"].unique()}
    shown = [m for m in S.DIAGNOSTICS if m in present]
    if not shown:
        return
    metric = st.segmented_control(t("init.diag.choose"), shown, key="init_diag", default=shown[0],
                                  format_func=options("init.diag.metric."), label_visibility="collapsed") or shown[0]
    _chart(FI.profile_figure(profiles, metric, title=t(f"init.diag.metric.{metric}"), band_kind=s.band,
                             labels=chart_labels()), "init_chart_diag")
    st.caption(t(f"init.diag.look.{metric}"))
