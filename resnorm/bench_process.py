"""``python -m resnorm bench --process``: whole processes, as a user runs them.

The in-process bench times steps after a warm-up; a person running one command waits for the whole
process: interpreter, imports, the task's data, the model, every step, the files written. This
runs, as separate processes and side by side (interleaved, ``--repeats`` times, medians of the
wall-clock time), for each config given with ``--configs`` (default: the README's stdlib-lm
example, ``--task stdlib-lm --seq-len 64``), ``--process-steps`` steps (default 200) and each
thread setting of ``--threads`` (default ``1,default``):

- ``bare loop``: a hand-written PyTorch loop (``BARE``: the same model, data, seed and AdamW
  settings; no probes, no store, no files);
- ``train``: ``python -m resnorm train … --quiet`` as the README writes it (default probes); at
  torch's default threads without ``--threads``, i.e. the command line's own default;
- ``train --probe-every 0``: the same without probes.

Ratios are to the bare loop with the same threads; ``train`` ≤ 1.10 × at torch's default is the
target. With one thread the ratio is the trainer's whole-process overhead even on a busy machine;
at two or more, threads that wait for a core another process holds dominate the time there.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = r"""
import json, sys, time
import torch
from resnorm.config import RunConfig
from resnorm.model import build_model, sequence_loss
from resnorm.tasks import make_task

cfg = RunConfig.from_flat(json.loads(sys.argv[1]))
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))
device = torch.device("cuda" if cfg.train.device != "cpu" and torch.cuda.is_available() else "cpu")
task = make_task(cfg.task, cfg.model.arch)
model = build_model(cfg.model, task.vocab_size, task.max_len, seed=cfg.train.seed).to(device).train()
opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
gen = torch.Generator().manual_seed(cfg.train.seed)
for step in range(cfg.train.steps):
    batch = task.sample(cfg.train.batch_size, gen, "train").to(device)
    loss = sequence_loss(model(*batch.model_args()), batch.targets)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
    opt.step()
    loss.item()
"""

PROCESS_CONFIGS = {"README stdlib-lm": ["--task", "stdlib-lm", "--seq-len", "64"]}


def _flat(args: list[str]) -> dict:
    """``["--task", "stdlib-lm", "--seq-len", "64"]`` → ``{"task": "stdlib-lm", "seq_len": 64}``."""
    out = {}
    for name, value in zip(args[::2], args[1::2]):
        out[name[2:].replace("-", "_")] = int(value) if value.lstrip("-").isdigit() else value
    return out


def commands(options: list[str], steps: int, device: str, out_dir: str,
             threads: int | None = None) -> dict[str, list[str]]:
    """case → argv; ``threads`` None: torch's default (nothing said)."""
    py = sys.executable
    flat = {**_flat(options), "steps": steps, "device": device}
    train = [py, "-m", "resnorm", "train", *options, "--steps", str(steps), "--device", device, "--quiet"]
    if threads is not None:
        train += ["--threads", str(threads)]
    return {
        "bare loop": [py, "-c", BARE, json.dumps(flat)] + ([str(threads)] if threads is not None else []),
        "train": [*train, "--out", os.path.join(out_dir, "a")],
        "train --probe-every 0": [*train, "--probe-every", "0", "--out", os.path.join(out_dir, "b")],
    }


def wall_time(argv: list[str], timeout: float = 1800) -> float:
    env = {k: v for k, v in os.environ.items() if k != "RESNORM_CPU_THREADS"}  # torch's default unless told
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return elapsed


def measure(options: list[str], steps: int, repeats: int, device: str = "cpu",
            threads: list[int | None] = (None,)) -> dict[str, dict[str, float]]:
    """{threads label: {case: median wall-clock seconds}}, every case of every thread setting
    interleaved in each repeat."""
    with tempfile.TemporaryDirectory(prefix="resnorm-bench-") as out_dir:
        cases = {(label(n), case): argv for n in threads
                 for case, argv in commands(options, steps, device, os.path.join(out_dir, str(n)), n).items()}
        times = {key: [] for key in cases}
        for _ in range(repeats):
            for key, argv in cases.items():
                times[key].append(wall_time(argv))
    out = {}
    for (th, case), v in times.items():
        out.setdefault(th, {})[case] = statistics.median(v)
    return out


def label(threads: int | None) -> str:
    from .trainer import TORCH_DEFAULT_THREADS

    return f"torch default ({TORCH_DEFAULT_THREADS})" if threads is None else str(threads)


def table(results: dict, steps: int, repeats: int) -> str:
    lines = [f"Whole processes, {steps} steps, medians of {repeats} interleaved runs:",
             "| config | threads | case | wall s (median) | ratio to bare loop |", "|---|---|---|---:|---:|"]
    for name, by_threads in results.items():
        for th, times in by_threads.items():
            for case, t in times.items():
                lines.append(f"| {name} | {th} | {case} | {t:.2f} | {t / times['bare loop']:.3f} |")
    return "\n".join(lines)


def main(args, device) -> int:
    from .bench import machine

    names = [n.strip() for n in args.configs.split(",")] if args.configs else list(PROCESS_CONFIGS)
    unknown = [n for n in names if n not in PROCESS_CONFIGS]
    if unknown:
        print(f"error: --configs: with --process, one of {', '.join(PROCESS_CONFIGS)}", file=sys.stderr)
        return 2
    repeats = args.repeats
    from .trainer import TORCH_DEFAULT_THREADS

    threads = [None if part.strip() == "default" else int(part) for part in args.threads.split(",")]
    threads = [n for i, n in enumerate(threads) if n not in threads[:i]]
    if None in threads and TORCH_DEFAULT_THREADS in threads:
        threads.remove(TORCH_DEFAULT_THREADS)  # the same setting, measured the way a user gets it
    results = {"machine": machine(device), "steps": args.process_steps, "repeats": repeats,
               "times_s": {n: measure(PROCESS_CONFIGS[n], args.process_steps, repeats, device.type, threads)
                           for n in names}}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(results["machine"])
        print(table(results["times_s"], args.process_steps, repeats))
    return 0
