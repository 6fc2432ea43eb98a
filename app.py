"""resnorm — `streamlit run app.py`. The router and the frame shared by every page."""
import streamlit as st

import resnorm
from resnorm import settings
from ui import compare_view, lessons_view, live, map_view, panels
from ui.i18n import keep_in_url, language_switch, t

st.set_page_config(page_title=t("app.name"), page_icon=":material/stacked_line_chart:", layout="wide")
language_switch()  # before any page text: ?lang=zh applies from the first draw

pages = {
    "live": st.Page("app_pages/live.py", title=t("page.live"), icon=":material/monitoring:", default=True,
                    url_path="live"),
    "compare": st.Page("app_pages/compare.py", title=t("page.compare"), icon=":material/compare:",
                       url_path="compare"),
    "init": st.Page("app_pages/init.py", title=t("page.init"), icon=":material/tune:", url_path="init"),
    "map": st.Page("app_pages/map.py", title=t("map.page"), icon=":material/grid_on:", url_path="map"),
    "runs": st.Page("app_pages/runs.py", title=t("page.runs"), icon=":material/folder_open:", url_path="runs"),
    "lessons": st.Page("app_pages/lessons.py", title=t("page.lessons"), icon=":material/school:",
                       url_path="lessons"),
}
page = st.navigation(list(pages.values()))  # pages live in app_pages/: a folder named pages/ would let
# direct links like /compare run the page without this router (Streamlit's older multipage mode).
keep_in_url()
panels.keep_view_in_url()  # ?view=projector: the charts' projector fonts, on every page
if "lesson" in st.query_params and page is not pages["lessons"]:
    st.switch_page(pages["lessons"], query_params=st.query_params.to_dict())  # ?lesson=2&lang=zh from any page
problems = settings.problems()
if problems:  # a bad RESNORM_* setting: say so on every page, before anything needs the setting
    st.error(t("app.bad_settings", problems="\n".join(f"- `{p}`" for p in problems)), icon=":material/error:")
    st.stop()
# Leaving a page stops the run it owns (closing the tab does too: see the session-scoped resources).
if page is not pages["live"]:
    live.session_run().stop(wait=0.0)
if page is not pages["compare"]:
    compare_view.session_compare().stop(wait=0.0)
if page is not pages["lessons"]:
    lessons_view.session_lesson().stop(wait=0.0)
if page is not pages["map"]:
    map_view.session_sweep().stop(wait=0.0)
if page is not pages["lessons"]:
    map_view.session_lesson_sweep().stop(wait=0.0)
st.sidebar.caption(t("app.caption", version=resnorm.__version__))
panels.compact_page()  # every page: less padding, so a 1280×720 projector shows its controls and charts
page.run()
