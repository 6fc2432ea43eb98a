"""Translations (issue 7): both tables complete and consistent, no user-visible text hard-coded in the
UI, the language switch and ``?lang=zh``, Chinese on the Live page."""
import ast
import os
import re
import string

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnorm import i18n as I
from resnorm.science.config import field_index
from helpers import ROOT, app_test

UI_FILES = sorted([os.path.join("app.py")]
                  + [os.path.join("ui", f) for f in os.listdir(os.path.join(ROOT, "ui")) if f.endswith(".py")]
                  + [os.path.join("app_pages", f) for f in os.listdir(os.path.join(ROOT, "app_pages"))
                     if f.endswith(".py")])
CJK = re.compile(r"[\u3400-\u9fff]")


# ---- the tables ------------------------------------------------------------------------------------------
def test_every_key_exists_in_both_languages():
    en, zh = I.TABLES["en"], I.TABLES["zh"]
    assert not sorted(set(en) - set(zh)), "keys missing in zh"
    assert not sorted(set(zh) - set(en)), "keys missing in en"
    assert all(isinstance(v, str) and v.strip() for table in (en, zh) for v in table.values())


def test_placeholders_match_between_languages():
    en, zh = I.TABLES["en"], I.TABLES["zh"]
    bad = {k: (I.placeholders(en[k]), I.placeholders(zh[k])) for k in en
           if I.placeholders(en[k]) != I.placeholders(zh[k])}
    assert not bad
    for table in (en, zh):  # every text parses as a format string
        for v in table.values():
            list(string.Formatter().parse(v))


def test_every_config_field_has_a_label_and_help_in_both_languages():
    for name, (_, f) in field_index().items():
        for lang in ("en", "zh"):
            assert f"field.{name}.label" in I.TABLES[lang] and f"field.{name}.help" in I.TABLES[lang]
        assert I.translate(f"field.{name}.help", "en") == f.metadata["help"]  # English is the schema's
        assert CJK.search(I.translate(f"field.{name}.help", "zh")), name


def test_chinese_table_is_chinese():
    """Most Chinese texts contain Chinese characters (what may stay as is: names, formulas, file names)."""
    zh = I.TABLES["zh"]
    same = [k for k, v in zh.items() if not CJK.search(v)]
    assert len(same) < 0.15 * len(zh), same


def test_translate_falls_back_and_formats():
    assert I.translate("live.train", "zh") == "训练"
    assert I.translate("live.train", "fr") == "Train"  # unknown language: English
    assert I.normalize("zh-CN") == "zh" and I.normalize(None) == "en"
    assert I.translate("no.such.key", "zh") == "no.such.key"
    assert I.translate("app.caption", "en", version="9.9") == "resnorm 9.9 · residual connections and normalization, live"


def _figure_json(fig) -> dict:
    """A built figure (a ``go.Figure`` or a dict figure) as plain JSON data."""
    import json

    import plotly.io as pio

    return json.loads(pio.to_json(fig, validate=False))


def test_figure_builders_take_their_words_in_a_language():
    """Charts are built in the session's language (``resnorm.i18n.Labels``): titles, axis titles, subplot
    titles, legend names (the run-level metrics too: train/loss → 训练损失) and event markers; config labels
    stay as they are.
    The English default is the table's English, so nothing reads a chart's English back."""
    from resnorm.studies import figures as F
    from resnorm.studies import figures_init as FI  # noqa: F401 - its builders take labels= too (tests/test_signal.py)
    from resnorm.science.store import Marker

    zh = I.Labels("zh")
    steps = np.arange(1, 11)
    series = {"train/loss": (steps, np.linspace(3, 1, 10)), "lr": (steps, np.full(10, 1e-3)),
              "blocks.0.resid_post.rms": (steps, np.ones(10)), "blocks.1.resid_post.rms": (steps, np.ones(10)),
              "grad/total_norm": (steps, np.ones(10))}
    markers = [Marker(3, "grad jump", "x")]
    fig = _figure_json(F.loss_figure(series, markers=markers, labels=zh))
    layout = fig["layout"]
    assert layout["title"]["text"] == I.translate("fig.Loss and accuracy (train, validation), learning rate", "zh")
    assert {layout["xaxis2"]["title"]["text"], layout["yaxis"]["title"]["text"]} == {"步", "损失"}
    assert [t["name"] for t in fig["data"]] == ["训练损失", "学习率", "梯度突增 @ 第 3 步"]  # the marker: a legend entry
    assert not layout.get("annotations")  # no text on the chart that could collide with titles
    depth = _figure_json(F.depth_profile(series, labels=zh))
    assert {t["name"] for t in depth["data"]} == {"第 1 步", "第 10 步"}
    grad = _figure_json(F.grad_figure(series, grad_clip=1.0, labels=zh))
    assert {"全局范数", "裁剪 = 1"} <= {t["name"] for t in grad["data"]}
    for build in (lambda **kw: F.loss_figure(series, markers=markers, **kw), lambda **kw: F.depth_profile(series, **kw),
                  lambda **kw: F.grad_figure(series, grad_clip=1.0, **kw), lambda **kw: F.rank_figure(series, **kw)):
        assert _figure_json(build()) == _figure_json(build(labels=I.EN))  # English is the default
        assert _figure_json(build()) != _figure_json(build(labels=zh))


# ---- no user-visible literal in the UI code -----------------------------------------------------------
DISPLAY = {"title", "header", "subheader", "caption", "markdown", "write", "text", "info", "warning", "error",
           "success", "toast", "exception", "button", "download_button", "link_button", "page_link",
           "form_submit_button", "selectbox", "multiselect", "radio", "checkbox", "toggle", "number_input",
           "text_input", "text_area", "slider", "select_slider", "segmented_control", "pills", "file_uploader",
           "date_input", "time_input", "color_picker", "expander", "popover", "tabs", "spinner", "status",
           "progress", "metric", "Page", "set_page_config", "dialog", "column_config", "NumberColumn",
           "TextColumn", "DatetimeColumn"}
TEXT_KEYWORDS = {"label", "help", "text", "placeholder", "title", "page_title", "body", "caption", "captions",
                 "value"}
MARKER = "# i18n: ids"


def _visible_words(text: str) -> str:
    """What a reader would read in a literal once placeholders, icons, code, markup and file names are gone."""
    text = re.sub(r":material/[a-z_]+:", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"[\w./-]*\.(py|csv|json|parquet|html|zip|txt)\b", " ", text)  # file names and paths
    return text


def _is_prose(text: str) -> bool:
    words = _visible_words(text)
    return bool(CJK.search(words) or re.search(r"[A-Za-z]{2,}", words))


def _literal_text(node) -> str | None:
    """The literal text of a str constant or f-string (its formatted parts left out), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def _marked_nodes(tree, lines) -> set[int]:
    """ids of nodes inside a statement whose first line carries the ``# i18n: ids`` marker."""
    out = set()
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.stmt) and MARKER in lines[stmt.lineno - 1]:
            out.update(id(n) for n in ast.walk(stmt))
    return out


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _read(root: str, path: str) -> str:
    with open(os.path.join(root, path), encoding="utf-8") as fh:
        return fh.read()


def _display_call_problems(path: str, root: str = ROOT) -> list[str]:
    src = _read(root, path)
    tree, lines = ast.parse(src), src.splitlines()
    marked = _marked_nodes(tree, lines)
    problems = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in DISPLAY) or id(node) in marked:
            continue
        args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        for arg in args:
            for sub in ([arg] if not isinstance(arg, ast.BinOp) else [arg.left, arg.right]):
                text = _literal_text(sub)
                if text is not None and _is_prose(text):
                    problems.append(f"{path}:{sub.lineno}: {node.func.attr}({text!r})")
    return problems


def _prose_literal_problems(path: str, root: str = ROOT) -> list[str]:
    """Any string literal with two or more words (outside docstrings, t() keys and marked id lists)."""
    src = _read(root, path)
    tree, lines = ast.parse(src), src.splitlines()
    skip = _marked_nodes(tree, lines) | _docstrings(tree)
    skip |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}  # judged whole
    problems = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        text = _literal_text(node)
        if text is None:
            continue
        words = _visible_words(text)
        if CJK.search(words) or re.search(r"[A-Za-z]{2,}[,.;:!?]?\s+[A-Za-z]{2,}", words):
            problems.append(f"{path}:{node.lineno}: {text[:70]!r}")
    return problems


@pytest.mark.parametrize("path", UI_FILES)
def test_no_hard_coded_text_in_display_calls(path):
    """Literal text passed to st.title/caption/markdown/button/selectbox/info/… must come from t()."""
    assert not _display_call_problems(path)


@pytest.mark.parametrize("path", UI_FILES)
def test_no_prose_literals_in_ui_code(path):
    """Texts kept in constants (captions, presets, messages) must live in the tables too."""
    assert not _prose_literal_problems(path)


def test_the_scan_catches_hard_coded_text(tmp_path):
    """The scans are real: they flag a title, an f-string caption, a help text and a prose constant, and
    accept keys, icons and marked id lists."""
    bad = ('import streamlit as st\nfrom ui.i18n import t\nHINT = "Press the button to start"\n'
           'VIEWS = ["Residual stream", "Loss"]  # i18n: ids\n'
           'st.title("Live training")\nst.caption(f"step {3} of the run")\n'
           'st.button(t("live.train"), help="Train this configuration")\nst.markdown(t("live.caption"))\n'
           'st.selectbox(t("live.layer"), [1, 2], key="x", format_func=str)\nst.caption(":material/timer:")\n'
           'st.download_button("metrics.csv", b"", "metrics.csv")\n')
    (tmp_path / "bad.py").write_text(bad, encoding="utf-8")
    calls = _display_call_problems("bad.py", str(tmp_path))
    prose = _prose_literal_problems("bad.py", str(tmp_path))
    assert len(calls) == 3, calls
    assert any("Live training" in c for c in calls) and any("of the run" in c for c in calls)
    assert any("Train this configuration" in c for c in calls)
    assert any("Press the button" in p for p in prose) and not any("Residual stream" in p for p in prose)


# ---- in the app ------------------------------------------------------------------------------------------
def _app(**params) -> AppTest:
    return app_test(**params)


def test_live_page_in_chinese_from_the_link():
    at = _app(lang="zh")
    assert not at.exception
    assert at.title[0].value == "实时训练"
    labels = [w.label for w in at.sidebar.number_input] + [w.label for w in at.sidebar.selectbox]
    assert "层数" in labels and "归一化位置" in labels
    assert at.button(key="btn_train").label == "训练"
    helps = [w.help for w in at.sidebar.selectbox if w.key == "cfg_norm_position"]
    assert helps and CJK.search(helps[0])
    assert any("残差连接与归一化" in c.value for c in at.sidebar.caption)
    assert at.session_state["lang"] == "zh"


def test_language_switch_keeps_the_settings_and_goes_into_the_url():
    at = _app()
    assert at.title[0].value == "Live training"
    at.number_input(key="cfg_layers").set_value(7).run()
    at.segmented_control(key="lang_switch").set_value("zh").run()
    assert not at.exception
    assert at.title[0].value == "实时训练"
    assert at.number_input(key="cfg_layers").value == 7  # widget state survives the new labels
    assert at.query_params["lang"] in ("zh", ["zh"])
    at.segmented_control(key="lang_switch").set_value("en").run()
    assert at.title[0].value == "Live training" and "lang" not in at.query_params


def test_lang_and_lesson_in_the_url_are_not_reported_as_ignored_config():
    at = _app(lang="zh", layers="3")
    assert not at.exception and at.session_state["cfg_layers"] == 3
    assert not at.info or not any("lang" in i.value for i in at.info)


# ---- messages from the package: codes with parameters, never English parsed back ----------------------
def _message_keys_in_package() -> set[str]:
    """Every literal key given to ``msg(...)`` in ``resnorm/``."""
    keys = set()
    for path in sorted((ROOT / "resnorm").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "msg"):
                keys.add(node.args[0].value)
    return keys


def test_every_package_message_key_is_in_both_tables():
    keys = _message_keys_in_package()
    assert len(keys) > 40 and {"start.run_busy", "reason.at_step", "problem.between"} <= keys
    for lang in ("en", "zh"):
        assert not sorted(k for k in keys if k not in I.TABLES[lang]), lang


def test_a_message_is_its_english_text_and_renders_in_chinese_by_its_code():
    import pickle

    from resnorm.science.config import ConfigError, RunConfig
    from resnorm.messages import Msg, msg, problems_message

    m = msg("reason.at_step", why=msg("reason.nonfinite_loss", value=float("nan")), step=7)
    assert m == "non-finite loss = nan at step 7" and isinstance(m, str) and m.key == "reason.at_step"
    assert I.render(m, "zh") == "损失不是有限值 = nan，在第 7 步"
    back = pickle.loads(pickle.dumps(m))  # a worker process's reason keeps its code
    assert isinstance(back, Msg) and back == m and I.render(back, "zh") == I.render(m, "zh")
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"norm_position": "deepnorm", "residual": "off", "layers": 0})
    assert str(e.value) == ("layers: must be >= 1 and <= 96 (got 0); residual: deepnorm defines its own skip path "
                            "(alpha*x); residual must be 'on', not 'off'")  # the CLI's English, unchanged
    zh = I.render(problems_message(e.value.problems), "zh")
    assert "layers：必须 >= 1 且 <= 96（收到 0）" in zh and "自带跳跃路径" in zh
    assert I.render("plain text", "zh") == "plain text" and I.render(None, "zh") == ""
    broken = Msg("English kept", "reason.at_step", {"why": "x"})  # a parameter missing: the English, no error
    assert I.render(broken, "zh") == "English kept"


def test_the_ui_has_no_reverse_map_from_english():
    """The UI renders package messages by their key (``ui.i18n.say``); it never looks English up."""
    src = _read(ROOT, os.path.join("ui", "i18n.py"))
    for gone in ("_FIXED", "package_message", "fig_text", "localize", "_templates", "re.compile", "import re"):
        assert gone not in src, gone
    for path in UI_FILES:
        assert not {"package_message", "localize", "fig_text"} & set(re.findall(r"\w+", _read(ROOT, path))), path


def test_a_config_error_in_the_sidebar_is_chinese():
    at = _app(lang="zh")
    at.selectbox(key="cfg_norm_position").set_value("deepnorm")
    at.selectbox(key="cfg_residual").set_value("off")
    at.run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert any("自带跳跃路径" in e for e in errors) and not any("defines its own" in e for e in errors), errors
    assert at.button(key="btn_train").disabled
    assert any("自带跳跃路径" in w.value for w in at.warning)


def test_a_diverged_runs_reason_is_chinese():
    import time

    at = _app(lang="zh", lr="1000", optimizer="sgd", grad_clip="0", init="torch", norm_position="none",
              norm="none", layers="4", steps="60", probe_every="0", eval_every="0")
    at.button(key="btn_train").click().run()
    deadline = time.time() + 90
    while time.time() < deadline and not at.error:
        time.sleep(0.3)
        at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("发散" in e and "不是有限值" in e for e in errors), errors
    assert not any("non-finite" in e for e in errors), errors
    import json

    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert I.translate("fig.Loss and accuracy (train, validation), learning rate", "zh") in titles, titles


def test_a_saved_runs_reason_keeps_its_code_and_a_forged_code_is_ignored(tmp_path):
    import json

    from resnorm.serving import runs as R
    from resnorm.messages import Msg, msg, to_data

    reason = msg("reason.at_step", why=msg("reason.nonfinite_grad", value=float("inf")), step=3)
    summary = {"status": "diverged", "steps": 3, "final_loss": None, "reason": reason, "diverged_step": 3,
               "reason_code": to_data(reason)}
    summary = json.loads(json.dumps(summary))
    assert summary["reason"] == "non-finite gradient norm = inf at step 3"
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    back = R._read_summary(tmp_path)["reason"]
    assert isinstance(back, Msg) and I.render(back, "zh") == "梯度范数不是有限值 = inf，在第 3 步"
    for forged in ({"key": "live.train"}, {"key": "reason.at_step", "params": {"why": 1}}, "x",
                   {"key": "reason.exploded", "params": {"loss": "a", "factor": 1, "first": 2}}):
        (tmp_path / "summary.json").write_text(json.dumps({**summary, "reason_code": forged}))
        back = R._read_summary(tmp_path)["reason"]
        assert back == summary["reason"] and I.render(back, "zh") == summary["reason"], forged
