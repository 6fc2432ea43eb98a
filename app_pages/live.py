"""Live training: choose a block, press Train, watch it learn — on one screen (1280×720): the block
as a strip, the run controls beside its progress, four live panels, then every view in detail."""
import streamlit as st

from resnorm.science.config import non_default
from ui import controls, live, panels, share
from ui.i18n import t

panels.compact_page()
live.restore()
cfg, problems = controls.sidebar_config()
share.show_ignored()
if cfg is not None:
    share.write_query(non_default(cfg))
run = live.session_run()
live.remember(run)
live.header_strip(*(st.session_state[f"cfg_{k}"] for k in ("norm_position", "residual", "norm", "arch")))
live.live_panel(run, cfg, problems)
with st.expander(t("dash.block"), icon=":material/schema:"):
    live.block_view(*(st.session_state[f"cfg_{k}"] for k in ("norm_position", "residual", "norm", "arch")))
live.export(run)
share.share_panel(cfg)
