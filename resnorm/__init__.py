"""resnorm: a laboratory for residual connections and normalization in Transformers.

    >>> from resnorm import RunConfig
    >>> from resnorm.trainer import Trainer
    >>> cfg = RunConfig.from_flat({"norm_position": "post", "layers": 6})
    >>> summary = Trainer(cfg).run()          # or .start() in the background

The package never imports streamlit; the UI lives in app.py, app_pages/ and ui/.
"""
import logging

__version__ = "0.1.0"

# A library leaves logging to its application (no "last resort" tracebacks on stderr).
logging.getLogger(__name__).addHandler(logging.NullHandler())

from .config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig  # noqa: E402,F401
