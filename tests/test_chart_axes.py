"""Readable charts (issue 13, item 5): log axes ticked at whole values, no axes before data, whole
steps on a short step axis, markers named in the legend, the figure title clear of subplot titles."""
from __future__ import annotations

import math

import numpy as np
import pytest

from resnorm.i18n import Labels
from resnorm.studies import figures as F


class Marker:
    def __init__(self, step, kind):
        self.step, self.kind, self.text = step, kind, kind


@pytest.mark.parametrize("lo, hi", [(1e-6, 3.0), (2.0, 2.4), (0.15, 0.9), (2.31, 2.33), (4e-4, 5e-4),
                                    (9.0e-7, 1.96e-6), (1e-21, 1.0), (0.5, 0.5000001)])
def test_log_ticks_are_positive_whole_values_and_at_least_two_lie_inside(lo, hi):
    ticks = F.log_ticks(lo, hi)
    inside = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    assert all(t > 0 for t in ticks) and len(inside) >= 2 and len(inside) <= 12
    if math.log10(hi / lo) >= 2:  # two decades or more: decades only, one label per 10×
        assert all(abs(math.log10(t) - round(math.log10(t))) < 1e-9 for t in ticks)


def test_tick_text_is_plain_or_1e_style_never_si_or_a_bare_mantissa():
    assert [F.tick_text(v) for v in (1e-5, 2e-4, 0.001, 0.01, 0.2, 1, 50, 10000, 1e5, 3e6)] == \
        ["1e-5", "2e-4", "0.001", "0.01", "0.2", "1", "50", "10000", "1e5", "3e6"]
    for v in np.logspace(-12, 12, 97):
        text = F.tick_text(float(v))
        assert not any(c in text for c in "µnmkMGT") and float(text) == pytest.approx(v, rel=1e-5)


def test_a_log_axis_gets_its_ticks_from_the_data():
    steps = np.arange(1, 11)
    fig = F.rank_figure({"blocks.0.rank_residual": (steps, np.logspace(-3, 0, 10))})
    y = fig["layout"]["yaxis"]
    assert y["type"] == "log" and y["tickvals"] == [0.001, 0.01, 0.1, 1.0]
    assert y["ticktext"] == ["0.001", "0.01", "0.1", "1"]


def test_no_axes_before_the_first_step_but_a_note():
    for fig in (F.loss_figure({}), F.grad_figure({}), F.resid_heatmap({}),
                F.overlay_figure([("A", {}, []), ("B", {}, [])], "val/loss", title="t", log_y=True)):
        axes = [v for k, v in fig["layout"].items() if k[1:5] == "axis"]
        assert axes and all(a.get("visible") is False for a in axes)
        assert [a["text"] for a in fig["layout"]["annotations"]] == ["waiting for the first step…"]
    zh = F.loss_figure({}, labels=Labels("zh"))
    assert zh["layout"]["annotations"][-1]["text"] == "等待第一步……"


def test_a_run_that_diverged_at_step_two_is_drawn_up_to_it_with_whole_steps():
    steps = np.array([1, 2])
    s = {"train/loss": (steps, np.array([3.0, np.inf])), "grad/total_norm": (steps, np.array([2.0, np.nan])),
         "blocks.0.attn.grad_norm": (steps, np.array([0.7, np.nan])),
         "blocks.0.mlp.grad_norm": (steps, np.array([0.5, np.inf]))}
    fig = F.grad_figure(s, markers=[Marker(2, "diverged")])
    per_layer = [t for t in fig["data"] if t.get("name") == "L0"]
    assert per_layer and all("markers" in t["mode"] for t in per_layer)  # one finite point is visible
    assert all(fig["layout"][k].get("dtick") == 1 for k in fig["layout"] if k.startswith("xaxis"))
    assert not fig["layout"].get("annotations", [])[3:]  # the subplot titles only: no "diverged @ 2" text
    assert [t["name"] for t in fig["data"] if t.get("legendgroup") == "events"] == ["diverged @ 2"]


def test_the_figure_title_sits_above_subplot_titles():
    steps = np.arange(1, 30)
    s = {f"blocks.{i}.{sub}.grad_norm": (steps, np.linspace(1, 2, 29)) for i in range(2) for sub in ("attn", "mlp")}
    layout = F.grad_figure(s)["layout"]
    assert layout["margin"]["t"] >= 70 and layout["title"]["yref"] == "container" and layout["title"]["y"] == 1
