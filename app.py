"""resnorm — `streamlit run app.py`. The router and the frame shared by every page."""
import streamlit as st

import resnorm
from ui import compare_view, live

st.set_page_config(page_title="resnorm", page_icon=":material/stacked_line_chart:", layout="wide")

pages = [
    st.Page("app_pages/live.py", title="Live training", icon=":material/monitoring:", default=True, url_path="live"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("app_pages/init.py", title="At initialisation", icon=":material/tune:", url_path="init"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/folder_open:", url_path="runs"),
]
page = st.navigation(pages)  # pages live in app_pages/: a folder named pages/ would let direct
# links like /compare run the page without this router (Streamlit's older multipage mode).
# Leaving a page stops the run it owns (closing the tab does too: see the session-scoped resources).
if page.title != "Live training":
    live.session_run().stop(wait=0.0)
if page.title != "Compare":
    compare_view.session_compare().stop(wait=0.0)
st.sidebar.caption(f"resnorm {resnorm.__version__} · residual connections and normalization, live")
page.run()
