"""Live training: choose a block, press Train, watch it learn."""
import streamlit as st

from resnorm.science.config import non_default
from resnorm.studies.defaults import LIVE
from ui import controls, live, share
from ui.i18n import t

st.title(t("live.title"))
st.caption(t("live.caption"))
live.restore()
cfg, problems = controls.sidebar_config(defaults=LIVE)  # opens on a run that still moves at its end
st.sidebar.caption(t("why.live"))
share.show_ignored()
params = None if cfg is None else {**{k: cfg.to_flat()[k] for k in LIVE}, **non_default(cfg)}  # + the page's defaults
if params is not None:
    share.write_query(params)
run = live.session_run()
live.block_view(*(st.session_state[f"cfg_{k}"] for k in ("norm_position", "residual", "norm", "arch")),
                {k: st.session_state.get(f"cfg_{k}") for k in ("dyt_alpha", "qk_norm", "logit_softcap", "attn_gate",
                                                               "z_loss") if st.session_state.get(f"cfg_{k}") is not None})
live.run_controls(run, cfg, problems)
live.live_panel(run)
live.export(run)
share.share_panel(cfg, params)
