"""``python -m resnorm bench --share 1,2,4,8``: several trainings sharing one device.

The deployed server trains each run in its own worker process (``resnorm.serving.procworker``); with
``RESNORM_MAX_TRAININGS`` = N, N of them share the GPU, each capped at 1/N of its memory
(``resnorm.serving.device.limit_cuda_memory``). This measures that: for each config and each process count
N, N spawned processes each build a trainer (default probes, one intra-op thread, the memory cap
for N), train ``warmup`` steps, wait for each other, then time ``steps`` steps together. Reported:
aggregate steps/s (sum over the processes), per-run steps/s (median and slowest), the memory cap
and each process's peak (CUDA: ``torch.cuda.max_memory_allocated``; CPU: resident set size).

On by default on CUDA only (``bench`` with ``--share auto``); ``--share 1,2`` runs it on the CPU,
which is how it is tested without a GPU.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import statistics
import time

BARRIER_TIMEOUT_S = 600.0


def _worker(cfg_dict: dict, n: int, warmup: int, steps: int, barrier, results) -> None:
    """One training process: cap its device memory for ``n`` sharers, warm up, wait for the others,
    time ``steps`` steps; put {"rate", "peak_mb", "fraction"} (or {"error"}) on ``results``."""
    try:
        import torch

        from .bench import _sync, rss_mb
        from .science.config import RunConfig
        from .serving.device import limit_cuda_memory
        from .science.trainer import Trainer

        cfg = RunConfig.from_dict(cfg_dict)
        fraction = limit_cuda_memory(cfg.train.device, capacity=n)
        marks = {}

        def on_step(step, tr):
            if step == warmup:
                _sync(tr.device)
                barrier.wait(BARRIER_TIMEOUT_S)  # the timed windows overlap
                marks["start"] = time.perf_counter()
            elif step == warmup + steps:
                _sync(tr.device)
                marks["end"] = time.perf_counter()

        tr = Trainer(cfg.replace(steps=warmup + steps), on_step=on_step, threads=1)
        tr.run()
        if tr.status != "completed":
            raise RuntimeError(f"run ended {tr.status}: {tr.reason}")
        cuda = tr.device.type == "cuda"
        peak = torch.cuda.max_memory_allocated(tr.device) / 2**20 if cuda else rss_mb()
        results.put({"rate": steps / (marks["end"] - marks["start"]), "peak_mb": peak, "fraction": fraction})
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which fails the row
        barrier.abort()
        results.put({"error": f"{type(e).__name__}: {e}"})


def shared_rates(cfg, n: int, warmup: int, steps: int, timeout: float = BARRIER_TIMEOUT_S) -> dict:
    """``n`` processes training ``cfg`` (a ``RunConfig``) at once; see the module's docstring."""
    from .serving.procworker import _without_main

    ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(cfg.to_dict(), n, warmup, steps, barrier, results), daemon=True)
             for _ in range(n)]
    with _without_main():  # the child needs _worker only, not the parent's main script (a Streamlit app, say)
        for p in procs:
            p.start()
    try:
        rows, end = [], time.monotonic() + timeout
        while len(rows) < n:
            try:
                rows.append(results.get(timeout=1.0))
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:  # died without a word (killed, or crashed before it could report)
                    barrier.abort()
                    rows.append({"error": f"a process exited with code {dead[0].exitcode} without a result"})
                    break
                if time.monotonic() > end:
                    raise TimeoutError(f"no result from {n - len(rows)} of {n} processes in {timeout:.0f} s") from None
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    errors = [r["error"] for r in rows if "error" in r]
    if errors:
        raise RuntimeError(f"{len(errors)} of {n} processes failed: {errors[0]}")
    rates = [r["rate"] for r in rows]
    return {"processes": n, "aggregate_steps_s": sum(rates), "per_run_median": statistics.median(rates),
            "per_run_min": min(rates), "memory_fraction": rows[0]["fraction"],
            "peak_mb_max": max(r["peak_mb"] for r in rows)}


def measure(base: dict, configs: dict[str, dict], counts: list[int], warmup: int, steps: int) -> dict:
    """{config: [shared_rates row per process count]}."""
    from .science.config import RunConfig

    return {name: [shared_rates(RunConfig.from_flat({**base, **extra}), n, warmup, steps) for n in counts]
            for name, extra in configs.items()}


def table(results: dict, device: str) -> str:
    lines = [f"Trainings sharing one device ({device}), each in its own process, default probes, 1 thread each:",
             "| config | processes | aggregate steps/s | per run steps/s (median, slowest) | memory cap per process "
             "| peak memory per process |", "|---|---:|---:|---:|---:|---:|"]
    for name, rows in results.items():
        for r in rows:
            cap = "none (CPU)" if r["memory_fraction"] is None else f"{r['memory_fraction']:.3g} of the GPU"
            lines.append(f"| {name} | {r['processes']} | {r['aggregate_steps_s']:.1f} | {r['per_run_median']:.1f}, "
                         f"{r['per_run_min']:.1f} | {cap} | {r['peak_mb_max']:.0f} MB |")
    return "\n".join(lines)
