"""Live training: choose a block, press Train, watch it learn — on one screen (1280×720): the block
as a strip, the run controls beside its progress, four live panels, then every view in detail."""
import streamlit as st

from resnorm.science.config import non_default
from resnorm.studies.defaults import LIVE
from ui import controls, live, share
from ui.i18n import t

live.restore()
cfg, problems = controls.sidebar_config(defaults=LIVE)  # opens on a run that still moves at its end
st.sidebar.caption(t("why.live"))
share.show_ignored()
params = None if cfg is None else {**{k: cfg.to_flat()[k] for k in LIVE}, **non_default(cfg)}  # + the page's defaults
if params is not None:
    share.write_query(params)
run = live.session_run()
live.remember(run)
live.header_strip(*(st.session_state[f"cfg_{k}"] for k in ("norm_position", "residual", "norm", "arch")))
live.live_panel(run, cfg, problems)
with st.expander(t("dash.block"), icon=":material/schema:"):
    live.block_view(*(st.session_state[f"cfg_{k}"] for k in ("norm_position", "residual", "norm", "arch")),
                    {k: st.session_state.get(f"cfg_{k}") for k in ("dyt_alpha", "qk_norm", "logit_softcap", "attn_gate",
                                                                   "z_loss") if st.session_state.get(f"cfg_{k}") is not None})
live.export(run)
share.share_panel(cfg, params)
