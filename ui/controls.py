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
from resnorm.science.variants import caution, variant_notes
from ui.i18n import choice, choice_name, field_help, field_label, say, t, t_or

GROUPS = [  # (title key, fields, expanded)
    ("group.model", ["arch", "layers", "d_model", "heads", "d_ff"], True),
    ("group.block", ["norm_position", "norm", "residual", "mlp", "init", "activation", "dropout",
                     "mixln_alpha", "residual_alpha", "streams", "hc_dynamic", "value_residual",
                     "dyt_alpha", "qk_norm", "logit_softcap", "attn_gate"], True),
    ("group.task", ["task", "seq_len", "vocab_size", "mask_prob"], True),
    ("group.training", ["steps", "batch_size", "lr", "warmup", "schedule", "optimizer", "weight_decay", "grad_clip",
                        "seed", "z_loss"], True),
    ("group.hardware", ["device", "dtype", "autocast"], False),
    ("group.probes", ["probe_every", "attention_every", "eval_every"], False),
]
FIELDS = {f.name: f for cls in SECTIONS.values() for f in dataclasses.fields(cls)}
# issue 18: a variant's own setting is drawn only when its variant is chosen (field -> (field, values))
SHOWN_WHEN = {"mixln_alpha": ("norm_position", ("mixln",)), "residual_alpha": ("residual", ("depthmup",)),
              "streams": ("residual", ("hyper", "mhc")), "dyt_alpha": ("norm", ("dyt", "derf")), "hc_dynamic": ("residual", ("hyper", "mhc"))}
FORMATS = {"norm_position": "name.position."}  # choices shown by their display names (sandwich: Peri-LN / Sandwich-LN)


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
    """One schema-driven widget with key ``<prefix><name>`` (``cfg_`` on Live, ``cmpb_`` on Compare)."""
    f = FIELDS[name]
    m, key, label = f.metadata, f"{prefix}{name}", field_label(name)
    if key not in st.session_state:
        st.session_state[key] = f.default
    kw = dict(key=key, help=field_help(name))
    t = str(f.type)
    if name == "device":
        import torch

        devices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        if st.session_state[key] not in devices:
            st.session_state[key] = "auto"
        return container.selectbox(label, devices, format_func=choice(name), **kw)
    if m.get("choices"):
        return container.selectbox(label, list(m["choices"]), format_func=choice(name), **kw)
    if t == "bool":
        return container.toggle(label, **kw)
    if t == "int":
        return container.number_input(label, min_value=m.get("lo"), max_value=m.get("hi"), step=1, **kw)
    fmt = "%.1e" if name in ("lr", "norm_eps", "z_loss") else "%.3g"
    step = {"lr": 1e-4, "dropout": 0.05, "mask_prob": 0.05, "weight_decay": 0.01, "grad_clip": 0.5,
            "z_loss": 1e-4, "logit_softcap": 1.0}.get(name, 0.1)
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


def sidebar_config(page: str = "live", prefix: str = "cfg_", skip=(), defaults: dict | None = None
                   ) -> tuple[RunConfig | None, dict[str, str]]:
    """Draw every control but ``skip`` (set elsewhere, e.g. per config on Compare); return (config or
    None, {field: problem}). Widget keys are ``<prefix><field>``; a control not yet set this session
    opens at ``defaults`` (the page's own, ``resnorm.studies.defaults``), else the schema's default."""
    reseed_on_page_change(page)
    kept = st.session_state.get(STORE, {})
    for name, value in (defaults or {}).items():
        if f"{prefix}{name}" not in st.session_state and f"{prefix}{name}" not in kept:
            st.session_state[f"{prefix}{name}"] = remember(f"{prefix}{name}", value)
    values, slots = {}, {}
    text_problem = None
    sb = st.sidebar
    for title, names, expanded in GROUPS:
        box = sb.expander(t(title), expanded=expanded)
        for name in names:
            if name in skip:
                continue
            if name == "vocab_size" and st.session_state.get(f"{prefix}task", "copy") not in ("copy", "reverse", "sort"):
                continue
            if name == "mask_prob" and not (st.session_state.get(f"{prefix}arch") == "encoder"
                                            and st.session_state.get(f"{prefix}task") in ("stdlib-lm", "text-lm")):
                continue
            if name in SHOWN_WHEN:
                other, shown_for = SHOWN_WHEN[name]
                if st.session_state.get(f"{prefix}{other}", FIELDS[other].default) not in shown_for:
                    continue
            values[name] = field_widget(box, name, prefix)
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
    for name, key, source in variant_notes(values):  # issue 18: the chosen variant's formula and paper
        if name not in problems and slots.get(name) is not None:
            slots[name].caption(t("v2026.note", formula=t(key), source=source))
    if problems:
        cfg = None
    return cfg, problems


def set_controls(flat: dict, prefix: str = "cfg_") -> None:
    """Put values into the controls (before they are drawn), e.g. from a lesson or a link."""
    for k, v in flat.items():
        if k in FIELDS:
            st.session_state[f"{prefix}{k}"] = remember(f"{prefix}{k}", v)
