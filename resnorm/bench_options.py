"""``python -m resnorm bench --options``: what each issue-18 option costs per training step, against
Pre-LN on the default config (issue 18, BENCHMARKS.md).

For each option (Derf, DyT with its own a, QK-norm, logit soft-cap, gated attention, z-loss, all four
attention/loss options together) the trainer's steps/s with probes off and with every probe at the
default cadence (``probe_every=10``: the new diagnostics included), interleaved in each repeat, as
steps per CPU second of the training thread (``trainer_cpu_rate``: robust to other jobs on a shared
machine); the table gives medians and ratios to Pre-LN's same case. Two one-off costs follow: the issue-18
reductions of one probed step (max logit, sink, massive activations, angular distance, learned
scalars) timed alone on the default model's tensors, and the end-of-run layer pruning.
"""
from __future__ import annotations

import statistics
import time

import torch

from .science.config import RunConfig
from .science.model import build_model, sequence_loss
from .science.probes import LearnedParams, attention_extra, layer_pruning, stream_extra
from .science.tasks import make_task

OPTIONS = {
    "Pre-LN (default)": {},
    "norm derf": {"norm": "derf"},
    "norm dyt, dyt_alpha 0.2": {"norm": "dyt", "dyt_alpha": 0.2},
    "qk_norm": {"qk_norm": True},
    "logit_softcap 30": {"logit_softcap": 30.0},
    "attn_gate": {"attn_gate": True},
    "z_loss 1e-4": {"z_loss": 1e-4},
    "qk_norm + softcap + gate + z_loss": {"qk_norm": True, "logit_softcap": 30.0, "attn_gate": True, "z_loss": 1e-4},
}
CASES = {"probes off": dict(probe_every=0, attention_every=0, eval_every=0),
         "probes on": dict(attention_every=0, eval_every=0)}


def trainer_cpu_rate(cfg: RunConfig, warmup: int, steps: int, threads: int | None = 1) -> float:
    """Steps per CPU second of the training thread (``time.thread_time`` read in ``on_step``, which runs
    in that thread): with one intra-op thread every kernel runs there, so the figure counts the work a
    step does and not the time other jobs on a shared machine hold the cores (wall-clock steps/s on the
    2-core machine at load average 20 varied by 2× between repeats of the same config)."""
    from .bench import trainer_rate  # the same timing as every bench row, on the CPU-time clock

    return trainer_rate(cfg, warmup, steps, threads=threads, clock=time.thread_time)


def measure(base: dict, warmup: int, steps: int, repeats: int, threads: int | None = 1) -> dict:
    """{option: {case: median steps per CPU second}}, every (option, case) once per repeat, interleaved."""
    trainer_rate = trainer_cpu_rate
    rates = {o: {c: [] for c in CASES} for o in OPTIONS}
    for _ in range(repeats):
        for o, extra in OPTIONS.items():
            for c, overrides in CASES.items():
                cfg = RunConfig.from_flat({**base, **extra, **overrides})
                rates[o][c].append(trainer_rate(cfg, warmup, steps, threads=threads))
    return {o: {c: statistics.median(v) for c, v in by.items()} for o, by in rates.items()}


def one_off_costs(base: dict, repeats: int = 20) -> dict:
    """CPU milliseconds (median) of the issue-18 reductions of one probed step, and of the end-of-run
    layer pruning (4 validation batches, L + 1 passes: the whole model's loss computed here too), on the
    default model."""
    cfg = RunConfig.from_flat(base)
    task = make_task(cfg.task, cfg.model.arch)
    model = build_model(cfg.model, task.vocab_size, task.max_len, seed=0)
    batch = task.sample(cfg.train.batch_size, torch.Generator().manual_seed(0), "train")
    seen = {}
    hooks = [model.blocks[0].hook_resid_pre.register_forward_hook(lambda m, a, o: seen.setdefault("x_in", o)),
             model.blocks[0].hook_resid_post.register_forward_hook(lambda m, a, o: seen.setdefault("x_out", o)),
             model.blocks[0].attn.hook_scores.register_forward_hook(lambda m, a, o: seen.setdefault("scores", o)),
             model.blocks[0].attn.hook_pattern.register_forward_hook(lambda m, a, o: seen.setdefault("pattern", o))]
    with torch.no_grad():
        model(*batch.model_args())
    for h in hooks:
        h.remove()
    learned = LearnedParams(model)
    L = len(model.block_prefixes())

    def reductions():
        for _ in range(L):
            stream_extra(seen["x_in"], seen["x_out"])
            attention_extra(scores=seen["scores"])
            attention_extra(pattern=seen["pattern"])
        learned.values()

    def timed(fn):  # CPU milliseconds of this thread, one intra-op thread
        torch.set_num_threads(1)
        out = []
        for _ in range(repeats):
            t0 = time.thread_time()
            fn()
            out.append(1000 * (time.thread_time() - t0))
        return statistics.median(out)

    batches = [task.sample(cfg.train.batch_size, torch.Generator().manual_seed(i), "val") for i in range(4)]
    prune = lambda: layer_pruning(model, batches, lambda m, b: sequence_loss(m(*b.model_args()), b.targets))  # noqa: E731
    forward = lambda: model(*batch.model_args())  # noqa: E731
    with torch.no_grad():
        return {"one forward pass of the batch, for scale (CPU ms)": timed(forward),
                "issue-18 diagnostic reductions of one probed step (CPU ms)": timed(reductions),
                "layer pruning at the end of a run (CPU ms)": timed(prune)}


def table(rates: dict, one_off: dict) -> str:
    ref = rates["Pre-LN (default)"]
    lines = ["| option | probes off: steps/CPU s | ratio to Pre-LN | probes on: steps/CPU s | ratio to Pre-LN |",
             "|---|---:|---:|---:|---:|"]
    for o, r in rates.items():
        lines.append(f"| {o} | {r['probes off']:.1f} | {r['probes off'] / ref['probes off']:.3f} | "
                     f"{r['probes on']:.1f} | {r['probes on'] / ref['probes on']:.3f} |")
    lines.append("")
    lines.extend(f"- {k}: {v:.2f}" for k, v in one_off.items())
    return "\n".join(lines)
