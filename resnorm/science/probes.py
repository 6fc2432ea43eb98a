"""Probes: the observables of docs/ARCHITECTURE.md §3, read through hook points without changing the maths.

Forward hooks are attached only for the step being probed (``ActivationProbe.capture``) and
reduce each tensor to a few scalars at once, so no activation outlives its step; all scalars of a
step are moved to the host in one transfer. Gradient norms and update ratios read ``.grad`` and the
parameters after backward / after the optimizer step.

Metric names (``{p}`` = ``blocks.{i}``, or ``enc.blocks.{i}`` / ``dec.blocks.{i}`` in an
encoder-decoder; ``{sub}`` = ``attn``, ``mlp`` and, in a decoder block with cross-attention, ``cross_attn``):

- ``{p}.resid_post.{rms,mean,std,absmax}`` — the residual stream after the block; ``{p}.rank_residual``
  = mean ‖X − 1x̄ᵀ‖_F/‖X‖_F over sequences (0: every token carries the same vector), and
  ``{p}.rank_residual_l1inf`` the same in Dong et al.'s composite ℓ1,∞ norm (see ``stream_stats``);
- ``{p}.{sub}_out.rms`` and ``{p}.{sub}_out.ratio`` = ‖F‖/‖x‖, the raw branch output against the
  stream entering the sublayer, measured at ``hook_{sub}_out``: before a ReZero gate, before the
  1/√(2L) scale, before Sandwich's N_out, and against x rather than DeepNorm's αx — so it is *not*
  how much the sublayer changes the stream (ReZero at init: 0.4–0.8 while nothing changes);
- ``{p}.{sub}_out.change`` = ‖x_out − x_in‖/‖x_in‖, how much the sublayer's whole update (gate,
  scale, norms, skip path included) actually changes the stream: x_in is the stream entering the
  sublayer, x_out the stream after it (0 for ReZero at init; Post-LN's includes the final norm);
- ``{p}.{attn,cross_attn}.entropy`` (mean over heads) and ``{p}.{attn,cross_attn}.head{h}.entropy``;
- ``{p}.grad_norm``, ``{p}.{sub}.grad_norm`` and ``{p}.update_ratio`` = ‖Δθ‖/‖θ‖ of the block's step;
- run-level (trainer): ``train/loss``, ``train/accuracy``, ``val/loss``, ``val/accuracy``,
  ``grad/total_norm``, ``lr``.

Issue 18 diagnostics (``massive`` and ``angular_distance`` in ``stream_extra``, the attention ones in
``attention_extra``, the learned parameters in ``LearnedParams``, pruning in ``layer_pruning``):

- ``{p}.{attn,cross_attn}.max_logit`` — the largest logit the softmax reads (after the 1/√d_head
  scale and a soft-cap, masked entries excluded), over batch, heads, queries and keys: what QK-norm
  and soft-caps tame (Wortsman et al. 2023);
- ``{p}.{attn,cross_attn}.sink`` — the fraction of heads whose attention to the first key, averaged
  over batch and queries, exceeds 0.3 (``SINK_THRESHOLD``): the attention sink that gating removes
  (Xiao et al. 2024; Qiu et al. 2025);
- ``{p}.resid_post.massive`` — max |x| / median |x| over all entries of the stream after the block:
  massive activations (Sun et al. 2024) are a few entries thousands of times the median;
- ``{p}.angular_distance`` — arccos(cos(x_in, x_out))/π per token, mean over tokens, between the
  stream entering the block and leaving it: 0 for a block that only rescales or does nothing (the deep
  near-identity blocks of Pre-LN, "The Curse of Depth"), ½ for an orthogonal change;
- ``{p}.param.{name}`` — every learned parameter of a block with one element (ReZero gates
  ``gate_attn``, DyT/Derf ``norm_attn.alpha``, Derf ``norm_attn.shift``; any scalar a variant
  registers); ``{p}.param.{name}.mean`` the mean of a 1-D parameter whose last name part starts with
  ``gate``, ``alpha``, ``omega``, ``lambda`` or ``scale`` (per-feature step sizes: nGPT's α, Admin's ω);
  ``{p}.param.{name}.{r}_{c}`` every entry of a 2-D block parameter whose last name part contains
  ``mix``, with at most 64 entries (hyper-connection mixing matrices);
  parameters outside blocks are ``param/{name}``; recorded at probe steps, before the update;
- ``{p}.prune_dloss`` — at the end of a completed run: the validation loss with the block removed
  (replaced by the identity) minus the loss of the whole model (layer pruning, as in Sun et al. 2025);
- ``train/z_loss`` — mean (logsumexp of the output logits)² over scored positions, in every run (the
  loss adds ``z_loss`` times it).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from . import names
from .model import Transformer


RESID_STATS = ("rms", "mean", "std", "absmax", "rank_residual", "rank_residual_l1inf")


def _wide(x: torch.Tensor) -> torch.Tensor:
    """Detached, in at least float32 (float64 stays float64, so a collapse to 1e-16 stays visible)."""
    x = x.detach()
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


@torch.no_grad()
def stream_stats(x: torch.Tensor) -> torch.Tensor:
    """Residual-stream statistics of ``x`` (batch, tokens, d_model), in the order of RESID_STATS.

    rms = √mean(x²), mean, std and max |x| over all elements; rank_residual = mean over sequences
    of ‖X − 1·x̄ᵀ‖_F / ‖X‖_F, with x̄ the token mean of the sequence's tokens × d_model matrix X
    (Dong et al. 2021): 0 when every token carries the same vector; rank_residual_l1inf = the same
    ratio in Dong et al.'s composite norm ‖R‖_{1,∞} = √(‖R‖₁‖R‖_∞) (‖R‖₁: largest column sum of |R|,
    ‖R‖_∞: largest row sum), mean over sequences.

    Dong et al. take x̄ as the minimiser of the norm; both metrics here use the token mean, so they
    are upper bounds of the minimum (for the Frobenius norm the mean *is* the minimiser). Both are
    0 exactly when every token carries the same vector, and on T × d matrices the two norms are within
    fixed factors of each other (‖R‖_F ≤ √(T·d)·‖R‖_{1,∞} and back), so a doubly exponential fall
    shows the same in both; Frobenius is the default because it is smooth and uses every entry.
    """
    x = _wide(x)
    centred = x - x.mean(dim=1, keepdim=True)
    rank = (torch.linalg.vector_norm(centred, dim=(1, 2))
            / torch.linalg.vector_norm(x, dim=(1, 2)).clamp_min(1e-30)).mean()
    a_c, a_x = centred.abs(), x.abs()
    l1inf = lambda a: (a.sum(1).amax(-1) * a.sum(2).amax(-1)).sqrt()  # noqa: E731 — per sequence
    rank_l1inf = (l1inf(a_c) / l1inf(a_x).clamp_min(1e-30)).mean()
    mean = x.mean()  # std in two passes, Σ(x − x̄)²/(n − 1): as exact as std_mean, ~10× faster on CPU
    std = ((x - mean).square().sum() / max(x.numel() - 1, 1)).sqrt()
    return torch.stack([x.square().mean().sqrt(), mean, std, a_x.amax(), rank, rank_l1inf])


@torch.no_grad()
def attention_entropy(pattern: torch.Tensor) -> torch.Tensor:
    """Per-head entropy (nats) of attention rows, −Σ_k p log p, mean over batch and queries → (heads,)."""
    return torch.special.entr(_wide(pattern)).sum(-1).mean(dim=(0, 2))


class ActivationProbe:
    """Collects the §3 activation metrics of one forward pass.

    Each hook reduces its tensor to a short vector at once; ``pop`` moves all of them to the host
    in one transfer and names the entries.
    """

    def __init__(self, model: Transformer):
        self.model = model
        self.prefixes = model.block_prefixes()
        self._parts: list[tuple[list[str], torch.Tensor]] = []
        self._stream_rms = torch.ones(())
        self._stream: torch.Tensor | None = None  # the stream entering the current sublayer
        self._block_in: torch.Tensor | None = None  # the stream entering the current block

    def _hook(self, name: str, kind: str):
        if kind == "resid":
            keys = [f"{name}.{k}" if k.startswith("rank_residual") else f"{name}.resid_post.{k}"
                    for k in RESID_STATS] + [f"{name}.resid_post.massive", f"{name}.angular_distance"]

            def resid(m, a, out):
                self._parts.append((keys, torch.cat([stream_stats(out), stream_extra(self._block_in, out)])))
            return resid
        if kind == "stream_in":  # the stream entering the next sublayer: remember it and its RMS
            def stream_in(m, a, out):
                self._stream = self._block_in = _wide(out)
                self._stream_rms = self._stream.square().mean().sqrt()
            return stream_in
        if kind == "scores":  # issue 18: the logits the softmax reads
            return lambda m, a, out: self._parts.append(([f"{name}.max_logit"], attention_extra(scores=out)))
        if kind == "after":  # the stream after sublayer ``name``: its change, then it feeds the next
            def after(m, a, out):
                x_out = _wide(out)
                if self._stream is not None:
                    change = torch.linalg.vector_norm(x_out - self._stream) / \
                        torch.linalg.vector_norm(self._stream).clamp_min(1e-30)
                    self._parts.append(([f"{name}.change"], change.reshape(1)))
                self._stream = x_out
                self._stream_rms = x_out.square().mean().sqrt()
            return after
        if kind == "branch":  # ‖F(x)‖ as RMS, and ‖F(x)‖/‖x‖ against the stream it reads
            def branch(m, a, out):
                rms = _wide(out).square().mean().sqrt()
                self._parts.append(([f"{name}.rms", f"{name}.ratio"],
                                    torch.stack([rms, rms / self._stream_rms.clamp_min(1e-30)])))
            return branch

        def pattern(m, a, out):
            ent = attention_entropy(out)
            keys = [f"{name}.entropy"] + [names.head_entropy(name, h) for h in range(ent.shape[0])] + [f"{name}.sink"]
            self._parts.append((keys, torch.cat([ent.mean().reshape(1), ent, attention_extra(pattern=out)])))
        return pattern

    @contextlib.contextmanager
    def capture(self, active: bool = True):
        """Within the block, forward passes record metrics (when ``active``); hooks are attached
        only for the block's duration, so unprobed steps run the bare model."""
        if not active:
            yield self
            return
        handles = []
        for p in self.prefixes:
            block = self.model.get_submodule(p)
            targets = [(f"{p}.hook_resid_post", p, "resid"), (f"{p}.hook_resid_pre", p, "stream_in")]
            for sub in block.sublayers:
                targets.append((f"{p}.hook_{sub}_out", f"{p}.{sub}_out", "branch"))
                targets.append((f"{p}.hook_resid_after_{sub}", f"{p}.{sub}_out", "after"))
                if sub != "mlp":
                    targets.append((f"{p}.{sub}.hook_scores", f"{p}.{sub}", "scores"))
                    targets.append((f"{p}.{sub}.hook_pattern", f"{p}.{sub}", "pattern"))
            for hook_name, metric, kind in targets:
                handles.append(self.model.get_submodule(hook_name).register_forward_hook(self._hook(metric, kind)))
        try:
            yield self
        finally:
            self._stream = self._block_in = None  # no activation outlives the probed step
            for h in handles:
                h.remove()

    def pop(self) -> dict[str, float]:
        """The metrics captured since the last pop, as Python floats (one host transfer)."""
        if not self._parts:
            return {}
        keys = [n for ns, _ in self._parts for n in ns]
        vals = torch.cat([v.double() for _, v in self._parts]).cpu().tolist()
        self._parts = []
        return dict(zip(keys, vals))


class ParamGroups:
    """Parameters grouped per block (and per sublayer weight set) for gradient/update norms.

    ``blocks.{i}.grad_norm`` covers every parameter of the block (norms and gates included);
    ``blocks.{i}.attn.grad_norm`` / ``.mlp.grad_norm`` / ``.cross_attn.grad_norm`` cover the
    sublayer's own weights (W_Q, W_K, W_V, W_O / W_1, W_2 and biases). A group's norm is
    √(Σ ‖g_p‖²) over its parameters p, computed for all groups at once as a 0/1 matrix product.
    """

    def __init__(self, model: Transformer):
        self.block_names = model.block_prefixes()
        self.params = [q for b in self.block_names for q in model.get_submodule(b).parameters()]
        pos = {id(q): i for i, q in enumerate(self.params)}
        groups: dict[str, list[int]] = {}
        for b in self.block_names:
            block = model.get_submodule(b)
            groups[b] = [pos[id(q)] for q in block.parameters()]
            for sub in block.sublayers:
                groups[f"{b}.{sub}"] = [pos[id(q)] for q in getattr(block, sub).parameters()]
        self.names = list(groups)
        self.membership = torch.zeros(len(groups), len(self.params))
        for r, idx in enumerate(groups.values()):
            self.membership[r, idx] = 1.0
        self._block_rows = [self.names.index(b) for b in self.block_names]

    def _group_norms(self, tensors) -> torch.Tensor:
        tensors = [t if t.dtype in (torch.float32, torch.float64) else t.float() for t in tensors]
        sq = torch.stack(torch._foreach_norm(tensors)).double().square().cpu()
        return (self.membership.double() @ sq).sqrt()

    @torch.no_grad()
    def grad_norms(self) -> dict[str, float]:
        grads = [q.grad if q.grad is not None else torch.zeros_like(q) for q in self.params]
        if not grads:
            return {}
        return {f"{n}.grad_norm": v for n, v in zip(self.names, self._group_norms(grads).tolist())}

    @torch.no_grad()
    def snapshot(self) -> list[torch.Tensor]:
        """Copies of the blocks' parameters, to measure the optimizer's update against."""
        return [q.detach().clone() for q in self.params]

    @torch.no_grad()
    def update_ratios(self, before: list[torch.Tensor]) -> dict[str, float]:
        """‖θ_after − θ_before‖ / ‖θ_before‖ per block."""
        if not before:
            return {}
        delta = self._group_norms(torch._foreach_sub([q.detach() for q in self.params], before))
        base = self._group_norms(before).clamp_min(1e-30)
        ratio = (delta / base)[self._block_rows].tolist()
        return {f"{b}.update_ratio": r for b, r in zip(self.block_names, ratio)}


MAX_ATTENTION_HEADS = 8        # heads of a map kept for display
MAX_ATTENTION_POSITIONS = 64   # query and key positions kept for display (the first ones)


@torch.no_grad()
def attention_maps(model: Transformer, args: tuple) -> dict[str, np.ndarray]:
    """Attention patterns of one example: {``blocks.3.attn``: array (heads, query, key)}, at most
    ``MAX_ATTENTION_HEADS`` heads and the first ``MAX_ATTENTION_POSITIONS`` queries and keys (what a
    page can show; 64 heads of 512 × 512 would be 64 MiB per layer and snapshot).

    Runs in eval mode (no dropout) and restores the model's mode afterwards.
    """
    maps: dict[str, np.ndarray] = {}
    hooks = []
    for p in model.block_prefixes():
        block = model.get_submodule(p)
        for sub in block.sublayers:
            if sub == "mlp":
                continue

            def fn(module, a, out, key=f"{p}.{sub}"):
                m = MAX_ATTENTION_POSITIONS
                maps[key] = out[0, :MAX_ATTENTION_HEADS, :m, :m].detach().float().cpu().numpy().copy()

            hooks.append((model.get_submodule(f"{p}.{sub}.hook_pattern"), fn))
    eval_forward_with_hooks(model, args, hooks)
    return maps


@torch.no_grad()
def eval_forward_with_hooks(model: torch.nn.Module, args: tuple, hooks) -> None:
    """One forward pass of ``args`` in eval mode (no dropout) with the forward hooks ``[(module, fn)]``
    attached for that pass only; the model's mode is restored and every hook removed, whatever
    happens. No hooks: no pass (nothing would be read)."""
    if not hooks:
        return
    handles = [m.register_forward_hook(fn) for m, fn in hooks]
    was_training = model.training
    model.eval()
    try:
        model(*args)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()


def total_grad_norm(params) -> torch.Tensor:
    """‖∇θ‖₂ over all parameters with a gradient (before clipping)."""
    grads = [p.grad for p in params if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


# ---- issue 18 (i-attn): diagnostics -------------------------------------------------------------------
SINK_THRESHOLD = 0.3  # a head "sinks" when its mean attention to the first key exceeds this


@torch.no_grad()
def stream_extra(x_in: torch.Tensor | None, x_out: torch.Tensor) -> torch.Tensor:
    """[massive, angular distance] of a block's output stream ``x_out`` (batch, tokens, d_model):
    max|x|/median|x| over all entries, and mean over tokens of arccos(cos(x_in, x_out))/π (NaN
    without ``x_in``). The cosine is clamped to [−1, 1] before arccos."""
    x = _wide(x_out)
    a = x.abs().flatten()
    massive = a.max() / a.median().clamp_min(1e-30)
    if x_in is None:
        return torch.stack([massive, torch.full((), float("nan"), dtype=x.dtype, device=x.device)])
    cos = torch.nn.functional.cosine_similarity(_wide(x_in), x, dim=-1, eps=1e-30).clamp(-1.0, 1.0)
    return torch.stack([massive, (torch.arccos(cos) / torch.pi).mean()])


@torch.no_grad()
def attention_extra(scores: torch.Tensor | None = None, pattern: torch.Tensor | None = None) -> torch.Tensor:
    """From the softmax's logits (batch, head, query, key): [max finite logit]; from the pattern:
    [fraction of heads whose mean attention (over batch and queries) to key 0 exceeds SINK_THRESHOLD]."""
    if scores is not None:
        s = _wide(scores)
        top = s.amax()  # masked entries are −∞ and never the max; only +∞/NaN need the slow path
        if s.device.type != "cpu" or not torch.isfinite(top):  # (a host check is free on the CPU)
            top = s.masked_fill(~torch.isfinite(s), float("-inf")).amax()
        return top.reshape(1)
    first = _wide(pattern)[..., 0].mean(dim=(0, 2))  # (heads,)
    return (first > SINK_THRESHOLD).to(first.dtype).mean().reshape(1)


class LearnedParams:
    """The learned scalars and small mixing matrices of a model, by a rule on their names (so a
    variant that registers one is recorded without a change here): every parameter with one
    element; every 1-D parameter whose last name part starts with one of ``SCALE_NAMES`` (a per-feature
    gate or step size such as nGPT's α or Admin's ω), as its mean ``….mean``; and every 2-D parameter
    whose last name part contains ``mix`` with at most ``MAX_MIX`` entries, entry by entry. A block's
    are named ``{p}.param.{name}`` (matrix entries ``{p}.param.{name}.{r}_{c}``), others
    ``param/{name}``. ``values()`` reads them all in one host transfer."""

    MAX_MIX = 64
    SCALE_NAMES = ("gate", "alpha", "omega", "lambda", "scale")

    def __init__(self, model: Transformer):
        owner = {}
        for p in model.block_prefixes():
            for n, q in model.get_submodule(p).named_parameters():
                owner[id(q)] = f"{p}.param.{n}"
        self.names: list[str] = []
        self.params: list[tuple[torch.Tensor, bool]] = []  # (parameter, recorded as its mean)
        for n, q in model.named_parameters():
            base, leaf = owner.get(id(q), f"param/{n}"), n.rsplit(".", 1)[-1]
            mean = False
            if q.numel() == 1:
                self.names.append(base)
            elif q.dim() == 1 and leaf.startswith(self.SCALE_NAMES):
                self.names.append(f"{base}.mean")
                mean = True
            elif q.dim() == 2 and "mix" in leaf and q.numel() <= self.MAX_MIX:
                self.names.extend(f"{base}.{r}_{c}" for r in range(q.shape[0]) for c in range(q.shape[1]))
            else:
                continue
            self.params.append((q, mean))

    @torch.no_grad()
    def values(self) -> dict[str, float]:
        if not self.params:
            return {}
        parts = [(q.detach().double().mean().reshape(1) if mean else q.detach().reshape(-1).double())
                 for q, mean in self.params]
        return dict(zip(self.names, torch.cat(parts).cpu().tolist()))


@torch.no_grad()
def layer_pruning(model: Transformer, batches, loss_of, base: float | None = None) -> dict[str, float]:
    """``{p}.prune_dloss`` per block: mean of ``loss_of(model, batch)`` over ``batches`` with block
    ``p`` replaced by the identity (the block's output is its input), minus the same mean for the
    whole model (``base`` when the caller has it: the trainer's last validation loss). Eval mode; the
    model's mode is restored. L (+ 1) passes over the batches.

    A removed block is not computed at all, except with the value residual: there the first block's
    V₁ feeds every later block, so a removed block still runs (for its V₁) and a forward hook
    returns its input instead of its output."""
    def mean_loss():
        return sum(float(loss_of(model, b)) for b in batches) / max(len(batches), 1)

    side_effects = bool(getattr(model.cfg, "value_residual", False))
    was_training = model.training
    model.eval()
    try:
        base = mean_loss() if base is None else base
        out = {}
        for p in model.block_prefixes():
            block = model.get_submodule(p)
            if side_effects:
                handle = block.register_forward_hook(lambda m, args, result: args[0])
            else:
                block.forward = lambda x, *args, **kwargs: x  # an instance attribute: nn.Module calls it
            try:
                out[f"{p}.prune_dloss"] = mean_loss() - base
            finally:
                if side_effects:
                    handle.remove()
                else:
                    del block.forward
    finally:
        model.train(was_training)
    return out
