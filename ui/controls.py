"""Sidebar controls generated from the config schema (``resnorm.science.config``): one widget per field,
its help text the schema's, its key ``cfg_<field>``; problems are shown under the control they
concern and returned so the page can disable Train with the reason."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile

import streamlit as st

from resnorm.science import feasibility
from resnorm.science.config import SECTIONS, ConfigError, RunConfig
from resnorm.science.tasks import FITS, TEXT_LIMIT, TaskError, check_text
from resnorm.science.variants import caution
from ui.i18n import choice, choice_name, field_help, field_label, say, t, t_or

GROUPS = [  # (title key, fields, expanded)
    ("group.model", ["arch", "layers", "d_model", "heads", "d_ff"], True),
    ("group.block", ["norm_position", "norm", "residual", "mlp", "init", "activation", "dropout"], True),
    ("group.task", ["task", "seq_len", "vocab_size", "mask_prob"], True),
    ("group.training", ["steps", "batch_size", "lr", "warmup", "schedule", "optimizer", "weight_decay", "grad_clip",
                        "seed"], True),
    ("group.hardware", ["device", "dtype", "autocast"], False),
    ("group.probes", ["probe_every", "attention_every", "eval_every"], False),
]
FIELDS = {f.name: f for cls in SECTIONS.values() for f in dataclasses.fields(cls)}


STORE = "_widget_values"  # {widget key: value}, kept outside widget state to survive page switches


def remember(key: str, value):
    st.session_state.setdefault(STORE, {})[key] = value
    return value


def field_widget(container, name: str, prefix: str = "cfg_"):
    """One config field's widget (key ``<prefix><name>``), its value remembered across pages."""
    return remember(f"{prefix}{name}", _draw(container, name, prefix))



def reseed_on_page_change(page: str) -> None:
    """Streamlit drops a page's widget state when another page runs; put the remembered settings
    back into the widgets when this session arrives on ``page`` from elsewhere."""
    if st.session_state.get("_cfg_page") != page:
        for key, value in st.session_state.get(STORE, {}).items():
            st.session_state[key] = value
        st.session_state["_cfg_page"] = page


def _draw(container, name: str, prefix: str = "cfg_"):
    """One schema-driven widget with key ``<prefix><name>`` (``cfg_`` for the Live and Compare sidebar)."""
    f = FIELDS[name]
    m, key, label = f.metadata, f"{prefix}{name}", field_label(name)
    if key not in st.session_state:
        st.session_state[key] = f.default
    kw = dict(key=key, help=field_help(name))
    t = str(f.type)
    if name == "device":
        import torch

        options = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        if st.session_state[key] not in options:
            st.session_state[key] = "auto"
        return container.selectbox(label, options, format_func=choice(name), **kw)
    if m.get("choices"):
        return container.selectbox(label, list(m["choices"]), format_func=choice(name), **kw)
    if t == "bool":
        return container.toggle(label, **kw)
    if t == "int":
        return container.number_input(label, min_value=m.get("lo"), max_value=m.get("hi"), step=1, **kw)
    fmt = "%.1e" if name in ("lr", "norm_eps") else "%.3g"
    step = {"lr": 1e-4, "dropout": 0.05, "mask_prob": 0.05, "weight_decay": 0.01, "grad_clip": 0.5}.get(name, 0.1)
    return container.number_input(label, min_value=float(m["lo"]) if m.get("lo") is not None else None,
                                  max_value=float(m["hi"]) if m.get("hi") is not None else None,
                                  step=step, format=fmt, **kw)


def _text_source(container) -> tuple[str | None, str | None]:
    """The text-lm input: an uploaded file or pasted text, saved to a file named by its hash.
    Returns (path, problem)."""
    up = container.file_uploader(t("controls.text_file"), type=None, key="cfg_upload",
                                 help=t("controls.text_file_help", limit=TEXT_LIMIT))
    pasted = container.text_area(t("controls.paste"), key="cfg_text", height=100)
    data = up.getvalue() if up is not None else pasted.encode("utf-8") if pasted else None
    if data is None:
        return None, t("controls.need_text", limit=TEXT_LIMIT)
    try:
        check_text(data, t("controls.uploaded_file") if up is not None else t("controls.pasted_text"))
    except TaskError as e:
        return None, say(e.message)
    folder = os.path.join(tempfile.gettempdir(), "resnorm-texts")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, hashlib.sha256(data).hexdigest()[:32] + ".txt")
    if not os.path.exists(path):
        tmp = path + f".{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return path, None


def sidebar_config(page: str = "live") -> tuple[RunConfig | None, dict[str, str]]:
    """Draw every control; return (config or None, {field: problem})."""
    reseed_on_page_change(page)
    values, slots = {}, {}
    text_problem = None
    sb = st.sidebar
    for title, names, expanded in GROUPS:
        box = sb.expander(t(title), expanded=expanded)
        for name in names:
            if name == "vocab_size" and st.session_state.get("cfg_task", "copy") not in ("copy", "reverse", "sort"):
                continue
            if name == "mask_prob" and not (st.session_state.get("cfg_arch") == "encoder"
                                            and st.session_state.get("cfg_task") in ("stdlib-lm", "text-lm")):
                continue
            values[name] = field_widget(box, name)
            slots[name] = box.empty()
        if title == "group.task":
            fits = FITS[values["task"]]
            box.caption(t("controls.fits", fits="; ".join(f"{choice_name('arch', a)} ({t_or('fits.' + how, how)})"
                                                           for a, how in fits.items())))
            if values["task"] == "text-lm":
                path, text_problem = _text_source(box)
                slots["text_file"] = box.empty()
                if path:
                    values["text_file"] = path
    cfg, found = feasibility.build(values)  # valid, and able to train here (task, text, memory)
    problems: dict[str, str] = {k: say(m) for k, m in ConfigError(found).by_field().items()}
    if values.get("task") == "text-lm" and "text_file" not in values:
        problems["text_file"] = text_problem
    for name, msg in problems.items():
        slot = slots.get(name)
        if slot is not None:
            slot.error(msg, icon=":material/warning:")
    note = caution(*(values.get(k) for k in ("norm_position", "residual", "norm", "arch")))
    if note and "norm" not in problems and slots.get("norm") is not None:
        slots["norm"].caption(t(note))
    if problems:
        cfg = None
    return cfg, problems


def set_controls(flat: dict) -> None:
    """Put values into the controls (before they are drawn), e.g. from a lesson or a link."""
    for k, v in flat.items():
        if k in FIELDS:
            st.session_state[f"cfg_{k}"] = remember(f"cfg_{k}", v)
