"""The norm types of docs/ARCHITECTURE.md §2, each written as its formula over the last dimension (d_model).

LayerNorm and RMSNorm use PyTorch's fused kernels, which compute exactly these formulas (the tests
check them against the formulas written out by hand); DyT and the batch-statistics norm have no
PyTorch equivalent of the same meaning, so they are written out here. Which class a norm type
builds is on its record in ``resnorm.science.variants.NORM_TYPES`` (``variants.make_norm``).
"""
from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.LayerNorm):
    """γ ⊙ (x − μ)/√(σ² + ε) + β, with μ, σ² the mean and (biased) variance over d_model."""


class RMSNorm(nn.RMSNorm):
    """γ ⊙ x/√(mean(x²) + ε): no centring, so it keeps a shared shift that LayerNorm would remove."""


class DyT(nn.Module):
    """Dynamic Tanh (Zhu et al. 2025): γ ⊙ tanh(a·x) + β, one learnable scalar a (init 0.5).

    No statistics at all: it squashes large activations instead of dividing by their scale.
    """

    def __init__(self, d: int, alpha0: float = 0.5):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(alpha0))
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return self.weight * torch.tanh(self.alpha * x) + self.bias


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm with statistics over batch and positions for each of the d_model features:
    γ ⊙ (x − μ_B)/√(σ²_B + ε) + β, μ_B and σ²_B taken over all B·T tokens in training mode.

    Its statistics mix sequences, and in a causal decoder they include future positions: a token's
    output depends on tokens it is not allowed to see. That is the lesson, not a bug to fix.
    """

    def forward(self, x):
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


# ---- issue 18 (i-attn): Derf ------------------------------------------------------------------------
class Derf(nn.Module):
    """Dynamic erf (Chen, Lu, Zhu, Sun & Liu 2025, "Stronger Normalization-Free Transformers"):
    γ ⊙ erf(α·x + s) + β, with one learnable scalar α (init ``alpha0``, the DyT default 0.5) and one
    learnable scalar shift s (init 0); γ, β per feature as in DyT. Like DyT it squashes instead of
    dividing by a statistic; erf saturates faster than tanh (erf(1) = 0.84 vs tanh(1) = 0.76)."""

    def __init__(self, d: int, alpha0: float = 0.5):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(alpha0))
        self.shift = nn.Parameter(torch.tensor(0.0))
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return self.weight * torch.erf(self.alpha * x + self.shift) + self.bias
