"""``python -m resnorm bench --sweep``: the throughput of a sweep, in cells per second.

The same sweep (the ``default`` config, ``--sweep-steps`` steps per cell, default probes, the learning
rate × seed grid of ``--sweep-cells`` cells) run four ways on ``--workers`` cores:

- ``single run``: one cell trained in this process with one thread — its steps/s sets the ideal,
  ``workers × steps/s ÷ steps`` cells/s (issue 17 asks for ≥ 0.9 of it);
- ``per-cell processes``: one ``python -m resnorm train --threads 1`` process per cell, ``workers`` at
  a time — an interpreter and a torch import for every cell, and no predictors;
- ``warm workers``: the local backend (``resnorm.serving.sweep_local``) — ``workers`` processes that
  import torch once and train cell after cell (and compute each cell's predictors); their start-up
  (spawn, imports) is reported apart, as for Ray, since a sweep of hundreds of cells pays it once;
- ``ray (local)``: ``run_sweep(backend="ray")`` on a local Ray started here (its start-up is
  reported apart, as ``ray start s``, and not counted in cells/s: a cluster is started once);
- ``batched``: the same warm workers, the cells that share an architecture (here: all, they differ in
  learning rate and seed) trained as batched models (``resnorm.science.batched``: ``vmap`` over up
  to 8 members, at least one batch per worker) — cells/s against the same ideal.

Each row: wall seconds, cells/s, the fraction of the ideal, and the overhead per cell
(actual ÷ ideal seconds per cell − 1: what starting, data, predictors and writing add to a cell's
training, as a fraction of it; negative when batching beats running the cells side by side). The grid runs twice: on the ``default``
config and on a ``small`` one (4 layers, d_model 64, batch 8 × 16 characters of ``stdlib-lm``: 128
tokens per step, where batching pays on a CPU).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LRS = (3e-4, 1e-3, 3e-3, 1e-2, 2e-3, 5e-4, 7e-3, 1.5e-3)


#: the two grids' base configs: the default one, and a small one where batching pays on the CPU
BASES = {"default": {}, "small": {"task": "stdlib-lm", "seq_len": 16, "batch_size": 8, "layers": 4, "d_model": 64,
                                  "heads": 4, "d_ff": 256}}


def _spec(cells: int, steps: int, device: str, base: str = "default"):
    from .science.config import RunConfig
    from .studies.sweep_spec import SweepSpec

    seeds = max(1, (cells + len(LRS) - 1) // len(LRS))
    lrs = LRS[: max(1, cells // seeds)]
    return SweepSpec(RunConfig.from_flat({**BASES[base], "device": device}), {"lr": lrs, "seed": tuple(range(seeds))},
                     steps=steps)


def _single_rate(cfg) -> float:
    from .science.trainer import Trainer

    marks = {}

    def on_step(step, tr):
        if step == 10:
            marks["t"] = time.perf_counter()
    tr = Trainer(cfg, on_step=on_step, threads=1)
    tr.run()
    return (cfg.train.steps - 10) / (time.perf_counter() - marks["t"])


def _per_cell_processes(cells, workers: int, root: Path) -> float:
    from .science.config import to_cli

    t0 = time.perf_counter()
    pending, running = list(cells), []
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    while pending or running:
        while pending and len(running) < workers:
            c = pending.pop(0)
            cmd = shlex.split(to_cli(c.config, out=str(root / c.key)))[4:]  # after "python -m resnorm train"
            running.append(subprocess.Popen([sys.executable, "-m", "resnorm", "train", "--quiet", "--threads", "1",
                                             *cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for p in list(running):
            if p.poll() is not None:
                running.remove(p)
        time.sleep(0.05)
    return time.perf_counter() - t0


def _warm_workers(cells, workers: int, root: Path, batch: str = "off") -> tuple[float, float]:
    """(seconds until every worker has imported torch, seconds to run the cells on them); ``batch``
    as ``sweep --batch`` (``resnorm.science.batched.plan``)."""
    from .science.batched import plan
    from .serving.sweep_cell import unit_task
    from .serving.sweep_local import LocalBackend

    t0 = time.perf_counter()
    b = LocalBackend(workers)
    try:
        while len(b.ready) < workers:
            b.poll(0.05)
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        pending = [[cells[i] for i in u] for u in plan([c.config for c in cells], workers, batch)]
        left = len(cells)
        while left:
            while pending and b.idle():
                b.submit(*unit_task(pending.pop(0), lambda c: root / c.key), None)
            left -= len(b.poll(0.05))
        return start, time.perf_counter() - t0
    finally:
        b.close()


def measure_grid(base: str, cells: int = 8, steps: int = 300, workers: int | None = None, device: str = "cpu",
                 ray: bool = True, processes: bool = True) -> dict:
    from .serving.sweep import run_sweep
    from .studies.sweep_spec import cells as spec_cells

    workers = workers or os.cpu_count() or 1
    spec = _spec(cells, steps, device, base)
    cs = spec_cells(spec)
    rate = _single_rate(cs[0].config)
    ideal = workers * rate / steps
    rows = {"single run": {"steps_per_s": rate, "ideal_cells_per_s": ideal}}

    def row(wall, extra=None):
        cps = len(cs) / wall
        return {"wall_s": wall, "cells_per_s": cps, "of_ideal": cps / ideal, "overhead": ideal / cps - 1,
                **(extra or {})}
    root = Path(tempfile.mkdtemp(prefix="resnorm-bench-sweep-"))
    try:
        if processes:
            rows["per-cell processes"] = row(_per_cell_processes(cs, workers, root / "proc"))
        start, wall = _warm_workers(cs, workers, root / "local")
        rows["warm workers"] = row(wall, {"start_s": start})
        start, wall = _warm_workers(cs, workers, root / "batched", batch="on")
        rows["batched"] = row(wall, {"start_s": start})
        if ray:
            try:
                from .serving.sweep_ray import ensure_ray

                t0 = time.perf_counter()
                ensure_ray(workers)
                start = time.perf_counter() - t0
                t0 = time.perf_counter()
                run_sweep(spec, root / "ray", backend="ray", workers=workers, batch="off")
                rows["ray (local)"] = row(time.perf_counter() - t0, {"ray_start_s": start})
            except ImportError as e:
                rows["ray (local)"] = {"error": str(e)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"base": base, "cells": len(cs), "steps": steps, "workers": workers, "rows": rows}


def measure(cells: int = 8, steps: int = 300, workers: int | None = None, device: str = "cpu",
            ray: bool = True) -> list[dict]:
    """Both grids: every mode on the default config, warm and batched workers on the small one."""
    return [measure_grid("default", cells, steps, workers, device, ray),
            measure_grid("small", cells, steps, workers, device, ray=False, processes=False)]


def table(res: dict) -> str:
    single = res["rows"]["single run"]
    out = [f"{res['base']} config: {res['cells']} cells x {res['steps']} steps, {res['workers']} workers; one run: "
           f"{single['steps_per_s']:.1f} steps/s (1 thread) -> ideal {single['ideal_cells_per_s']:.3f} cells/s",
           f"{'mode':<20} {'wall s':>8} {'cells/s':>8} {'of ideal':>9} {'overhead/cell':>14}"]
    for name, r in res["rows"].items():
        if name == "single run":
            continue
        if "error" in r:
            out.append(f"{name:<20} {r['error']}")
            continue
        extra = (f"  (ray start {r['ray_start_s']:.1f} s, not counted)" if "ray_start_s" in r else
                 f"  (workers start {r['start_s']:.1f} s, not counted)" if "start_s" in r else "")
        out.append(f"{name:<20} {r['wall_s']:>8.1f} {r['cells_per_s']:>8.3f} {r['of_ideal']:>8.0%} "
                   f"{r['overhead']:>13.0%}{extra}")
    return "\n".join(out)


def main(args, device) -> int:
    import json

    from .bench import machine

    grids = measure(args.sweep_cells, args.sweep_steps, args.workers, device.type)
    if args.json:
        print(json.dumps({"machine": machine(device), "grids": grids}, indent=2))
    else:
        print(machine(device))
        print("\n\n".join(table(g) for g in grids))
    return 0
