"""Live training: choose a block, press Train, watch it learn."""
import streamlit as st

from ui import controls, live

st.title("Live training")
st.caption("Flip the residual path or move the norm, press Train, and watch what changes inside.")
cfg, problems = controls.sidebar_config()
run = live.session_run()
live.block_view(*(st.session_state[f"cfg_{k}"] for k in ("norm_position", "residual", "norm", "arch")))
live.run_controls(run, cfg, problems)
live.live_panel(run)
live.export(run)
