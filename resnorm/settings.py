"""The server's settings: every ``RESNORM_*`` environment variable, in one table, parsed and validated
here and nowhere else.

``get(NAME)`` returns the variable's value (its default when unset or blank) and raises
``SettingError`` — a ``ConfigError`` whose one problem is ``(NAME, why)`` — when it is malformed; a
value is parsed once per distinct text. ``problems()`` lists what is wrong with all of them at once
(the app shows that on every page and stops; the CLI exits 2 naming the variable). The table of
``docs/workshop.md`` ("Server settings") is ``markdown_table()``, and a test keeps the two equal.

Code that needs a setting asks ``get``; what a setting *means* (a default that depends on the
machine, the unit conversion) stays with the code that uses it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from .science.config import ConfigError


class SettingError(ConfigError):
    """A malformed ``RESNORM_*`` variable; ``problems`` is ``[(name, why)]``."""


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]  # the stripped text -> value; raises ValueError(why) when malformed
    default: Any                 # when unset or blank (None: the using code decides, see ``default_doc``)
    default_doc: str             # the default as the docs state it
    help: str                    # one line: what it sets


def _number(kind: type, lo: float, hi: float = math.inf, *, lo_open: bool = False, unit: str = "",
            note: str = "") -> Callable:
    """A parser for a whole number (``kind=int``) or a finite number (``float``) in [lo, hi], or in
    (lo, hi] with ``lo_open``; one message for every malformed text, naming the range."""
    noun = ("a whole number" if kind is int else "a number") + (f" of {unit}" if unit else "")
    if hi == math.inf:
        rng = f"greater than {lo:g}" if lo_open else f">= {lo:g}"
    else:
        rng = f"greater than {lo:g} and at most {hi:g}" if lo_open else f"from {lo:g} to {hi:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = value is not None and (value > lo if lo_open else value >= lo) and value <= hi and math.isfinite(value)
        if not ok:
            raise ValueError(f"must be {noun} {rng}{note}, not {text!r}")
        return value
    return parse


def _choice(*values: str) -> Callable:
    def parse(text: str):
        value = text.lower()
        if value not in values:
            raise ValueError(f"must be {' or '.join(repr(v) for v in values)}, not {text!r}")
        return value
    return parse


def _path(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must be a folder path, not a text holding a NUL character")
    return text


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("RESNORM_MAX_TRAININGS", _number(int, 1, 100_000), None, "one per GPU, else one per CPU core",
            "trainings that run at once (a comparison or a lesson run counts as one); the rest queue"),
    Setting("RESNORM_WORKERS", _choice("process", "thread"), "process", "process",
            "where trainings run: worker processes (off the server's interpreter) or threads of the server"),
    Setting("RESNORM_WORKER_NICE", _number(int, 0, 19), 10, "10",
            "how far below the server's the training processes' CPU priority is (Unix nice, 0-19)"),
    Setting("RESNORM_WARM_WORKERS", _number(int, 0, 100_000), None, "one per training slot",
            "worker processes kept started, torch imported, so that a training's first step comes at once (0: none)"),
    Setting("RESNORM_CPU_THREADS", _number(int, 1, 1024), None, "1 in the server's trainings",
            "PyTorch threads per CPU training"),
    Setting("RESNORM_MAX_RUN_GB", _number(float, 0, lo_open=True, unit="GiB"), 4.0, "4",
            "memory one run (or one comparison, all its configs together) may need, GiB"),
    Setting("RESNORM_CUDA_MEMORY_FRACTION", _number(float, 0, 1, lo_open=True,
                                                    note=" (the share of the GPU's memory per training process, e.g. 0.25)"),
            None, "1 / RESNORM_MAX_TRAININGS", "each training process's share of the GPU's memory"),
    Setting("RESNORM_PAUSE_GRACE_S", _number(float, 0, unit="seconds", note=" (0: paused runs keep their slot for ever)"),
            180.0, "180", "seconds a paused run keeps its slot while someone waits (0: for ever)"),
    Setting("RESNORM_WORKER_TIMEOUT_S", _number(float, 30, unit="seconds"), 300.0, "300",
            "seconds without a heartbeat after which a running worker is taken for hung and killed"),
    Setting("RESNORM_RUNS_DIR", _path, "runs", "./runs", "the runs folder"),
    Setting("RESNORM_RUNS_QUOTA_GB", _number(float, 0, lo_open=True, unit="GiB"), 10.0, "10",
            "what the runs folder may hold in all, GiB"),
    Setting("RESNORM_MAX_WEIGHTS_MB", _number(float, 0, lo_open=True, unit="MB"), 50.0, "50",
            "largest weights a run saved by the app keeps, MB (the CLI always writes them)"),
    Setting("RESNORM_MAX_SWEEP_CELLS", _number(int, 1, 1000), 48, "48",
            "cells one sweep started from the Trainability map page may have (the CLI allows up to 1000)"),
]}


@lru_cache(maxsize=256)
def _parse(name: str, text: str):
    """(value, None) or (None, why): each distinct text is parsed once."""
    try:
        return SETTINGS[name].parse(text), None
    except ValueError as e:
        return None, str(e)


def get(name: str):
    """The value of setting ``name`` now (``SETTINGS[name].default`` when unset or blank)."""
    setting = SETTINGS[name]
    text = os.environ.get(name, "").strip()
    if not text:
        return setting.default
    value, why = _parse(name, text)
    if why is not None:
        raise SettingError([(name, why)])
    return value


def problems() -> list[str]:
    """``"NAME: why"`` for every malformed setting, in table order (empty when all are fine)."""
    out = []
    for name in SETTINGS:
        try:
            get(name)
        except SettingError as e:
            out.extend(f"{n}: {why}" for n, why in e.problems)
    return out


def markdown_table() -> str:
    """The settings as the table of docs/workshop.md."""
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.default_doc} | {s.help} |" for s in SETTINGS.values()]
    return "\n".join(rows)
