"""At initialisation: no training — one forward/backward of fresh models along depth, over seeds."""
import streamlit as st

from ui import init_view
from ui.i18n import t

st.title(t("init.title"))
st.caption(t("init.caption"))
settings = init_view.settings()
configs = init_view.config_editor()
runs = init_view.build(configs, settings)
init_view.show(runs, settings)
