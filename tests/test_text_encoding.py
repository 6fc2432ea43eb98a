"""The text tasks' character encoding, now computed with numpy (issue 16, item 1: stdlib-lm's start
took 0.4 s of Python loop), against the plain definition it replaced: the ``MAX_TEXT_VOCAB`` most
common characters (ties: first seen, as ``Counter.most_common``), sorted, after the special tokens;
every other character is UNK."""
from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from resnorm.science import tasks as T


def reference(text: str, arch: str):
    keep = [c for c, _ in Counter(text).most_common(T.MAX_TEXT_VOCAB)]
    vocab = tuple(([T.MASK, T.UNK] if arch == "encoder" else [T.UNK]) + sorted(keep))
    index = {t: i for i, t in enumerate(vocab)}
    return vocab, torch.tensor([index.get(c, index[T.UNK]) for c in text], dtype=torch.int16)


def texts():
    r = random.Random(0)
    yield "hello, world"
    yield "ba" * 3 + "c"  # ties
    yield "".join(chr(r.randrange(32, 3000)) for _ in range(20_000))  # far more than MAX_TEXT_VOCAB characters
    # exactly tied counts at the cut: which of them are kept depends on first appearance only
    yield "".join(chr(0x4E00 + i) for i in range(400)) * 3
    yield "x\udcff\ud800y\U0001F600" * 10  # lone surrogates (undecodable bytes) and a character outside the BMP
    yield T.stdlib_text(100_000)


@pytest.mark.parametrize("arch", ["decoder", "encoder"])
@pytest.mark.parametrize("text", list(texts()), ids=lambda t: f"{len(t)}chars")
def test_encoding_is_the_plain_definition(text, arch):
    vocab, ids = T._encoded_text(text, arch)
    ref_vocab, ref_ids = reference(text, arch)
    assert vocab == ref_vocab
    assert ids.dtype == torch.int16 and torch.equal(ids, ref_ids)
