"""Untrusted text on a page: one place that makes it inert and short.

Anything that came from a link (query keys and values), the shared runs folder (run names, labels,
notes, reasons) or an error quoting either is shown through these helpers, never raw: Streamlit
renders Markdown (links, images that the browser fetches, ``:material/...:`` icons, ``$`` maths) and
Plotly renders a subset of HTML (``<a href>``) in trace names. Each helper also cuts the text to a
bounded length first, so a 100 kB query value is echoed as its first characters.
"""
from __future__ import annotations

import html
import re

MAX_SHOWN = 200  # characters of an untrusted string shown on a page

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")  # what Markdown, HTML or Streamlit would interpret
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def cut(text, limit: int = MAX_SHOWN) -> str:
    """``str(text)`` on one line (control characters as spaces), at most ``limit`` characters."""
    s = _CONTROL.sub(" ", str(text))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def md(text, limit: int = MAX_SHOWN) -> str:
    """Text shown literally inside Streamlit Markdown: no links, images, emphasis, HTML, icons or maths."""
    return _MD_SPECIAL.sub(r"\\\1", cut(text, limit))


def md_code(text, limit: int = MAX_SHOWN) -> str:
    """Text for inside a Markdown code span (`` `...` ``), where a backslash would show: backticks
    are replaced, nothing else needs escaping there."""
    return cut(text, limit).replace("`", "'")


def plotly(text, limit: int = 80) -> str:
    """A Plotly trace name or title: HTML-escaped (Plotly draws ``<a href>``, ``<b>``, ...), short."""
    return html.escape(cut(text, limit), quote=True)
