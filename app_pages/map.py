"""Trainability map: sweep two config fields (a third as facets) and watch the cells fill a heatmap."""
import streamlit as st

from ui import controls, share
from ui import map_view as mv
from ui.i18n import t

st.title(t("map.title"))
st.caption(t("map.caption"))
mv.restore()
base, base_problems = controls.sidebar_config(page="map")
share.show_ignored()
axes, problems = mv.axis_controls()
target = mv.target_control()
spec, spec_problems = mv.build_spec(base, axes, target)
if base is None:
    problems = [t("map.fix_base", problems="; ".join(f"{k}: {v}" for k, v in base_problems.items()))] + problems
if spec is not None:
    share.write_query(mv.link_params(spec))
sweep = mv.session_sweep()
mv.buttons(sweep, spec, problems + spec_problems)
mv.panel(sweep)
mv.share_panel(spec)
