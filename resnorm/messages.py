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
