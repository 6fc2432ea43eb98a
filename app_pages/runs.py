"""Saved runs: list and filter them, reopen one's charts, overlay several, export, delete."""
import streamlit as st

from ui import runs_view as rv
from ui import map_view, share
from ui.i18n import t

st.title(t("runs.title"))
share.no_settings_page("runs")
root, entries, notes = rv.listing()
rv.header(root, entries, notes)
shown = rv.filters(entries)
rv.table(shown)
chosen = rv.choose(shown)
if len(chosen) == 1:
    rv.single(root, chosen[0])
elif chosen:
    rv.overlay(root, chosen)
map_view.sweeps_section()
