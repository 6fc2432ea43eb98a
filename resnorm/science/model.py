"""A small Transformer whose every block follows the variant table of ``resnorm.science.variants``.

Architectures: ``decoder`` (causal LM), ``encoder`` (bidirectional) and ``encoder-decoder`` (the
2017 Transformer; the decoder's cross-attention gets the same norm/residual rule as every other
sublayer). Observable activations pass through ``HookPoint`` modules with stable names
(``blocks.3.hook_resid_post``, ``blocks.3.attn.hook_pattern``, ``dec.blocks.0.hook_cross_attn_out``),
so probes attach with ordinary forward hooks by name and never edit the model.
"""
from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as Fn
from torch import nn

from . import names, variants
from .config import ModelConfig
from .seeds import stream_seed

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}


class Dropout(nn.Module):
    """Inverted dropout, x ⊙ m / (1 − p) with m ~ Bernoulli(1 − p), drawing from ``self.generator``
    when one is set (the trainer gives each run its own), so concurrent runs stay reproducible."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


class HookPoint(nn.Identity):
    """An identity with a name: ``model.get_submodule(name).register_forward_hook(fn)`` sees the
    tensor that flows through it. Costs nothing when no hook is attached."""


class Attention(nn.Module):
    """Multi-head attention: softmax(Q Kᵀ/√d_head [+ causal mask]) V, heads concatenated, then W_O.

    Written out (not ``scaled_dot_product_attention``) so the pattern is observable at
    ``hook_pattern`` with shape (batch, head, query, key), and the logits the softmax reads at
    ``hook_scores`` (same shape; masked entries −∞).

    Issue 18 options (``variants.ATTENTION_OPTIONS``): ``qk_norm`` applies a LayerNorm over each
    head's d_head features to q and k before the dot product (one γ, β shared by the heads);
    ``softcap`` C > 0 replaces the logits s by C·tanh(s/C); ``gate`` multiplies each head's output
    by σ(x W_g) (x: the sublayer's input, W_g: d_model → d_model, one gate per head feature) before W_O.
    """

    def __init__(self, d_model: int, heads: int, dropout: float, *, qk_norm: bool = False,
                 softcap: float = 0.0, gate: bool = False, eps: float = 1e-5):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.W_Q = nn.Linear(d_model, d_model)
        self.W_K = nn.Linear(d_model, d_model)
        self.W_V = nn.Linear(d_model, d_model)
        self.W_O = nn.Linear(d_model, d_model)
        self.softcap = softcap
        if qk_norm:
            self.q_norm = nn.LayerNorm(self.d_head, eps=eps)
            self.k_norm = nn.LayerNorm(self.d_head, eps=eps)
        if gate:
            self.W_g = nn.Linear(d_model, d_model)
        self.dropout = Dropout(dropout)
        self.hook_scores = HookPoint()
        self.hook_pattern = HookPoint()
        # issue 18: set by the block when its config asks (parameters, so they are named and trained)
        self.value_lambdas = None  # ResFormer (λ₁, λ₂): V ← λ₁V + λ₂V₁
        self.ngpt_s_qk = None  # nGPT: q, k on the unit sphere times s_qk, logits × √d_head

    def forward(self, x, context=None, causal: bool = False, values: dict | None = None):
        context = x if context is None else context
        B, T, D = x.shape
        S = context.shape[1]
        q = self.W_Q(x).view(B, T, self.heads, self.d_head).transpose(1, 2)
        k = self.W_K(context).view(B, S, self.heads, self.d_head).transpose(1, 2)
        v = self.W_V(context).view(B, S, self.heads, self.d_head).transpose(1, 2)
        if values is not None:  # ---- issue 18: value residual (ResFormer), V_1 from the first block
            if "v1" not in values:
                values["v1"] = v
            elif self.value_lambdas is not None:
                v = self.value_lambdas[0] * v + self.value_lambdas[1] * values["v1"]
        if hasattr(self, "q_norm"):  # ---- issue 18: QK-norm
            q, k = self.q_norm(q), self.k_norm(k)
        if self.ngpt_s_qk is not None:  # ---- issue 18: nGPT attention
            q, k = variants.unit(q) * self.ngpt_s_qk, variants.unit(k) * self.ngpt_s_qk
            scores = q @ k.transpose(-2, -1) * math.sqrt(self.d_head)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if self.softcap > 0:  # ---- issue 18: logit soft-cap
            scores = self.softcap * torch.tanh(scores / self.softcap)
        if causal:
            future = torch.ones(T, S, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        pattern = self.hook_pattern(self.hook_scores(scores).softmax(dim=-1))
        z = self.dropout(pattern) @ v
        z = z.transpose(1, 2).reshape(B, T, D)
        if hasattr(self, "W_g"):
            z = z * torch.sigmoid(self.W_g(x))
        return self.W_O(z)


class MLP(nn.Module):
    """W_2 · act(W_1 x + b_1) + b_2."""

    def __init__(self, d_model: int, d_ff: int, activation: str):
        super().__init__()
        self.W_1 = nn.Linear(d_model, d_ff)
        self.W_2 = nn.Linear(d_ff, d_model)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.ngpt_s_u = None  # issue 18, nGPT: act(√d · s_u ⊙ W_1 x), s_u learned (1 at init)

    def forward(self, x):
        if self.ngpt_s_u is not None:
            return self.W_2(self.act(self.W_1(x) * self.ngpt_s_u * math.sqrt(x.shape[-1])))
        return self.W_2(self.act(self.W_1(x)))


class HyperConnection(nn.Module):
    """Hyper-connections around one sublayer (Zhu et al. 2025), n streams H ∈ R^{n×d} per token:

        h = A_mᵀ H  (read),   H ← A_rᵀ H + Bᵀ branch(h)  (write and mix)

    Static: ``width`` = A_m (n,), ``res`` = A_r (n, n), ``depth`` = B (n,), learned, initialised as the
    paper's Pre-LN equivalent (A_m = e_{ℓ mod n}, A_r = I, B = 1). Dynamic (``--hc-dynamic``) adds
    s · tanh(Ū W) to each, Ū the RMS-normalised streams, W = 0 and s = 0.01 at init (so it starts
    static). mHC (DeepSeek 2025): A_r = Sinkhorn(``res``) is doubly stochastic (``res`` holds its
    logits, 4·I at init: near the identity), A_m = σ(``width``) and B = 2σ(``depth``) (logits 0).
    ``matrices()`` gives the effective static (A_m, A_r, B) for recording.
    """

    def __init__(self, n: int, d: int, index: int, *, dynamic: bool, mhc: bool):
        super().__init__()
        self.n, self.mhc = n, mhc
        if mhc:
            self.width, self.res, self.depth = (nn.Parameter(torch.zeros(n)), nn.Parameter(4.0 * torch.eye(n)),
                                                nn.Parameter(torch.zeros(n)))
        else:
            self.width = nn.Parameter(Fn.one_hot(torch.tensor(index % n), n).float())
            self.res, self.depth = nn.Parameter(torch.eye(n)), nn.Parameter(torch.ones(n))
        self.dynamic = dynamic
        if dynamic:
            self.W_width, self.W_depth = nn.Parameter(torch.zeros(d)), nn.Parameter(torch.zeros(d))
            self.W_res = nn.Parameter(torch.zeros(d, n))
            self.s_width, self.s_res, self.s_depth = (nn.Parameter(torch.tensor(0.01)) for _ in range(3))

    def _effective(self, width, res, depth):
        if self.mhc:
            return torch.sigmoid(width), variants.sinkhorn(res), 2.0 * torch.sigmoid(depth)
        return width, res, depth

    def matrices(self):
        """(A_m, A_r, B) without the input-dependent part: what a chart of the mixing shows."""
        return self._effective(self.width, self.res, self.depth)

    def mixing(self, H):
        """(A_m (…, n), A_r (…, n, n), B (…, n)) for the streams H (…, n, d)."""
        if not self.dynamic:
            return self.matrices()
        U = H * torch.rsqrt(H.pow(2).mean(-1, keepdim=True) + 1e-6)
        width = self.width + self.s_width * torch.tanh(U @ self.W_width)
        depth = self.depth + self.s_depth * torch.tanh(U @ self.W_depth)
        res = self.res + self.s_res * torch.tanh(U @ self.W_res)
        return self._effective(width, res, depth)

    def forward(self, H, branch):
        """One sublayer on the streams: read, the branch, write and mix."""
        a_m, a_r, b = self.mixing(H)
        h = (a_m.unsqueeze(-2) @ H).squeeze(-2)  # Σ_i A_m[i] H_i
        y = branch(h)
        return a_r.mT @ H + b.unsqueeze(-1) * y.unsqueeze(-2)  # H'_j = Σ_i A_r[i, j] H_i + B_j y


class Block(nn.Module):
    """Self-attention [+ cross-attention] [+ MLP], each wrapped by ``variants.update``.

    ``layer`` is the 1-based index ℓ within its stack of ``n_layers`` = L blocks.
    """

    def __init__(self, cfg: ModelConfig, layer: int, n_layers: int, *, causal: bool, cross: bool,
                 skip_scale: float = 1.0):
        super().__init__()
        self.cfg, self.layer, self.n_layers = cfg, layer, n_layers
        self.causal, self.skip_scale = causal, skip_scale
        position = variants.NORM_POSITIONS[cfg.norm_position]
        self.sublayers = ["attn"] + (["cross_attn"] if cross else []) + (["mlp"] if cfg.mlp else [])
        self.hook_resid_pre = HookPoint()
        attn_options = dict(qk_norm=cfg.qk_norm, softcap=cfg.logit_softcap, gate=cfg.attn_gate, eps=cfg.norm_eps)
        self.attn = Attention(cfg.d_model, cfg.heads, cfg.dropout, **attn_options)
        if cross:
            self.cross_attn = Attention(cfg.d_model, cfg.heads, cfg.dropout, **attn_options)
        if cfg.mlp:
            self.mlp = MLP(cfg.d_model, cfg.d_ff, cfg.activation)
        norm_kind = cfg.norm if position.normalises else "none"
        for sub in self.sublayers:
            self.add_module(f"norm_{sub}", variants.make_norm(norm_kind, cfg.d_model, cfg.norm_eps, cfg.dyt_alpha))
            if "N_out" in position.branch_ops:  # a second norm on the branch's output (sandwich)
                self.add_module(f"norm_{sub}_out", variants.make_norm(norm_kind, cfg.d_model, cfg.norm_eps, cfg.dyt_alpha))
            if variants.RESIDUAL_MODES[cfg.residual].gated:
                self.register_parameter(f"gate_{sub}", nn.Parameter(torch.zeros(())))
            self.add_module(f"hook_{sub}_out", HookPoint())
            self.add_module(f"hook_resid_after_{sub}", HookPoint())
        self.hook_resid_post = HookPoint()
        self.drop = Dropout(cfg.dropout)
        self._init_2026(cfg, position)

    def _init_2026(self, cfg: ModelConfig, position) -> None:
        """Issue 18's parameters, named stably (docs/ARCHITECTURE.md §3): ``omega_<sub>`` (Admin's ω, set
        by ``admin_profile_``), ``ngpt_alpha_<sub>`` (nGPT's step sizes, 0.05 at init), ``hc_<sub>``
        (a ``HyperConnection``), ``attn.value_lambdas`` (blocks ℓ ≥ 2), ``attn.ngpt_s_qk``, ``mlp.ngpt_s_u``."""
        mode = variants.RESIDUAL_MODES[cfg.residual]
        self.streams = cfg.streams if mode.streams else 0
        for i, sub in enumerate(self.sublayers):
            if mode.skip_vector:
                self.register_parameter(f"omega_{sub}", nn.Parameter(torch.ones(cfg.d_model)))
            if position.own_update is not None:
                self.register_parameter(f"ngpt_alpha_{sub}", nn.Parameter(torch.full((cfg.d_model,), 0.05)))
            if self.streams:
                index = (self.layer - 1) * len(self.sublayers) + i
                self.add_module(f"hc_{sub}", HyperConnection(self.streams, cfg.d_model, index,
                                                             dynamic=cfg.hc_dynamic, mhc=cfg.residual == "mhc"))
        if cfg.value_residual and self.layer > 1:
            self.attn.value_lambdas = nn.Parameter(torch.tensor([0.5, 0.5]))
        if position.own_update is not None:
            for sub in self.sublayers:
                if sub.endswith("attn"):
                    getattr(self, sub).ngpt_s_qk = nn.Parameter(torch.ones(self.attn.d_head))
            if cfg.mlp:
                self.mlp.ngpt_s_u = nn.Parameter(torch.ones(cfg.d_ff))

    def _gate(self, sub: str):
        """ReZero's scalar, Admin's ω or nGPT's step sizes for sublayer ``sub`` (None elsewhere)."""
        for name in (f"gate_{sub}", f"omega_{sub}", f"ngpt_alpha_{sub}"):
            if hasattr(self, name):
                return getattr(self, name)
        return None

    def _update(self, x, sub: str, F):
        return variants.update(
            x, F, getattr(self, f"norm_{sub}"), getattr(self, f"norm_{sub}_out", None),
            position=self.cfg.norm_position, residual=self.cfg.residual,
            gate=self._gate(sub), layer=self.layer, n_layers=self.n_layers,
            skip_scale=self.skip_scale, mixln_alpha=self.cfg.mixln_alpha, residual_alpha=self.cfg.residual_alpha)

    def forward(self, x, memory=None, values: dict | None = None):
        """``x``: the stream (batch, pos, d), or with hyper-connections the streams (batch, pos, n, d),
        whose hooks then see their sum Σ_i H_i (what the head reads); ``values``: the stack's V_1
        for the value residual."""
        x = self._hook(self.hook_resid_pre, x)
        for sub in self.sublayers:
            hook_out = getattr(self, f"hook_{sub}_out")
            if sub == "attn":
                F = lambda h: hook_out(self.drop(self.attn(h, causal=self.causal, values=values)))  # noqa: E731
            elif sub == "cross_attn":
                F = lambda h: hook_out(self.drop(self.cross_attn(h, memory)))  # noqa: E731
            else:
                F = lambda h: hook_out(self.drop(self.mlp(h)))  # noqa: E731
            if self.streams:
                p = variants.NORM_POSITIONS[self.cfg.norm_position]
                N, N_out = getattr(self, f"norm_{sub}"), getattr(self, f"norm_{sub}_out", None)
                x = getattr(self, f"hc_{sub}")(x, lambda h: p.branch(h, F, N, N_out, self.layer))
            else:
                x = self._update(x, sub, F)
            x = self._hook(getattr(self, f"hook_resid_after_{sub}"), x)
        return self._hook(self.hook_resid_post, x)

    def _hook(self, point: HookPoint, x):
        """Pass the stream through a hook point; n streams are observed as their sum."""
        if self.streams:
            point(x.sum(-2))
            return x
        return point(x)


class Stack(nn.Module):
    """L blocks and, for positions that need it (pre, sandwich, lns), a final norm."""

    def __init__(self, cfg: ModelConfig, *, causal: bool, cross: bool, skip_scale: float = 1.0):
        super().__init__()
        L = cfg.layers
        self.blocks = nn.ModuleList(
            Block(cfg, i + 1, L, causal=causal, cross=cross, skip_scale=skip_scale) for i in range(L))
        final = variants.NORM_POSITIONS[cfg.norm_position].final_norm
        self.norm_final = variants.make_norm(cfg.norm if final else "none", cfg.d_model, cfg.norm_eps,
                                             cfg.dyt_alpha)
        self.hook_final = HookPoint()

    def forward(self, x, memory=None):
        streams = self.blocks[0].streams if len(self.blocks) else 0
        if streams:  # hyper-connections: n copies of the embedding in, their sum out
            x = x.unsqueeze(-2).expand(*x.shape[:-1], streams, x.shape[-1])
        values = {}  # the value residual's V_1, per forward pass
        for block in self.blocks:
            x = block(x, memory, values)
        if streams:
            x = x.sum(-2)
        return self.hook_final(self.norm_final(x))


class Transformer(nn.Module):
    """Token + learned position embeddings → stack(s) → linear head to vocabulary logits.

    ``forward(inputs)`` for decoder/encoder; ``forward(inputs, dec_inputs)`` for encoder-decoder,
    where ``inputs`` feeds the encoder and ``dec_inputs`` the causal decoder.
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, max_len: int):
        super().__init__()
        self.cfg, self.vocab_size, self.max_len = cfg, vocab_size, max_len
        self.embed = nn.Embedding(vocab_size, cfg.d_model)
        self.pos_embed = nn.Embedding(max_len, cfg.d_model)
        self.hook_embed = HookPoint()
        # per-stack (skip scale α, init scale β) of positions that define them (DeepNorm), else none
        consts = variants.NORM_POSITIONS[cfg.norm_position].constants(cfg.arch, cfg.layers)
        alpha = lambda stack: consts.get(stack, (1.0, 1.0))[0]  # noqa: E731
        if cfg.arch == "encoder-decoder":
            self.enc = Stack(cfg, causal=False, cross=False, skip_scale=alpha("enc"))
            self.dec = Stack(cfg, causal=True, cross=True, skip_scale=alpha("dec"))
            self.stacks = {"enc": self.enc, "dec": self.dec}
        else:
            stack = Stack(cfg, causal=cfg.arch == "decoder", cross=False, skip_scale=alpha("blocks"))
            # register the blocks at the top level so names read ``blocks.3.hook_resid_post``
            self.blocks, self.norm_final, self.hook_final = stack.blocks, stack.norm_final, stack.hook_final
            self._stack = [stack]  # a plain list: not registered twice
            self.stacks = {"blocks": stack}
        self.unembed = nn.Linear(cfg.d_model, vocab_size)
        self.ngpt = variants.NORM_POSITIONS[cfg.norm_position].own_update is not None
        if self.ngpt:  # nGPT's logit scale s_z (one per token), √d at init: unit vectors give |logit| ≤ 1
            self.ngpt_s_z = nn.Parameter(torch.full((vocab_size,), math.sqrt(cfg.d_model)))
        init_weights(self, cfg, consts)
        self.to(DTYPES[cfg.dtype])
        self.after_step()
        if variants.RESIDUAL_MODES[cfg.residual].skip_vector:
            admin_profile_(self)

    def _embed(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.pos_embed(pos)
        return self.hook_embed(variants.unit(x) if self.ngpt else x)

    def _head(self, h):
        return self.unembed(h) * self.ngpt_s_z if self.ngpt else self.unembed(h)

    def forward(self, inputs, dec_inputs=None):
        if self.cfg.arch == "encoder-decoder":
            memory = self.enc(self._embed(inputs))
            return self._head(self.dec(self._embed(dec_inputs), memory))
        return self._head(self._stack[0](self._embed(inputs)))

    @torch.no_grad()
    def after_step(self) -> None:
        """What must hold after every optimiser step (the trainer calls it): for nGPT, every weight
        vector along the model dimension back on the unit sphere — rows of W_Q, W_K, W_V, W_1, the
        embeddings and the head, columns of W_O and W_2. A no-op for every other variant."""
        if not self.ngpt:
            return
        for name, m in self.named_modules():
            if isinstance(m, nn.Embedding) or (isinstance(m, nn.Linear) and not name.endswith((".W_O", ".W_2"))):
                m.weight.copy_(variants.unit(m.weight))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(variants.unit(m.weight.T).T)

    def block_prefixes(self) -> list[str]:
        """Module paths of all blocks in forward order: ``blocks.0`` … or ``enc.blocks.0`` …"""
        return [names.block_prefix(name, i) for name, stack in self.stacks.items() for i in range(len(stack.blocks))]

    def hook_names(self) -> list[str]:
        return [n for n, m in self.named_modules() if isinstance(m, HookPoint)]


def init_weights(model: Transformer, cfg: ModelConfig, constants: dict) -> None:
    """The init named by ``cfg.init`` (``variants.INITS``), then, for a position with per-stack
    constants (DeepNorm), DeepNet's β scaling of W_V, W_O and the MLP."""
    out_projections = {n for n, _ in model.named_modules() if n.endswith((".W_O", ".mlp.W_2"))}
    for name, m in model.named_modules():
        if cfg.init == "xavier":
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, 0.0, 1.0)
        elif cfg.init == "gpt2":
            if isinstance(m, (nn.Linear, nn.Embedding)):
                std = 0.02 / (math.sqrt(2 * cfg.layers) if name in out_projections else 1.0)
                nn.init.normal_(m.weight, 0.0, std)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
    if cfg.init == "tfixup":
        tfixup_init_(model, cfg)
    if constants:
        with torch.no_grad():
            for name, m in model.named_modules():
                if isinstance(m, nn.Linear) and name.endswith((".W_V", ".W_O", ".mlp.W_1", ".mlp.W_2")):
                    stack = name.split(".")[0] if cfg.arch == "encoder-decoder" else "blocks"
                    m.weight.mul_(constants[stack][1])


@torch.no_grad()
def tfixup_init_(model: Transformer, cfg: ModelConfig) -> None:
    """T-Fixup (Huang et al. 2020, §3.2): Xavier-uniform weights and zero biases, embeddings
    N(0, d^-1/2) (std), then W_V, W_O and the MLP's weights × the stack's factor and the (token and
    position) embeddings × (9L)^-1/4 (``variants.tfixup_scales``)."""
    scales = variants.tfixup_scales(cfg.arch, cfg.layers)
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
            if name.endswith((".W_V", ".W_O", ".mlp.W_1", ".mlp.W_2")):
                m.weight.mul_(scales[name.split(".")[0] if cfg.arch == "encoder-decoder" else "blocks"])
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, cfg.d_model ** -0.5)
            m.weight.mul_(scales["embed"])


PROFILE_BATCH, PROFILE_LEN = 8, 16


@torch.no_grad()
def admin_profile_(model: Transformer) -> None:
    """Admin's profiling pass (Liu et al. 2020, §4.3): with every ω = 1, one forward pass in eval mode
    on a fixed batch (token ids from generator seed 0, so the same weights always give the same ω);
    then, per stack and in forward order over its sublayers, ω_i = √(1 + Σ_{j<i} Var F_j), Var F_j the
    variance of sublayer j's output (all its elements; the 1 is the normalised input's own variance)."""
    cfg, records, handles = model.cfg, {}, []
    omegas = [(stack, blk, sub) for stack in model.stacks.values() for blk in stack.blocks for sub in blk.sublayers]
    for _, blk, sub in omegas:
        getattr(blk, f"omega_{sub}").fill_(1.0)
        handles.append(getattr(blk, f"hook_{sub}_out").register_forward_hook(
            lambda m, i, out, key=(id(blk), sub): records.__setitem__(key, out.double().var(unbiased=False).item())))
    g = torch.Generator().manual_seed(0)
    T = max(1, min(PROFILE_LEN, model.max_len))
    ids = torch.randint(0, model.vocab_size, (PROFILE_BATCH, T), generator=g).to(model.embed.weight.device)
    was_training = model.training
    model.eval()
    try:
        model(ids, ids) if cfg.arch == "encoder-decoder" else model(ids)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    for stack in model.stacks.values():
        total = 1.0
        for blk in stack.blocks:
            for sub in blk.sublayers:
                getattr(blk, f"omega_{sub}").fill_(math.sqrt(total))
                total += records[(id(blk), sub)]


_BUILD_LOCK = threading.Lock()


def build_model(cfg: ModelConfig, vocab_size: int, max_len: int, seed: int | None = None) -> Transformer:
    """Build with a seeded init: ``seed`` is the run's seed, the weights come from its ``weights``
    stream (``resnorm.science.seeds``). The global RNG is forked and restored, under a lock so that models
    built at the same time in several threads each get exactly their seed's weights; dropout then
    draws from the seed's ``dropout`` stream (``seed_dropout``)."""
    if seed is None:
        return Transformer(cfg, vocab_size, max_len)
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "weights"))
        model = Transformer(cfg, vocab_size, max_len)
    seed_dropout(model, seed)
    return model


def seed_dropout(model: nn.Module, seed: int, device="cpu") -> None:
    """Give every dropout of the model one generator, seeded from the run seed's ``dropout`` stream."""
    g = torch.Generator(device=device).manual_seed(stream_seed(seed, "dropout"))
    for m in model.modules():
        if isinstance(m, Dropout):
            m.generator = g


def sequence_loss(logits, targets):
    """Mean cross-entropy over positions whose target is not -100 (the ignored ones); half-precision
    logits are upcast to float32 for the softmax."""
    if logits.dtype in (torch.bfloat16, torch.float16):
        logits = logits.float()
    return Fn.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


# ---- issue 18 (i-attn): z-loss ------------------------------------------------------------------------
def log_z_squared(logits, targets):
    """mean over scored positions (target ≠ −100) of (log Z)², log Z = logsumexp of the position's
    logits: the term the z-loss adds, times its coefficient, to the cross-entropy (PaLM, Chowdhery
    et al. 2022). 0 when every normaliser Z is 1; half-precision logits are upcast first."""
    if logits.dtype in (torch.bfloat16, torch.float16):
        logits = logits.float()
    scored = (targets != -100).reshape(-1)
    lse = torch.logsumexp(logits.reshape(-1, logits.shape[-1]), dim=-1)
    return (lse.square() * scored).sum() / scored.sum().clamp_min(1)
