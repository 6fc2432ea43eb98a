"""Signal propagation at initialisation: one forward/backward of a fresh model, per seed, with no
optimizer step, giving the §3 metrics along depth (the basis of the "At initialisation" view).

Everything a training step's probes record is recorded here too, from the same probes, so a
depth profile at init and a curve during training are the same quantity.
"""
from __future__ import annotations

import pandas as pd
import torch

from .config import RunConfig
from .feasibility import require
from .model import build_model, sequence_loss
from .seeds import stream_seed
from .probes import ActivationProbe, ParamGroups, total_grad_norm
from .tasks import make_task
from .trainer import resolve_device


def init_metrics(cfg: RunConfig, seed: int, task=None) -> dict[str, float]:
    """§3 metrics after one forward/backward at initialisation with weights and batch from ``seed``'s
    ``weights`` and ``train`` streams (``resnorm.seeds``): a training run's step 1."""
    task = task or make_task(cfg.task, cfg.model.arch)
    device = resolve_device(cfg.train.device)
    model = build_model(cfg.model, task.vocab_size, task.max_len, seed=seed).to(device).train()
    batch = task.sample(cfg.train.batch_size, torch.Generator().manual_seed(stream_seed(seed, "train")),
                        "train").to(device)
    probe = ActivationProbe(model)
    with probe.capture():
        loss = sequence_loss(model(*batch.model_args()), batch.targets)
    loss.backward()
    values = probe.pop()
    values.update(ParamGroups(model).grad_norms())
    values["train/loss"] = loss.item()
    values["grad/total_norm"] = total_grad_norm(model.parameters()).item()
    return values


def init_stats(cfg: RunConfig, seeds=range(3), on_seed=None) -> pd.DataFrame:
    """Long frame with columns seed, name, value over ``seeds``; ``on_seed(i)`` reports progress."""
    task = make_task(require(cfg).task, cfg.model.arch)
    rows = []
    for i, seed in enumerate(seeds):
        for name, value in init_metrics(cfg, seed, task).items():
            rows.append((seed, name, value))
        if on_seed is not None:
            on_seed(i)
    return pd.DataFrame(rows, columns=["seed", "name", "value"])
