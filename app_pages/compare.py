"""Compare: 2–4 block designs trained in lockstep on the same data, curves overlaid."""
import streamlit as st

from ui import compare_view as cv
from ui import controls, share
from ui.i18n import t

st.title(t("compare.title"))
st.caption(t("compare.caption"))
cv.restore()
sc = cv.session_compare()
base, base_problems = controls.sidebar_config(page="compare", prefix=cv.PREFIX, skip=cv.VARY)
share.show_ignored()
top = st.container()  # the buttons, drawn once the configs below are known: on the first screen
configs, problems = cv.setup(base, folded=sc.comparison is not None)
problems = [f"{k}: {v}" for k, v in base_problems.items()] + problems
if configs is not None:
    share.write_query(cv.link_params(configs))
with top:
    cv.buttons(sc, configs, problems)
cv.live_results(sc)
if configs is not None:
    share.share_compare(configs, cv.names_of(configs), cv.link_params(configs))
