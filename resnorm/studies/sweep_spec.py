"""What a sweep is, as a pure value: a base config, 1–3 swept fields (axes) with their values, the
steps of every cell and an optional loss target — and the cells it expands to. Nothing here runs,
starts a process or touches a file (running is ``resnorm.serving.sweep``).

An axis is any config field (``layers``, ``lr``, ``norm_position``, ``seed`` …) with a tuple of
values, each checked against the field's schema (``resnorm.science.config``); text such as
``lr=3e-4,1e-3`` is parsed by ``parse_axis`` with the same parser a URL query uses. The cells are
the Cartesian product of the axes, first axis slowest (``itertools.product`` order), each a full
``RunConfig`` (``base`` with ``steps`` and the cell's axis values); a combination the config rules
reject (e.g. ``heads`` not dividing ``d_model``) is an error naming the axis, raised before anything
runs.

A cell's ``key`` is the first 16 hex digits of the SHA-256 of its full config's JSON: two cells with
the same config are the same cell (in any sweep), so a rerun or an extended axis recognises the
cells already finished by their folder ``cells/<key>/``.
"""
from __future__ import annotations

import re

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from ..science.config import (NOT_FROM_TEXT, ConfigError, RunConfig, _check_field, field_index,
                              parse_value, show)

MIN_AXES, MAX_AXES = 1, 3
MAX_CELLS = 1000          # cells of one sweep from the command line ("up to a few hundred")
MAX_VALUES = 200          # values of one axis
#: fields a sweep may not vary: a server path, and the number of points kept (set from ``steps``)
NOT_SWEPT = {"text_file": "a path is not swept; set it in the base config",
             "max_points": "set from --steps (every step is kept)"}


def _axis_error(name: str, why: str) -> ConfigError:
    return ConfigError([(name, why)])


def parse_axis(text: str) -> tuple[str, tuple]:
    """``"NAME=V1,V2,..."`` → ``(name, (v1, v2, ...))``, each value parsed and checked by the field's
    schema. The name may use dashes (``d-model``, as the CLI option). ConfigError naming the axis
    when the name is unknown or not sweepable, a value is invalid, empty or repeated."""
    if not isinstance(text, str) or "=" not in text:
        raise _axis_error("axis", f"expected NAME=V1,V2,... (got {show(text)})")
    name, _, values = text.partition("=")
    name = name.strip().replace("-", "_")
    parts = [v.strip() for v in values.split(",")]
    if not name:
        raise _axis_error("axis", f"expected NAME=V1,V2,... (got {show(text)})")
    _check_name(name)
    if not values.strip() or any(p == "" for p in parts):
        raise _axis_error(name, f"give one or more comma-separated values (got {show(values)})")
    return name, check_values(name, tuple(parse_value(name, p) for p in parts))


def _check_name(name: str) -> None:
    if name not in field_index():
        raise _axis_error(name, "not a config field (e.g. layers, lr, norm_position, seed)")
    if name in NOT_SWEPT:
        raise _axis_error(name, NOT_SWEPT[name])
    if name in NOT_FROM_TEXT and name not in NOT_SWEPT:  # pragma: no cover (kept in step with config)
        raise _axis_error(name, "cannot be swept")


def check_values(name: str, values: tuple) -> tuple:
    """``values`` when each is valid for field ``name`` and none repeats; else ConfigError(name, why)."""
    _check_name(name)
    values = tuple(values)
    if not values:
        raise _axis_error(name, "give at least one value")
    if len(values) > MAX_VALUES:
        raise _axis_error(name, f"at most {MAX_VALUES} values (got {len(values)})")
    f = field_index()[name][1]
    for v in values:
        if str(f.type) == "float" and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        problem = _check_field(f, v)
        if problem:
            raise _axis_error(name, f"{show(v)}: {problem}")
    seen = set()
    for v in values:
        if v in seen:
            raise _axis_error(name, f"{show(v)} is given twice")
        seen.add(v)
    return tuple(float(v) if str(f.type) == "float" and not isinstance(v, bool) else v for v in values)


@dataclass(frozen=True)
class Cell:
    """One cell: its axis values (``{field: value}``, axis order), its full config, its ``key``
    (``cell_key(config)``) and its position in the sweep's product order."""
    index: int
    values: dict[str, Any]
    config: RunConfig
    key: str


def cell_key(cfg: RunConfig) -> str:
    """First 16 hex digits of SHA-256 over the config's canonical JSON (sorted keys): the cell's
    identity, stable across processes, machines and sweeps."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SweepSpec:
    """``base``: the config every cell starts from; ``axes``: ``{field: values}`` in order (1–3 axes);
    ``steps``: optimizer steps of every cell (None: the base's); ``target``: a loss threshold —
    each cell then reports ``steps_to_target``, the first step whose training loss is at or below it.
    Built from checked parts; the constructor raises ConfigError naming the offending axis."""
    base: RunConfig
    axes: dict[str, tuple] = field(default_factory=dict)
    steps: int | None = None
    target: float | None = None

    def __post_init__(self):
        if not isinstance(self.base, RunConfig):
            raise ConfigError([("config", "the base must be a RunConfig")])
        axes = dict(self.axes)
        if not MIN_AXES <= len(axes) <= MAX_AXES:
            raise ConfigError([("axis", f"give {MIN_AXES} to {MAX_AXES} axes (got {len(axes)})")])
        object.__setattr__(self, "axes", {k: check_values(k, v) for k, v in axes.items()})
        if self.steps is not None:
            problem = _check_field(field_index()["steps"][1], self.steps)
            if problem:
                raise ConfigError([("steps", problem)])
        if self.target is not None:
            t = self.target
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not t == t or t in (float("inf"), -float("inf")) or t < 0:
                raise ConfigError([("target", f"must be a finite loss >= 0 (got {show(t)})")])
            object.__setattr__(self, "target", float(t))

    @property
    def n_cells(self) -> int:
        n = 1
        for v in self.axes.values():
            n *= len(v)
        return n

    def cell_base(self) -> RunConfig:
        """The base with the sweep's steps (and every step's metrics kept, as ``train --out`` does)."""
        if self.steps is None:
            return self.base
        return self.base.replace(steps=self.steps, max_points=min(max(self.steps, 10), 1_000_000))

    # ---- JSON round-trip (DIR/sweep.json) ----------------------------------------------------------
    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "axes": {k: list(v) for k, v in self.axes.items()},
                "steps": self.steps, "target": self.target}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepSpec":
        if not isinstance(d, dict) or not isinstance(d.get("axes"), dict):
            raise ConfigError([("sweep", "not a sweep description (expected base, axes, steps, target)")])
        return cls(base=RunConfig.from_dict(d.get("base", {})), axes={k: tuple(v) for k, v in d["axes"].items()},
                   steps=d.get("steps"), target=d.get("target"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "SweepSpec":
        try:
            return cls.from_dict(json.loads(text))
        except (json.JSONDecodeError, RecursionError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError([("sweep", f"not valid JSON: {str(e)[:120]}")]) from None

    def to_cli(self, out: str = "sweeps/my-sweep") -> str:
        """The equivalent ``python -m resnorm sweep`` command."""
        import shlex

        from ..science.config import to_cli

        base = to_cli(self.base, out=out).replace("python -m resnorm train", "python -m resnorm sweep", 1)
        base, _, tail = base.rpartition(" --out ")
        if self.steps is not None:  # the spec's --steps below replaces the base config's own
            base = re.sub(r" --steps \S+", "", base)
        parts = [base]
        for k, v in self.axes.items():
            parts.append("--axis " + shlex.quote(f"{k}=" + ",".join(_text(x) for x in v)))
        if self.steps is not None:
            parts.append(f"--steps {self.steps}")
        if self.target is not None:
            parts.append(f"--target {self.target:g}")
        parts.append("--out " + tail)
        return " ".join(parts)


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def cells(spec: SweepSpec, max_cells: int = MAX_CELLS) -> list[Cell]:
    """Every cell of ``spec`` in product order (first axis slowest). ConfigError when there are more
    than ``max_cells`` or when a combination breaks a config rule (naming the axis field involved)."""
    n = spec.n_cells
    if n > max_cells:
        raise ConfigError([("axis", f"{n} cells is more than the limit of {max_cells}; use fewer values")])
    base = spec.cell_base()
    names = list(spec.axes)
    out = []
    for i, combo in enumerate(itertools.product(*spec.axes.values())):
        values = dict(zip(names, combo))
        try:
            cfg = RunConfig.from_flat(values, base=base)
        except ConfigError as e:
            field_, why = e.problems[0]
            axis = field_ if field_ in values else names[-1]
            shown = ", ".join(f"{k}={_text(v)}" for k, v in values.items())
            raise ConfigError([(axis, f"the cell {shown} is not a valid config: {field_}: {why}")]) from None
        out.append(Cell(index=i, values=values, config=cfg, key=cell_key(cfg)))
    return out


def replace_axes(spec: SweepSpec, **axes) -> SweepSpec:
    """A copy of ``spec`` with some axes' values replaced or added (extending an axis: the cells
    already run keep their keys)."""
    return dataclasses.replace(spec, axes={**spec.axes, **axes})
