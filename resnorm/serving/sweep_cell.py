"""One cell of a sweep, start to finish, in whatever process runs it (a warm local worker or a Ray
task): the at-initialisation predictors (one forward/backward), the training, the cell's run folder
and the cell's row of ``cells.csv``, returned as plain scalars.

The folder ``cells/<key>/`` holds what ``train --out`` writes (``config.json``, ``metrics.csv``,
``summary.json``, through ``resnorm.serving.runs``' one writer) without ``weights.pt`` (a sweep of
hundreds of cells would store hundreds of models nobody reloads); ``summary.json`` also holds the
row under ``"sweep_cell"`` and is written last, so a folder with a readable ``summary.json`` is a
finished cell (``finished_row``) and a rerun skips it.

Nothing is raised: a cell whose training diverges or fails, or whose folder cannot be written, is
a row with that ``status`` and a ``reason``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

#: statuses of a cell that a rerun keeps; a failed or stopped cell runs again
FINISHED = ("completed", "diverged")
ROW_SCALARS = ("status", "final_loss", "min_loss", "steps", "steps_to_target", "seconds", "reason")


def _steps_to_target(losses, target: float | None):
    """First step whose training loss is at or below ``target`` (None: never, or no target)."""
    if target is None:
        return None
    hit = losses[losses <= target]
    return int(hit.index[0]) if len(hit) else None


def run_cell(cfg_json: str, folder: str, target: float | None = None, threads: int = 1) -> dict:
    """Train one cell's config (JSON) and write its folder; returns its row: ``key`` is not in it
    (the caller knows it), every value a str, int, float or None (what crosses a process or Ray).
    ``threads``: intra-op CPU threads (1: parallelism comes from running cells side by side)."""
    start = time.perf_counter()
    row: dict = {"status": "failed", "final_loss": None, "min_loss": None, "steps": 0,
                 "steps_to_target": None, "seconds": 0.0, "reason": ""}
    try:
        from ..science.config import RunConfig
        from ..studies import predictors

        cfg = RunConfig.from_json(cfg_json)
        row.update({c: float("nan") for c in predictors.COLUMNS})
        row.update(_predictors(cfg, threads))
        from ..science.trainer import Trainer

        tr = Trainer(cfg, threads=threads)
        summary = tr.run()
        frame = tr.store.frame()
        losses = frame[frame["name"] == "train/loss"].set_index("step")["value"].astype(float)
        finite = losses[losses.map(math.isfinite)]
        row.update(status=summary.status, final_loss=summary.final_loss, steps=int(summary.steps),
                   min_loss=float(finite.min()) if len(finite) else None,
                   steps_to_target=_steps_to_target(finite, target), reason=summary.reason or "")
        row["seconds"] = round(time.perf_counter() - start, 4)  # the cell's time: predictors + training
        from .runs import write_into

        out = summary.to_dict()
        out["sweep_cell"] = {k: _plain(v) for k, v in row.items()}
        Path(folder).mkdir(parents=True, exist_ok=True)
        write_into(folder, cfg, frame, out, None)
    except Exception as e:  # a cell that cannot run or be saved is a failed row, never the sweep's end
        row.update(status="failed", reason=f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}",
                   seconds=round(time.perf_counter() - start, 4))
    return {k: _plain(v) for k, v in row.items()}


def _predictors(cfg, threads: int) -> dict:
    """The cell's predictors (``resnorm.studies.predictors``) from one forward/backward at init with
    the cell's own seed; NaN when it cannot be computed (the training still runs and reports why)."""
    import torch

    from ..science.trainer import resolve_device
    from ..studies import predictors, signal

    try:
        if resolve_device(cfg.train.device).type == "cpu":
            torch.set_num_threads(threads)
        return predictors.from_metrics(signal.init_metrics(cfg, cfg.train.seed))
    except Exception:
        return {c: float("nan") for c in predictors.COLUMNS}


def _plain(v):
    """A value as it crosses a process: numpy scalars to Python, non-finite floats kept (NaN)."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def finished_row(folder: str | Path) -> dict | None:
    """The row of a finished cell folder (its ``summary.json``'s ``sweep_cell``, status in
    ``FINISHED``), or None when the folder is missing, unfinished, failed or unreadable (the cell then
    runs again)."""
    path = Path(folder) / "summary.json"
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return None
        row = json.loads(path.read_text(encoding="utf-8")).get("sweep_cell")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(row, dict) or row.get("status") not in FINISHED:
        return None
    return {k: (float("nan") if v is None and k.startswith("pred_") else v) for k, v in row.items()}
