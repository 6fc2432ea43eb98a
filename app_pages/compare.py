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
cv.preset_picker()
configs, problems = cv.variant_controls(base, expanded=sc.comparison is None)
problems = [f"{k}: {v}" for k, v in base_problems.items()] + problems
if configs is not None:
    share.write_query(cv.link_params(configs))
cv.buttons(sc, configs, problems)
cv.live_results(sc)
if configs is not None:
    share.share_compare(configs, cv.names_of(configs), cv.link_params(configs))
