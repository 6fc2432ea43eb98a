"""At initialisation: no training — one forward/backward of fresh models along depth, over seeds."""
import streamlit as st

from ui import init_view

st.title("At initialisation")
st.caption("Before the first step, a block design already decides how the signal and its gradient travel "
           "through depth. Pick up to four designs; every chart overlays them, with the seed spread as a band.")
settings = init_view.settings()
configs = init_view.config_editor()
runs = init_view.build(configs, settings)
init_view.show(runs, settings)
