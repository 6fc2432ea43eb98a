"""``python -m resnorm bench``: what the instrumentation costs, measured against a bare loop.

In one process, on the same model, data and seed, for each config and each thread setting, steps/s of:

(a) ``bare``      a plain PyTorch loop written here, independently of the trainer: sample a batch,
                  forward, loss, backward, clip, AdamW step — no probes, no store, no thread;
(b) ``probes off`` the trainer (background thread, metric store) with ``probe_every=0``;
(c) ``probes``    the trainer with all probes at the default cadence;
(d) ``probes+attn`` (c) with attention maps captured at the default cadence too.

Each is timed over the same steps after a warm-up, ``repeats`` times in interleaved order; the
table gives medians and ratios to (a). Configs: the synthetic ``default`` and a 24-layer one, and the
README's own examples — its stdlib-lm command (4-layer d=64 Pre-LN decoder, seq 64, batch 32) and
its 12-layer Post-LN link (lr 3e-4). Thread settings (``--threads``, default ``1,default``): one
intra-op thread (the server's workers, ``RESNORM_CPU_THREADS`` unset) and torch's default (the
command line's); each row says which. ``--configs`` picks configs by name. ``--memory`` adds the
RSS growth of a 20 000-step run between steps 1 000 and 20 000 (small model, all probes on).

``--process``: instead, whole processes, as a user runs them (``resnorm.bench_process``).
``--defaults`` / ``--lessons``: instead, whether the defaults still teach, and how long each lesson
takes (``resnorm.bench_defaults``).
``--charts``: instead, what each live chart costs the server (``resnorm.bench_charts``).
``--options``: instead, the cost per step of each issue-18 option against Pre-LN (``resnorm.bench_options``).
``--sweep``: instead, the cells/s of a sweep on each backend (``resnorm.bench_sweep``).
``--first-point``: instead, seconds from Train to the first chart point (``resnorm.bench_first``).
``--share``: several trainings sharing one device in worker processes (``resnorm.bench_share``);
on by default on CUDA (1, 2, 4, 8 processes), off on the CPU unless asked (``--share 1,2``).

On a CUDA device the table also has each config with bf16 autocast (``autocast=bf16``): all four
cases again, the bare loop under ``torch.autocast`` too, so their ratios compare like with like.
``--autocast`` adds these rows on the CPU as well, ``--no-autocast`` leaves them out on CUDA. The
line above the table (and ``device`` in the JSON) names the device that produced the figures.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import threading
import time

import torch

from .science.config import ConfigError, RunConfig
from .science.model import build_model, sequence_loss
from .science.seeds import stream_seed
from .science.tasks import make_task
from .science.trainer import TORCH_DEFAULT_THREADS, Trainer, cpu_threads, resolve_device

CASES = {
    "bare": None,
    "probes off": dict(probe_every=0, attention_every=0, eval_every=0),
    "probes": dict(attention_every=0, eval_every=0),
    "probes+attn": dict(eval_every=0),
}
CONFIGS = {"default": {}, "deep (24 layers)": {"layers": 24},
           # the README's examples: its stdlib-lm command and its 12-layer Post-LN link
           "README stdlib-lm": {"task": "stdlib-lm", "seq_len": 64},
           "README 12-layer Post-LN": {"norm_position": "post", "layers": 12, "lr": 3e-4}}
AUTOCAST = ", bf16 autocast"  # suffix of a config's name in the autocast rows


def bench_configs(with_autocast: bool, configs: dict[str, dict] = CONFIGS) -> dict[str, dict]:
    """The measured configs: ``configs``, then each again with bf16 autocast when asked."""
    out = dict(configs)
    if with_autocast:
        out.update({name + AUTOCAST: {**extra, "autocast": "bf16"} for name, extra in configs.items()})
    return out


def bare_loop(cfg: RunConfig, warmup: int, steps: int) -> float:
    """Steps/s of a plain training loop on the same model, data and seed as the trainer; with
    ``autocast=bf16`` its forward pass and loss run under ``torch.autocast`` to bfloat16."""
    device = resolve_device(cfg.train.device)
    lowp = cfg.train.autocast == "bf16"
    task = make_task(cfg.task, cfg.model.arch)
    model = build_model(cfg.model, task.vocab_size, task.max_len, seed=cfg.train.seed).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    gen = torch.Generator().manual_seed(stream_seed(cfg.train.seed, "train"))
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        batch = task.sample(cfg.train.batch_size, gen, "train").to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16) if lowp else contextlib.nullcontext():
            loss = sequence_loss(model(*batch.model_args()), batch.targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()
        loss.item()  # the trainer reads the loss every step too
    _sync(device)
    return steps / (time.perf_counter() - t0)


def thread_settings(spec: str = "1,default") -> list[int]:
    """``"1,default"`` → [1, torch's default thread count], duplicates dropped."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        n = TORCH_DEFAULT_THREADS if part == "default" else int(part)
        if n < 1:
            raise ValueError(f"thread counts must be at least 1, not {n}")
        if n not in out:
            out.append(n)
    return out


def trainer_rate(cfg: RunConfig, warmup: int, steps: int, threads: int | None = None,
                 clock=time.perf_counter) -> float:
    """Steps/s of the trainer in its background thread, timed between two steps via ``on_step``;
    ``clock`` is wall time by default (``time.thread_time``: the training thread's CPU time)."""
    marks = {}

    def on_step(step, tr):
        if step in (warmup, warmup + steps):
            _sync(tr.device)
            marks[step] = clock()

    tr = Trainer(cfg.replace(steps=warmup + steps), on_step=on_step, threads=threads)
    tr.start()
    tr.join()
    if tr.status != "completed":
        raise RuntimeError(f"benchmark run ended {tr.status}: {tr.reason}")
    return steps / (marks[warmup + steps] - marks[warmup])


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(base: dict, warmup: int, steps: int, repeats: int, configs: dict[str, dict] = CONFIGS,
            threads: list[int] = (1,)) -> dict[str, dict[str, dict[str, float]]]:
    """{config: {"N threads": {case: median steps/s}}} with the cases interleaved in each repeat."""
    out = {}
    for cname, extra in configs.items():
        for n in threads:
            rates = {case: [] for case in CASES}
            for _ in range(repeats):
                for case, overrides in CASES.items():
                    cfg = RunConfig.from_flat({**base, **extra, **(overrides or {})})
                    if overrides is None:
                        torch.set_num_threads(n)
                        rates[case].append(bare_loop(cfg, warmup, steps))
                    else:
                        rates[case].append(trainer_rate(cfg, warmup, steps, threads=n))
            out.setdefault(cname, {})[threads_label(n)] = {case: statistics.median(v) for case, v in rates.items()}
    return out


def threads_label(n: int) -> str:
    return f"{n} thread{'s' if n > 1 else ''}" + (" (torch default)" if n == TORCH_DEFAULT_THREADS else "")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_growth(steps: int = 20_000, first: int = 1_000) -> dict:
    """RSS at step ``first`` and at the end of a ``steps``-step run with every probe on."""
    cfg = RunConfig.from_flat(dict(layers=2, d_model=16, heads=2, d_ff=32, batch_size=8, steps=steps,
                                   probe_every=10, attention_every=50, eval_every=500))
    marks = {}
    done = threading.Event()

    def on_step(step, tr):
        if step in (first, steps):
            marks[step] = rss_mb()

    tr = Trainer(cfg, on_step=on_step)
    tr.run()
    done.set()
    return {"rss_mb_at_%d" % first: round(marks[first], 1), "rss_mb_at_%d" % steps: round(marks[steps], 1),
            "growth_mb": round(marks[steps] - marks[first], 1), "points_kept": tr.store.n_points(),
            "attention_snapshots": len(tr.store.attention())}


def device_name(device: torch.device) -> str:
    """The device that produced the figures, e.g. ``cpu`` or ``cuda: NVIDIA H100 80GB HBM3``."""
    if device.type == "cuda":
        return "cuda: " + torch.cuda.get_device_name(device)
    return device.type


def machine(device: torch.device | None = None) -> str:
    dev = device_name(device if device is not None else resolve_device("auto"))
    return (f"{platform.node() or 'machine'}: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, torch {torch.__version__}, device {dev}, "
            f"torch default threads {TORCH_DEFAULT_THREADS}")


def table(results: dict) -> str:
    lines = ["| config | threads | case | steps/s (median) | ratio to bare loop |", "|---|---|---|---:|---:|"]
    for cname, by_threads in results.items():
        for threads, rates in by_threads.items():
            bare = rates["bare"]
            for case, r in rates.items():
                lines.append(f"| {cname} | {threads} | {case} | {r:.1f} | {r / bare:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m resnorm bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--steps", type=int, default=150, help="timed steps per measurement (default 150)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    p.add_argument("--repeats", type=int, default=None, help="repeats; medians are reported (default 5; 3 with --process)")
    p.add_argument("--memory", action="store_true", help="also measure RSS growth over a 20 000-step run")
    p.add_argument("--configs", metavar="NAMES",
                   help="comma-separated config names to measure (default: all of " + ", ".join(CONFIGS) + ")")
    p.add_argument("--threads", default="1,default", metavar="LIST",
                   help="intra-op thread settings, e.g. 1,default or 1,2 (default: 1,default)")
    p.add_argument("--process", action="store_true",
                   help="instead: whole processes, `python -m resnorm train` against a bare loop (see resnorm.bench_process)")
    p.add_argument("--share", metavar="LIST", default="auto",
                   help="worker process counts sharing the device, e.g. 1,2,4,8; auto: 1,2,4,8 on CUDA, none on "
                        "the CPU; none: skip (see resnorm.bench_share)")
    p.add_argument("--first-point", action="store_true",
                   help="instead: seconds from Train to the first chart point, warm and cold workers (see resnorm.bench_first)")
    p.add_argument("--runs", type=int, default=20, help="with --first-point: runs of each kind (default 20)")
    p.add_argument("--gap", type=float, default=1.0, help="with --first-point: seconds between runs (default 1)")
    p.add_argument("--charts", action="store_true",
                   help="instead: build and serialisation time of each live chart (see resnorm.bench_charts)")
    p.add_argument("--points", type=int, default=2000, help="with --charts: points per series (default 2000)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto uses CUDA when present, else CPU (default: auto)")
    p.add_argument("--autocast", action=argparse.BooleanOptionalAction, default=None,
                   help="also measure every config with bf16 autocast (default: on CUDA only)")
    p.add_argument("--process-steps", type=int, default=200, metavar="N",
                   help="with --process: steps per training (default 200)")
    p.add_argument("--defaults", action="store_true",
                   help="instead: check that the default Compare contrast and the Live default still hold, per seed")
    p.add_argument("--lessons", action="store_true", help="instead: time each lesson's quick and full run")
    p.add_argument("--seeds", default="0,1,2,3,4", metavar="LIST", help="with --defaults: seeds (default 0,1,2,3,4)")
    p.add_argument("--options", action="store_true",
                   help="instead: the cost per step of each issue-18 option against Pre-LN (see resnorm.bench_options)")
    p.add_argument("--sweep", action="store_true",
                   help="instead: cells/s of a sweep run as per-cell processes, warm workers and on a local Ray "
                        "(see resnorm.bench_sweep)")
    p.add_argument("--sweep-cells", type=int, default=8, metavar="N", help="with --sweep: cells (default 8)")
    p.add_argument("--sweep-steps", type=int, default=300, metavar="N", help="with --sweep: steps per cell (default 300)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="with --sweep: cells at once (default: one per core)")
    args = p.parse_args(argv)
    if args.defaults or args.lessons:
        from . import bench_defaults

        return bench_defaults.main(args)
    if args.repeats is None:
        args.repeats = 3 if args.process else 5
    if min(args.steps, args.repeats, args.process_steps) < 1 or args.warmup < 1:
        print("error: --steps, --repeats, --process-steps and --warmup must be at least 1", file=sys.stderr)
        return 2
    if args.charts:
        return _charts(args)
    try:
        device = resolve_device(args.device)
        threads = thread_settings(args.threads)
        share = share_counts(args.share, device)
        names = [n.strip() for n in args.configs.split(",")] if args.configs else list(CONFIGS)
    except ConfigError as e:
        print(f"error: --device: {e.problems[0][1]}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"error: --configs: unknown {', '.join(unknown)} (known: {', '.join(CONFIGS)})", file=sys.stderr)
        return 2
    if args.options:  # issue 18
        from . import bench_options

        base = {"device": device.type, "seed": 0}
        rates = bench_options.measure(base, args.warmup, args.steps, args.repeats, threads=threads[0])
        one_off = bench_options.one_off_costs({**base, "device": "cpu"})
        if args.json:
            print(json.dumps({"machine": machine(device), "threads": threads_label(threads[0]), "rates": rates,
                              "one_off": one_off}, indent=2))
        else:
            print(machine(device), "·", threads_label(threads[0]))
            print(bench_options.table(rates, one_off))
        return 0
    if args.sweep:
        if min(args.sweep_cells, args.sweep_steps, args.workers or 1) < 1 or args.sweep_steps < 20:
            print("error: --sweep-cells and --workers must be at least 1, --sweep-steps at least 20", file=sys.stderr)
            return 2
        from . import bench_sweep

        return bench_sweep.main(args, device)
    if args.first_point:
        if args.runs < 1 or args.gap < 0:
            print("error: --runs must be at least 1 and --gap at least 0", file=sys.stderr)
            return 2
        from . import bench_first

        return bench_first.main(args, device)
    if args.process:
        from . import bench_process

        return bench_process.main(args, device)
    with_autocast = device.type == "cuda" if args.autocast is None else args.autocast
    base = {"device": device.type, "seed": 0}
    configs = {n: CONFIGS[n] for n in names}
    results = {"machine": machine(device), "device": device_name(device), "autocast": with_autocast,
               "steps": args.steps, "repeats": args.repeats, "threads": [threads_label(n) for n in threads],
               "rates": measure(base, args.warmup, args.steps, args.repeats,
                                bench_configs(with_autocast, configs), threads)}
    if share:
        from . import bench_share

        results["share"] = bench_share.measure(base, configs, share, args.warmup, args.steps)
    if args.memory:
        results["memory"] = memory_growth()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(results["machine"])
        print(table(results["rates"]))
        if share:
            from . import bench_share

            print()
            print(bench_share.table(results["share"], device_name(device)))
        if args.memory:
            print("memory:", json.dumps(results["memory"]))
    return 0


def share_counts(spec: str, device: torch.device) -> list[int]:
    """``--share``: the worker process counts to measure; ``auto`` is 1, 2, 4, 8 on CUDA, none on the CPU."""
    if spec == "none" or (spec == "auto" and device.type != "cuda"):
        return []
    if spec == "auto":
        return [1, 2, 4, 8]
    counts = [int(part) for part in spec.split(",")]
    if min(counts) < 1:
        raise ValueError("--share: process counts must be at least 1")
    return counts


def _charts(args) -> int:
    from . import bench_charts

    if args.points < 2:
        print("error: --points must be at least 2", file=sys.stderr)
        return 2
    torch.set_num_threads(cpu_threads())
    results = {"machine": machine(torch.device("cpu")), "points": args.points, "repeats": args.repeats,
               "engines": bench_charts.engines(), "charts": bench_charts.measure(args.points, args.repeats)}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(results["machine"])
        print(f"{args.points} points per series, medians of {args.repeats}")
        print(bench_charts.table(results["charts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
