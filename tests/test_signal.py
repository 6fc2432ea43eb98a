"""Signal propagation at initialisation (resnorm.studies.signal), its figures (resnorm.studies.figures_init) and the
"At initialisation" page: the published effects, the seed band, the cache, and the page's logic."""
import base64
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from resnorm.studies import figures_init as FI
from resnorm.studies import signal as S
from resnorm.studies.signal import init_metrics
from resnorm.science.config import ConfigError
from helpers import app_test, configs

SEEDS = (0, 1, 2)


cfg = configs(layers=12, batch_size=8, init="xavier", norm="layernorm", residual="on")


def per_seed(df: pd.DataFrame, metric: str, stack: str = "blocks") -> np.ndarray:
    """(seeds, layers) array of one metric."""
    part = df[(df["metric"] == metric) & (df["stack"] == stack)]
    return part.pivot(index="seed", columns="layer", values="value").to_numpy()


@pytest.fixture(scope="module")
def pre12():
    return S.depth_profile(cfg(norm_position="pre"), SEEDS)


@pytest.fixture(scope="module")
def post12():
    return S.depth_profile(cfg(norm_position="post"), SEEDS)


# ---- the frame ------------------------------------------------------------------------------------
def test_profile_frame_is_tidy_and_matches_init_metrics(pre12):
    assert list(pre12.columns) == S.COLUMNS
    assert set(pre12["stack"]) == {"blocks"}
    assert sorted(pre12["layer"].unique()) == list(range(12))
    assert {"resid_ms", "grad_norm", "attn_out.ratio", "mlp_out.ratio", "rank_residual"} <= set(pre12["metric"])
    counts = pre12.groupby("metric").size()
    assert (counts == 12 * len(SEEDS)).all(), counts
    raw = init_metrics(cfg(norm_position="pre"), 1)
    row = lambda m, i: pre12.query("seed == 1 and layer == @i and metric == @m")["value"].item()
    assert row("resid_ms", 5) == pytest.approx(raw["blocks.5.resid_post.rms"] ** 2, rel=1e-12)
    assert row("grad_norm", 11) == pytest.approx(raw["blocks.11.grad_norm"], rel=1e-12)
    assert row("mlp_out.ratio", 3) == pytest.approx(raw["blocks.3.mlp_out.ratio"], rel=1e-12)


# ---- the maths: Xiong et al. 2020 and Dong et al. 2021 --------------------------------------------------
def test_pre_ln_mean_square_grows_with_layer_index(pre12):
    ms = per_seed(pre12, "resid_ms")
    assert (np.diff(ms, axis=1) > 0).all(), ms  # every seed, every layer
    assert (ms[:, -1] / ms[:, 0] > 2).all(), ms[:, [0, -1]]


def test_post_ln_mean_square_is_one_at_every_layer(post12):
    ms = per_seed(post12, "resid_ms")
    assert np.abs(ms - 1).max() < 1e-3  # LayerNorm output, gamma = 1, beta = 0 at init


def test_pre_ln_mean_square_grows_about_linearly_with_depth():
    """Xiong et al. 2020, Lemma 2: E‖x_L‖² grows linearly in L for Pre-LN."""
    sweep = S.depth_sweep(cfg(norm_position="pre"), [4, 8, 16], SEEDS)
    summ = S.depth_summary(sweep)
    last = summ[summ["metric"] == "last.resid_ms"].groupby("depth")["value"].mean()
    assert list(last.index) == [4, 8, 16]
    assert last.is_monotonic_increasing
    assert 1.5 < last[16] / last[8] < 2.5 and 1.4 < last[8] / last[4] < 2.6, last
    slope, intercept = np.polyfit(last.index, last.to_numpy(), 1)
    fit = slope * last.index + intercept
    r2 = 1 - ((last - fit) ** 2).sum() / ((last - last.mean()) ** 2).sum()
    assert slope > 0 and r2 > 0.95, (slope, r2)


def test_gradient_profiles_differ_in_xiongs_direction(pre12, post12):
    """Post-LN's gradient is relatively larger near the output than Pre-LN's (Xiong et al. 2020, Fig. 3)."""
    ratio = {k: np.median(g[:, -1] / g[:, 0]) for k, g in
             (("pre", per_seed(pre12, "grad_norm")), ("post", per_seed(post12, "grad_norm")))}
    assert ratio["post"] > ratio["pre"], ratio
    assert ratio["pre"] < 1, ratio  # Pre-LN: the last block gets less than the first


def test_last_block_gradient_shrinks_with_depth_for_pre_ln_only():
    """Xiong et al. 2020, Theorem 1: O(√(ln d / L)) for Pre-LN, independent of L for Post-LN."""
    change = {}
    for pos in ("pre", "post"):
        summ = S.depth_summary(S.depth_sweep(cfg(norm_position=pos), [4, 16], SEEDS))
        last = summ[summ["metric"] == "last.grad_norm"].groupby("depth")["value"].median()
        change[pos] = last[16] / last[4]
    assert change["pre"] < 0.85, change
    assert change["post"] > change["pre"], change


def test_without_skip_connections_tokens_collapse():
    """Dong et al. 2021: attention without skips drives the rank residual to 0 with depth."""
    off = per_seed(S.depth_profile(cfg(norm_position="pre", residual="off"), SEEDS), "rank_residual")
    on = per_seed(S.depth_profile(cfg(norm_position="pre"), SEEDS), "rank_residual")
    assert (off[:, -1] < 0.05).all(), off[:, -1]
    assert (on[:, -1] > 0.3).all(), on[:, -1]


# ---- seeds, cache, sweep ------------------------------------------------------------------------------
def test_seeds_differ_and_a_seed_reproduces_exactly(pre12):
    g = per_seed(pre12, "grad_norm")
    assert not np.allclose(g[0], g[1]) and not np.allclose(g[1], g[2])
    S.cache_clear()
    again = S.depth_profile(cfg(norm_position="pre"), SEEDS)
    pd.testing.assert_frame_equal(again, pre12, check_exact=True)


def test_cache_reuses_units_and_frames(monkeypatch):
    calls = []
    real = S.init_metrics

    def counting(c, seed, task=None):
        calls.append((c.model.layers, seed))
        return real(c, seed, task)

    monkeypatch.setattr(S, "init_metrics", counting)
    S.cache_clear()
    c = cfg(norm_position="post", layers=3)
    first = S.depth_profile(c, (0, 1))
    assert len(calls) == 2
    first.loc[0, "value"] = -1.0  # the caller's copy: the cache is unaffected
    second = S.depth_profile(c, (0, 1))
    assert len(calls) == 2 and S.cache_info()["frame_hits"] == 1
    assert second.loc[0, "value"] != -1.0
    pd.testing.assert_frame_equal(second, S.depth_profile(c.replace(lr=0.5, steps=7), (0, 1)))  # lr: same init
    assert len(calls) == 2
    S.depth_profile(c, (0, 1, 2))  # one more seed: one more pass
    assert len(calls) == 3
    S.depth_profile(c.replace(batch_size=4), (0,))  # the batch changes the measurement
    assert len(calls) == 4
    sweep = S.depth_sweep(c, [2, 3], (0, 1))  # depth 3 is the cached profile
    assert calls[4:] == [(2, 0), (2, 1)]
    assert list(sweep.columns) == S.SWEEP_COLUMNS and sorted(sweep["depth"].unique()) == [2, 3]
    info = S.cache_info()
    assert info["unit_misses"] == 6 and info["units"] == 6


def test_sweep_progress_and_grid():
    seen = []
    S.depth_sweep(cfg(norm_position="pre"), [2, 5], (0,), on_progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0) and all(b >= a for a, b in zip(seen, seen[1:]))
    assert S.depth_grid(2, 24) == [2, 3, 4, 6, 8, 12, 17, 24]  # geometric: even on a log axis
    assert S.depth_grid(2, 24, spacing="linear") == [2, 5, 8, 11, 15, 18, 21, 24]
    assert S.depth_grid(2, 48)[0] == 2 and S.depth_grid(2, 48)[-1] == 48 and len(S.depth_grid(2, 48)) == 8
    assert S.depth_grid(5, 5) == [5] and S.depth_grid(2, 3) == [2, 3] and S.depth_grid(9, 3) == S.depth_grid(3, 9)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match="layers"):
        S.depth_sweep(cfg(), [0, 4], (0,))
    with pytest.raises(ValueError, match="seed"):
        S.depth_profile(cfg(), ())


def test_encoder_decoder_has_two_stacks():
    df = S.depth_profile(cfg(arch="encoder-decoder", layers=2), (0, 1))
    assert set(df["stack"]) == {"enc", "dec"}
    assert "cross_attn_out.ratio" in set(df.query("stack == 'dec'")["metric"])
    summ = S.depth_summary(S.depth_sweep(cfg(arch="encoder-decoder", layers=2), [1, 2], (0,)))
    assert set(summ["stack"]) == {"enc", "dec"} and FI.output_stack(summ) == "dec"
    fig = FI.profile_figure({"ed": df}, "resid_ms")
    assert {t.line.dash for t in FI.median_traces(fig)} == {"dot", None}


# ---- figures --------------------------------------------------------------------------------------
def test_profile_figure_one_group_per_config_with_bands(pre12, post12):
    fig = FI.profile_figure({"Post-LN": post12, "Pre-LN": pre12}, "resid_ms")
    med, bands = FI.median_traces(fig), FI.band_traces(fig)
    assert [t.name for t in med] == ["Post-LN", "Pre-LN"]
    assert {t.legendgroup for t in fig.data} == {"Post-LN", "Pre-LN"}
    assert len(bands) == 2 and all(t.fill == "toself" and not t.showlegend for t in bands)
    assert med[0].line.color != med[1].line.color
    assert fig.layout.yaxis.type == "log"
    ms = per_seed(pre12, "resid_ms")
    np.testing.assert_allclose(np.asarray(med[1].y, float), np.median(ms, axis=0))
    ys = np.asarray([v for v in bands[1].y if v is not None], float)
    assert ys.max() == pytest.approx(ms.max()) and ys.min() == pytest.approx(ms.min())
    std = FI.band_traces(FI.profile_figure({"Pre-LN": pre12}, "resid_ms", band_kind="std"))[0]
    upper = (ms.mean(axis=0) + ms.std(axis=0, ddof=1)).max()
    assert max(v for v in std.y if v is not None) == pytest.approx(upper)
    lin = FI.profile_figure({"Pre-LN": pre12}, "rank_residual")
    assert lin.layout.yaxis.type == "linear"


def test_non_finite_values_become_gaps():
    rows = [(s, i, "blocks", "resid_ms", v) for s in (0, 1) for i, v in
            enumerate([1.0, np.inf, 3.0, np.nan, 5.0, -1.0])]
    df = pd.DataFrame(rows, columns=S.COLUMNS)
    fig = FI.profile_figure({"x": df}, "resid_ms")  # log axis: -1 is a gap too
    y = np.asarray(FI.median_traces(fig)[0].y, float)
    assert np.isnan(y[[1, 3, 5]]).all() and np.isfinite(y[[0, 2, 4]]).all()
    band = FI.band_traces(fig)[0]
    assert band.y.count(None) == 2  # three separate finite runs, each its own filled outline
    json.loads(fig.to_json())  # serialisable
    single = FI.profile_figure({"x": df[df["seed"] == 0]}, "resid_ms")
    assert not FI.band_traces(single) and len(FI.median_traces(single)) == 1  # one seed: no band


def test_depth_figure_groups_and_panels():
    summ = {lbl: S.depth_summary(S.depth_sweep(cfg(norm_position=pos), [2, 4], (0, 1)))
            for lbl, pos in (("Post-LN", "post"), ("Pre-LN", "pre"))}
    fig = FI.depth_figure(summ)
    med = FI.median_traces(fig)
    assert len(med) == 6 and len(FI.band_traces(fig)) == 6
    assert sum(bool(t.showlegend) for t in med) == 2
    assert {t.legendgroup for t in fig.data} == set(summ)
    assert {t.xaxis for t in med} == {"x", "x2"}
    assert list(med[0].x) == [2, 4]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log" and fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.tickvals) == [2, 4]
    assert FI.median_traces(FI.depth_figure({})) == []


# ---- the page -------------------------------------------------------------------------------------
def _page() -> AppTest:
    at = app_test()
    at.switch_page("app_pages/init.py").run()
    assert not at.exception, at.exception
    return at


def _specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(v) -> list:
    """A trace's data as a list: Plotly sends numpy arrays base64-encoded ({"bdata", "dtype"})."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _medians(spec: dict) -> dict[str, list]:
    return {t["name"]: _array(t["y"]) for t in spec["data"] if (t.get("meta") or {}).get("role") == "median"}


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_shows_five_charts_with_the_default_comparison(page):
    at = page
    assert not at.error, [e.value for e in at.error]
    assert any(t.value == "At initialisation" for t in at.title)
    specs = _specs(at)
    assert len(specs) == 6 and all(s["data"] for s in specs)  # the sixth: issue 18's diagnostic along depth
    assert any("largest attention logit" in (s["layout"].get("title") or {}).get("text", "") for s in specs)
    resid = _medians(specs[0])
    assert list(resid) == ["1 · Post-LN", "2 · Pre-LN"]
    assert len(resid["1 · Post-LN"]) == 24  # default depth range 2..24: the profile is 24 blocks deep
    pre = np.asarray(resid["2 · Pre-LN"], float)
    assert (np.diff(pre) > 0).all() and np.allclose(np.asarray(resid["1 · Post-LN"], float), 1, atol=1e-3)
    assert any("Xiong" in c.value for c in at.caption) and any("Dong" in c.value for c in at.caption)
    assert any("new forward/backward" in c.value for c in at.caption)  # the timing line
    assert len([t for t in specs[0]["data"] if (t.get("meta") or {}).get("role") == "band"]) == 2


def test_page_changing_a_norm_position_changes_the_data(page):
    at = page
    before = _medians(_specs(at)[0])
    at.selectbox(key="init_c0_norm_position").set_value("sandwich").run()
    assert not at.exception and not at.error
    after = _medians(_specs(at)[0])
    assert list(after) == ["1 · Peri-LN / Sandwich-LN", "2 · Pre-LN"]  # choices by name (resnorm.i18n.display_name)
    assert after["1 · Peri-LN / Sandwich-LN"] != before["1 · Post-LN"]
    assert after["2 · Pre-LN"] == before["2 · Pre-LN"]


def test_page_settings_and_invalid_input(page):
    at = page
    at.sidebar.slider(key="init_depth").set_range(2, 6).run()
    at.sidebar.slider(key="init_seeds").set_value(2).run()
    assert not at.exception
    specs = _specs(at)
    assert all(len(y) == 6 for y in _medians(specs[0]).values())
    at.number_input(key="init_n").set_value(3).run()
    assert len(_medians(_specs(at)[0])) == 3
    at.selectbox(key="init_c2_norm_position").set_value("deepnorm").run()
    at.selectbox(key="init_c2_residual").set_value("off").run()  # DeepNorm defines its own skip path
    assert not at.exception
    assert any("deepnorm" in e.value for e in at.error), [e.value for e in at.error]
    assert len(_medians(_specs(at)[0])) == 2  # the valid configs are still shown
    at.sidebar.number_input(key="init_d_model").set_value(30).run()
    assert not at.exception
    assert any("divisible by heads" in e.value for e in at.error)
    assert not at.get("plotly_chart")
    at.sidebar.number_input(key="init_d_model").set_value(64).run()
    at.selectbox(key="init_preset").set_value("Residual on vs off (Dong et al. 2021)").run()
    assert not at.exception and not at.error
    assert list(_medians(_specs(at)[0])) == ["1 · Pre-LN · on: x + F(x)", "2 · Pre-LN · off: no skip path"]


def test_init_page_link_restores_its_setup_and_url_follows():
    at = app_test(run=False)
    at.query_params.update({"norm_position": "post,pre,lns", "d_model": "32", "bogus": "1", "norm": "rmsnorm"})
    at.switch_page("app_pages/init.py").run()
    assert not at.exception
    s = at.session_state
    assert s["init_n"] == 3 and [s[f"init_c{i}_norm_position"] for i in range(3)] == ["post", "pre", "lns"]
    assert s["init_d_model"] == 32 and s["init_c2_norm"] == "rmsnorm"
    assert any("bogus" in i.value for i in at.info)  # what was ignored is listed
    assert at.query_params["norm_position"] in ("post,pre,lns", ["post,pre,lns"])
    assert any("norm_position=post%2Cpre%2Clns" in c.value or "norm_position=post,pre,lns" in c.value
               for c in at.code)  # the share panel's link


def test_init_stats_and_profiles_are_one_computation():
    """``init-stats`` (seed, name, value) and the depth profile are two shapes of the same units."""
    c = cfg(norm_position="post")
    S.cache_clear()
    stats = S.init_stats(c, seeds=[0, 1])
    assert list(stats.columns) == ["seed", "name", "value"] and set(stats["seed"]) == {0, 1}
    assert {"train/loss", "grad/total_norm", "blocks.0.grad_norm"} <= set(stats["name"])
    profile = S.depth_profile(c, seeds=[0, 1])
    assert S.cache_info()["unit_misses"] == 2  # the profile reused the units init_stats computed
    row = profile[(profile["seed"] == 1) & (profile["layer"] == 0) & (profile["metric"] == "grad_norm")]
    assert float(row["value"].iloc[0]) == float(stats.query("seed == 1 and name == 'blocks.0.grad_norm'")["value"].iloc[0])
