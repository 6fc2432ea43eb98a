"""``python -m resnorm bench --process``: whole processes, as a user runs them.

The in-process bench times steps after a warm-up; a person running one command waits for the whole
process: interpreter, imports, the task's data, the model, every step, the files written. This
runs, as separate processes and side by side (interleaved, ``--repeats`` times, medians of the
wall-clock time), for each config given with ``--configs`` (default: the README's stdlib-lm
example, ``--task stdlib-lm --seq-len 64``) and ``--process-steps`` steps (default 200):

- ``bare loop``: a hand-written PyTorch loop (``BARE``: the same model, data, seed and AdamW
  settings; no probes, no store, no files) at torch's default threads;
- ``train``: ``python -m resnorm train … --quiet`` as the README writes it (default probes);
- ``train --probe-every 0``: the same without probes;
- ``train, RESNORM_CPU_THREADS=1``: the command line as it was before issue 16 (one thread).

Ratios are to the bare loop; ``train`` ≤ 1.10 × is the target.
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


def commands(options: list[str], steps: int, device: str, out_dir: str) -> dict[str, tuple[list[str], dict]]:
    """case → (argv, extra environment)."""
    py = sys.executable
    flat = {**_flat(options), "steps": steps, "device": device}
    train = [py, "-m", "resnorm", "train", *options, "--steps", str(steps), "--device", device, "--quiet"]
    return {
        "bare loop": ([py, "-c", BARE, json.dumps(flat)], {}),
        "train": ([*train, "--out", os.path.join(out_dir, "a")], {}),
        "train --probe-every 0": ([*train, "--probe-every", "0", "--out", os.path.join(out_dir, "b")], {}),
        "train, RESNORM_CPU_THREADS=1": ([*train, "--out", os.path.join(out_dir, "c")], {"RESNORM_CPU_THREADS": "1"}),
    }


def wall_time(argv: list[str], extra_env: dict, timeout: float = 1800) -> float:
    env = {k: v for k, v in os.environ.items() if k != "RESNORM_CPU_THREADS"}  # torch's default unless told
    env.update(extra_env)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return elapsed


def measure(options: list[str], steps: int, repeats: int, device: str = "cpu") -> dict[str, float]:
    """{case: median wall-clock seconds}, the cases interleaved in each repeat."""
    with tempfile.TemporaryDirectory(prefix="resnorm-bench-") as out_dir:
        cases = commands(options, steps, device, out_dir)
        times = {case: [] for case in cases}
        for _ in range(repeats):
            for case, (argv, env) in cases.items():
                times[case].append(wall_time(argv, env))
    return {case: statistics.median(v) for case, v in times.items()}


def table(results: dict, steps: int, repeats: int) -> str:
    lines = [f"Whole processes, {steps} steps, medians of {repeats} interleaved runs:",
             "| config | case | threads | wall s (median) | ratio to bare loop |", "|---|---|---|---:|---:|"]
    for name, times in results.items():
        for case, t in times.items():
            threads = "1" if "THREADS=1" in case else "torch default"
            lines.append(f"| {name} | {case} | {threads} | {t:.2f} | {t / times['bare loop']:.3f} |")
    return "\n".join(lines)


def main(args, device) -> int:
    from .bench import machine

    names = [n.strip() for n in args.configs.split(",")] if args.configs else list(PROCESS_CONFIGS)
    unknown = [n for n in names if n not in PROCESS_CONFIGS]
    if unknown:
        print(f"error: --configs: with --process, one of {', '.join(PROCESS_CONFIGS)}", file=sys.stderr)
        return 2
    repeats = args.repeats
    results = {"machine": machine(device), "steps": args.process_steps, "repeats": repeats,
               "times_s": {n: measure(PROCESS_CONFIGS[n], args.process_steps, repeats, device.type) for n in names}}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(results["machine"])
        print(table(results["times_s"], args.process_steps, repeats))
    return 0
