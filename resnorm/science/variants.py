r"""The block, as one table of variants (docs/ARCHITECTURE.md §2).

For each sublayer F (self-attention, cross-attention, MLP), with N the chosen norm, r(x) the skip
path and b the branch scale of the residual mode, a block applies one of these updates:

=========== ======================================= ==========================================
position    update                                  source
=========== ======================================= ==========================================
post        x <- N(r(x) + b F(x))                   Vaswani et al. 2017; BERT
pre         x <- r(x) + b F(N(x))      (+ final N)  GPT-2; Xiong et al. 2020
sandwich    x <- r(x) + b N_out(F(N_in(x))) (+ N)   CogView 2021; Peri-LN (Kim et al.) 2025
            (alias ``peri``)
deepnorm    x <- N(alpha x + F(x))                  Wang et al. 2022 (DeepNet)
lns         x <- r(x) + b F(N(x)/sqrt(l))  (+ N)    Sun et al. 2025 ("Curse of Depth")
none        x <- r(x) + b F(x)
mixln       post for l <= floor(aL), pre after     Li et al. 2025 (Mix-LN)
ngpt        x <- U(x + a (U(F(x)) - x)), U = x/|x|  Loshchilov et al. 2025 (nGPT)
=========== ======================================= ==========================================

Residual modes beyond on/off/rezero/scaled (issue 18, records at the end of this module): ``admin``
(x <- N(w * x + F(x)), w profiled at init), ``depthmup`` (x + L^-a F(x)), ``hyper`` and ``mhc``
(n residual streams mixed by learned matrices; mHC's kept doubly stochastic by Sinkhorn).

``update`` below is that table made executable; the model calls it for every sublayer, and the
UI renders ``block_latex`` / ``block_dot`` from the same records, so the maths shown is the maths run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from . import norms
from ..messages import msg


def _no_constants(arch: str, layers: int) -> dict[str, tuple[float, float]]:
    return {}


def caution(position: str, residual: str, norm: str, arch: str) -> str | None:
    """The i18n key of a note for a combination that builds and runs but is not a published setting
    and behaves in a way the learner should know of, else None. Shown under the controls."""
    if norm == "dyt" and NORM_POSITIONS[position].norm_after_add:  # post, deepnorm
        return "caution.dyt_after_add"
    return None


def deepnorm_constants(arch: str, layers: int) -> dict[str, tuple[float, float]]:
    """(alpha, beta) per stack. Decoder- or encoder-only with N layers: alpha = (2N)^(1/4),
    beta = (8N)^(-1/4). Encoder-decoder with N encoder and M decoder layers (DeepNet, Table 1):
    encoder alpha = 0.81 (N^4 M)^(1/16), beta = 0.87 (N^4 M)^(-1/16); decoder alpha = (3M)^(1/4),
    beta = (12M)^(-1/4)."""
    if arch != "encoder-decoder":
        return {"blocks": ((2 * layers) ** 0.25, (8 * layers) ** -0.25)}
    n = m = layers
    return {"enc": (0.81 * (n**4 * m) ** (1 / 16), 0.87 * (n**4 * m) ** (-1 / 16)),
            "dec": ((3 * m) ** 0.25, (12 * m) ** -0.25)}


@dataclass(frozen=True)
class NormPosition:
    """Where the norm sits: what the branch computes from the stream, what the skip path carries,
    and whether the sum is normalised. ``update`` composes these three; nothing else in the package
    asks which position it is."""
    name: str
    latex: Callable[[Callable, str], str]  # (N, branch prefix "r + b") -> the update's right-hand side
    source: str
    final_norm: bool  # a last N before the output head
    branch_ops: tuple[str, ...]  # what the branch applies, in order, for the block diagram
    branch: Callable  # (x, F, N, N_out, layer) -> the branch's output
    after_add: tuple[str, ...] = ()  # what follows the addition ("N": the sum is normalised)
    skip_op: str = ""  # what the skip path applies before the addition
    plain: str = ""  # the update in plain text, for --help and tables
    constants: Callable[[str, int], dict] = _no_constants  # per stack (skip scale α, init scale β)
    own_skip: bool = False  # the position defines the skip path itself: residual must be "on"
    latex_note: Callable[[str], str] = lambda arch: ""  # constants shown after the formula
    normalises: bool = True  # False: no norm anywhere, whatever the norm type says
    # ---- issue 18 (residual/norm-position variants) ----
    per_layer: Callable | None = None  # (layer, n_layers, mixln_alpha) -> the position block ℓ uses (Mix-LN)
    own_update: Callable | None = None  # (x, F, step) -> the new stream, replacing branch/combine (nGPT)
    label: str = ""  # display name when it differs from the i18n default

    @property
    def norm_after_add(self) -> bool:
        return any(op.startswith("N") for op in self.after_add)


def _deepnorm_note(arch: str) -> str:
    return (r",\ \alpha_{\mathrm{enc}} = 0.81\,(N^4 M)^{1/16},\ \alpha_{\mathrm{dec}} = (3M)^{1/4}"
            if arch == "encoder-decoder" else r",\ \alpha = (2L)^{1/4}")


NORM_POSITIONS = {
    p.name: p
    for p in [
        NormPosition("post", lambda N, rb: N(rb + "F(x)"), "Vaswani et al. 2017; BERT", False, ("F",),
                     branch=lambda x, F, N, N_out, layer: F(x), after_add=("N",), plain="x <- N(x + F(x))"),
        NormPosition("pre", lambda N, rb: rb + rf"F\big({N('x')}\big)", "GPT-2; Xiong et al. 2020", True,
                     ("N", "F"), branch=lambda x, F, N, N_out, layer: F(N(x)), plain="x <- x + F(N(x)), final N"),
        NormPosition("sandwich", lambda N, rb: rb + N(rf"F\big({N('x', 'in')}\big)", "out"),
                     "Ding et al. 2021, \"CogView\" (Sandwich-LN); Kim et al. 2025, \"Peri-LN: Revisiting "
                     "Normalization Layer in the Transformer Architecture\"", True, ("N_in", "F", "N_out"),
                     branch=lambda x, F, N, N_out, layer: N_out(F(N(x))),
                     plain="x <- x + N_out(F(N_in(x))), final N (Peri-LN; also accepted as 'peri')"),
        NormPosition("deepnorm", lambda N, rb: N(r"\alpha\,x + F(x)"), "Wang et al. 2022 (DeepNet)", False,
                     ("F",), branch=lambda x, F, N, N_out, layer: F(x), after_add=("N",), skip_op="× α",
                     plain="x <- N(alpha*x + F(x)), alpha=(2L)^(1/4)", constants=deepnorm_constants,
                     own_skip=True, latex_note=_deepnorm_note),
        NormPosition("lns", lambda N, rb: rb + rf"F\big({N('x')}/\sqrt{{\ell}}\big)",
                     'Sun et al. 2025 ("The Curse of Depth")', True, ("N", "÷ √ℓ", "F"),
                     branch=lambda x, F, N, N_out, layer: F(N(x) / math.sqrt(layer)),
                     plain="x <- x + F(N(x)/sqrt(l)), final N"),
        NormPosition("none", lambda N, rb: rb + "F(x)", "—", False, ("F",),
                     branch=lambda x, F, N, N_out, layer: F(x), plain="x <- x + F(x)", normalises=False),
    ]
}


@dataclass(frozen=True)
class ResidualMode:
    """What the skip path does with the branch b: the new stream is ``combine(skip, b, gate, L)``."""
    name: str
    skip_latex: str  # the r(x) term as it appears before the branch
    scale_latex: str  # the branch scale b
    help: str
    combine: Callable  # (skip, branch, gate, n_layers) -> the new stream
    gated: bool = False  # one learnable scalar per sublayer (initialised to 0)
    diagram: str = ""  # the branch's scale in the block diagram
    # ---- issue 18 (residual/norm-position variants) ----
    uses_alpha: bool = False  # combine takes the depth exponent α (--residual-alpha) as a 5th argument
    skip_vector: bool = False  # a learnable vector ω per sublayer multiplies the skip (Admin), set at init
    streams: bool = False  # n residual streams with mixing matrices (hyper-connections, mHC)
    source: str = ""  # the paper


RESIDUAL_MODES = {
    m.name: m
    for m in [
        ResidualMode("on", "x + ", "", "r(x) = x", combine=lambda skip, b, gate, L: skip + b),
        ResidualMode("off", "", "", "no skip path: the update is the branch alone",
                     combine=lambda skip, b, gate, L: b),
        ResidualMode("rezero", "x + ", r"\alpha_{\mathrm{rz}}\,",
                     "x + a*F(x), one learnable a per sublayer, a = 0 at init (Bachlechner et al. 2020)",
                     combine=lambda skip, b, gate, L: skip + gate * b, gated=True, diagram="× α (init 0)"),
        ResidualMode("scaled", "x + ", r"\tfrac{1}{\sqrt{2L}}\,", "x + F(x)/sqrt(2L)",
                     combine=lambda skip, b, gate, L: skip + b / math.sqrt(2 * L), diagram="× 1/√(2L)"),
    ]
}


@dataclass(frozen=True)
class NormType:
    name: str
    symbol: str  # as written in the update formula
    formula: str  # LaTeX definition
    help: str
    build: Callable[[int, float], nn.Module]  # (d_model, eps) -> the module
    alpha_init: bool = False  # issue 18: a learnable scale a whose initial value is ``dyt_alpha``


NORM_TYPES = {
    n.name: n
    for n in [
        NormType("layernorm", r"\mathrm{LN}", r"\gamma \odot \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}} + \beta",
                 "LayerNorm (Ba et al. 2016): centre and scale each token",
                 build=lambda d, eps: norms.LayerNorm(d, eps=eps)),
        NormType("rmsnorm", r"\mathrm{RMS}", r"\gamma \odot \frac{x}{\sqrt{\overline{x^2}+\epsilon}}",
                 "RMSNorm (Zhang & Sennrich 2019): scale each token, no centring",
                 build=lambda d, eps: norms.RMSNorm(d, eps=eps)),
        NormType("dyt", r"\mathrm{DyT}", r"\gamma \odot \tanh(a x) + \beta",
                 "Dynamic Tanh (Zhu et al. 2025): a learnable squashing instead of statistics",
                 build=lambda d, eps: norms.DyT(d), alpha_init=True),
        # issue 18 (i-attn): Derf; DyT and Derf take their initial α from ``dyt_alpha``
        NormType("derf", r"\mathrm{Derf}", r"\gamma \odot \mathrm{erf}(a x + s) + \beta,\ s_0 = 0",
                 "Dynamic erf (Chen et al. 2025, Stronger Normalization-Free Transformers): "
                 "γ·erf(a·x + s) + β, learnable scalars a and s",
                 build=lambda d, eps: norms.Derf(d), alpha_init=True),
        NormType("batchnorm", r"\mathrm{BN}",
                 r"\gamma \odot \frac{x-\mu_{\mathrm{batch}}}{\sqrt{\sigma^2_{\mathrm{batch}}+\epsilon}} + \beta",
                 "BatchNorm over batch and positions: mixes sequences and, in a decoder, leaks the future",
                 build=lambda d, eps: norms.TokenBatchNorm(d, eps=eps)),
        NormType("none", "", r"x", "no normalisation", build=lambda d, eps: nn.Identity()),
    ]
}

INITS = {
    "xavier": "Xavier-uniform weights, zero biases, embeddings N(0, 1) (the setting of Xiong et al. 2020)",
    "gpt2": "N(0, 0.02) weights and embeddings; residual output projections x 1/sqrt(2L)",
    "torch": "PyTorch's own defaults",
}


def make_norm(kind: str, d: int, eps: float = 1e-5, alpha0: float | None = None) -> nn.Module:
    """The norm module of type ``kind`` (a key of ``NORM_TYPES``) over ``d`` features; ``alpha0``
    sets the initial a of a norm with ``alpha_init`` (DyT, Derf; None keeps the paper's 0.5)."""
    if kind not in NORM_TYPES:
        raise ValueError(f"unknown norm type {kind!r}")
    module = NORM_TYPES[kind].build(d, eps)
    if alpha0 is not None and NORM_TYPES[kind].alpha_init:
        with torch.no_grad():
            module.alpha.fill_(alpha0)
    return module


def norm_latex(kind: str, alpha0: float = 0.5) -> str:
    """The norm's definition as shown beside its control, with the initial a when it has one."""
    n = NORM_TYPES[kind]
    return n.formula + (rf",\ a_0 = {alpha0:g}" if n.alpha_init else "")


def incompatibility(position: str, residual: str, norm: str, arch: str) -> tuple[str, str] | None:
    """(field, why) for a combination that cannot be built, else None: the records say what they
    need (a position that defines its own skip path needs residual "on")."""
    if NORM_POSITIONS[position].own_skip and residual != "on":
        if NORM_POSITIONS[position].own_update is not None:  # nGPT (issue 18)
            return ("residual", msg("problem.variants.ngpt_residual", residual=repr(residual)))
        return ("residual", msg("problem.own_skip", position=position, residual=repr(residual)))
    return None


def update(x, F: Callable, N: Callable, N_out: Callable, *, position: str, residual: str,
           gate=None, layer: int = 1, n_layers: int = 1, skip_scale: float = 1.0,
           mixln_alpha: float = 0.25, residual_alpha: float = 0.5):
    """One residual/norm update of the stream ``x`` around the sublayer ``F``:

        x <- [N] combine(skip_scale · x, branch(x))

    with ``branch`` from the norm position's record, ``combine`` from the residual mode's, and the
    sum normalised when the position says so. ``N`` is the sublayer's norm (``N_in`` for
    sandwich), ``N_out`` the sandwich's second norm, ``gate`` the ReZero scalar, ``layer`` the
    1-based block index ℓ, ``n_layers`` L and ``skip_scale`` DeepNorm's α (1 elsewhere).
    ``gate`` is also Admin's ω vector and nGPT's step sizes α; ``mixln_alpha`` is Mix-LN's α (the
    first ⌊αL⌋ blocks are Post-LN) and ``residual_alpha`` the depth exponent of ``depthmup``.
    Hyper-connections (``RESIDUAL_MODES[r].streams``) are composed by the block itself
    (``model.HyperConnection``): their branch is this table's, their skip path n streams.
    """
    if position not in NORM_POSITIONS:
        raise ValueError(f"unknown norm position {position!r}")
    p, r = NORM_POSITIONS[position], RESIDUAL_MODES[residual]
    if p.per_layer is not None:  # Mix-LN: this block is Post-LN or Pre-LN by its depth
        p = NORM_POSITIONS[p.per_layer(layer, n_layers, mixln_alpha)]
    if p.own_update is not None:  # nGPT: the update is the position's own (gate = step sizes α)
        return p.own_update(x, F, gate)
    branch = p.branch(x, F, N, N_out, layer)
    skip = skip_scale * x if skip_scale != 1.0 else x
    if r.uses_alpha:
        stream = r.combine(skip, branch, gate, n_layers, residual_alpha)
    else:
        stream = r.combine(skip, branch, gate, n_layers)
    return N(stream) if p.norm_after_add else stream


def block_latex(position: str, residual: str, norm: str, arch: str = "decoder") -> str:
    """The update of one sublayer as LaTeX, e.g. ``x \\leftarrow x + F\\big(\\mathrm{LN}(x)\\big)``."""
    r, n = RESIDUAL_MODES[residual], NORM_TYPES[norm]
    sym = n.symbol if NORM_POSITIONS[position].normalises else ""

    def N(arg: str, which: str = "") -> str:
        if not sym:
            return arg
        sub = rf"_{{\mathrm{{{which}}}}}" if which else ""
        return rf"{sym}{sub}({arg})" if arg == "x" else rf"{sym}{sub}\big({arg}\big)"

    p = NORM_POSITIONS[position]
    if r.streams:  # n streams H: read h = A_m^T H, write H <- A_r^T H + B^T branch(h)
        branch = p.latex(N, "").replace(r"F\big(x\big)", "F(x)").replace("x", "h")
        mix = r"\mathcal{S}(A_r)" if residual == "mhc" else "A_r"
        return (rf"\begin{{aligned}} h &= A_m^{{\top}} H,\quad H \in \mathbb{{R}}^{{n \times d}} \\ "
                rf"H &\leftarrow {mix}^{{\top}} H + B^{{\top}} {branch} \end{{aligned}}")
    body = p.latex(N, r.skip_latex + r.scale_latex).replace(r"F\big(x\big)", "F(x)") + p.latex_note(arch)
    return r"x \leftarrow " + body


DOT_WORDS = {"branch": "F  (attention / MLP)", "skip": "skip", "init 0": "init 0", "in": "in", "out": "out"}  # block_dot's words, in English


def block_dot(position: str, residual: str, norm: str, words: dict | None = None, norm_name: str | None = None) -> str:
    """Graphviz DOT of one sublayer: the skip path, the branch and where the norm sits. ``words``
    replaces the diagram's words (``DOT_WORDS``' keys) and ``norm_name`` the norm's label (its id by
    default): the UI passes them in the session's language (this layer has no translations)."""
    p, n = NORM_POSITIONS[position], NORM_TYPES[norm]
    w = {**DOT_WORDS, **(words or {})}
    norm_label = (norm_name or n.name) if (norm != "none" and p.normalises) else None
    lines = ['digraph block {', 'rankdir=LR; node [shape=box, style="rounded,filled", fillcolor="#f4f4f8", fontname="Helvetica"];',
             'x_in [label="x", shape=plaintext, fillcolor=none];']
    prev = "x_in"
    for i, op in enumerate(p.branch_ops):
        if op.startswith("N"):
            if not norm_label:
                continue
            label = norm_label + (" " + w.get(op[2:], op[2:]) if len(op) > 1 else "")  # N_in → "LayerNorm in"
            lines.append(f'b{i} [label="{label}", fillcolor="#dbe9f6"];')
        elif op == "F":
            lines.append(f'b{i} [label="{w["branch"]}", fillcolor="#fde9c9"];')
        else:
            lines.append(f'b{i} [label="{op}"];')
        lines.append(f"{prev} -> b{i};")
        prev = f"b{i}"
    if RESIDUAL_MODES[residual].diagram:
        lines.append(f'scale [label="{RESIDUAL_MODES[residual].diagram.replace("init 0", w["init 0"])}"];')
        lines.append(f"{prev} -> scale;")
        prev = "scale"
    if residual == "off" and not p.own_skip:
        out = prev
    else:
        lines.append('add [label="+", shape=circle, fillcolor="#e6f2e6"];')
        lines.append(f"{prev} -> add;")
        if p.skip_op:
            lines.append(f'skip [label="{p.skip_op}"]; x_in -> skip; skip -> add [label="{w["skip"]}"];')
        else:
            lines.append(f'x_in -> add [label="{w["skip"]}", style=bold];')
        out = "add"
    if RESIDUAL_MODES[residual].streams:  # the sum of n streams in, mixing matrices around the branch
        lines[2] = 'x_in [label="H (n streams)", shape=plaintext, fillcolor=none];'
        lines.insert(3, 'note [label="h = A_mᵀH in;  H ← A_rᵀH + Bᵀ·branch out", shape=note, fillcolor="#fff8dc"];')
    for i, op in enumerate(p.after_add):
        if op.startswith("N") and norm_label:
            lines.append(f'a{i} [label="{norm_label}{op[1:]}", fillcolor="#dbe9f6"];')
            lines.append(f"{out} -> a{i};")
            out = f"a{i}"
        elif not op.startswith("N"):
            lines.append(f'a{i} [label="{op}"];')
            lines.append(f"{out} -> a{i};")
            out = f"a{i}"
    lines.append('x_out [label="x′", shape=plaintext, fillcolor=none];')
    lines.append(f"{out} -> x_out;")
    lines.append("}")
    return "\n".join(lines)


# ==== issue 18: the 2025–26 residual / norm-position variants (one block, records only) ==========
# Each record carries its formula (plain and LaTeX) and its paper; the model builds what the record
# says it needs (Admin's ω, nGPT's step sizes, hyper-connection matrices) and ``problems_2026`` refuses
# the combinations that make no sense, naming both fields.

POSITION_ALIASES = {"peri": "sandwich"}  # Peri-LN (Kim et al. 2025) is the Sandwich-LN placement

SOURCES = {  # (authors, year, title) of every issue-18 variant, shown beside its control
    "sandwich": 'Kim et al. 2025, "Peri-LN: Revisiting Normalization Layer in the Transformer Architecture" '
                '(Ding et al. 2021, CogView: Sandwich-LN)',
    "mixln": 'Li et al. 2025, "Mix-LN: Unleashing the Power of Deeper Layers by Combining Pre-LN and Post-LN"',
    "ngpt": 'Loshchilov et al. 2025, "nGPT: Normalized Transformer with Representation Learning on the Hypersphere"',
    "admin": 'Liu et al. 2020, "Understanding the Difficulty of Training Transformers" (Admin)',
    "depthmup": 'Yang et al. 2023, "Tensor Programs VI: Feature Learning in Infinite-Depth Neural Networks"; '
                'Bordelon et al. 2023, "Depthwise Hyperparameter Transfer in Residual Networks"; '
                'Dey et al. 2025, "Don\'t be lazy: CompleteP enables compute-efficient deep transformers"',
    "hyper": 'Zhu et al. 2025, "Hyper-Connections"',
    "mhc": 'DeepSeek-AI (Xie et al.) 2025, "mHC: Manifold-Constrained Hyper-Connections"',
    "tfixup": 'Huang et al. 2020, "Improving Transformer Optimization Through Better Initialization" (T-Fixup)',
    "value_residual": 'Zhou et al. 2025, "Value Residual Learning For Alleviating Attention Concentration '
                      'In Transformers" (ResFormer)',
}


def mixln_layer(layer: int, n_layers: int, alpha: float) -> str:
    """Mix-LN: block ℓ (1-based) is Post-LN when ℓ ≤ ⌊αL⌋, Pre-LN otherwise."""
    return "post" if layer <= math.floor(alpha * n_layers) else "pre"


def unit(x, eps: float = 1e-12):
    """U(x) = x / ‖x‖ over the last dimension (nGPT's Norm: a point on the unit sphere)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def ngpt_update(x, F, step):
    """nGPT: h ← U(h + α ⊙ (U(F(h)) − h)), a step of size α (learned, one per feature) from h
    towards the normalised branch output, back onto the sphere."""
    return unit(x + step * (unit(F(x)) - x))


def sinkhorn(logits, iters: int = 20):
    """A doubly stochastic matrix from real ``logits`` (…, n, n): exp, then ``iters`` alternating
    row and column normalisations (Sinkhorn–Knopp), as mHC keeps its residual mixing matrix."""
    m = (logits - logits.amax(dim=(-2, -1), keepdim=True)).exp()
    for _ in range(iters):
        m = m / m.sum(dim=-1, keepdim=True)
        m = m / m.sum(dim=-2, keepdim=True)
    return m


def depth_scale(n_layers: int, alpha: float) -> float:
    """Depth-μP / CompleteP branch multiplier L^-α (α = ½ depth-μP, α = 1 CompleteP)."""
    return float(n_layers) ** -alpha


NORM_POSITIONS["mixln"] = NormPosition(
    "mixln", lambda N, rb: (r"\begin{cases} " + N(rb + "F(x)") + r" & \ell \le \lfloor \alpha_{\mathrm{mix}} L \rfloor \\ "
                            + rb + rf"F\big({N('x')}\big) & \ell > \lfloor \alpha_{{\mathrm{{mix}}}} L \rfloor \end{{cases}}"),
    SOURCES["mixln"], True, ("N (ℓ > ⌊αL⌋)", "F"), branch=lambda x, F, N, N_out, layer: F(N(x)),
    after_add=("N (ℓ ≤ ⌊αL⌋)",), plain="x <- N(x + F(x)) in the first floor(aL) blocks, x + F(N(x)) after; final N",
    per_layer=mixln_layer)
NORM_POSITIONS["ngpt"] = NormPosition(
    "ngpt", lambda N, rb: r"U\big(x + \alpha \odot (U(F(x)) - x)\big),\ U(v) = v/\lVert v\rVert",
    SOURCES["ngpt"], False, ("F", "÷ ‖·‖"), branch=lambda x, F, N, N_out, layer: unit(F(x)),
    after_add=("− x, × α, + x", "÷ ‖·‖"), skip_op="", own_skip=True, normalises=False,
    plain="x <- U(x + a*(U(F(x)) - x)), U(v) = v/|v|; weights on the unit sphere", own_update=ngpt_update)

RESIDUAL_MODES["admin"] = ResidualMode(
    "admin", r"\omega \odot x + ", "",
    "Admin (Liu et al. 2020): x <- N(w*x + F(x)) with Post-LN, w profiled at init: w_i^2 = 1 + sum_{j<i} Var F_j",
    combine=lambda skip, b, gate, L: gate * skip + b, skip_vector=True, diagram="", source=SOURCES["admin"])
RESIDUAL_MODES["depthmup"] = ResidualMode(
    "depthmup", "x + ", r"L^{-\alpha}\,",
    "x + L^-a F(x), a = --residual-alpha (1/2 depth-muP, Yang et al. 2023; 1 CompleteP, Dey et al. 2025)",
    combine=lambda skip, b, gate, L, a: skip + b * depth_scale(L, a), diagram="× L^-α", uses_alpha=True,
    source=SOURCES["depthmup"])
RESIDUAL_MODES["hyper"] = ResidualMode(
    "hyper", "x + ", "",
    "hyper-connections (Zhu et al. 2025): --streams n residual streams, learned read/write/mixing "
    "(--hc-dynamic: input-dependent)", combine=lambda skip, b, gate, L: skip + b, streams=True,
    source=SOURCES["hyper"])
RESIDUAL_MODES["mhc"] = ResidualMode(
    "mhc", "x + ", "",
    "mHC (DeepSeek 2025): hyper-connections whose stream-mixing matrix is kept doubly stochastic "
    "(Sinkhorn iterations)", combine=lambda skip, b, gate, L: skip + b, streams=True, source=SOURCES["mhc"])

INITS["tfixup"] = ("T-Fixup (Huang et al. 2020): no norm, no warmup; Xavier weights, embeddings N(0, d^-1/2); "
                   "W_V, W_O, MLP and embeddings x (9L)^-1/4 (encoder stacks 0.67 L^-1/4)")


def tfixup_scales(arch: str, layers: int) -> dict[str, float]:
    """T-Fixup's multipliers (Huang et al. 2020, §3.2): decoder-stack W_V, W_O, MLP weights and the
    input embeddings × (9M)^-1/4; encoder-stack W_V, W_O, MLP × 0.67 N^-1/4. A decoder- or encoder-only
    model of L blocks uses its stack's rule (the embeddings always (9L)^-1/4)."""
    dec, enc = (9 * layers) ** -0.25, 0.67 * layers ** -0.25
    if arch == "encoder-decoder":
        return {"enc": enc, "dec": dec, "embed": dec}
    return {"blocks": enc if arch == "encoder" else dec, "embed": dec}


def problems_2026(cfg) -> list[tuple[str, str]]:
    """(field, why) for the issue-18 combinations that make no sense; each message names both fields."""
    out = []
    p, r = NORM_POSITIONS[cfg.norm_position], RESIDUAL_MODES[cfg.residual]
    if r.streams and (p.norm_after_add or p.own_skip or p.per_layer is not None):
        out.append(("residual", msg("problem.variants.streams_position", residual=cfg.residual,
                                    position=cfg.norm_position)))
    if r.skip_vector and cfg.norm_position != "post":
        out.append(("residual", msg("problem.variants.admin_position", position=cfg.norm_position)))
    if cfg.init == "tfixup":
        if (p.normalises and cfg.norm != "none") or p.own_update is not None:
            out.append(("init", msg("problem.variants.tfixup_norm", position=cfg.norm_position, norm=cfg.norm)))
        if cfg.residual != "on":
            out.append(("init", msg("problem.variants.tfixup_residual", residual=cfg.residual)))
    return out


def variant_notes(values: dict) -> list[tuple[str, str, str]]:
    """(field, i18n key of the one-line formula, paper) for each issue-18 variant chosen in ``values``
    (a flat config), shown beside its control."""
    out = []
    pos, res = values.get("norm_position"), values.get("residual")
    if pos in ("sandwich", "mixln", "ngpt"):
        out.append(("norm_position", f"v2026.position.{pos}", SOURCES[pos]))
    if res in ("admin", "depthmup", "hyper", "mhc"):
        out.append(("residual", f"v2026.residual.{res}", SOURCES[res]))
    if values.get("init") == "tfixup":
        out.append(("init", "v2026.init.tfixup", SOURCES["tfixup"]))
    if values.get("value_residual"):
        out.append(("value_residual", "v2026.value_residual", SOURCES["value_residual"]))
    return out


# ---- issue 18 (i-attn): attention options and the auxiliary loss, one record each ---------------------
@dataclass(frozen=True)
class AttentionOption:
    """An option of the attention sublayer (or, for ``z_loss``, of the loss), named by its config
    field: the formula shown beside the control when it is on, its plain-text form, the paper and
    ``on(value)``, whether a field value switches it on. The model reads the fields; this record is
    what the page, the help and the tests say about them."""
    field: str
    latex: str
    plain: str
    source: str
    on: Callable = bool


ATTENTION_OPTIONS = {
    o.field: o
    for o in [
        AttentionOption("qk_norm", r"s_{ij} = \frac{\mathrm{LN}(q_i)\cdot \mathrm{LN}(k_j)}{\sqrt{d_h}}",
                        "q, k <- LayerNorm over each head's d_head features before q.k/sqrt(d_head)",
                        "Henry et al. 2020 (Query-Key Normalization for Transformers); Dehghani et al. 2023; "
                        "Wortsman et al. 2023 (Small-scale proxies for large-scale Transformer training "
                        "instabilities)"),
        AttentionOption("logit_softcap", r"s_{ij} \leftarrow C\,\tanh(s_{ij}/C)",
                        "logits <- C*tanh(logits/C) before the softmax",
                        "Bello et al. 2016 (Neural Combinatorial Optimization with Reinforcement Learning); "
                        "Gemma Team 2024 (Gemma 2)", on=lambda v: v > 0),
        AttentionOption("attn_gate", r"o \leftarrow \mathrm{softmax}(s)V \odot \sigma(x W_g)",
                        "each head's output times sigmoid(x W_g) before W_O",
                        "Qiu et al. 2025 (Gated Attention for Large Language Models: Non-linearity, Sparsity, "
                        "and Attention-Sink-Free)"),
        AttentionOption("z_loss", r"\mathcal{L} \leftarrow \mathcal{L} + c\,\overline{\log^2 Z},\ "
                        r"\log Z = \mathrm{logsumexp}(\mathrm{logits})",
                        "loss + c*mean(logsumexp(logits)^2) over the scored positions",
                        "Chowdhery et al. 2022 (PaLM: Scaling Language Modeling with Pathways); "
                        "Wortsman et al. 2023", on=lambda v: v > 0),
    ]
}


def active_options(values: dict) -> list[AttentionOption]:
    """The options switched on in ``values`` (a flat config), in table order."""
    return [o for name, o in ATTENTION_OPTIONS.items() if name in values and o.on(values[name])]
