"""DyT / Derf input against output (issue 18): the S-curves of Zhu et al. 2025 (Fig. 2), per norm module.

A point-wise norm maps each entry x to γ_c·f(a·x [+ s]) + β_c; plotting every (x, y) pair of one
forward pass shows the squashing (the flat tails are the entries it tames) and, for LayerNorm by
contrast, a cloud of straight lines with one slope per token. Samples are drawn without replacement
by a seeded generator, so the same model and input give the same picture.
"""
from __future__ import annotations

import numpy as np
import torch

from ..science import norms
from ..science.config import RunConfig
from ..science.model import build_model
from ..science.probes import eval_forward_with_hooks
from ..science.tasks import make_task

POINTWISE = (norms.DyT, norms.Derf)


@torch.no_grad()
def s_curves(model: torch.nn.Module, args: tuple, max_points: int = 400, seed: int = 0) -> dict:
    """{module name: (x, y)} for every DyT/Derf module of ``model`` on one forward pass of ``args``
    (eval mode, restored after), at most ``max_points`` (x, y) pairs each, in forward order."""
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hooks = []
    g = torch.Generator().manual_seed(seed)
    for name, m in model.named_modules():
        if isinstance(m, POINTWISE):
            def hook(mod, a, out, name=name):
                x, y = a[0].detach().flatten().double().cpu(), out.detach().flatten().double().cpu()
                keep = torch.randperm(x.numel(), generator=g)[:max_points]
                found[name] = (x[keep].numpy(), y[keep].numpy())
            hooks.append((m, hook))
    eval_forward_with_hooks(model, args, hooks)
    return found


def s_curves_of_run(cfg: RunConfig, state_dict: dict | None = None, max_points: int = 400) -> dict:
    """``s_curves`` of a saved run (its config and weights; None: at initialisation) on its task's
    probe example."""
    task = make_task(cfg.task, cfg.model.arch)
    model = build_model(cfg.model, task.vocab_size, task.max_len, seed=cfg.train.seed)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    return s_curves(model, task.probe_example().model_args(), max_points=max_points, seed=cfg.train.seed)
