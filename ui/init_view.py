"""The "At initialisation" view: pick one to four block designs, a depth range and a number of seeds;
see the signal at initialisation along depth (``resnorm.signal``, ``resnorm.figures_init``).

Widgets use keys ``init_*`` (never the Live page's ``cfg_*``) and ``persist_state="session"``, so a
comparison survives a visit to another page. Settings are validated with the config schema; a
problem is shown as a message, never a traceback.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import streamlit as st

from resnorm import figures_init as FI
from resnorm import signal as S
from resnorm.config import ConfigError, RunConfig
from resnorm.variants import NORM_POSITIONS, block_latex
from ui.controls import FIELDS, LABELS

PER_CONFIG = ["norm_position", "norm", "residual", "init", "arch"]
MAX_CONFIGS = 4
DEPTH_MIN, DEPTH_MAX, DEPTH_DEFAULT = 2, 48, (2, 24)
SEEDS_MAX, SEEDS_DEFAULT = 8, 3
SWEEP_POINTS = 8
TASKS = ["copy", "reverse", "sort", "add", "stdlib-lm"]  # text-lm needs an upload: the Live page has it
# shared settings: (field, default here, min, max) — bounded so that a profile stays fast on a CPU
SHARED = {"d_model": (64, 8, 256), "heads": (4, 1, 16), "d_ff": (256, 8, 1024), "seq_len": (8, 2, 32),
          "batch_size": (8, 2, 32)}

POSITION_NAMES = {"post": "Post-LN", "pre": "Pre-LN", "sandwich": "Sandwich-LN", "deepnorm": "DeepNorm",
                  "lns": "LN-Scaling", "none": "no norm"}
NORM_NAMES = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "dyt": "DyT", "batchnorm": "BatchNorm",
              "none": "identity"}
BASE = {"norm_position": "pre", "norm": "layernorm", "residual": "on", "init": "xavier", "arch": "decoder"}
PRESETS: dict[str, list[dict]] = {
    "Post-LN vs Pre-LN (Xiong et al. 2020)": [{"norm_position": "post"}, {"norm_position": "pre"}],
    "Pre-LN: LayerNorm vs RMSNorm vs DyT": [{"norm": "layernorm"}, {"norm": "rmsnorm"}, {"norm": "dyt"}],
    "Residual on vs off (Dong et al. 2021)": [{"residual": "on"}, {"residual": "off"}],
    "Taming Pre-LN growth: Pre-LN, Sandwich, DeepNorm, LN-Scaling": [
        {"norm_position": "pre"}, {"norm_position": "sandwich"}, {"norm_position": "deepnorm"},
        {"norm_position": "lns"}],
    "Initialisation: xavier vs gpt2 vs torch (Pre-LN)": [{"init": "xavier"}, {"init": "gpt2"}, {"init": "torch"}],
}
DEFAULT_PRESET = next(iter(PRESETS))
KEEP = dict(persist_state="session")

CAPTIONS = {
    "resid_ms": "**Look for:** Pre-LN adds every branch to a stream it never re-normalises, so the mean square "
                "grows about linearly with the layer index (Xiong et al. 2020, Lemma 2: E‖x_ℓ‖² grows like ℓ). "
                "Post-LN and DeepNorm normalise after each addition: the stream stays at mean square 1 "
                "(LayerNorm with γ = 1, β = 0 at init).",
    "grad_norm": "**Look for:** the shape, not the level. Xiong et al. 2020 (Theorem 1, Fig. 3): at initialisation "
                 "Post-LN's gradients are large near the output — the reason it needs learning-rate warm-up — while "
                 "Pre-LN's are not. Here Post-LN's curve stays level or rises towards the output; Pre-LN's falls "
                 "with the layer index, so its last block gets the smallest gradient.",
    "ratio": "**Look for:** how much one sublayer changes the stream it reads, ‖F(x)‖/‖x‖. In Pre-LN the stream "
             "grows while the normalised branch does not, so later layers contribute less and less "
             "(the “curse of depth”, Sun et al. 2025, which LN-Scaling's 1/√ℓ addresses). Post-LN's ratio stays of "
             "order one at every depth.",
    "rank_residual": "**Look for:** rank collapse. Attention averages tokens, so without skip connections the "
                     "tokens' representations collapse towards one vector doubly exponentially with depth (Dong et al. "
                     "2021): the rank residual falls towards 0 (try residual off, on a log scale). Skip connections "
                     "hold it up; Post-LN, which rescales the skip path at every block, still drifts down at init "
                     "(Noci et al. 2022).",
    "depth": "**Look for:** Xiong et al. 2020, Theorem 1 — the last block's gradient is O(d·√ln d) for Post-LN, "
             "independent of depth L, but O(d·√(ln d / L)) for Pre-LN: it shrinks as the model gets deeper. "
             "And Pre-LN's stream after the last block grows ~linearly with L, Post-LN's stays at 1. "
             "Encoder-decoder configs show the decoder stack (next to the output).",
}
BRANCHES = {"attention": "attn_out.ratio", "MLP": "mlp_out.ratio", "cross-attention": "cross_attn_out.ratio"}


@dataclass
class Settings:
    lo: int
    hi: int
    seeds: tuple[int, ...]
    band: str
    shared: dict


# ---- controls -------------------------------------------------------------------------------------
def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


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


def settings() -> Settings:
    """Sidebar: depth range, seeds, band, and the settings every config shares."""
    _defaults()
    sb = st.sidebar
    box = sb.expander("Depth and seeds", expanded=True, icon=":material/layers:")
    lo, hi = box.slider("depth range (blocks)", DEPTH_MIN, DEPTH_MAX, DEPTH_DEFAULT, key="init_depth",
                        help="Per-layer charts use the deepest model; the depth chart sweeps the range "
                             f"({SWEEP_POINTS} depths at most).", **KEEP)
    n_seeds = box.slider("seeds", 1, SEEDS_MAX, SEEDS_DEFAULT, key="init_seeds",
                         help="Each seed draws new weights and a new batch; the band shows their spread.", **KEEP)
    band = box.segmented_control("seed band", ["minmax", "std"], default="minmax", required=True, key="init_band",
                                 format_func={"minmax": "min – max", "std": "mean ± std"}.get, **KEEP) or "minmax"
    shared = {}
    box = sb.expander("Shared by all configs", expanded=True, icon=":material/tune:")
    for name, (default, lo_, hi_) in SHARED.items():
        shared[name] = box.number_input(_label(name), min_value=lo_, max_value=hi_, value=default, step=1,
                                        key=f"init_{name}", help=FIELDS[name].metadata["help"], **KEEP)
    shared["mlp"] = box.toggle(_label("mlp"), value=True, key="init_mlp", help=FIELDS["mlp"].metadata["help"], **KEEP)
    shared["task"] = box.selectbox("task", TASKS, key="init_task", help=FIELDS["task"].metadata["help"], **KEEP)
    return Settings(int(lo), int(hi), tuple(range(int(n_seeds))), band, shared)


def labels(configs: list[dict]) -> list[str]:
    """Short unique names: "1 · Post-LN", plus whatever else differs between the configs."""
    differ = [n for n in PER_CONFIG[1:] if len({c[n] for c in configs}) > 1]
    out = []
    for i, c in enumerate(configs):
        parts = [POSITION_NAMES.get(c["norm_position"], c["norm_position"])]
        for n in differ:
            v = c[n]
            parts.append(NORM_NAMES.get(v, v) if n == "norm" else f"residual {v}" if n == "residual"
                         else f"init {v}" if n == "init" else v)
        out.append(f"{i + 1} · " + " · ".join(parts))
    return out


def config_editor() -> list[dict]:
    """Main area: a preset picker and one column of block choices per config."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.selectbox("Start from a comparison", list(PRESETS), key="init_preset", on_change=_apply_preset,
                   help="Fills the configs below; change any of them afterwards.", **KEEP)
    n = right.number_input("configs", 1, MAX_CONFIGS, key="init_n", step=1, **KEEP)
    configs = []
    cols = st.columns(int(n))
    for i, col in enumerate(cols):
        box = col.container(border=True)
        values = {}
        for name in PER_CONFIG:
            f = FIELDS[name]
            fmt = (POSITION_NAMES.get if name == "norm_position" else NORM_NAMES.get if name == "norm" else str)
            values[name] = box.selectbox(_label(name), list(f.metadata["choices"]), key=f"init_c{i}_{name}",
                                         format_func=lambda v, fmt=fmt: fmt(v) or str(v),
                                         help=f.metadata["help"], **KEEP)
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
    try:  # the shared settings once, so their problem is not repeated for every config
        RunConfig.from_flat({**BASE, **s.shared, "layers": s.hi})
    except ConfigError as e:
        shared = [(f, m) for f, m in e.problems if f in s.shared or f == "layers"]
        if shared:
            st.error("Shared settings: " + "; ".join(f"{_label(f)}: {m}" for f, m in shared),
                     icon=":material/error:")
            return []
    out = []
    for c in configs:
        flat = {**{k: v for k, v in c.items() if k != "label"}, **s.shared, "layers": s.hi}
        try:
            out.append((c["label"], RunConfig.from_flat(flat)))
        except ConfigError as e:
            st.error(f"**{c['label']}** cannot be built: " + "; ".join(f"{f}: {m}" for f, m in e.problems),
                     icon=":material/error:")
    return out


# ---- computation and charts ---------------------------------------------------------------------------
def _chart(fig, key: str) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def _guarded(label: str, fn):
    try:
        return fn()
    except ConfigError as e:
        st.error(f"**{label}**: " + "; ".join(f"{f}: {m}" for f, m in e.problems), icon=":material/error:")
    except Exception as e:  # noqa: BLE001 — a numerical or build failure of one config must not take the page down
        st.error(f"**{label}** failed at initialisation: {type(e).__name__}: {e}", icon=":material/error:")
    return None


def show(runs: list[tuple[str, RunConfig]], s: Settings) -> None:
    if not runs:
        st.info("Nothing to show: fix the settings above.", icon=":material/info:")
        return
    status = st.empty()
    bar = st.progress(0.0, text="Computing…")
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
        on = progress(i * cost_profile, cost_profile, f"At initialisation: {label}, {s.hi} blocks")
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
        on = progress(base + i * cost_sweep, cost_sweep, f"Depth sweep: {label}, depths {depths[0]}–{depths[-1]}")
        sweep = _guarded(label, partial(S.depth_sweep, cfg, depths, s.seeds, on_progress=on))
        if sweep is not None:
            summaries[label] = S.depth_summary(sweep)
    elapsed = time.perf_counter() - t0
    bar.empty()
    st.markdown("##### Against depth")
    _chart(FI.depth_figure(summaries, band_kind=s.band), "init_chart_depth")
    st.caption(CAPTIONS["depth"] + f" Depths: {', '.join(map(str, depths))}.")
    after = S.cache_info()
    new = after["unit_misses"] - before["unit_misses"]
    status.caption(f":material/timer: {len(runs)} config(s) × {len(s.seeds)} seed(s): {s.hi}-block profile in "
                   f"{t_profile:.2f} s, with the depth sweep {elapsed:.2f} s "
                   f"({new} new forward/backward pass(es); the rest from the cache).")


def _profile_charts(profiles: dict, s: Settings) -> None:
    st.markdown(f"##### Along depth, {s.hi} blocks")
    top, bottom = st.columns(2), st.columns(2)
    with top[0]:
        _chart(FI.profile_figure(profiles, "resid_ms", title="Residual-stream mean square after each block",
                                 band_kind=s.band), "init_chart_resid")
        st.caption(CAPTIONS["resid_ms"])
    with top[1]:
        _chart(FI.profile_figure(profiles, "grad_norm", title="Gradient norm per block",
                                 band_kind=s.band), "init_chart_grad")
        st.caption(CAPTIONS["grad_norm"])
    with bottom[0]:
        present = {m for f in profiles.values() for m in f["metric"].unique()}
        options = [k for k, m in BRANCHES.items() if m in present] or ["attention"]
        if st.session_state.get("init_branch") not in options:
            st.session_state["init_branch"] = options[0]
        branch = st.segmented_control("branch", options, key="init_branch", required=True,
                                      label_visibility="collapsed") or options[0]
        _chart(FI.profile_figure(profiles, BRANCHES[branch], title=f"Branch-to-stream ratio ‖F(x)‖/‖x‖, {branch}",
                                 band_kind=s.band), "init_chart_ratio")
        st.caption(CAPTIONS["ratio"])
    with bottom[1]:
        log_y = st.toggle("log scale", key="init_rank_log", help="Shows the doubly exponential collapse as a line")
        _chart(FI.profile_figure(profiles, "rank_residual", title="Rank residual after each block",
                                 band_kind=s.band, log_y=log_y), "init_chart_rank")
        st.caption(CAPTIONS["rank_residual"])
