"""Metric names: the one module that builds them, parses them and orders them.

A per-block name is ``{prefix}.{rest}``: the prefix is ``blocks.{i}`` in a decoder- or encoder-only
model and ``enc.blocks.{i}`` / ``dec.blocks.{i}`` in an encoder-decoder (``i`` 0-based); ``rest`` is
a statistic of the block (``resid_post.rms``, ``rank_residual``, ``grad_norm``, ``update_ratio``) or
of one of its sublayers (``attn.entropy``, ``attn.head2.entropy``, ``mlp.grad_norm``,
``mlp_out.change``). Run-level names have no prefix: ``train/loss``, ``grad/total_norm``, ``lr``.
The full list with meanings is ``resnorm/probes.py``'s docstring (docs/ARCHITECTURE.md §3).

Stacks run in the order ``enc``, ``blocks``, ``dec`` (``STACK_ORDER``), blocks by index within a
stack: that is forward order, the order of every per-layer chart and table.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

STACK_ORDER = {"enc": 0, "blocks": 1, "dec": 2}
SUBLAYERS = ("attn", "cross_attn", "mlp")
ATTENTION = ("attn", "cross_attn")

_BLOCK = re.compile(r"^(?:(enc|dec)\.)?blocks\.(\d+)(?:\.(.+))?$")


@dataclass(frozen=True)
class BlockName:
    """A parsed per-block name: ``stack`` (``blocks``, ``enc`` or ``dec``), ``block`` (0-based) and
    ``rest`` (what follows the prefix; empty for a bare prefix such as ``blocks.3``)."""
    stack: str
    block: int
    rest: str = ""

    @property
    def prefix(self) -> str:
        return block_prefix(self.stack, self.block)

    @property
    def sublayer(self) -> str | None:
        """``attn``, ``cross_attn`` or ``mlp`` when the name is about one sublayer, else None."""
        head = self.rest.split(".", 1)[0]
        for sub in SUBLAYERS:
            if head in (sub, f"{sub}_out"):
                return sub
        return None

    @property
    def head(self) -> int | None:
        """The attention head of a per-head name (``attn.head2.entropy`` → 2), else None."""
        m = re.match(r"^(?:cross_)?attn\.head(\d+)\.", self.rest)
        return int(m.group(1)) if m else None

    @property
    def order(self) -> tuple[int, int]:
        return STACK_ORDER[self.stack], self.block


def block_prefix(stack: str, i: int) -> str:
    """``blocks.3``, or ``enc.blocks.1`` / ``dec.blocks.0`` in an encoder-decoder."""
    return f"blocks.{i}" if stack == "blocks" else f"{stack}.blocks.{i}"


def metric(stack: str, i: int, rest: str) -> str:
    """The name of ``rest`` in block ``i`` of ``stack``: ``metric("blocks", 3, "resid_post.rms")``."""
    return f"{block_prefix(stack, i)}.{rest}"


def head_entropy(layer: str, h: int) -> str:
    """Per-head entropy of an attention layer such as ``blocks.2.attn``: ``blocks.2.attn.head{h}.entropy``."""
    return f"{layer}.head{h}.entropy"


def parse(name: str) -> BlockName | None:
    """A per-block name (or bare prefix) parsed, or None for a run-level or foreign name."""
    m = _BLOCK.match(name)
    if not m:
        return None
    return BlockName(m.group(1) or "blocks", int(m.group(2)), m.group(3) or "")


def block_prefixes(names: Iterable[str]) -> list[str]:
    """The block prefixes that occur in ``names``, in forward order (enc …, blocks …, dec …)."""
    found = {p for p in (parse(n) for n in names) if p is not None}
    return [b.prefix for b in sorted({BlockName(b.stack, b.block) for b in found}, key=lambda b: b.order)]


def short(prefix: str) -> str:
    """A block's label in charts: ``blocks.3`` → ``L3``; ``enc.blocks.1`` → ``enc L1``."""
    b = parse(prefix)
    if b is None:
        return prefix
    return f"L{b.block}" if b.stack == "blocks" else f"{b.stack} L{b.block}"


def n_blocks(names: Iterable[str], stack: str = "blocks") -> int:
    """How many blocks of ``stack`` the names mention (the highest index + 1)."""
    idx = [b.block for b in (parse(n) for n in names) if b is not None and b.stack == stack]
    return max(idx) + 1 if idx else 0


def stack_of(name: str) -> str | None:
    """The stack of a per-block name or attention layer (``dec.blocks.0.cross_attn`` → ``dec``)."""
    b = parse(name)
    return None if b is None else b.stack
