"""Compare: 2–4 block designs trained in lockstep on the same data, curves overlaid."""
import streamlit as st

from ui import compare_view as cv
from ui import controls, share
from ui.i18n import t

st.title(t("compare.title"))
st.caption(t("compare.caption"))
cv.restore()
base, base_problems = controls.sidebar_config(page="compare")
share.show_ignored()
configs, problems = cv.variant_controls(base)
problems = [f"{k}: {v}" for k, v in base_problems.items()] + problems
if configs is not None:
    share.write_query(cv.link_params(configs))
sc = cv.session_compare()
cv.buttons(sc, configs, problems)
cv.live_results(sc)
if configs is not None:
    share.share_panel(configs[0], cv.link_params(configs))
