"""resnorm: a laboratory for residual connections and normalization in Transformers.

    >>> from resnorm import RunConfig, Trainer
    >>> cfg = RunConfig.from_flat({"norm_position": "post", "layers": 6})
    >>> summary = Trainer(cfg).run()          # or .start() in the background

Layout (docs/ARCHITECTURE.md): ``resnorm.science`` (configs, variants, model, tasks, probes, trainer),
``resnorm.studies`` (comparisons, lessons, signal at initialisation, figures) and ``resnorm.serving``
(worker processes, slots, session jobs, runs folder); ``settings``, ``i18n``, ``cli`` and ``bench`` at the
top. Science never imports the layers above it. The package never imports streamlit; the UI lives in
app.py, app_pages/ and ui/.
"""
import logging

__version__ = "0.1.0"

# A library leaves logging to its application (no "last resort" tracebacks on stderr).
logging.getLogger(__name__).addHandler(logging.NullHandler())

from .science.config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig  # noqa: E402,F401

_LAZY = {"Trainer": "science.trainer", "train": "science.trainer", "build_model": "science.model"}


def __getattr__(name: str):
    """``resnorm.Trainer``, ``resnorm.train`` and ``resnorm.build_model``, imported when first asked for
    (importing the package, or only its configs, does not load the trainer and its tasks)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'resnorm' has no attribute {name!r}")
