"""Translation tables: every string the app shows, in English (``en``) and Simplified Chinese (``zh``).

The tables are data a translator edits: ``resnorm/i18n/en.toml`` and ``resnorm/i18n/zh.toml``, grouped in
sections by page or lesson (``[live]``, ``[compare]``, ``[lesson.3]`` with that lesson's prose and its
claims together) and loaded into flat dicts of dotted keys (``live.train``, ``field.layers.help``,
``lesson.3.why``). ``translate(key, lang, **fmt)`` looks a key up and fills its ``{placeholders}`` with
``str.format`` (only when arguments are given, so a text with literal braces needs none). A key missing in
a language falls back to English, then to the key itself — never an exception in front of a class — and
``tests/test_i18n.py`` fails if any key is missing in either table or if a translation's placeholders
differ from the English ones.

The English texts of the config fields (their help) are taken from the config schema itself
(``resnorm.science.config``) and the residual modes' help from the variant table (``resnorm.science.variants``), so those
stay single sources in English; the Chinese table translates each of them. Messages the package returns
(``resnorm.messages.Msg``: problems, reasons, events) carry their key and parameters and are shown with
``render`` — nothing is ever translated back from English. Streamlit-free: the UI's ``ui.i18n.t`` reads the
session's language and calls ``translate``.
"""
from __future__ import annotations

import dataclasses
import string

from ..science import variants
from ..science.config import SECTIONS
from ..messages import Msg, load_table

LANGS = {"en": "English", "zh": "中文"}
DEFAULT_LANG = "en"


def _english() -> dict[str, str]:
    text: dict[str, str] = {}
    for cls in SECTIONS.values():
        for f in dataclasses.fields(cls):
            text[f"field.{f.name}.label"] = f.name.replace("_", " ")  # en.toml names the others
            text[f"field.{f.name}.help"] = f.metadata["help"]
    for m in variants.RESIDUAL_MODES.values():
        text[f"residual.{m.name}.help"] = m.help
    text.update(load_table("en"))
    return text


TABLES: dict[str, dict[str, str]] = {"en": _english(), "zh": load_table("zh")}


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
    """For data that comes from the package (a task's description, a preset's name): its translation
    when the tables have one, else ``default`` as it is."""
    text = TABLES[normalize(lang)].get(key)
    return default if text is None else text


def render(message, lang: str = DEFAULT_LANG) -> str:
    """A package message in ``lang``: a ``Msg`` by its key and parameters (parameters that are messages
    themselves rendered too), anything else (a plain string: an exception's text, a path) as it is."""
    if not isinstance(message, Msg) or not message.key:
        return "" if message is None else str(message)
    if message.key == "msg.join":
        return message.params["sep"].join(render(p, lang) for p in message.params["parts"])
    params = {k: render(v, lang) if isinstance(v, Msg) else v for k, v in message.params.items()}
    try:
        return translate(message.key, lang, **params)
    except (KeyError, IndexError, ValueError):  # a broken translation: the English the package wrote
        return str(message)


# the table prefix of each config field's choice names; fields not listed use ``choice.<field>.``
_NAME_PREFIX = {"norm_position": "name.position.", "norm": "name.norm."}


def display_name(field: str, value, lang: str = DEFAULT_LANG) -> str:
    """The one name of a config choice as people say it, in ``lang``: ``display_name("norm_position",
    "sandwich")`` → "Peri-LN / Sandwich-LN", ``("norm", "dyt")`` → "Dynamic Tanh (DyT)". Every page,
    select box (``format_func``), table and figure legend shows a choice through this; the id itself
    (``sandwich``) stays in URLs, configs and the command line. An id the tables do not name is shown
    as it is."""
    return translate_or(_NAME_PREFIX.get(field, f"choice.{field}.") + str(value), str(value), lang)


class Labels:
    """What a figure builder takes to label its chart in one language: ``labels(key, **fmt)`` is
    ``translate(key, lang, **fmt)``; ``labels.word(text)`` a fixed figure word by its English name (the
    table's ``fig.<text>``; the word itself where the table has none, e.g. a metric's name). The builders'
    default is ``EN``: their English is the table's."""

    def __init__(self, lang: str = DEFAULT_LANG):
        self.lang = normalize(lang)

    def __call__(self, key: str, /, **fmt) -> str:
        return translate(key, self.lang, **fmt)

    def word(self, text: str) -> str:
        return translate_or("fig." + text, text, self.lang)

    def choice(self, field: str, value) -> str:
        """A config choice's name (``display_name``) in this language."""
        return display_name(field, value, self.lang)

    def event(self, kind: str) -> str:
        """An event marker's label (``resnorm.studies.compare.detect_events`` kinds: ``diverged``, ``grad jump``…)."""
        return translate_or("fig.event." + kind, kind, self.lang)

    def __eq__(self, other) -> bool:
        return isinstance(other, Labels) and other.lang == self.lang

    def __hash__(self) -> int:
        return hash(self.lang)


EN = Labels(DEFAULT_LANG)


def placeholders(text: str) -> set[str]:
    """The field names of ``text``'s ``{placeholders}`` (format specs ignored)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text)
            if name is not None}
