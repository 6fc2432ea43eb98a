"""Each norm type of docs/ARCHITECTURE.md §2 against its formula written out by hand (float64, random γ/β)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from resnorm.science.norms import DyT, LayerNorm, RMSNorm, TokenBatchNorm
from resnorm.science.variants import make_norm

D = 16
EPS = 1e-5



def _x(seed=0, shape=(3, 5, D), scale=2.0, shift=0.7):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale + shift


def _randomise(norm: nn.Module, seed=1) -> nn.Module:
    """Non-trivial γ (and β where present), so a formula that forgets them cannot pass."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if getattr(norm, "weight", None) is not None:
            norm.weight.copy_(torch.rand(norm.weight.shape, generator=g, dtype=torch.float64) * 2 + 0.5)
        if getattr(norm, "bias", None) is not None:
            norm.bias.copy_(torch.randn(norm.bias.shape, generator=g, dtype=torch.float64))
    return norm


def _norm(kind, eps=EPS, seed=1):
    return _randomise(make_norm(kind, D, eps).double(), seed)


# ---- the formulas, by hand -------------------------------------------------------------------
def layernorm_by_hand(x, gamma, beta, eps):
    mu = x.sum(-1, keepdim=True) / x.shape[-1]
    var = ((x - mu) ** 2).sum(-1, keepdim=True) / x.shape[-1]  # biased
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta


def rmsnorm_by_hand(x, gamma, eps):
    ms = (x * x).sum(-1, keepdim=True) / x.shape[-1]
    return gamma * x / torch.sqrt(ms + eps)


def dyt_by_hand(x, a, gamma, beta):
    return gamma * torch.tanh(a * x) + beta


def batchnorm_by_hand(x, gamma, beta, eps):
    flat = x.reshape(-1, x.shape[-1])  # every token of every sequence
    mu = flat.sum(0) / flat.shape[0]
    var = ((flat - mu) ** 2).sum(0) / flat.shape[0]  # biased in the normalisation
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta


# ---- make_norm ---------------------------------------------------------------------------------
def test_make_norm_types():
    assert isinstance(make_norm("layernorm", D), LayerNorm)
    assert isinstance(make_norm("rmsnorm", D), RMSNorm)
    assert isinstance(make_norm("dyt", D), DyT)
    assert isinstance(make_norm("batchnorm", D), TokenBatchNorm)
    with pytest.raises(ValueError, match="unknown norm type"):
        make_norm("groupnorm", D)


def test_none_is_identity():
    x = _x()
    n = make_norm("none", D)
    assert list(n.parameters()) == []
    assert torch.equal(n(x), x)


# ---- each formula ------------------------------------------------------------------------------
def test_layernorm_formula():
    n = _norm("layernorm")
    x = _x()
    assert n.eps == EPS
    want = layernorm_by_hand(x, n.weight, n.bias, EPS)
    torch.testing.assert_close(n(x), want, rtol=1e-12, atol=1e-12)


def test_layernorm_formula_uses_eps():
    # a tiny-variance input makes ε matter: with ε=1e-2 the output is visibly shrunk
    n = _norm("layernorm", eps=1e-2)
    x = _x(scale=0.05)
    torch.testing.assert_close(n(x), layernorm_by_hand(x, n.weight, n.bias, 1e-2), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(n(x), layernorm_by_hand(x, n.weight, n.bias, 0.0), atol=1e-3)


def test_rmsnorm_formula():
    n = _norm("rmsnorm")
    x = _x()
    assert n.eps == EPS
    assert not any(name == "bias" for name, _ in n.named_parameters())  # no β in RMSNorm
    want = rmsnorm_by_hand(x, n.weight, EPS)
    torch.testing.assert_close(n(x), want, rtol=1e-12, atol=1e-12)


def test_dyt_formula_and_init():
    n = make_norm("dyt", D).double()
    assert n.alpha.shape == ()  # one learnable scalar
    assert n.alpha.item() == 0.5
    assert torch.equal(n.weight, torch.ones(D, dtype=torch.float64))
    assert torch.equal(n.bias, torch.zeros(D, dtype=torch.float64))
    _randomise(n)
    x = _x()
    # at init a = 0.5
    torch.testing.assert_close(n(x), dyt_by_hand(x, 0.5, n.weight, n.bias), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        n.alpha.fill_(1.7)
    torch.testing.assert_close(n(x), dyt_by_hand(x, 1.7, n.weight, n.bias), rtol=1e-12, atol=1e-12)
    assert {name for name, _ in n.named_parameters()} == {"alpha", "weight", "bias"}


def test_dyt_is_bounded():
    n = _norm("dyt")
    x = _x(scale=1e6)
    assert (n(x) - n.bias).abs().le(n.weight.abs() + 1e-12).all()


def test_batchnorm_formula_train_mode():
    n = _norm("batchnorm")
    n.train()
    x = _x()
    want = batchnorm_by_hand(x, n.weight, n.bias, EPS)
    torch.testing.assert_close(n(x), want, rtol=1e-10, atol=1e-10)
    assert n(x).shape == x.shape


def test_batchnorm_eval_uses_running_statistics():
    n = _norm("batchnorm")
    n.train()
    x = _x()
    n(x)  # one update of the running statistics (momentum 0.1, unbiased variance)
    flat = x.reshape(-1, D)
    rm = 0.1 * flat.mean(0)
    rv = 0.9 * 1.0 + 0.1 * flat.var(0, unbiased=True)
    torch.testing.assert_close(n.running_mean, rm, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(n.running_var, rv, rtol=1e-12, atol=1e-12)
    n.eval()
    y = _x(seed=5)
    want = n.weight * (y - rm) / torch.sqrt(rv + EPS) + n.bias
    torch.testing.assert_close(n(y), want, rtol=1e-12, atol=1e-12)


# ---- invariances -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("c", [0.01, 3.0, 250.0])
def test_layernorm_and_rmsnorm_are_scale_invariant(kind, c):
    n = _norm(kind, eps=0.0)
    x = _x()
    torch.testing.assert_close(n(c * x), n(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("c", [-5.0, 0.3, 40.0])
def test_layernorm_shift_invariance(c):
    n = _norm("layernorm", eps=0.0)
    x = _x()
    torch.testing.assert_close(n(x + c * torch.ones(D, dtype=torch.float64)), n(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("c", [-5.0, 0.3, 40.0])
def test_rmsnorm_is_not_shift_invariant(c):
    n = _norm("rmsnorm", eps=0.0)
    x = _x()
    diff = (n(x + c * torch.ones(D, dtype=torch.float64)) - n(x)).abs()
    # substantially different: on average at least 10 % of the output's scale per element
    assert diff.mean() > 0.1 * n(x).abs().mean()


def test_layernorm_with_eps_is_only_approximately_scale_invariant():
    # with ε > 0 shrinking the input towards 0 shrinks the output: the invariance is an ε=0 property
    n = _norm("layernorm", eps=1e-2)
    x = _x()
    assert (n(1e-3 * x) - n.bias).abs().mean() < 0.2 * (n(x) - n.bias).abs().mean()


# ---- batch statistics leak across sequences ------------------------------------------------------
def test_batchnorm_leaks_across_the_batch():
    n = _norm("batchnorm")
    n.train()
    x = _x()
    x2 = x.clone()
    x2[1] = x2[1] * 5 + 3  # change sequence 1 only
    out, out2 = n(x), n(x2)
    assert (out[0] - out2[0]).abs().max() > 1e-2  # sequence 0's output moved


@pytest.mark.parametrize("kind", ["layernorm", "rmsnorm", "dyt", "none"])
def test_per_token_norms_do_not_leak(kind):
    n = _norm(kind) if kind != "none" else make_norm("none", D)
    x = _x()
    x2 = x.clone()
    x2[1] = x2[1] * 5 + 3
    x2[0, 3] = -x2[0, 3]  # and one other token of sequence 0
    out, out2 = n(x), n(x2)
    assert torch.equal(out[2], out2[2])
    mask = torch.ones(5, dtype=torch.bool)
    mask[3] = False
    assert torch.equal(out[0, mask], out2[0, mask])
    assert not torch.equal(out[1], out2[1])
