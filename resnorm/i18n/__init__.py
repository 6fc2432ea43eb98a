"""Translation tables: every string the app shows, in English (``en``) and Simplified Chinese (``zh``).

One table per language (``resnorm/i18n/en.py``, ``resnorm/i18n/zh.py``), keyed by dotted names
(``live.train``, ``field.layers.help``, ``lesson.3.why``). ``translate(key, lang, **fmt)`` looks a key
up and fills its ``{placeholders}`` with ``str.format`` (only when arguments are given, so a text with
literal braces needs none). A key missing in a language falls back to English, then to the key
itself — never an exception in front of a class — and ``tests/test_i18n.py`` fails if any key is
missing in either table or if a translation's placeholders differ from the English ones.

The English texts of the config fields (their help) are taken from the config schema itself
(``resnorm.science.config``), so the schema stays the single source of truth in English; the Chinese table
translates each of them. Streamlit-free: the UI's ``ui.i18n.t`` reads the session's language and
calls ``translate``.
"""
from __future__ import annotations

import string

from . import en, zh

LANGS = {"en": "English", "zh": "中文"}
DEFAULT_LANG = "en"
TABLES: dict[str, dict[str, str]] = {"en": en.TEXT, "zh": zh.TEXT}


def normalize(lang: str | None) -> str:
    """A supported language code from user input (``zh``, ``zh-CN``, ``ZH``, ``en-GB``); English otherwise."""
    code = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in TABLES else DEFAULT_LANG


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in TABLES[normalize(lang)] or key in TABLES[DEFAULT_LANG]


def translate(key: str, lang: str = DEFAULT_LANG, /, **fmt) -> str:
    """The text of ``key`` in ``lang`` (English if missing there, the key itself if missing everywhere),
    formatted with ``fmt`` when given."""
    text = TABLES[normalize(lang)].get(key)
    if text is None:
        text = TABLES[DEFAULT_LANG].get(key, key)
    return text.format(**fmt) if fmt else text


def translate_or(key: str, default: str, lang: str = DEFAULT_LANG) -> str:
    """For data that comes from the package (a task's description, an event kind): its translation
    when the tables have one, else ``default`` as it is."""
    text = TABLES[normalize(lang)].get(key)
    return default if text is None else text


def placeholders(text: str) -> set[str]:
    """The field names of ``text``'s ``{placeholders}`` (format specs ignored)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text)
            if name is not None}
