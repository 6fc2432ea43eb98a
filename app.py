"""resnorm app entry point: `streamlit run app.py`."""
import streamlit as st

import resnorm
from resnorm.config import ModelConfig
from resnorm.variants import NORM_POSITIONS, block_latex

st.set_page_config(page_title="resnorm", page_icon="➕", layout="wide")
st.title("resnorm")
st.caption(f"Residual connections and normalization in Transformers, live · version {resnorm.__version__}")

cfg = ModelConfig()
st.markdown(f"The default block (**{cfg.norm_position}**-norm, **{cfg.norm}**, residual **{cfg.residual}**) "
            f"applies, around each sublayer $F$ (attention, MLP):")
st.latex(block_latex(cfg.norm_position, cfg.residual, cfg.norm))
st.caption(f"Source: {NORM_POSITIONS[cfg.norm_position].source}. The live training page comes next.")
