"""``python -m resnorm bench --defaults``: do the defaults still teach? And ``--lessons``: how long
each lesson takes (the figures on the Lessons page's run button).

``--defaults`` trains, over ``--seeds`` (default 0–4):

- the default Compare preset (``resnorm.studies.defaults.DEFAULT_COMPARE``): it *holds* for a seed
  when the Post-LN config ends within ``STALL_MARGIN`` nats of the task's unigram loss (stuck at
  chance) and the Pre-LN config ends at least ``CONTRAST`` × lower — the contrast a room can see. The
  preset is kept only if it holds for at least 4 of 5 seeds;
- the Live default (``defaults.LIVE``): it *keeps moving* when the training loss over the last
  quarter of the run still falls by at least ``MOVING`` (a factor, on the log axis the page draws)
  between the mean of the third quarter and the mean of the last quarter, or stays above
  ``FLOOR`` nats (still far from learnt).

Each row gives the final losses and the wall time (one intra-op thread, as the server's workers).

``--lessons`` runs each lesson at both scales (``resnorm.studies.lessons.run_results``) once, on
seed 0, and prints the wall time per lesson and scale: the ``Lesson.seconds`` figures.
"""
from __future__ import annotations

import json
import platform
import sys
import time

import numpy as np
import torch

CONTRAST = 100.0
MOVING = 1.5
FLOOR = 0.5
STALL_MARGIN = 0.1


def contrast_holds(post: float, pre: float, unigram: float) -> bool:
    """Post-LN stuck at chance (within ``STALL_MARGIN`` of the unigram loss) and Pre-LN ``CONTRAST``× lower."""
    return abs(post - unigram) <= STALL_MARGIN and pre * CONTRAST <= post


def quarters(loss) -> tuple[float, float]:
    """Mean training loss over the third and over the last quarter of the recorded steps."""
    v = np.asarray(loss, dtype=float)
    q = len(v) // 4
    return float(np.mean(v[2 * q:3 * q])), float(np.mean(v[3 * q:]))


def still_moving(third: float, last: float) -> bool:
    """The loss fell by at least ``MOVING``× from the third quarter to the last, or is still above ``FLOOR``."""
    return third / last >= MOVING or last >= FLOOR


def _final(tr) -> float:
    from .studies.lessons import final_loss

    return final_loss(tr.store.all_series())


def compare_seed(seed: int) -> dict:
    """One seed of the default Compare preset: its final losses, and whether the contrast held."""
    from .science.config import RunConfig
    from .studies.compare import Comparison, event_context
    from .studies.defaults import COMPARE_PRESETS, DEFAULT_COMPARE

    p = COMPARE_PRESETS[DEFAULT_COMPARE]
    configs = [RunConfig.from_flat({**f, "seed": seed, "device": "cpu"}) for f in p.flats()]
    t0 = time.perf_counter()
    c = Comparison(configs)
    c.run()
    secs = time.perf_counter() - t0
    post, pre = (_final(tr) for tr in c.trainers)
    unigram = event_context(configs[0])["unigram"]
    holds = contrast_holds(post, pre, unigram)
    return dict(seed=seed, post=post, pre=pre, unigram=unigram, holds=bool(holds), seconds=secs)


def live_seed(seed: int) -> dict:
    """One seed of the Live default: the loss in the third and last quarters, and whether it still moves."""
    from .science.config import RunConfig
    from .science.trainer import train
    from .studies.defaults import LIVE

    cfg = RunConfig.from_flat({**LIVE, "seed": seed, "device": "cpu"})
    t0 = time.perf_counter()
    tr = train(cfg)
    secs = time.perf_counter() - t0
    third, last = quarters(tr.store.series("train/loss")[1])
    moving = still_moving(third, last)
    return dict(seed=seed, third_quarter=third, last_quarter=last, moving=bool(moving), seconds=secs)


def lesson_times() -> list[dict]:
    from .studies.lessons import LESSONS, run_results

    rows = []
    for lesson in LESSONS.values():
        for scale in ("reduced", "full"):
            t0 = time.perf_counter()
            run_results(lesson, scale)
            rows.append(dict(lesson=lesson.id, scale=scale, seconds=time.perf_counter() - t0))
            print(f"lesson {lesson.id} {scale:8s} {rows[-1]['seconds']:6.1f} s", flush=True)
    return rows


def main(args) -> int:
    torch.set_num_threads(1)
    machine = f"{platform.machine()}, {torch.get_num_threads()} thread, torch {torch.__version__}"
    out: dict = {"machine": machine}
    if args.lessons:
        out["lessons"] = lesson_times()
    if args.defaults:
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            print(f"error: --seeds: a comma list of integers, not {args.seeds!r}", file=sys.stderr)
            return 2
        out["compare"] = []
        for s in seeds:
            r = compare_seed(s)
            out["compare"].append(r)
            print(f"compare seed {s}: Post-LN {r['post']:.4f} (unigram {r['unigram']:.3f}), Pre-LN {r['pre']:.2e} "
                  f"-> {'holds' if r['holds'] else 'DOES NOT HOLD'} ({r['seconds']:.1f} s)", flush=True)
        out["live"] = []
        for s in seeds:
            r = live_seed(s)
            out["live"].append(r)
            print(f"live seed {s}: loss {r['third_quarter']:.4f} (3rd quarter) -> {r['last_quarter']:.4f} (last) "
                  f"-> {'still moving' if r['moving'] else 'FLAT'} ({r['seconds']:.1f} s)", flush=True)
        held = sum(r["holds"] for r in out["compare"])
        moving = sum(r["moving"] for r in out["live"])
        print(f"default Compare holds for {held} of {len(seeds)} seeds; Live default still moves for "
              f"{moving} of {len(seeds)} seeds ({machine})")
    if args.json:
        print(json.dumps(out, indent=1))
    return 0
