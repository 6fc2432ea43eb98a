"""resnorm — `streamlit run app.py`. The router and the frame shared by every page."""
import streamlit as st

import resnorm

st.set_page_config(page_title="resnorm", page_icon="➕", layout="wide")

live = st.Page("pages/live.py", title="Live training", icon="📈", default=True)
page = st.navigation([live])
st.sidebar.caption(f"resnorm {resnorm.__version__} · residual connections and normalization, live")
page.run()
