"""Shareable state: the page's config lives in the URL (query keys = config field names), a link
restores it, and the same config is shown as a command line and as Python."""
from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from resnorm.science.config import RunConfig, non_default, parse_query, show_key, to_cli, to_python
from resnorm.i18n import DEFAULT_LANG
from ui import safe
from ui.i18n import lang, say, t

NOT_FROM_LINKS = {"text_file": "share.not_from_links.text_file"}  # field -> why (a text key)
APP_PARAMS = ("lang", "lesson", "view")  # query keys of the app itself: never read as config fields


def mark_read(page: str) -> None:
    """``page``'s link has been applied (or replaced by a preset): ``read_query`` returns nothing more."""
    st.session_state[f"_url_read_{page}"] = True


def read_query(page: str, multi: set[str] = frozenset()) -> tuple[dict, dict, list[str]]:
    """The one link reader. Once per session and page: (single values, per-config lists for ``multi``
    fields, ignored notes). List values are comma-separated (``norm_position=post,pre``). Each view
    applies them with its own ``restore()``; another view opens it with the view's ``preset()``."""
    if st.session_state.get(f"_url_read_{page}"):
        return {}, {}, []
    mark_read(page)
    raw = {k: st.query_params[k] for k in st.query_params if k not in APP_PARAMS}
    ignored = [f"{k} ({t(why)})" for k, why in NOT_FROM_LINKS.items() if raw.pop(k, None) is not None]
    singles, lists = {}, {}
    for k, text in raw.items():
        if k in multi and "," in text:
            parsed, notes = zip(*(parse_query({k: part}) for part in text.split(",")))
            if any(notes):
                ignored.extend(n for ns in notes for n in ns)
            else:
                lists[k] = [p[k] for p in parsed]
            continue
        values, notes = parse_query({k: text})
        singles.update(values)
        ignored.extend(notes)
    return singles, lists, ignored


def _lang_note() -> list[str]:
    from resnorm.i18n import LANGS
    from ui.i18n import LANG_NOTE

    value = st.session_state.get(LANG_NOTE)
    return [] if value is None else [t("share.lang_unknown", value=safe.cut(value, 40), langs=", ".join(LANGS))]


def show_ignored(key: str = "_url_ignored") -> None:
    """What the link said that this page did not take, each item escaped and cut short (``ui.safe``)."""
    ignored = _lang_note() + list(st.session_state.get(key) or [])
    if ignored:
        st.info(t("share.ignored", items="; ".join(safe.md(say(i)) for i in ignored[:20])), icon=":material/link_off:")


def no_settings_page(page: str) -> None:
    """For a page that takes nothing from a link but ``lang`` and ``lesson`` (Runs, Lessons): every
    other key is named as ignored, once per session, instead of being dropped silently."""
    if not st.session_state.get(f"_url_read_{page}"):
        st.session_state[f"_url_read_{page}"] = True
        st.session_state[f"_url_ignored_{page}"] = [
            t("share.no_settings", name=show_key(k)) for k in st.query_params if k not in APP_PARAMS][:20]
    show_ignored(f"_url_ignored_{page}")


def write_query(params: dict) -> None:
    """Make the URL carry exactly ``params`` and the app's own keys (``lang``, ``view``) (no rerun happens)."""
    current = {k: st.query_params[k] for k in st.query_params}
    wanted = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    for key in ("lang", "view"):
        if key in current:
            wanted[key] = current[key]
    if current != wanted:
        st.query_params.from_dict(wanted)


def link_for(params: dict) -> str:
    """The page's address with ``params`` (and the session's language, when not English)."""
    if lang() != DEFAULT_LANG:
        params = {**params, "lang": lang()}
    base = (st.context.url or "").split("?")[0]
    return base + ("?" + urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()})
                   if params else "")


def share_panel(cfg: RunConfig | None, params: dict | None = None) -> None:
    """Copy link + the equivalent CLI command and Python snippet."""
    if cfg is None:
        return
    params = non_default(cfg) if params is None else params
    params = {k: v for k, v in params.items() if k not in NOT_FROM_LINKS}
    with st.expander(t("share.panel"), icon=":material/share:"):
        st.caption(t("share.link"))
        st.code(link_for(params), language=None, wrap_lines=True)
        st.caption(t("share.cli"))
        st.code(to_cli(cfg), language="bash", wrap_lines=True)
        st.caption(t("share.python"))
        st.code(to_python(cfg), language="python")


def share_compare(configs: list[RunConfig], names: list[str], params: dict) -> None:
    """A comparison's link, and every variant as its own command line (one ``train`` per config,
    each writing its own folder: the same runs as the comparison, since every config draws its data
    from its own seed)."""
    params = {k: v for k, v in params.items() if k not in NOT_FROM_LINKS}
    with st.expander(t("share.panel"), icon=":material/share:"):
        st.caption(t("share.link"))
        st.code(link_for(params), language=None, wrap_lines=True)
        st.caption(t("compare_setup.cli_each"))
        for name, cfg, letter in zip(names, configs, "abcd"):
            st.caption(name)
            st.code(to_cli(cfg, out=f"runs/compare-{letter}"), language="bash", wrap_lines=True)
