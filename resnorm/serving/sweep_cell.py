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
import logging
import math
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: statuses of a cell that a rerun keeps; a failed or stopped cell runs again
FINISHED = ("completed", "diverged")
ROW_SCALARS = ("status", "final_loss", "min_loss", "steps", "steps_to_target", "seconds", "reason")


def _steps_to_target(losses, target: float | None):
    """First step whose training loss is at or below ``target`` (None: never, or no target)."""
    if target is None:
        return None
    hit = losses[losses <= target]
    return int(hit.index[0]) if len(hit) else None


def _empty_row() -> dict:
    return {"status": "failed", "final_loss": None, "min_loss": None, "steps": 0,
            "steps_to_target": None, "seconds": 0.0, "reason": ""}


def _failed(row: dict, e: BaseException, seconds: float) -> dict:
    row.update(status="failed", reason=f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}",
               seconds=round(seconds, 4))
    return {k: _plain(v) for k, v in row.items()}


def _conclude(cfg, summary, store, row: dict, folder: str, target, seconds: float) -> dict:
    """Fill ``row`` from a finished run (its summary and metric store), write the cell's folder and
    return the row as plain scalars."""
    frame = store.frame()
    losses = frame[frame["name"] == "train/loss"].set_index("step")["value"].astype(float)
    finite = losses[losses.map(math.isfinite)]
    row.update(status=summary.status, final_loss=summary.final_loss, steps=int(summary.steps),
               min_loss=float(finite.min()) if len(finite) else None,
               steps_to_target=_steps_to_target(finite, target), reason=summary.reason or "",
               seconds=round(seconds, 4))
    from .runs import write_into

    out = summary.to_dict()
    out["sweep_cell"] = {k: _plain(v) for k, v in row.items()}
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_into(folder, cfg, frame, out, None)
    return {k: _plain(v) for k, v in row.items()}


def run_unit(cfg_json, folder, target: float | None = None, threads: int = 1) -> dict | list[dict]:
    """What a worker runs: one cell (``cfg_json`` a str) or a batch (lists: ``run_cells``)."""
    if isinstance(cfg_json, (list, tuple)):
        return run_cells(list(cfg_json), list(folder), target, threads)
    return run_cell(cfg_json, folder, target, threads)


def unit_task(cells, folder_of) -> tuple:
    """``(cell id, config JSON, folder)`` of a unit of cells (``sweep_spec.Cell``) for a backend's
    ``submit``: one cell as itself, a batch as a tuple of ids and lists; ``folder_of(cell)``: its folder."""
    if len(cells) == 1:
        return cells[0].index, cells[0].config.to_json(), str(folder_of(cells[0]))
    return (tuple(c.index for c in cells), [c.config.to_json() for c in cells],
            [str(folder_of(c)) for c in cells])


def unit_rows(cell_id, result) -> list[tuple[object, dict]]:
    """A unit's result as ``(cell id, row)`` pairs (a batch's id is the tuple of its cells' ids)."""
    if isinstance(cell_id, tuple):
        return list(zip(cell_id, result))
    return [(cell_id, result)]


def failed_rows(cell_id, reason: str) -> list[tuple[object, dict]]:
    """Every cell of a unit that was lost (its process died) as a failed row."""
    ids = cell_id if isinstance(cell_id, tuple) else (cell_id,)
    return [(i, {**_empty_row(), "reason": reason}) for i in ids]


def run_cell(cfg_json: str, folder: str, target: float | None = None, threads: int = 1) -> dict:
    """Train one cell's config (JSON) and write its folder; returns its row: ``key`` is not in it
    (the caller knows it), every value a str, int, float or None (what crosses a process or Ray).
    ``threads``: intra-op CPU threads (1: parallelism comes from running cells side by side)."""
    start = time.perf_counter()
    row = _empty_row()
    try:
        from ..science.config import RunConfig
        from ..studies import predictors

        cfg = RunConfig.from_json(cfg_json)
        row.update({c: float("nan") for c in predictors.COLUMNS})
        row.update(_predictors(cfg, threads))
        from ..science.trainer import Trainer

        tr = Trainer(cfg, threads=threads)
        summary = tr.run()
        # the cell's time: predictors + training
        return _conclude(cfg, summary, tr.store, row, folder, target, time.perf_counter() - start)
    except Exception as e:  # a cell that cannot run or be saved is a failed row, never the sweep's end
        return _failed(row, e, time.perf_counter() - start)


def run_cells(cfg_jsons: list[str], folders: list[str], target: float | None = None, threads: int = 1) -> list[dict]:
    """Train several cells that differ only in optimiser scalars as one batched model
    (``resnorm.science.batched``) and write each cell's folder; returns their rows in order. Each
    row's ``seconds`` is the batch's time shared equally. When the batch cannot be built or fails as
    a whole, every cell runs on its own (``run_cell``), so a batch never loses a cell."""
    start = time.perf_counter()
    try:
        from ..science.batched import BatchedRun
        from ..science.config import RunConfig
        from ..studies import predictors

        cfgs = [RunConfig.from_json(j) for j in cfg_jsons]
        rows = []
        for cfg in cfgs:
            row = _empty_row()
            row.update({c: float("nan") for c in predictors.COLUMNS})
            row.update(_predictors(cfg, threads))
            rows.append(row)
        batch = BatchedRun(cfgs, threads=threads)
        summaries = batch.run()
    except Exception:
        log.warning("a batch of %d cells failed as a whole: they run one by one", len(cfg_jsons), exc_info=True)
        return [run_cell(j, f, target, threads) for j, f in zip(cfg_jsons, folders)]
    share = (time.perf_counter() - start) / len(cfgs)
    out = []
    for cfg, summary, store, row, folder in zip(cfgs, summaries, batch.stores, rows, folders):
        try:
            out.append(_conclude(cfg, summary, store, row, folder, target, share))
        except Exception as e:  # this cell's folder cannot be written: a failed row, the others stay
            out.append(_failed(row, e, share))
    return out


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
