"""The Live dashboard's four panels (``resnorm.studies.figures_dashboard``) and the projector fonts
(``figures.restyle`` / ``_layout(fonts=)``): each panel plots the recorded series unchanged, says
"starting…" with no axes before its first point, and the ghost curves and their labels say what
differed from the current run."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from figure_cases import Snapshot, series as synthetic
from resnorm.i18n import Labels, translate
from resnorm.science.config import RunConfig
from resnorm.studies import figures as F
from resnorm.studies import figures_dashboard as D

ZH = Labels("zh")


def _arr(v) -> np.ndarray:
    return np.asarray(v, dtype=float)


def _valid(fig) -> go.Figure:
    """Plotly's own validation accepts the dict as it is (what the browser gets)."""
    g = go.Figure(fig)
    json.loads(g.to_json())
    return g


@pytest.fixture(scope="module")
def run(trained_run):
    return trained_run.store.all_series(), trained_run.store.attention()[-1], trained_run


# ---- loss -------------------------------------------------------------------------------------------------
def test_loss_panel_plots_the_recorded_train_and_validation_loss_on_decades(run):
    s, _, _ = run
    fig = _valid(D.loss_panel(s))
    by_name = {tr.name: tr for tr in fig.data}
    for name, metric in (("train", "train/loss"), ("validation", "val/loss")):
        x, y = F.thin(*s[metric])
        np.testing.assert_array_equal(_arr(by_name[name].x), x)
        np.testing.assert_allclose(_arr(by_name[name].y), y, equal_nan=True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.tickmode == "array"
    ticks = list(fig.layout.yaxis.tickvals)
    assert ticks == D.log_ticks(*(tr.y for tr in fig.data)) and len(ticks) >= 2  # labelled, at people's numbers
    assert [float(x) for x in fig.layout.yaxis.ticktext] == pytest.approx(ticks)  # 0.5, 1e-4: never "100µ"
    assert fig.layout.height == D.HEIGHT


def test_ghosts_are_faint_labelled_newest_first_and_at_most_three(run):
    s, _, _ = run
    ghosts = [(f"lr {k}", {"train/loss": (np.arange(5), np.full(5, float(k + 1)))}) for k in range(5)]
    fig = _valid(D.loss_panel(s, ghosts))
    names = [tr.name for tr in fig.data]
    assert names[:3] == ["ghost · lr 0", "ghost · lr 1", "ghost · lr 2"] and len(names) == 3 + 2
    for k, tr in enumerate(fig.data[:3]):
        assert tr.opacity < 1 and list(_arr(tr.y)) == [k + 1.0] * 5  # the ghost's own values
    assert all(tr.opacity is None for tr in fig.data[3:])  # this run is drawn solid
    zh = _valid(D.loss_panel(s, ghosts[:1], labels=ZH))
    assert zh.data[0].name == translate("dash.ghost", "zh", what="lr 0") and zh.data[0].name.startswith("残影")


def test_ghosts_alone_wait_for_this_run():
    ghosts = [("Post-LN", {"train/loss": (np.arange(5), np.ones(5))})]
    fig = D.loss_panel({}, ghosts)
    assert fig["data"] == []  # nothing is plotted before this run's first point
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["starting…"]
    assert fig["layout"]["xaxis"]["visible"] is False and fig["layout"]["yaxis"]["visible"] is False


# ---- residual stream, gradients ---------------------------------------------------------------------------
def test_resid_panel_is_the_log_rms_per_layer_and_step(run):
    s, _, _ = run
    fig = _valid(D.resid_panel(s))
    hm = fig.data[0]
    prefixes = F.block_prefixes(s)
    assert list(hm.y) == [F.short(p) for p in prefixes]
    steps = s[f"{prefixes[0]}.resid_post.rms"][0]
    np.testing.assert_array_equal(_arr(hm.x), steps)  # 30 steps / 5: fewer than the thinning keeps
    for i, p in enumerate(prefixes):
        np.testing.assert_allclose(_arr(hm.z[i]), np.log10(s[f"{p}.resid_post.rms"][1]))
        np.testing.assert_allclose(_arr(hm.customdata[i]), s[f"{p}.resid_post.rms"][1])
    ticks = list(hm.colorbar.tickvals)
    assert len(ticks) >= 2 and all(np.nanmin(hm.z) - 1e-9 <= t <= np.nanmax(hm.z) + 1e-9 for t in ticks)
    assert [float(10 ** t) for t in ticks] == pytest.approx([float(x) for x in hm.colorbar.ticktext], rel=0.05)


def test_log_ticks_are_decades_or_one_two_five_or_three_spread_values():
    assert D.log_ticks(np.array([[0.003, 2.0], [50.0, np.nan]])) == [0.01, 0.1, 1.0, 10.0]
    assert D.log_ticks(np.array([1e-9, 1e3]), most=6) == [10.0 ** k for k in range(-9, 4, 3)]  # every 3rd decade
    assert D.log_ticks(np.array([0.15, 2.3])) == pytest.approx([0.2, 0.5, 1.0, 2.0])
    assert D.log_ticks(np.array([1.6, 2.3])) == [1.6, 1.9, 2.3]  # only one 1-2-5 value inside: spread
    assert D.log_ticks(np.array([1.62, 1.9])) == [1.62, 1.8, 1.9]  # ends inside the data
    assert D.log_ticks(np.array([np.nan, -1.0, 0.0])) == [] and D.log_ticks() == []
    assert [D._plain(x) for x in (0.5, 1.0, 12.0, 3e-4, 2e5)] == ["0.5", "1", "12", "3e-4", "2e5"]


def test_grad_panel_has_one_plot_per_sublayer_kind_with_every_layers_series(run):
    s, _, _ = run
    fig = _valid(D.grad_panel(s))
    prefixes = F.block_prefixes(s)
    plotted = {(tr.xaxis, tr.name): tr for tr in fig.data}
    for axis, sub in (("x", "attn"), ("x2", "mlp")):
        for p in prefixes:
            x, y = F.thin(*s[f"{p}.{sub}.grad_norm"])
            tr = plotted[(axis, F.short(p))]
            np.testing.assert_array_equal(_arr(tr.x), x)
            np.testing.assert_allclose(_arr(tr.y), y, equal_nan=True)
    assert len(fig.data) == 2 * len(prefixes)
    assert sum(bool(tr.showlegend) for tr in fig.data) == len(prefixes)  # one legend entry per layer
    assert [fig.layout.xaxis.title.text, fig.layout.xaxis2.title.text] == ["<b>attention</b>", "<b>MLP</b>"]
    assert not fig.layout.annotations  # no subplot title to collide with the chart's
    zh = D.grad_panel(s, labels=ZH)["layout"]
    assert zh["xaxis"]["title"]["text"] == f"<b>{translate('branch.attention', 'zh')}</b>"
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.matches == "y"  # one shared axis


def test_grad_panel_without_an_mlp_has_one_plot():
    fig = _valid(D.grad_panel(synthetic(layers=2, mlp=False)))
    assert {tr.xaxis for tr in fig.data} == {"x"} and len(fig.data) == 2


# ---- attention ----------------------------------------------------------------------------------------------
def test_focused_head_has_the_lowest_mean_row_entropy():
    uniform = np.full((4, 4), 0.25)
    sharp = np.eye(4)
    half = np.tile([0.5, 0.5, 0, 0], (4, 1))
    assert D.focused_head(np.stack([uniform, half, sharp])) == 2
    assert D.focused_head(np.stack([half, uniform])) == 0
    assert D.focused_head(np.stack([sharp, sharp])) == 0  # a tie: the first


def test_attention_panel_draws_the_deepest_layers_sharpest_head(run):
    _, snap, _ = run
    fig = _valid(D.attention_panel(snap))
    layer = list(snap.maps)[-1]
    head = D.focused_head(snap.maps[layer])
    np.testing.assert_allclose(_arr(fig.data[0].z), np.nan_to_num(snap.maps[layer][head]))
    assert f"head {head}" in fig.layout.title.text and f"step {snap.step}" in fig.layout.title.text


def test_attention_ticks_are_thinned_and_show_token_glyphs():
    tokens = [chr(ord("a") + i % 26) for i in range(30)]
    tokens[2] = " "
    snap = Snapshot(7, {"blocks.0.attn": np.full((1, 30, 30), 1 / 30)}, {"blocks.0.attn": (tokens, tokens)})
    fig = D.attention_panel(snap, max_ticks=10)
    x = fig["layout"]["xaxis"]
    assert x["tickvals"] == list(range(0, 30, 3)) and len(x["ticktext"]) == 10
    assert x["ticktext"][0] == "a" and x["ticktext"][1] == "d"
    assert D.attention_panel(Snapshot(7, {"blocks.0.attn": np.full((1, 3, 3), 1 / 3)},
                                      {"blocks.0.attn": (["x", " ", "\n"],) * 2}))["layout"]["xaxis"]["ticktext"] \
        == ["x", "␠", "␤"]


def test_every_panel_says_starting_before_its_first_point():
    figs = D.dashboard({}, None)
    assert list(figs) == ["loss", "resid", "grad", "attn"]
    for key, fig in figs.items():
        assert fig["data"] == [], key
        assert [a["text"] for a in fig["layout"]["annotations"]] == ["starting…"], key
        _valid(fig)
    zh = D.dashboard({}, None, labels=ZH)
    assert all(f["layout"]["annotations"][0]["text"] == translate("dash.starting", "zh") for f in zh.values())


# ---- ghost labels -----------------------------------------------------------------------------------------
def _flat(**kw) -> dict:
    return RunConfig.from_flat(kw).to_flat() if kw else RunConfig().to_flat()


def test_ghost_label_names_what_differed_as_people_say_it():
    now = _flat()
    assert D.ghost_label(_flat(lr=0.01), now) == "lr 1e-2"
    assert D.ghost_label(_flat(norm_position="post"), now) == "Post-LN"
    assert D.ghost_label(_flat(norm="rmsnorm", layers=8), now) == "layers 8, RMSNorm"
    assert D.ghost_label(_flat(norm_position="post", lr=0.01, layers=8), now) == "layers 8, Post-LN, +1"
    assert D.ghost_label(now, now) == "same settings"
    assert D.ghost_label(_flat(norm_position="none"), now, ZH) == translate("name.position.none", "zh")
    assert D.ghost_label(now, now, ZH) == translate("dash.same", "zh")


# ---- projector fonts --------------------------------------------------------------------------------------
def _sizes(fig: dict) -> dict:
    lay = fig["layout"]
    axes = [v for k, v in lay.items() if k[:5] in ("xaxis", "yaxis")]
    return {"tick": {a.get("tickfont", {}).get("size") for a in axes},
            "legend": lay["legend"]["font"]["size"], "title": lay["title"]["font"]["size"],
            "notes": {a["font"]["size"] for a in lay.get("annotations", ())}}


@pytest.mark.parametrize("build", [
    lambda s, snap: F.loss_figure(s), lambda s, snap: F.grad_figure(s), lambda s, snap: F.ratio_figure(s),
    lambda s, snap: F.resid_heatmap(s), lambda s, snap: F.attention_figure(snap, "blocks.0.attn"),
    lambda s, snap: F.overlay_figure([("A", s, [])], "train/loss", title="t"),
    lambda s, snap: F.profiles_side_by_side([("A", s, []), ("B", s, [])], "grad_norm", title="t"),
    lambda s, snap: D.grad_panel(s), lambda s, snap: D.attention_panel(snap)])
def test_projector_fonts_reach_every_tick_legend_title_and_note(run, build):
    s, snap, _ = run
    fig = F.restyle(build(s, snap), F.PROJECTOR)
    got = _sizes(fig)
    assert got["tick"] == {F.PROJECTOR.tick} and F.PROJECTOR.tick >= 14
    assert got["legend"] == F.PROJECTOR.legend >= 14
    assert got["title"] == F.PROJECTOR.title > F.NORMAL.title
    assert all(n >= F.PROJECTOR.note for n in got["notes"])
    assert fig["layout"]["margin"]["t"] > 40  # room for the larger title
    for tr in fig["data"]:
        if tr.get("type") == "heatmap":
            assert tr["colorbar"]["tickfont"]["size"] == F.PROJECTOR.tick
    _valid(fig)


def test_layout_takes_the_fonts_and_normal_changes_nothing(run):
    s, _, _ = run
    assert F.restyle(F.Fig(), F.NORMAL)["layout"]["legend"]["font"]["size"] == F.NORMAL.legend
    plain = F.loss_figure(s)
    assert plain["layout"]["title"]["font"]["size"] == 14 and plain["layout"]["legend"]["font"]["size"] == 10
    big = D.loss_panel(s, fonts=F.PROJECTOR)
    assert _sizes(big)["tick"] == {F.PROJECTOR.tick} and _sizes(big)["legend"] == F.PROJECTOR.legend


def test_a_run_of_one_or_two_steps_is_labelled_in_whole_steps_and_drawn():
    one = {"train/loss": (np.array([0]), np.array([2.3])), "blocks.0.resid_post.rms": (np.array([0]), np.array([1.0])),
           "blocks.0.attn.grad_norm": (np.array([0]), np.array([0.5])),
           "blocks.0.mlp.grad_norm": (np.array([0]), np.array([0.7]))}
    for fig in (D.loss_panel(one), D.resid_panel(one), D.grad_panel(one)):
        _valid(fig)
        axes = [v for k, v in fig["layout"].items() if k.startswith("xaxis")]
        assert all(list(a["tickvals"]) == [0.0] and a["ticktext"] == ["0"] for a in axes), axes
    assert all(tr["mode"] == "markers" for tr in D.grad_panel(one)["data"])  # one point: a dot, not an invisible line
