"""Issue 18, norms: Derf and the initial a of DyT/Derf (``dyt_alpha``), against hand computations in
float64; the field in the CLI/URL schema and the translations; nonsense refused naming both fields;
a Derf model trains on a small task."""
import math

import pytest
import torch

from resnorm import i18n as I
from resnorm.science.config import ConfigError, RunConfig, parse_value, to_cli
from resnorm.science.model import build_model
from resnorm.science.norms import Derf, DyT
from resnorm.science.trainer import train
from resnorm.science.variants import NORM_TYPES, block_latex, make_norm, norm_latex
from helpers import configs, model_configs

D = 6


def derf_by_hand(x, a, s, gamma, beta):
    """γ_c · erf(a·x + s) + β_c entry by entry, erf from Python's math module."""
    out = torch.empty_like(x)
    for idx in range(x.numel()):
        c = idx % x.shape[-1]
        out.view(-1)[idx] = gamma[c].item() * math.erf(a * x.view(-1)[idx].item() + s) + beta[c].item()
    return out


def test_derf_formula_against_math_erf():
    n = make_norm("derf", D).double()
    assert isinstance(n, Derf)
    assert n.alpha.item() == 0.5 and n.shift.item() == 0.0  # the paper's initial a (DyT's) and s = 0
    x = torch.randn(3, 4, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    with torch.no_grad():
        n.alpha.fill_(0.8)
        n.shift.fill_(-0.3)
        n.weight.copy_(torch.linspace(0.5, 2.0, D, dtype=torch.float64))
        n.bias.copy_(torch.linspace(-1.0, 1.0, D, dtype=torch.float64))
    torch.testing.assert_close(n(x), derf_by_hand(x, 0.8, -0.3, n.weight.detach(), n.bias.detach()), rtol=1e-12, atol=1e-12)


def test_derf_is_bounded_and_point_wise():
    n = make_norm("derf", D).double()
    x = torch.tensor([[-1e6, -1.0, 0.0, 1.0, 1e6, 3.0]], dtype=torch.float64)
    y = n(x)
    assert y.abs().max() <= 1.0 and y[0, 0] == -1.0 and y[0, 4] == 1.0 and y[0, 2] == 0.0
    # point-wise: changing one entry changes only that entry's output (LayerNorm would change all)
    x2 = x.clone()
    x2[0, 1] = 5.0
    changed = (n(x2) != y)[0]
    assert changed.tolist() == [False, True, False, False, False, False]


@pytest.mark.parametrize("kind,cls", [("dyt", DyT), ("derf", Derf)])
def test_dyt_alpha_sets_the_initial_a_of_every_pointwise_norm(kind, cls):
    model = build_model(model_configs(d_model=8, heads=2, d_ff=16, layers=2)(norm=kind, dyt_alpha=0.2), 7, 5, seed=0)
    found = [m for m in model.modules() if isinstance(m, cls)]
    assert len(found) == 2 * 2 + 1  # two sublayers per block, and the final norm of Pre-LN
    assert all(m.alpha.item() == pytest.approx(0.2) for m in found)


def test_dyt_alpha_changes_the_forward_pass_as_tanh_of_a_x():
    """Same weights, a = 0.25: the norm's output is γ·tanh(a x) + β exactly."""
    n = make_norm("dyt", D, alpha0=0.25).double()  # 0.25: exact in float32, where the module is built
    x = torch.linspace(-4, 4, 2 * D, dtype=torch.float64).reshape(2, D)
    torch.testing.assert_close(n(x), torch.tanh(0.25 * x), rtol=1e-12, atol=1e-12)  # γ = 1, β = 0 at init


def test_the_formula_shows_the_initial_a_and_the_record_names_the_paper():
    assert norm_latex("derf", 0.2).endswith(r"a_0 = 0.2")
    assert r"\mathrm{erf}" in norm_latex("derf") and "a_0 = 0.5" in norm_latex("dyt")
    assert "a_0" not in norm_latex("layernorm")
    assert "Chen et al. 2025" in NORM_TYPES["derf"].help
    assert r"\mathrm{Derf}" in block_latex("pre", "on", "derf")


def test_dyt_alpha_without_a_pointwise_norm_is_refused_naming_both_fields():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_flat({"norm": "layernorm", "dyt_alpha": 0.2})
    (field, why), = e.value.problems
    assert field == "dyt_alpha" and "norm" in why and "layernorm" in why
    with pytest.raises(ConfigError) as e:  # Derf chosen, but no norm anywhere: a would mean nothing
        RunConfig.from_flat({"norm": "derf", "norm_position": "none", "dyt_alpha": 0.2})
    assert "norm_position" in e.value.problems[0][1]
    RunConfig.from_flat({"norm": "derf", "dyt_alpha": 0.2})  # the meaningful setting builds
    with pytest.raises(ConfigError):
        RunConfig.from_flat({"norm": "dyt", "dyt_alpha": 0.0})  # a = 0 is the zero function


def test_the_fields_travel_through_url_cli_and_both_languages():
    assert parse_value("norm", "derf") == "derf" and parse_value("dyt_alpha", "0.25") == 0.25
    assert "--norm derf --dyt-alpha 0.25" in to_cli(RunConfig.from_flat({"norm": "derf", "dyt_alpha": 0.25}))
    for lang in ("en", "zh"):
        assert I.translate("name.norm.derf", lang) == "Derf"
        assert I.has("field.dyt_alpha.label", lang) and I.has("field.dyt_alpha.help", lang)


def test_a_derf_model_trains_on_copy():
    cfg = configs(dict(layers=2, d_model=32, heads=2, d_ff=64, steps=150, batch_size=32, lr=3e-3, probe_every=0,
                       attention_every=0, eval_every=0, seq_len=6, vocab_size=6))(norm="derf", dyt_alpha=0.5)
    tr = train(cfg)
    assert tr.summary.status == "completed"
    first, last = tr.store.series("train/loss")[1][[0, -1]]
    assert last < 0.5 * first, (first, last)  # chance is log 6 ≈ 1.8
