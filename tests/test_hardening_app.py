"""Issue 15 on the pages (AppTest): links and runs-folder content from a hostile user.

Every page gets the same random links and the same corpus of hostile strings. What must hold:
no exception, every ignored key named, and no untrusted string rendered as Markdown (a link, an
image the browser would fetch, an icon, maths) or as Plotly HTML, nor echoed at unbounded length.
"""
from __future__ import annotations

import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from resnorm.serving import runs as R
from resnorm.science.config import RunConfig, field_index

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["app_pages/live.py", "app_pages/compare.py", "app_pages/init.py", "app_pages/runs.py",
         "app_pages/lessons.py"]
TEXT_KINDS = ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title", "header")

HOSTILE = [
    "[click me](https://example.com/phish)",
    "![img](http://127.0.0.1:9/track.png)",
    "<img src=x onerror=alert(1)>",
    "<a href='https://example.com'>x</a>",
    ":material/home: :red[alarm]",
    "$\\frac{1}{0}$",
    "**bold** _it_ `code` # head",
    "[ref]: https://example.com/ref",
    "x" * 100_000,
]


@pytest.fixture(autouse=True)
def _cheap_init_page(monkeypatch):
    """The At-initialisation page's computation is not what these tests are about: keep it cheap."""
    from ui import init_view

    monkeypatch.setattr(init_view, "show", lambda runs, s: st_info_runs(runs))


def st_info_runs(runs):
    import streamlit

    streamlit.caption(f"{len(runs)} configs")


def _open(page: str, params: dict) -> AppTest:
    at = AppTest.from_file(os.path.join(ROOT, "app.py"), default_timeout=60)
    at.query_params.update(params)
    return at.switch_page(page).run()


def _plain(text: str) -> str:
    """Markdown-escaped text as the reader sees it."""
    return re.sub(r"\\(.)", r"\1", text)


def _texts(at) -> list[str]:
    out = []
    for kind in TEXT_KINDS:
        out += [str(e.value) for e in at.get(kind)]
        out += [str(e.value) for e in at.sidebar.get(kind)]
    return out


LIVE_MARKDOWN = [re.compile(r"(?<!\\)!?\[[^\]]*(?<!\\)\]\("),  # [text](url), ![alt](url)
                 re.compile(r"(?<!\\)<(img|a|script)\b", re.I),
                 re.compile(r"(?<!\\):material/|(?<!\\):red\[")]


def _assert_inert(at, corpus=HOSTILE):
    assert not at.exception, [e.value for e in at.exception]
    for text in _texts(at):
        assert len(text) < 12_000, text[:200]
        for needle in corpus:
            if re.search(r"[\[\]<>:$*`]", needle):  # a hostile string never appears as it was typed
                assert needle[:40] not in text, (needle, text[:300])
        for pattern in LIVE_MARKDOWN:
            hit = pattern.search(text)
            assert not (hit and any(h in text for h in ("example.com", "127.0.0.1", "alarm"))), text[:300]


# ---- item 3: /init with keys that are not its settings -------------------------------------------------
@pytest.mark.parametrize("params,named", [
    ({"layers": "12"}, "layers"), ({"steps": "7"}, "steps"), ({"task": "text-lm"}, "task"),
    ({"d_model": "512"}, "d_model=512 (must be between 8 and 256 on this page)"), ({"layers": "12", "steps": "7", "norm": "rmsnorm"}, "steps"),
])
def test_item3_init_link_with_foreign_keys_is_a_note_not_a_traceback(params, named):
    at = _open("app_pages/init.py", params)
    assert not at.exception, [e.value for e in at.exception]
    assert any(named in _plain(i.value) for i in at.info), [i.value for i in at.info]
    if "norm" in params:  # the rest of the link still applies
        assert at.session_state["init_c0_norm"] == "rmsnorm"


# ---- item 3: random links on every page ------------------------------------------------------------------
FIELDS = sorted(field_index())
KEYS = st.one_of(st.sampled_from(FIELDS + ["lang", "lesson", "bogus"]), st.text(min_size=1, max_size=8))
VALUES = st.one_of(st.sampled_from(["1", "0", "2", "12", "64", "512", "true", "post", "pre,post", "rmsnorm",
                                    "text-lm", "sort", "nan", "-1", "9" * 50, "", "zh", "xx", "3"]),
                   st.text(max_size=8))


@pytest.mark.parametrize("page", PAGES)
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(params=st.dictionaries(KEYS, VALUES, max_size=4))
def test_item3_random_links_never_raise_on_any_page(page, params):
    at = _open(page, params)
    assert not at.exception, (params, [e.value for e in at.exception])


# ---- item 4: hostile strings in links, on every page -----------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_item4_hostile_link_keys_and_values_are_shown_inert_and_short(page):
    params = {h[:2000]: "1" for h in HOSTILE[:-1]}
    params.update({"norm": HOSTILE[1], "lr": HOSTILE[0], "d_model": HOSTILE[-1]})
    at = _open(page, params)
    _assert_inert(at)
    shown = " ".join(_texts(at))
    if page != "app_pages/runs.py" and page != "app_pages/lessons.py":
        assert "example" in _plain(shown)  # the bad keys are named (escaped)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_item4_no_lesson_warning_is_inert_and_short(value):
    at = _open("app_pages/lessons.py", {"lesson": value})
    _assert_inert(at)
    assert at.warning and len(at.warning[0].value) < 300


def _hostile_run(root, name, label):
    cfg = RunConfig.from_flat(dict(layers=1, d_model=8, heads=2, d_ff=16, seq_len=4, batch_size=2, steps=2))
    import pandas as pd

    frame = pd.DataFrame({"step": [1, 2], "name": ["train/loss"] * 2, "value": [1.0, 0.5]})
    return R.write_run(cfg, frame, {"status": "stopped", "steps": 2, "final_loss": 0.5,
                                    "reason": "![r](http://127.0.0.1:9/reason.png)"}, root=root,
                       name=name, label=label)


def test_item4_run_names_and_labels_are_inert_in_heading_notes_and_legend(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(tmp_path))
    a = _hostile_run(tmp_path, "[click](https:example.com)", HOSTILE[1])
    b = _hostile_run(tmp_path, "b :red[alarm] :smile:", "<a href='https://example.com'>legend</a>")
    (tmp_path / "![x](http:127.0.0.1)").mkdir()  # a foreign folder: a note naming it
    at = _open("app_pages/runs.py", {})
    _assert_inert(at)
    at.multiselect(key="runs_selected").set_value([a.name]).run()
    _assert_inert(at)
    assert at.subheader and "127" in at.subheader[0].value  # the label is shown, escaped
    at.multiselect(key="runs_selected").set_value([a.name, b.name]).run()
    _assert_inert(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [tr.get("name", "") for tr in spec["data"]]
    assert names and not any("<a" in n for n in names), names
    assert any("&lt;a" in n for n in names), names


def test_item11_runs_folder_is_shown_without_escaping_backslashes(tmp_path, monkeypatch):
    folder = tmp_path / "my-runs_folder.v2"
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(folder))
    at = _open("app_pages/runs.py", {})
    head = at.caption[0].value
    assert f"`{folder}`" in head, head


@pytest.mark.parametrize("page", PAGES)
def test_item11_unknown_language_is_named(page):
    at = _open(page, {"lang": "xx"})
    assert not at.exception
    assert any("lang=xx" in _plain(i.value) for i in at.info), [i.value for i in at.info]
    at = _open(page, {"lang": "zh-CN"})
    assert not any("lang=" in _plain(i.value) for i in at.info)


@pytest.mark.parametrize("page", ["app_pages/runs.py", "app_pages/lessons.py"])
def test_item11_config_keys_on_pages_without_settings_are_named(page):
    at = _open(page, {"layers": "3", "norm": "rmsnorm"})
    assert not at.exception
    shown = " ".join(_plain(i.value) for i in at.info)
    assert "layers" in shown and "norm" in shown, shown


def test_item1_live_attention_view_offers_the_heads_it_kept():
    """16 heads trained, 8 kept for display: the head picker offers those 8 and every one draws."""
    at = _open("app_pages/live.py", {"heads": "16", "d_model": "32", "layers": "1", "steps": "3",
                                     "attention_every": "1", "probe_every": "0", "eval_every": "0"})
    at.button(key="btn_train").click().run()
    for _ in range(300):
        at.run()
        if any("completed" in str(getattr(p, "proto", "")) for p in at.get("progress")):
            break
    at.segmented_control(key="opt_view").set_value("Attention").run()
    assert not at.exception
    heads = at.selectbox(key="opt_attn_head").options
    assert len(heads) == 1 + 8, heads  # "all" and heads 0..7
    at.selectbox(key="opt_attn_head").set_value(7).run()
    assert not at.exception and at.get("plotly_chart")
