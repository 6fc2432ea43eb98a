"""Several runs as one batched model: members that share everything but optimiser scalars.

A sweep's cells often differ only in the learning rate, the seed or another optimiser scalar
(``MEMBER_FIELDS``). Their models have the same shapes, so M of them train as one: the members'
parameters are stacked along a new leading axis (``torch.func.stack_module_state``), one forward
runs every member on its own batch (``torch.func.vmap`` over ``torch.func.functional_call``), the
summed loss gives every member its own gradient (members share no parameter, so ∂(Σ_m L_m)/∂θ_m =
∂L_m/∂θ_m), and a vectorised AdamW applies each member's own learning rate, weight decay and
gradient clip. Member m then follows the trajectory its single run would (``Trainer``): the same
initial weights (built with its seed), the same data stream (its seed's generator), the same
schedule, clip (‖g_m‖ > c: g_m ← g_m · c/(‖g_m‖ + 10⁻⁶)) and update

    θ ← θ(1 − η λ);  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    θ ← θ − η/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)          (torch.optim.AdamW's defaults)

up to float rounding (tested: final losses within 10⁻⁴ after 100 steps).

What a batched member records: the run-level metrics of every step (``train/loss``,
``train/accuracy``, ``grad/total_norm``, ``lr``, ``train/z_loss``) and ``val/*`` every
``eval_every`` steps, with the single run's divergence rules (a diverged member stops changing
while the others go on). Not recorded: the per-layer probes, attention maps and end-of-run pruning
(forward hooks do not see one member's tensors inside ``vmap``); a member's summary says
``"batched": M``. Where batching pays is measured by ``resnorm bench --sweep``: on the 2-core CPU
it pays for small per-member batches only (``AUTO_MAX_TOKENS``).
"""
from __future__ import annotations

import hashlib
import json
import math
import time

import torch

from ..messages import msg
from .config import RunConfig
from .feasibility import require, together
from .model import build_model, log_z_squared, sequence_loss
from .schedules import lr_factor
from .seeds import stream_seed
from .store import MetricStore
from .tasks import make_task, validation_note
from .trainer import EXPLOSION, VAL_BATCHES, Summary, resolve_device, token_accuracy

#: train fields a batch's members may differ in (everything else, model and task included, is shared)
MEMBER_FIELDS = ("lr", "seed", "weight_decay", "warmup", "schedule", "grad_clip")
#: ``auto`` batches members whose batch holds at most this many tokens (batch size × sequence)
AUTO_MAX_TOKENS = 256
#: at most this many members in one batched model
MAX_MEMBERS = 8
BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.AdamW's defaults, as the single runs use them


def batch_key(cfg: RunConfig) -> str:
    """A hash of everything but ``MEMBER_FIELDS``: configs with the same key can share a batch."""
    flat = {k: v for k, v in cfg.to_flat().items() if k not in MEMBER_FIELDS}
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


def why_not_batched(cfg: RunConfig) -> str | None:
    """Why this config cannot train batched (None: it can)."""
    from . import variants

    t, m = cfg.train, cfg.model
    if t.optimizer != "adamw":
        return f"optimizer {t.optimizer}: batching implements AdamW only"
    if m.dropout > 0:
        return "dropout: each member would need its own random stream inside vmap"
    if t.z_loss > 0:
        return "z-loss in the loss"
    if t.autocast != "off":
        return "autocast"
    if variants.NORM_POSITIONS[m.norm_position].own_update is not None:
        return f"{m.norm_position}: its own update after every step"
    return None


def tokens_per_step(cfg: RunConfig) -> int:
    """Tokens in one member's batch: batch size × the task's input length."""
    task = make_task(cfg.task, cfg.model.arch)
    return cfg.train.batch_size * int(task.sample(1, torch.Generator().manual_seed(0), "train").inputs.shape[1])


class BatchedRun:
    """Train ``cfgs`` (same ``batch_key``, AdamW) as one batched model in this thread.

    ``run()`` → one ``Summary`` per member; ``stores[m]`` holds member m's metrics, ``elapsed_s``
    the whole batch's training time. ``threads``: CPU intra-op threads."""

    def __init__(self, cfgs: list[RunConfig], threads: int | None = None):
        if not cfgs:
            raise ValueError("no members")
        keys = {batch_key(c) for c in cfgs}
        if len(keys) > 1:
            raise ValueError("members differ in more than " + ", ".join(MEMBER_FIELDS))
        for c in cfgs:
            if (why := why_not_batched(c)) is not None:
                raise ValueError(f"cannot batch: {why}")
            require(c)  # each member can train here (task, data, memory) ...
        if (why := together(cfgs)) is not None:  # ... and all of them at once
            raise ValueError(why)
        self.cfgs, self.M = cfgs, len(cfgs)
        self.device = resolve_device(cfgs[0].train.device)
        if self.device.type == "cpu" and threads:
            torch.set_num_threads(threads)
        self.stores = [MetricStore(max_points=c.train.max_points) for c in cfgs]
        self.elapsed_s = 0.0

    # ---- set-up ------------------------------------------------------------------------------------
    def _setup(self):
        from torch.func import functional_call, stack_module_state, vmap

        c0 = self.cfgs[0]
        self.task = make_task(c0.task, c0.model.arch)
        models = [build_model(c.model, self.task.vocab_size, self.task.max_len, seed=c.train.seed)
                  .to(self.device).train() for c in self.cfgs]
        self.trainable = [n for n, p in models[0].named_parameters() if p.requires_grad]
        params, buffers = stack_module_state(models)
        self.params = {n: params[n] for n in self.trainable}
        self.frozen = {n: p.detach() for n, p in params.items() if n not in self.params}
        self.buffers = buffers
        base = models[0].to("meta")

        def one(p, b, *args):
            return functional_call(base, (p, b), args)

        self.forward = vmap(one)
        self.set_mode = base.train
        self.exp_avg = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.gens = [torch.Generator().manual_seed(stream_seed(c.train.seed, "train")) for c in self.cfgs]
        self.val = []
        for c in self.cfgs:
            g = torch.Generator().manual_seed(stream_seed(c.train.seed, "val"))
            self.val.append([self.task.sample(c.train.batch_size, g, "val") for _ in range(VAL_BATCHES)])
        self.alive = [True] * self.M
        self.first = [math.nan] * self.M
        self.last = [None] * self.M
        self.status = ["running"] * self.M
        self.reason = [""] * self.M
        self.diverged_step: list[int | None] = [None] * self.M
        self.steps_done = [0] * self.M

    def _stack(self, batches):
        args = [torch.stack(a).to(self.device) for a in zip(*(b.model_args() for b in batches))]
        return args, torch.stack([b.targets for b in batches]).to(self.device)

    def _logits(self, args):
        return self.forward({**self.params, **self.frozen}, self.buffers, *args)

    # ---- the run -----------------------------------------------------------------------------------
    def run(self) -> list[Summary]:
        self._setup()
        t0 = time.perf_counter()
        steps = self.cfgs[0].train.steps
        for step in range(1, steps + 1):
            if not any(self.alive):
                break
            self._step(step)
        self.elapsed_s = time.perf_counter() - t0
        out = []
        for m, c in enumerate(self.cfgs):
            if self.status[m] == "running":
                self.status[m] = "completed"
            out.append(Summary(status=self.status[m], steps=self.steps_done[m],
                               final_loss=self.last[m] if self.status[m] == "completed" else None,
                               reason=self.reason[m], diverged_step=self.diverged_step[m],
                               elapsed_s=self.elapsed_s / self.M, device=str(self.device),
                               extra={"validation": validation_note(self.task), "batched": self.M}))
        return out

    def _step(self, step: int) -> None:
        cfgs, M = self.cfgs, self.M
        batches = [self.task.sample(c.train.batch_size, g, "train") for c, g in zip(cfgs, self.gens)]
        args, targets = self._stack(batches)
        logits = self._logits(args)
        losses = [sequence_loss(logits[m], targets[m]) for m in range(M)]
        total = sum(losses[m] for m in range(M) if self.alive[m])
        grads = dict(zip(self.params, torch.autograd.grad(total, list(self.params.values()), allow_unused=True)))
        grads = {n: (torch.zeros_like(self.params[n]) if g is None else g) for n, g in grads.items()}
        norms = torch.stack([g.reshape(M, -1).double().square().sum(1) for g in grads.values()]).sum(0).sqrt()
        with torch.no_grad():
            lrs = [c.train.lr * lr_factor(c.train.schedule, step, c.train.warmup, c.train.steps) for c in cfgs]
            detached = logits.detach()
            record = torch.stack([torch.stack([losses[m].detach().double(), norms[m],
                                               token_accuracy(detached[m], targets[m]).double(),
                                               log_z_squared(detached[m], targets[m]).double()])
                                  for m in range(M)]).cpu().tolist()
        coef = torch.ones(M, dtype=torch.float64)
        for m, c in enumerate(cfgs):
            if not self.alive[m]:
                continue
            loss_v, norm_v, acc_v, z_v = record[m]
            values = {"train/loss": loss_v, "grad/total_norm": norm_v, "lr": lrs[m],
                      "train/accuracy": acc_v, "train/z_loss": z_v}
            if step == 1:
                self.first[m] = loss_v
            why = None
            if not math.isfinite(loss_v):
                why = msg("reason.nonfinite_loss", value=loss_v)
            elif not math.isfinite(norm_v):
                why = msg("reason.nonfinite_grad", value=norm_v)
            elif self.first[m] > 0 and loss_v > EXPLOSION * self.first[m]:
                why = msg("reason.exploded", loss=loss_v, factor=EXPLOSION, first=self.first[m])
            self.stores[m].add(step, values)
            self.steps_done[m] = step
            if why:
                self.stores[m].mark(step, "diverged", why)
                self.alive[m], self.status[m], self.diverged_step[m] = False, "diverged", step
                self.reason[m] = msg("reason.at_step", why=why, step=step)
                continue
            self.last[m] = loss_v
            clip = c.train.grad_clip
            if clip > 0:  # torch.nn.utils.clip_grad_norm_: scale by c/(‖g‖ + 1e-6) when that is < 1
                coef[m] = min(1.0, clip / (norm_v + 1e-6))
        self._adamw(step, grads, lrs, coef)
        evals = [m for m, c in enumerate(cfgs)
                 if self.alive[m] and c.train.eval_every and (step % c.train.eval_every == 0 or step == c.train.steps)]
        if evals:
            for m, vals in self.evaluate().items():
                if m in evals:
                    self.stores[m].add(step, vals)

    @torch.no_grad()
    def _adamw(self, step: int, grads: dict, lrs: list[float], coef: torch.Tensor) -> None:
        """One AdamW step for every live member, each with its own lr, weight decay and clip; a
        diverged member's parameters and moments stay as they are."""
        b1, b2 = BETAS
        alive = torch.tensor(self.alive, device=self.device)
        lr = torch.tensor([lrs[m] if self.alive[m] else 0.0 for m in range(self.M)], device=self.device)
        wd = torch.tensor([c.train.weight_decay for c in self.cfgs], device=self.device)
        bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
        for n, p in self.params.items():
            shape = (self.M,) + (1,) * (p.dim() - 1)
            a = alive.view(shape)
            g = torch.where(a, grads[n] * coef.to(p.dtype).to(self.device).view(shape), 0.0)
            p.mul_(torch.where(a, 1 - lr.view(shape).to(p.dtype) * wd.view(shape).to(p.dtype), 1.0))
            ea, es = self.exp_avg[n], self.exp_avg_sq[n]
            ea.copy_(torch.where(a, ea.lerp(g, 1 - b1), ea))
            es.copy_(torch.where(a, es * b2 + (1 - b2) * g * g, es))
            denom = (es.sqrt() / math.sqrt(bc2)).add_(EPS)
            p.sub_((lr.view(shape).to(p.dtype) / bc1) * ea / denom)

    @torch.no_grad()
    def evaluate(self) -> dict[int, dict[str, float]]:
        """Every member's validation loss and accuracy on its own fixed batches (eval mode)."""
        self.set_mode(False)
        try:
            sums = [[0.0, 0.0] for _ in range(self.M)]
            for i in range(VAL_BATCHES):
                args, targets = self._stack([v[i] for v in self.val])
                logits = self._logits(args)
                for m in range(self.M):
                    sums[m][0] += float(sequence_loss(logits[m], targets[m]))
                    sums[m][1] += float(token_accuracy(logits[m], targets[m]))
        finally:
            self.set_mode(True)
        return {m: {"val/loss": s[0] / VAL_BATCHES, "val/accuracy": s[1] / VAL_BATCHES} for m, s in enumerate(sums)}


BATCH_MODES = ("auto", "on", "off")


def plan(cfgs: list[RunConfig], workers: int = 1, mode: str = "auto") -> list[list[int]]:
    """Group configs (by index) into what a worker runs: a list of one index trains alone, a longer
    one as a batched model. ``off``: every config alone; ``on``: every group of two or more configs
    with the same ``batch_key`` that can batch (``why_not_batched``); ``auto``: as ``on`` where one
    member's batch holds at most ``AUTO_MAX_TOKENS`` tokens (where the bench measured batching faster
    on the CPU). A group is cut into batches of at most ``MAX_MEMBERS``, and into at least
    ``workers`` batches when it is large enough to keep every worker busy. Order: the first index of
    each unit, as given."""
    if mode not in BATCH_MODES:
        raise ValueError(f"batch must be one of {', '.join(BATCH_MODES)} (got {mode!r})")
    groups: dict[str, list[int]] = {}
    units: list[list[int]] = []
    for i, c in enumerate(cfgs):
        if mode == "off" or why_not_batched(c) is not None:
            units.append([i])
        else:
            groups.setdefault(batch_key(c), []).append(i)
    small: dict[str, bool] = {}
    for key, idx in groups.items():
        if mode == "auto":
            small[key] = tokens_per_step(cfgs[idx[0]]) <= AUTO_MAX_TOKENS
        if len(idx) < 2 or (mode == "auto" and not small[key]):
            units += [[i] for i in idx]
            continue
        size = min(MAX_MEMBERS, max(2, math.ceil(len(idx) / max(1, workers))))
        units += [idx[j:j + size] for j in range(0, len(idx), size)]
    return sorted(units, key=lambda u: u[0])
