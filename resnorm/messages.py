"""Messages the package gives a person — a start refused, why a run ended, a config problem, an event —
as *codes with parameters*, never as English that a UI would have to parse back.

``msg("reason.stopped", step=12)`` is a :class:`Msg`: a ``str`` holding the English text (so the CLI,
logs, JSON summaries and ``"stopped" in reason`` keep working) that also carries its ``key`` and
``params``. A UI shows it in its language with ``resnorm.i18n.render(m, lang)``, which translates the
key and, recursively, any parameter that is itself a ``Msg``.

The English templates are the ``[problem]``, ``[reason]``, ``[start]`` and ``[event]`` sections of
``resnorm/i18n/en.toml`` (one table a translator reads next to ``zh.toml``); this module reads that file
with the standard library only, so every module of the package may import it without a cycle.
"""
from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path

TABLE_DIR = Path(__file__).with_name("i18n")


def load_table(lang: str) -> dict[str, str]:
    """``resnorm/i18n/<lang>.toml`` as one flat dict of dotted keys (``[lesson.3]`` + ``title`` is
    ``lesson.3.title``)."""
    with open(TABLE_DIR / f"{lang}.toml", "rb") as fh:
        data = tomllib.load(fh)
    flat: dict[str, str] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[prefix + k] = v

    walk(data, "")
    return flat


@cache
def english() -> dict[str, str]:
    return load_table("en")


class Msg(str):
    """English text with its message code: ``key`` (a key of the translation tables) and ``params``."""

    def __new__(cls, text: str = "", key: str = "", params: dict | None = None):
        self = super().__new__(cls, text)
        self.key = key
        self.params = dict(params or {})
        return self

    def __reduce__(self):  # crosses process boundaries (a worker's reason) with its code
        return (Msg, (str(self), self.key, self.params))


def msg(key: str, /, **params) -> Msg:
    """The message ``key`` with ``params``; its text is the English template filled in."""
    template = english()[key]
    return Msg(template.format(**params) if params else template, key, params)


def join(parts, sep: str = "; ") -> Msg:
    """Several messages joined into one (each part keeps its code: ``params["parts"]``)."""
    parts = list(parts)
    return Msg(sep.join(str(p) for p in parts), "msg.join", {"parts": parts, "sep": sep})


def problems_message(problems) -> Msg:
    """A config's (field, message) problems as one message: ``field: problem; field: problem``."""
    return join(Msg(f"{f}: {m}", "problem.field", {"field": f, "problem": m}) for f, m in problems)


# ---- a message in a file (a run's summary.json): its code next to its English text ----------------------
MAX_DEPTH = 3      # messages inside messages read back from a file
MAX_PARAM = 600    # characters of a string parameter read back
FILE_SECTIONS = ("start.", "reason.", "problem.")  # the messages a file may name


def to_data(message) -> dict | None:
    """A ``Msg``'s code as JSON data (``{"key": ..., "params": {...}}``), None for plain text."""
    if not isinstance(message, Msg) or not message.key:
        return None

    def value(v):
        if isinstance(v, Msg) and v.key:
            return to_data(v)
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)  # JSON has no NaN: "nan" formats as the float did under a plain {placeholder}
        return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
    return {"key": message.key, "params": {k: value(v) for k, v in message.params.items()}}


def from_data(text: str, data, depth: int = 0) -> Msg | None:
    """``to_data``'s output read back from an untrusted file, as a ``Msg`` whose English is ``text``;
    None when it is not a well-formed code of a known message (the text is then shown as it is)."""
    if depth > MAX_DEPTH or not isinstance(data, dict) or not isinstance(data.get("params", {}), dict):
        return None
    key = data.get("key")
    if not isinstance(key, str) or not (key == "msg.join" or key.startswith(FILE_SECTIONS) and key in english()):
        return None
    params = {}
    for k, v in data.get("params", {}).items():
        if isinstance(v, dict):
            v = from_data(None, v, depth + 1)
        elif isinstance(v, list) and len(v) <= 20:
            v = [from_data(None, x, depth + 1) for x in v]
            v = None if None in v else v
        elif isinstance(v, str):
            v = v[:MAX_PARAM]
        elif not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            v = None
        if v is None:
            return None
        params[k] = v
    try:
        english_text = (params["sep"].join(params["parts"]) if key == "msg.join"
                        else english()[key].format(**params) if params else english()[key])
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        return None
    return Msg(english_text if text is None else text, key, params)
