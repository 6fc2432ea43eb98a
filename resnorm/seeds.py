"""The random streams of a run, derived from its one seed.

A run's ``seed`` (``TrainConfig.seed``) is never used directly. Each source of randomness draws from
its own stream, seeded with ``stream_seed(seed, name)``:

=============  ===================================================================
``weights``    the initial weights (``resnorm.model.build_model``)
``train``      the order and content of the training batches (``resnorm.trainer``)
``val``        the fixed validation batches (drawn once at the start of a run)
``dropout``    the dropout masks (``resnorm.model.seed_dropout``)
=============  ===================================================================

``stream_seed`` is NumPy's ``SeedSequence(entropy=seed, spawn_key=(k,))`` for the stream's index k
in ``STREAMS``, its first 63 bits as an integer: the standard way to derive independent streams from
one seed. So the weights of seed s are not drawn from the integer s that also orders its data, and
seed s's validation batches are not seed s + 1's training batches (as they were when the validation
generator was seeded with s + 1). The at-initialisation analysis (``resnorm.signal``) uses the same
``weights`` and ``train`` streams, so its step-1 numbers are a training run's step 1.
"""
from __future__ import annotations

import numpy as np

STREAMS = ("weights", "train", "val", "dropout")


def stream_seed(seed: int, stream: str) -> int:
    """The seed of ``stream`` (one of ``STREAMS``) for the run seed ``seed``: a 63-bit integer."""
    k = STREAMS.index(stream)
    lo, hi = np.random.SeedSequence(entropy=int(seed), spawn_key=(k,)).generate_state(2, np.uint32)
    return (int(hi) << 32 | int(lo)) >> 1
