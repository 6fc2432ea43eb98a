"""The trainer: one run of a config, in the caller's thread (``run``) or a background thread
(``start``), with pause / resume / stop taking effect between steps and every metric written to a
``MetricStore`` that any thread may snapshot.

Statuses: ``idle`` → ``running`` ⇄ ``paused`` → ``completed`` | ``stopped`` | ``diverged`` | ``failed``.
A non-finite loss or gradient norm ends the run as ``diverged`` before the optimizer applies it;
everything recorded up to that step is kept.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from .config import ConfigError, RunConfig
from .feasibility import require
from ..messages import msg, to_data
from .model import Transformer, build_model, log_z_squared, seed_dropout, sequence_loss
from .probes import ActivationProbe, LearnedParams, ParamGroups, attention_maps, layer_pruning, total_grad_norm
from .schedules import lr_factor
from .seeds import stream_seed
from .store import AttentionSnapshot, MetricStore
from .tasks import Task, make_task, validation_note
from .worker import FINAL_STATUSES, Worker  # noqa: F401  (FINAL_STATUSES re-exported)

log = logging.getLogger(__name__)

VAL_BATCHES = 4
EXPLOSION = 100.0  # a finite loss this many times the first step's also counts as diverged


def cpu_threads() -> int:
    """Intra-op threads for CPU training: ``RESNORM_CPU_THREADS``, default 1.

    Small models gain nothing from more, and threads that overlap are ruinous: on the 2-core
    machine, with one core busy elsewhere, the default config ran at 0.5 steps/s with 2 threads
    and 64 steps/s with 1 (OpenMP workers spin-waiting for a core they do not get). Parallelism
    comes from running several trainings at once instead.
    """
    from .. import settings

    n = settings.get("RESNORM_CPU_THREADS")
    return 1 if n is None else n


def command_line_threads(option: int | None = None) -> int:
    """Intra-op threads for one command-line run (``train``, ``init-stats``): the ``--threads``
    option, else ``RESNORM_CPU_THREADS`` when it is set, else torch's own default (one per core).
    One person running one command usually has the machine to themselves: on the quiet 2-core
    machine, issue 16 measured the README's stdlib-lm example at 14.4 s with one thread and 10.0 s
    with two. The server's worker processes keep ``cpu_threads()`` (default 1)."""
    if option is not None:
        if option < 1:
            raise ConfigError([("threads", f"must be at least 1 (got {option})")])
        return option
    from .. import settings

    n = settings.get("RESNORM_CPU_THREADS")
    return TORCH_DEFAULT_THREADS if n is None else n


TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before anything in this process changed it


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without CUDA is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError([("device", "CUDA was requested but no CUDA device is available; use auto or cpu")])
    return torch.device(name)


AUTOCAST_DTYPES = {"bf16": torch.bfloat16}


def autocast_context(device: torch.device, mode: str):
    """The context a forward pass and its loss run in: ``torch.autocast`` to bfloat16 for
    ``mode="bf16"`` (matrix products in bfloat16, weights, gradients and optimizer state stay in the
    model's float32), a no-op for ``"off"``. Backward and the optimizer step run outside it."""
    if mode == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[mode])


def make_optimizer(cfg, params) -> torch.optim.Optimizer:
    t = cfg.train
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.SGD(params, lr=t.lr, momentum=0.9, weight_decay=t.weight_decay)


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of scored positions (target ≠ −100) whose arg-max prediction is the target."""
    scored = targets != -100
    return ((logits.argmax(-1) == targets) & scored).sum() / scored.sum().clamp_min(1)


@dataclass
class Summary:
    status: str
    steps: int
    final_loss: float | None
    reason: str = ""
    diverged_step: int | None = None
    elapsed_s: float = 0.0
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"status": self.status, "steps": self.steps, "final_loss": self.final_loss,
             "reason": self.reason, "diverged_step": self.diverged_step,
             "elapsed_s": round(self.elapsed_s, 3), "device": self.device}
        if (code := to_data(self.reason)) is not None:  # the reason's message code, for a UI in another language
            d["reason_code"] = code
        d.update(self.extra)
        return d


class Trainer(Worker):
    """``Trainer(cfg).run()`` trains in this thread and returns a ``Summary``;
    ``start()`` does the same in a daemon thread. ``on_step(step, trainer)`` is called after each
    step from the training thread (the CLI's progress bar) and must not block; ``on_finish(trainer)``
    once the run has ended, whatever its status (the UI releases its training slot there)."""

    thread_name = "resnorm-trainer"

    def __init__(self, cfg: RunConfig, on_step: Callable[[int, "Trainer"], None] | None = None,
                 on_finish: Callable[["Trainer"], None] | None = None, threads: int | None = None):
        super().__init__()
        self.cfg = require(cfg)  # can it train here (task, data, memory)? Before anything is built
        self.threads = threads  # CPU intra-op threads; None: cpu_threads() (the server's convention)
        self.on_step, self.on_finish = on_step, on_finish
        self.store = MetricStore(max_points=cfg.train.max_points)
        self.reason = ""
        self.step = 0
        self.diverged_step: int | None = None
        self.device = resolve_device(cfg.train.device)
        self.model: Transformer | None = None
        self.task: Task | None = None
        self.summary: Summary | None = None

    # ---- the run -------------------------------------------------------------------------------
    def run(self) -> Summary:
        """Prepare, then advance until the run ends; returns its summary."""
        try:
            self.prepare()
            while self.advance():
                pass
        except Exception as e:  # a run that fails must end with a status, never a dead thread
            self.fail(e)
        return self.summary

    def prepare(self) -> None:
        """Build task, model, optimizer and probes (seeded); the run is then ``running``."""
        self._begin()
        self._last_loss = None
        self._first_loss = float("nan")
        self._setup()
        self._ready()  # steps/s counts from here: building the task and the model is not training

    def advance(self) -> bool:
        """Take one step (honouring pause and stop first); False once the run has ended."""
        if self.done:
            return False
        self._wait_if_paused()
        if self._stop.is_set():
            self._finish("stopped", msg("reason.stopped", step=self.step), self._last_loss)
            return False
        step = self.step + 1
        loss = self._step(step)
        if loss is None:  # diverged: _step has finished the run
            return False
        self.step, self._last_loss = step, loss
        if self.on_step is not None:
            self.on_step(step, self)
        if step >= self.cfg.train.steps:
            self._record_pruning()
            self._finish("completed", "", loss)
            return False
        return True

    def fail(self, e: BaseException) -> None:
        log.error("training failed", exc_info=e)
        first_line = (str(e).splitlines() or [""])[0][:300]
        self._finish("failed", f"{type(e).__name__}: {first_line}", getattr(self, "_last_loss", None))

    def _setup(self):
        cfg = self.cfg
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads or cpu_threads())  # process-wide; see cpu_threads
        self.task = make_task(cfg.task, cfg.model.arch)
        self.model = build_model(cfg.model, self.task.vocab_size, self.task.max_len, seed=cfg.train.seed)
        self.model.to(self.device).train()
        seed_dropout(self.model, cfg.train.seed, self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(cfg, self.params)
        self.probe = ActivationProbe(self.model)
        self.groups = ParamGroups(self.model)
        self.learned = LearnedParams(self.model)  # issue 18: gates, DyT/Derf a, mixing matrices
        self.data_gen = torch.Generator().manual_seed(stream_seed(cfg.train.seed, "train"))
        val_gen = torch.Generator().manual_seed(stream_seed(cfg.train.seed, "val"))
        self.val_batches = [self.task.sample(cfg.train.batch_size, val_gen, "val").to(self.device)
                            for _ in range(VAL_BATCHES)]
        self.probe_cpu = self.task.probe_example()
        self.probe_batch = self.probe_cpu.to(self.device)

    def _step(self, step: int):
        t, model = self.cfg.train, self.model
        probing = t.probe_every > 0 and (step % t.probe_every == 0 or step == 1)
        batch = self.task.sample(t.batch_size, self.data_gen, "train").to(self.device)
        lr = t.lr * lr_factor(t.schedule, step, t.warmup, t.steps)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        with self.probe.capture(active=probing), self.autocast():
            logits = model(*batch.model_args())
            loss = sequence_loss(logits, batch.targets)
            z_term = log_z_squared(logits, batch.targets)  # issue 18: recorded always, in the loss when z_loss > 0
        self.optimizer.zero_grad(set_to_none=True)
        (loss + t.z_loss * z_term if t.z_loss > 0 else loss).backward()
        total = total_grad_norm(self.params)
        record = {"train/loss": loss.detach(), "grad/total_norm": total, "lr": torch.tensor(lr),
                  "train/accuracy": token_accuracy(logits.detach(), batch.targets),
                  "train/z_loss": z_term.detach()}
        values = dict(zip(record, torch.stack([v.double().cpu() for v in record.values()]).tolist()))
        loss_v, total_v = values["train/loss"], values["grad/total_norm"]
        if step == 1:
            self._first_loss = loss_v
        why = None
        if not math.isfinite(loss_v):
            why = msg("reason.nonfinite_loss", value=loss_v)
        elif not math.isfinite(total_v):
            why = msg("reason.nonfinite_grad", value=total_v)
        elif self._first_loss > 0 and loss_v > EXPLOSION * self._first_loss:
            why = msg("reason.exploded", loss=loss_v, factor=EXPLOSION, first=self._first_loss)
        if why:
            self.store.add(step, values)
            self.store.mark(step, "diverged", why)
            self.step = self.diverged_step = step
            self._finish("diverged", msg("reason.at_step", why=why, step=step), None)
            return None
        if probing:
            values.update(self.probe.pop())
            values.update(self.groups.grad_norms())
            values.update(self.learned.values())
            before = self.groups.snapshot()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grads_with_norm_(self.params, t.grad_clip, total)
        self.optimizer.step()
        model.after_step()  # e.g. nGPT: weights back on the unit sphere (issue 18)
        if probing:
            values.update(self.groups.update_ratios(before))
        if t.eval_every and (step % t.eval_every == 0 or step == t.steps):
            values.update(self.evaluate())
            self._last_val = (step, values["val/loss"])
        self.store.add(step, values)
        if t.attention_every and (step % t.attention_every == 0 or step == 1):
            self.capture_attention(step)
        return loss_v

    def _record_pruning(self) -> None:
        """Issue 18: at the end of a completed run, the validation loss increase when each block is
        removed (``probes.layer_pruning``), recorded at the last step and kept for the summary."""
        def loss_of(model, b):
            with self.autocast():
                return sequence_loss(model(*b.model_args()), b.targets)

        last = getattr(self, "_last_val", None)  # the whole model's loss on the same batches, if just measured
        try:
            self._pruning = layer_pruning(self.model, self.val_batches, loss_of,
                                          base=last[1] if last and last[0] == self.step else None)
        except Exception:  # a diagnostic must never lose a finished run
            log.exception("layer pruning failed")
            self._pruning = {}
        if self._pruning:
            self.store.add(self.step, self._pruning)

    def autocast(self):
        """The precision context of this run's forward passes (``autocast_context`` of its config)."""
        return autocast_context(self.device, self.cfg.train.autocast)

    @torch.inference_mode()
    def evaluate(self) -> dict[str, float]:
        """Validation loss and token accuracy on the fixed validation batches (eval mode), in the
        same precision as training."""
        self.model.eval()
        try:
            losses, accs = [], []
            for b in self.val_batches:
                with self.autocast():
                    logits = self.model(*b.model_args())
                    losses.append(sequence_loss(logits, b.targets))
                accs.append(token_accuracy(logits, b.targets))
            loss, acc = torch.stack(losses).mean().item(), torch.stack(accs).float().mean().item()
        finally:
            self.model.train()
        return {"val/loss": loss, "val/accuracy": acc}

    def capture_attention(self, step: int):
        with self.autocast():  # the patterns the model computes in training
            maps = attention_maps(self.model, self.probe_batch.model_args())
        labels = {}
        for layer, m in maps.items():  # the maps keep the first positions only: so do their labels
            q, k = self.task.attention_labels(self.probe_cpu, layer)
            labels[layer] = (list(q)[: m.shape[1]], list(k)[: m.shape[2]])
        self.store.add_attention(AttentionSnapshot(step, maps, labels))

    def _finish(self, status: str, reason: str, final_loss=None):
        self._end(status)
        self.reason = reason
        extra = {"validation": validation_note(self.task)} if self.task is not None else {}
        if getattr(self, "_pruning", None):
            extra["prune_dloss"] = {k: round(v, 6) for k, v in self._pruning.items()}
        self.summary = Summary(status=status, steps=self.step, final_loss=final_loss, reason=reason,
                               diverged_step=self.diverged_step, elapsed_s=self._elapsed,
                               device=str(self.device), extra=extra)
        log.info("run %s: %s", status, reason)
        if self.on_finish is not None:
            try:
                self.on_finish(self)
            except Exception:  # a failing callback (e.g. saving) must not lose the run
                log.exception("on_finish callback failed")


def train(cfg: RunConfig, **kw) -> Trainer:
    """Train synchronously; returns the finished trainer (its ``store`` and ``summary``)."""
    tr = Trainer(cfg, **kw)
    tr.run()
    return tr
