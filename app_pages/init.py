"""At initialisation: no training — one forward/backward of fresh models along depth, over seeds."""
import streamlit as st

from ui import init_view, share
from ui.i18n import t

st.title(t("init.title"))
st.caption(t("init.caption"))
init_view.restore()
settings = init_view.settings()
configs = init_view.config_editor()
share.show_ignored()
share.write_query(init_view.link_params(configs, settings))
runs = init_view.build(configs, settings)
init_view.show(runs, settings)
if runs:
    share.share_panel(runs[0][1], init_view.link_params(configs, settings))
