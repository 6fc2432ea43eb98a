"""``python -m resnorm bench --first-point``: from Train to the first chart point, as the page gets it.

Through the same serving API the Live page uses: a ``SessionRun`` (worker processes, the server's
settings) is started with the Live page's default config and polled every 5 ms until its metric
store holds a ``train/loss`` point — the first thing its charts can draw. Each run is then stopped
and the next one starts ``--gap`` seconds later (a person reads the result before pressing Train
again; the spare that replaces a used one warms up meanwhile). ``--runs`` runs (default 20) with
warm spares (``resnorm.serving.warm``, the server's default; each waits until a spare is ready, as
a person who watched the last run would), then as many cold (``RESNORM_WARM_WORKERS=0``: a worker
process started at Train, as before issue 13); reported: median, p95, min and
max seconds, and how many runs were seen in the ``starting`` phase.

The page itself adds up to one refresh period (``ui.panels.REFRESH_S``, 0.5 s) and its drawing.
Run it on a quiet machine and again while ``tests/load/run_load.py --sessions 10`` trains: the
second figure is what a room's busy server gives.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

POLL_S = 0.005
# the settings each case runs under (written here, read only by resnorm.settings)
WORKERS, WARM = "RESNORM_WORKERS", "RESNORM_WARM_WORKERS"


def first_point(run, cfg, timeout: float = 300.0) -> tuple[float, bool]:
    """Seconds from ``run.start(cfg)`` to the first ``train/loss`` point in its store, and whether the
    run was seen ``starting`` on the way."""
    t0 = time.perf_counter()
    why = run.start(cfg)
    if why:
        raise RuntimeError(why)
    starting = False
    while True:
        job = run.trainer
        if job is not None and len(job.store.series("train/loss")[0]):
            return time.perf_counter() - t0, starting
        if job is not None and job.done:
            raise RuntimeError(f"the run ended {job.status} before its first point: {job.reason}")
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"no first point in {timeout:.0f} s")
        starting = starting or run.phase == "starting"
        time.sleep(POLL_S)


def measure(runs: int, gap: float, cfg=None) -> dict:
    """{"warm": [...], "cold": [...]} first-point seconds, and the starting counts."""
    from .science.config import RunConfig
    from .serving.sessions import SessionRun, keep_spares
    from .serving.slots import TrainingSlots
    from .serving.warm import pool

    os.environ[WORKERS] = "process"
    cfg = cfg or RunConfig()
    slots = TrainingSlots()
    times = {"warm": [], "cold": []}
    starting = {"warm": 0, "cold": 0}
    for i in range(2 * runs):  # the warm runs first: a cold run's setting ends the spares
        kind = "warm" if i < runs else "cold"
        if kind == "warm":
            os.environ.pop(WARM, None)
            keep_spares()
            end = time.monotonic() + 300
            while pool().ready() < 1 and time.monotonic() < end:  # as after a person's pause
                time.sleep(0.05)
        else:
            os.environ[WARM] = "0"
        run = SessionRun(slots, save=False)
        seconds, seen = first_point(run, cfg)
        if kind == "warm" and not run.trainer.warm:
            raise RuntimeError("a warm run started cold: no spare was ready")
        times[kind].append(seconds)
        starting[kind] += seen
        print(f"{kind} {len(times[kind])}: {seconds:.3f} s", file=sys.stderr, flush=True)
        run.stop(wait=30)
        time.sleep(gap)
    pool().close()
    return {"times_s": times, "starting_seen": starting}


def summary(times: list[float]) -> dict:
    xs = sorted(times)
    p95 = xs[min(len(xs) - 1, max(0, round(0.95 * len(xs)) - 1))]  # nearest rank
    return {"runs": len(xs), "p50": statistics.median(xs), "p95": p95, "min": xs[0], "max": xs[-1]}


def table(results: dict) -> str:
    lines = ["Train → first loss point through SessionRun (worker processes), seconds:",
             "| workers | runs | p50 | p95 | min | max | seen `starting` |", "|---|---:|---:|---:|---:|---:|---:|"]
    for kind, label in (("warm", "warm spare"), ("cold", "cold start (RESNORM_WARM_WORKERS=0)")):
        s = summary(results["times_s"][kind])
        lines.append(f"| {label} | {s['runs']} | {s['p50']:.3f} | {s['p95']:.3f} | {s['min']:.3f} | {s['max']:.3f} "
                     f"| {results['starting_seen'][kind]} |")
    return "\n".join(lines)


def main(args, device) -> int:
    from .bench import machine

    results = {"machine": machine(device), "load": os.getloadavg(), **measure(args.runs, args.gap)}
    results["load_after"] = os.getloadavg()
    results["summary"] = {k: summary(v) for k, v in results["times_s"].items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(results["machine"])
        print(f"load average before {results['load'][0]:.2f}, after {results['load_after'][0]:.2f}")
        print(table(results))
    sys.stdout.flush()
    return 0
