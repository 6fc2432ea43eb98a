"""Chinese mode shows Chinese (issue 13, item 9): every page rendered with ``?lang=zh`` (Streamlit AppTest)
and every chart built with Chinese labels, its visible text collected, and no English word left in it.

What counts as visible: titles, headings, Markdown, captions, notices, widget labels, help texts,
options and placeholders, table cells, expander and tab labels, the block diagram's node labels (the
Graphviz source), and of a figure its title, axis titles, subplot titles, legend names, tick labels given
as text and annotations. Not checked: code blocks and inline code (commands, metric ids, file names,
shown as they are typed), LaTeX formulas, icons (``:material/...:``), links' targets.

An English word is a run of two or more Latin letters that is not on the allow-list below: proper names
(norms, methods, models, libraries, paper authors), units and symbols used as they are in Chinese
technical writing (d_model, lr, x, F), file formats. A word found in Chinese mode that is not there
fails the test with the page and the text around it, so the fix (a translation, or the allow-list
when it is a name) is obvious.
"""
from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest

from helpers import app_test

# names and symbols that are written in Latin letters in Chinese text too
ALLOWED = set("""
Post-LN Pre-LN Peri-LN Sandwich-LN LN DeepNorm DeepNet LayerNorm LayerNorm-Scaling RMSNorm RMS DyT Dynamic Tanh
tanh BatchNorm BN ReZero Xavier GPT GPT-2 BERT Transformer Transformers PyTorch Python Adam AdamW SGD Noam GELU
English Zip ZIP NaN nan inf logits Frobenius Attn FFN ICML ICLR NeurIPS CVPR Sandwich ReLU CPU GPU CUDA bf16 bfloat16 float32 float64 CSV JSON Parquet HTML PNG zip URL resnorm Streamlit CogView MLP
softmax dropout warmup LR lr MSE max min log ln exp sqrt arg argmax nats RMSNorm's
Vaswani Xiong Wang Sun Ba Zhang Sennrich Zhu Ioffe Szegedy He Bachlechner Glorot Bengio Radford Devlin Liu Dong
Ding Kim Srivastava Nguyen Salazar Shleifer Cordonnier Loukas Li Takase Kiyono Kobayashi Noci Brock Touvron Xie
Huang Jiang Mao Chen Yang Shi Qi Ma Zhou Press Dauphin Lemma Theorem et al
d_model d_ff seq_len vocab_size mask_prob norm_eps grad_clip probe_every attention_every eval_every max_points
RESNORM_RUNS_DIR RESNORM
Mix-LN nGPT Admin T-Fixup CompleteP depth-μP mHC ResFormer Derf QK QK-norm z-loss PaLM Gemma
Loshchilov Dey DeepSeek Henry Wortsman Chowdhery Qiu Bordelon Dehghani Bello
logit erf sigmoid logsumexp mean median depth
""".split())  # the second block: issue 18's methods, their authors and the functions in their formulas
MATH = re.compile(r"\$[^$]*\$")
STYLE = re.compile(r"<style>.*?</style>", re.S)  # the page's CSS, not text
HTML = re.compile(r"<[^>]*>")
TITLE = re.compile(r"“[^”]*”")  # a paper's title, quoted as published
CODE = re.compile(r"`[^`]*`")
ICON = re.compile(r":material/[a-z_]+:")
LINK = re.compile(r"\]\([^)]*\)|https?://\S+")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'’\-]*[A-Za-z0-9]|[A-Za-z]")


GLOSS = re.compile(r"(?<=[\u4e00-\u9fff])（[A-Za-z][A-Za-z \-]*）")  # 块（block）: a term's English gloss
DOTTED = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+\b")  # metric ids: blocks.1.attn, resid_post.rms


def english_words(text: str) -> list[str]:
    """The Latin-letter words of ``text`` that are not names or symbols (``ALLOWED``): code spans,
    formulas, icons, links' targets, dotted metric ids (``blocks.1.attn``) and a Chinese term's English
    gloss in brackets (块（block）) taken out first; single letters (x, F, L, N) are symbols."""
    text = str(text).replace("\\", "")  # Markdown escapes (my\-runs) are not what a reader sees
    for pattern in (STYLE, MATH, CODE, HTML, TITLE, ICON, LINK, DOTTED, GLOSS):
        text = pattern.sub(" ", text)
    out = []
    for w in WORD.findall(text):
        parts = [w] + w.split("-")
        if len(w) < 2 or any(p in ALLOWED for p in parts) and all(p in ALLOWED or len(p) < 2 or p.isdigit()
                                                                   for p in w.split("-")):
            continue
        if re.fullmatch(r"[A-Za-z]\d*|[A-Z]\d*[a-z]?|\d.*|[a-z]_[a-z0-9]+|[A-Za-z]+_\w+", w):  # symbols: L2, W_q
            continue
        if w in ALLOWED or w.rstrip("s") in ALLOWED:
            continue
        out.append(w)
    return out


# ---- pages ------------------------------------------------------------------------------------------------
_STRING_FIELDS = ("label", "body", "help", "placeholder", "title")


def visible_text(at) -> list[str]:
    """Every piece of text a person can read on the page (see the module docstring)."""
    out: list[str] = []

    def proto_text(proto) -> None:
        for name in _STRING_FIELDS:
            if hasattr(proto, name) and proto.DESCRIPTOR.fields_by_name.get(name) is not None:
                value = getattr(proto, name)
                if isinstance(value, str) and value:
                    out.append(value)
        if "options" in proto.DESCRIPTOR.fields_by_name:
            out.extend(o if isinstance(o, str) else getattr(o, "content", "") for o in proto.options)

    def walk(node) -> None:
        kind = getattr(node, "type", None)
        proto = getattr(node, "proto", None)
        if kind in ("latex", "code", "json", "plotly_chart"):  # formulas, code and data as typed
            pass
        elif kind == "graphviz_chart":
            out.extend(re.findall(r'label="([^"]*)"', proto.spec))
        elif kind in ("arrow_data_frame", "dataframe", "table"):
            df = node.value
            config = json.loads(getattr(proto, "columns", "") or "{}")  # column_config: the headers a reader sees
            out.extend(str((config.get(str(c)) or {}).get("label") or c) for c in df.columns)
            out.extend(str(v) for v in df.astype(str).to_numpy().ravel())
        elif proto is not None and hasattr(proto, "DESCRIPTOR"):
            proto_text(proto)
            for sub in ("expandable", "tab", "popover"):  # a block's own label
                if sub in proto.DESCRIPTOR.fields_by_name and proto.HasField(sub):
                    proto_text(getattr(proto, sub))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def untranslated(texts: list[str]) -> list[tuple[str, str]]:
    return [(w, t[:160]) for t in texts for w in english_words(t)]


PAGES = {  # name → (page, query): every page through the app's router, as a link opens it
    "live": (None, {}),
    "compare": ("app_pages/compare.py", {}),
    "init": ("app_pages/init.py", {}),
    "runs": ("app_pages/runs.py", {}),
    "lessons": ("app_pages/lessons.py", {}),
    **{f"lesson {n}": (None, {"lesson": str(n)}) for n in range(1, 7)},
}


@pytest.fixture
def saved_run(trained_run, tmp_path, monkeypatch):
    """A runs folder with one finished run and one without a final loss, opened on the Runs page."""
    from resnorm.serving import runs as R

    root = tmp_path / "runs"
    name = R.write_run(trained_run.cfg, trained_run.store.frame(), trained_run.summary.to_dict(), root=root,
                       name="my-runs-a", source="live").name
    R.write_run(trained_run.cfg, trained_run.store.frame().iloc[:0],
                {**trained_run.summary.to_dict(), "status": "failed", "final_loss": None}, root=root,
                name="my-runs-b", source="compare")
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(root))
    return name


def _render(name: str):
    page, query = PAGES[name]
    at = app_test(timeout=120, run=False, lang="zh", **query)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["lang"] == "zh"
    return at


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_in_chinese_has_no_english_words(name, saved_run):
    at = _render(name)
    if name == "runs":  # the table, one run's page, then two overlaid
        at.multiselect(key="runs_selected").set_value([saved_run]).run()
        texts = visible_text(at)
        at.multiselect(key="runs_selected").set_value(sorted(at.multiselect(key="runs_selected").options)[:2]).run()
        texts += visible_text(at)
    else:
        texts = visible_text(at)
    assert len(texts) > 5
    data = ("my-runs-a", "my-runs-b", "my\\-runs\\-a", "my\\-runs\\-b")  # run names: the folder's data, shown as they are
    texts = [functools.reduce(lambda text, d: text.replace(d, " "), data, t) for t in texts]
    bad = untranslated(texts)
    assert not bad, "\n".join(f"{w!r} in {t!r}" for w, t in bad)


def test_the_detector_finds_english_and_spares_names():
    assert english_words("训练损失 train/loss") == ["train", "loss"]
    assert english_words("Post-LN 与 Pre-LN（Xiong 等，2020）") == []
    assert english_words("运行 `python -m resnorm train` 并查看 $x + F(x)$") == []
    assert english_words("状态：None") == ["None"]
    assert english_words("d_model = 64，L2，W_q") == []


# ---- figures ----------------------------------------------------------------------------------------------
def _figure_texts(fig) -> list[str]:
    import json

    import plotly.io as pio

    d = json.loads(pio.to_json(fig, validate=False))
    lay = d["layout"]
    out = [(lay.get("title") or {}).get("text", "")]
    out += [a.get("text", "") for a in lay.get("annotations", [])]
    for k, v in lay.items():
        if re.match(r"[xy]axis\d*$", k):
            out.append((v.get("title") or {}).get("text", ""))
            out += [str(t) for t in v.get("ticktext", [])]
    out += [t.get("name", "") for t in d["data"] if t.get("showlegend", True) is not False]
    return [t for t in out if t]


def _figures():
    """Every builder of resnorm.studies.figures and figures_init with Chinese labels, on the synthetic
    data of tests/figure_cases.py (markers of every kind included) and on init-stats frames."""
    import figure_cases as C
    from resnorm.i18n import Labels
    from resnorm.studies import figures as F
    from resnorm.studies import figures_init as FI

    zh = Labels("zh")
    s, s2 = C.series(), C.series(mlp=False)
    marks = [C.Marker(12, "grad jump"), C.Marker(30, "diverged"), C.Marker(20, "stalled"),
             C.Marker(25, "entropy collapse")]
    snap = C.snapshot()
    runs = [("A", s, marks[:1]), ("B", s2, [])]
    yield "loss", F.loss_figure(s, markers=marks, labels=zh)
    yield "loss, empty", F.loss_figure({}, labels=zh)
    yield "resid", F.resid_heatmap(s, markers=marks, labels=zh)
    yield "depth", F.depth_profile(s, ("resid_post.rms", "attn.grad_norm"), labels=zh)
    yield "grad", F.grad_figure(s, grad_clip=1.0, markers=marks, labels=zh)
    yield "ratio", F.ratio_figure(s, markers=marks, labels=zh)
    yield "attention", F.attention_figure(snap, "blocks.1.attn", labels=zh)
    yield "attention, none", F.attention_figure(None, "blocks.1.attn", labels=zh)
    yield "entropy", F.entropy_figure(s, "blocks.1.attn", markers=marks, labels=zh)
    yield "rank", F.rank_figure(s, markers=marks, labels=zh)
    yield "overlay", F.overlay_figure(runs, "train/loss", title="A B", labels=zh)
    yield "profiles", F.profiles_side_by_side(runs, "attn.grad_norm", title="A B", labels=zh)
    yield "difference", F.difference_figure("A", s, "B", s2, labels=zh)
    yield "runs overlay", F.runs_overlay_figure({"A": s, "B": s2}, markers={"A": marks}, labels=zh)
    yield "runs overlay, one", F.runs_overlay_figure({"A": s}, "grad/total_norm", dashed=None, labels=zh)
    for view in F.RUN_VIEWS:
        for c in view.charts:
            yield f"view {view.id}/{c.key}", c.build(s, marks, 1.0, zh, "u", False)
    frames = _init_frames()
    title = zh("init.chart.resid")  # the page titles each profile in its language
    yield "init profile", FI.profile_figure(frames["profiles"], "resid_ms", title=title, labels=zh)
    yield "init depth", FI.depth_figure(frames["summaries"], labels=zh)
    yield "init theorem 1", FI.theorem1_figure(frames["theorem1"], labels=zh)
    yield "init profile, empty", FI.profile_figure({}, "resid_ms", title=title, labels=zh)


def _init_frames() -> dict:
    """Tiny init-stats frames (2 configs, 2 seeds, depths 2 and 3) for the At-initialisation figures."""
    from helpers import TINY, configs
    from resnorm.studies import signal

    build = configs(TINY)
    post, pre = build(norm_position="post"), build(norm_position="pre")
    profiles = {"1 · Post-LN": signal.depth_profile(post, seeds=range(2)),
                "2 · Pre-LN": signal.depth_profile(pre, seeds=range(2))}
    summaries = {k: signal.depth_summary(signal.depth_sweep(c, depths=(2, 3), seeds=range(2)))
                 for k, c in (("1 · Post-LN", post), ("2 · Pre-LN", pre))}
    return {"profiles": profiles, "summaries": summaries,
            "theorem1": signal.theorem1_sweep(pre, depths=(2, 3), seeds=range(2))}


def test_every_figure_in_chinese_has_no_english_words():
    found = []
    n = 0
    for name, fig in _figures():
        n += 1
        found += [(name, w, t) for w, t in untranslated(_figure_texts(fig))]
    assert n > 10
    assert not found, "\n".join(f"{name}: {w!r} in {t!r}" for name, w, t in found)
