"""What many test files need, written once: the repository root, tiny configs, waiting for a
condition, and Streamlit AppTest instances of the app's pages.

Fixtures shared by several files (one finished tiny run, …) live in ``conftest.py``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from resnorm.science.config import ModelConfig, RunConfig

ROOT = Path(__file__).resolve().parent.parent

# A model small enough that a step takes a few milliseconds on one CPU thread.
TINY = dict(layers=2, d_model=16, heads=2, d_ff=32, batch_size=4, seq_len=6, device="cpu")


def configs(*bases: dict, **defaults) -> Callable[..., RunConfig]:
    """A config builder: ``configs(TINY, steps=15)(lr=1e-2)`` is ``RunConfig.from_flat`` of the
    bases' fields, then ``defaults``, then the call's own fields (later ones win)."""
    base = {k: v for b in bases for k, v in b.items()} | defaults

    def build(**kw) -> RunConfig:
        return RunConfig.from_flat({**base, **kw})
    return build


def model_configs(**defaults) -> Callable[..., ModelConfig]:
    """The same for a bare ``ModelConfig`` (maths tests that build a model without a task)."""
    def build(**kw) -> ModelConfig:
        return ModelConfig(**{**defaults, **kw})
    return build


def wait(cond: Callable[[], bool], timeout: float = 60.0, interval: float = 0.02) -> bool:
    """Poll ``cond`` until it holds or ``timeout`` seconds pass; returns its last value. Tests wait
    for conditions, never for a fixed time: these machines are shared and their speed varies."""
    end = time.time() + timeout
    while not cond() and time.time() < end:
        time.sleep(interval)
    return bool(cond())


def app_test(page: str = "app.py", *, timeout: float = 60, run: bool = True, **query):
    """An AppTest of ``page`` (a path relative to the repository), with ``query`` as the link's
    query parameters; run once unless ``run=False``."""
    from streamlit.testing.v1 import AppTest  # only the UI tests pay for importing Streamlit

    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    if query:
        at.query_params.update(query)
    return at.run() if run else at
