r"""The block, as one table of variants (docs/ARCHITECTURE.md §2).

For each sublayer F (self-attention, cross-attention, MLP), with N the chosen norm, r(x) the skip
path and b the branch scale of the residual mode, a block applies one of these updates:

=========== ======================================= ==========================================
position    update                                  source
=========== ======================================= ==========================================
post        x <- N(r(x) + b F(x))                   Vaswani et al. 2017; BERT
pre         x <- r(x) + b F(N(x))      (+ final N)  GPT-2; Xiong et al. 2020
sandwich    x <- r(x) + b N_out(F(N_in(x))) (+ N)   CogView 2021; Peri-LN 2025
deepnorm    x <- N(alpha x + F(x))                  Wang et al. 2022 (DeepNet)
lns         x <- r(x) + b F(N(x)/sqrt(l))  (+ N)    Sun et al. 2025 ("Curse of Depth")
none        x <- r(x) + b F(x)
=========== ======================================= ==========================================

``update`` below is that table made executable; the model calls it for every sublayer, and the
UI renders ``block_latex`` / ``block_dot`` from the same records, so the maths shown is the maths run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

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

    @property
    def norm_after_add(self) -> bool:
        return "N" in self.after_add


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
                     "CogView 2021 (Sandwich-LN); Peri-LN 2025", True, ("N_in", "F", "N_out"),
                     branch=lambda x, F, N, N_out, layer: N_out(F(N(x))),
                     plain="x <- x + N_out(F(N_in(x))), final N"),
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


NORM_TYPES = {
    n.name: n
    for n in [
        NormType("layernorm", r"\mathrm{LN}", r"\gamma \odot \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}} + \beta",
                 "LayerNorm (Ba et al. 2016): centre and scale each token",
                 build=lambda d, eps: norms.LayerNorm(d, eps=eps)),
        NormType("rmsnorm", r"\mathrm{RMS}", r"\gamma \odot \frac{x}{\sqrt{\overline{x^2}+\epsilon}}",
                 "RMSNorm (Zhang & Sennrich 2019): scale each token, no centring",
                 build=lambda d, eps: norms.RMSNorm(d, eps=eps)),
        NormType("dyt", r"\mathrm{DyT}", r"\gamma \odot \tanh(a x) + \beta,\ a_0 = 0.5",
                 "Dynamic Tanh (Zhu et al. 2025): a learnable squashing instead of statistics",
                 build=lambda d, eps: norms.DyT(d)),
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


def make_norm(kind: str, d: int, eps: float = 1e-5) -> nn.Module:
    """The norm module of type ``kind`` (a key of ``NORM_TYPES``) over ``d`` features."""
    if kind not in NORM_TYPES:
        raise ValueError(f"unknown norm type {kind!r}")
    return NORM_TYPES[kind].build(d, eps)


def incompatibility(position: str, residual: str, norm: str, arch: str) -> tuple[str, str] | None:
    """(field, why) for a combination that cannot be built, else None: the records say what they
    need (a position that defines its own skip path needs residual "on")."""
    if NORM_POSITIONS[position].own_skip and residual != "on":
        return ("residual", msg("problem.own_skip", position=position, residual=repr(residual)))
    return None


def update(x, F: Callable, N: Callable, N_out: Callable, *, position: str, residual: str,
           gate=None, layer: int = 1, n_layers: int = 1, skip_scale: float = 1.0):
    """One residual/norm update of the stream ``x`` around the sublayer ``F``:

        x <- [N] combine(skip_scale · x, branch(x))

    with ``branch`` from the norm position's record, ``combine`` from the residual mode's, and the
    sum normalised when the position says so. ``N`` is the sublayer's norm (``N_in`` for
    sandwich), ``N_out`` the sandwich's second norm, ``gate`` the ReZero scalar, ``layer`` the
    1-based block index ℓ, ``n_layers`` L and ``skip_scale`` DeepNorm's α (1 elsewhere).
    """
    if position not in NORM_POSITIONS:
        raise ValueError(f"unknown norm position {position!r}")
    p, r = NORM_POSITIONS[position], RESIDUAL_MODES[residual]
    branch = p.branch(x, F, N, N_out, layer)
    skip = skip_scale * x if skip_scale != 1.0 else x
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
    for i, op in enumerate(p.after_add):
        if op == "N" and norm_label:
            lines.append(f'a{i} [label="{norm_label}", fillcolor="#dbe9f6"];')
            lines.append(f"{out} -> a{i};")
            out = f"a{i}"
    lines.append('x_out [label="x′", shape=plaintext, fillcolor=none];')
    lines.append(f"{out} -> x_out;")
    lines.append("}")
    return "\n".join(lines)
