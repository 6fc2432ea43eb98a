"""The UI side of the translations: ``t(key, **fmt)`` in the session's language.

The language lives in ``st.session_state["lang"]``, a plain session value (not a widget's state, which
Streamlit may drop when a page switches), set from ``?lang=zh`` when a session opens a link and by the
sidebar switch (key ``lang_switch``), and written back to the URL when it changes. The tables themselves are
``resnorm.i18n`` (no Streamlit there, so tests read them directly). Messages from the package
(``resnorm.messages.Msg``) are shown with ``say``, by their key and parameters; charts are built with
``chart_labels()``. Nothing here maps English back to a key.
"""
from __future__ import annotations

import streamlit as st

from resnorm import i18n as I
from resnorm.messages import problems_message

KEY = "lang"
SWITCH = "lang_switch"
URL_READ = "_lang_url_read"
LANG_NOTE = "_lang_url_ignored"  # a ?lang= value that is not a language, shown with the link's other notes


def lang() -> str:
    return I.normalize(st.session_state.get(KEY))


def t(key: str, **fmt) -> str:
    """The text of ``key`` in the session's language."""
    return I.translate(key, lang(), **fmt)


def t_or(key: str, default: str) -> str:
    """The translation of package data (a task description, an event kind), or the data as it is."""
    return I.translate_or(key, default, lang())


def chart_labels() -> I.Labels:
    """A figure builder's ``labels`` argument: its words in the session's language."""
    return I.Labels(lang())


def options(prefix: str, keep_unknown: bool = False):
    """A ``format_func`` for option widgets: the text of ``prefix + option``, in the language of this
    run (bound now: Streamlit's test harness calls format functions outside the session)."""
    code = lang()
    if keep_unknown:
        return lambda v: I.translate_or(f"{prefix}{v}", str(v), code)
    return lambda v: I.translate(f"{prefix}{v}", code)


def choice(field: str):
    """A ``format_func`` for a config field's options: each choice by its one name
    (``resnorm.i18n.display_name``) in this run's language; the widget's value stays the id."""
    code = lang()
    return lambda v: I.display_name(field, v, code)


def choice_name(field: str, value) -> str:
    """A config choice's name in the session's language (``post`` → "Post-LN")."""
    return I.display_name(field, value, lang())


def cite(citation: str) -> str:
    """A paper reference (package data, written in English) with its prose in the session's language:
    each phrase of the ``[cite]`` table ("Fig. 3 and Lemma 2") replaced by its translation; authors,
    titles and venues stay as published."""
    code = lang()
    for key, english in I.TABLES[I.DEFAULT_LANG].items():
        if key.startswith("cite.") and english in citation:
            citation = citation.replace(english, I.translate(key, code))
    return citation


def status(name: str) -> str:
    return t_or(f"status.{name}", name)


def field_label(name: str) -> str:
    return t(f"field.{name}.label")


def field_help(name: str) -> str:
    return t(f"field.{name}.help")


def init_language() -> None:
    """Once per session: take ``?lang=`` from the link (English otherwise)."""
    if not st.session_state.get(URL_READ):
        st.session_state[URL_READ] = True
        if "lang" in st.query_params:
            value = st.query_params["lang"]
            st.session_state[KEY] = I.normalize(value)
            code = (value or "").strip().lower().replace("_", "-").split("-")[0]
            if code not in I.LANGS:  # ?lang=xx: English, and the page says why
                st.session_state[LANG_NOTE] = value
    if st.session_state.get(KEY) not in I.LANGS:
        st.session_state[KEY] = I.DEFAULT_LANG


def _switched() -> None:
    st.session_state[KEY] = I.normalize(st.session_state.get(SWITCH))
    _to_url()


def _to_url() -> None:
    code = lang()
    if code == I.DEFAULT_LANG:
        if "lang" in st.query_params:
            del st.query_params["lang"]
    else:
        st.query_params["lang"] = code


def language_switch() -> None:
    """English / 中文 in the sidebar; the choice goes into the URL (``lang=zh``) so a copied link keeps it."""
    init_language()
    st.session_state[SWITCH] = lang()
    st.sidebar.segmented_control(t("app.language"), list(I.LANGS), format_func=I.LANGS.get, key=SWITCH,
                                 required=True, on_change=_switched, help=t("app.language_help"),
                                 label_visibility="collapsed", width="stretch")


def keep_in_url() -> None:
    """Put ``lang=`` back into the URL when a page switch dropped it (Streamlit clears the query on
    navigation). Call after ``st.navigation``: written earlier, the browser pairs it with the old path."""
    if lang() != I.DEFAULT_LANG and st.query_params.get("lang") != lang():
        st.query_params["lang"] = lang()


# ---- messages from the package -------------------------------------------------------------------------
def say(message) -> str:
    """A message the package returned (a start refused, a run's reason, a config problem: a
    ``resnorm.messages.Msg`` with its key and parameters) in the session's language; any other text
    (an exception's, a path) as it is. Nothing is matched back from English."""
    return I.render(message, lang())


def say_problems(problems) -> str:
    """A ``ConfigError``'s (field, message) pairs as one line in the session's language."""
    return say(problems_message(problems))
