"""Command line (docs/ARCHITECTURE.md §3): ``python -m resnorm {train,init-stats,sweep} [options]``.

Options are generated from the config schema (``resnorm.science.config``): every field is ``--field-name``
with its help text, choices and default. Invalid input exits 2 with a single ``error:`` line that
names the option; a diverged run is a result (exit 0), not a crash.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .science.config import ALIASES, SECTIONS, ConfigError, RunConfig

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors (bad int, unknown option): one line, exit 2
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_config_options(p: argparse.ArgumentParser, sections) -> None:
    for sec in sections:
        group = p.add_argument_group(f"{sec} options")
        for f in dataclasses.fields(SECTIONS[sec]):
            m = f.metadata
            default = f.default
            help_ = m["help"] + _choice_help(f.name)
            if m.get("lo") is not None and not m.get("choices"):
                help_ += f"; range {'>' if m.get('lo_open') else ''}{m['lo']}" + (f"..{m['hi']}" if m.get("hi") else "")
            if f.name == "max_points":
                help_ += " (default: every step, up to 1,000,000)"
            elif default is not None:
                help_ += f" (default: {default})"
            kw = dict(dest=f.name, default=None, help=help_)
            t = str(f.type)
            if t == "bool":
                group.add_argument(_option(f.name), action=argparse.BooleanOptionalAction, **kw)
                continue
            if m.get("choices"):
                kw["choices"] = tuple(m["choices"]) + tuple(ALIASES.get(f.name, ()))
                kw["metavar"] = "{" + ",".join(m["choices"]) + "}"
            elif t == "int":
                kw["type"], kw["metavar"] = int, "N"
            elif t == "float":
                kw["type"], kw["metavar"] = float, "X"
            else:
                kw["metavar"] = "PATH" if f.name.endswith("file") else "S"
            group.add_argument(_option(f.name), **kw)


def _choice_help(name: str) -> str:
    """What each choice means, from the variant table (one source for CLI, UI and docs)."""
    from .science import variants

    table = {"norm_position": {k: f"{v.plain} ({v.source})" for k, v in variants.NORM_POSITIONS.items()},
             "norm": {k: v.help for k, v in variants.NORM_TYPES.items()},
             "residual": {k: v.help for k, v in variants.RESIDUAL_MODES.items()},
             "init": variants.INITS}.get(name)
    if not table:
        return ""
    return ". " + "; ".join(f"{k}: {v}" for k, v in table.items())


def _threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads (default: RESNORM_CPU_THREADS when set, else torch's default, one per core)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m resnorm", description="resnorm: residual connections and normalization "
                "in Transformers, measured. Options use the config field names (docs/ARCHITECTURE.md §3).")
    p.add_argument("--version", action="version", version=f"resnorm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train one config and write config.json, metrics.csv, summary.json",
                       description="Train one model; writes DIR/config.json, DIR/metrics.csv (step,name,value) "
                       "and DIR/summary.json. A diverged run exits 0 with its metrics up to the divergence.")
    t.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    t.add_argument("--config", metavar="FILE.json", help="start from a saved config.json; options override it")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    _threads_option(t)
    _add_config_options(t, ("model", "task", "train"))

    w = sub.add_parser("sweep", help="train every combination of 1-3 swept fields; writes DIR/cells.csv and a run per cell",
                       description="Train a base config (every train option) over 1-3 axes, e.g. --axis layers=2,4,8 "
                       "--axis lr=3e-4,1e-3,3e-3. Writes DIR/sweep.json, DIR/cells.csv (one row per cell: the axis "
                       "fields, status, final_loss, min_loss, steps, steps_to_target, seconds, the at-initialisation "
                       "predictors) and DIR/cells/<key>/ (config.json, metrics.csv, summary.json, as train --out). "
                       "Rerunning skips finished cells; a diverged or failed cell is a result, never the end.")
    w.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing; rerun to resume)")
    w.add_argument("--axis", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="a swept config field and its values (1 to 3 axes), e.g. lr=3e-4,1e-3 or norm_position=pre,post")
    w.add_argument("--target", type=float, default=None, metavar="LOSS",
                   help="a training-loss target: each cell reports steps_to_target, the first step at or below it")
    w.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: worker processes on this machine (default); ray: one Ray task per cell, "
                   "a local Ray or the cluster at RAY_ADDRESS")
    w.add_argument("--workers", type=int, default=None, metavar="N",
                   help="cells trained at once (default: one per core; ray: the cluster's CPUs)")
    w.add_argument("--batch", choices=("auto", "on", "off"), default="auto",
                   help="train cells that differ only in lr, seed, weight_decay, warmup, schedule or grad_clip as "
                   "one batched model (vmap): auto (default) where it is faster (small batches: batch_size x "
                   "sequence <= 256 tokens), on, off. Batched cells record run-level metrics only")
    w.add_argument("--config", metavar="FILE.json", help="start from a saved config.json; options override it")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads per cell (default: 1; parallelism comes from cells side by side)")
    _add_config_options(w, ("model", "task", "train"))

    sub.add_parser("bench", help="steps/s of the trainer against a bare PyTorch loop (see: bench --help)",
                   add_help=False)
    s = sub.add_parser("init-stats", help="per-layer metrics at initialisation over several seeds",
                       description="One forward/backward at initialisation per seed (no optimizer step); "
                       "writes columns seed,name,value with the metric names listed in docs/ARCHITECTURE.md §3.")
    s.add_argument("--seeds", type=int, default=3, metavar="K", help="number of seeds 0..K-1 (default: 3)")
    s.add_argument("--out", metavar="FILE.csv", help="write CSV here (default: standard output)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    _threads_option(s)
    _add_config_options(s, ("model", "task"))
    g = s.add_argument_group("measurement options")
    g.add_argument("--batch-size", dest="batch_size", type=int, default=None, metavar="N",
                   help="sequences in the measured batch (default: 32)")
    g.add_argument("--device", dest="device", default=None, choices=("auto", "cpu", "cuda"),
                   help="auto uses CUDA when present, else CPU (default: auto)")
    return p


def _config_from_args(args) -> RunConfig:
    base = None
    if getattr(args, "config", None):
        base = RunConfig.from_file(args.config)  # a regular file of at most 1 MiB, validated
    names = {f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "max_points" in names and getattr(args, "max_points", None) is None and "steps" in given:
        given["max_points"] = min(max(given["steps"], 10), 1_000_000)  # files keep every step
    cfg = RunConfig.from_flat(given, base=base)  # a bad value is named before a combination of fields
    if given.get("text_file") is not None and cfg.task.task != "text-lm":
        raise ConfigError([("text_file", f"is only read by --task text-lm (the task is {cfg.task.task}); "
                            "drop it or add --task text-lm")])
    from .science.feasibility import require  # torch import only once the arguments parse

    return require(cfg)


def _atomic_write(path: Path, text: str) -> None:
    """Every file the CLI writes follows the runs folder's rule: written atomically, mode 0644."""
    from .serving.runs import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))


def _prepare_out_dir(out: str) -> Path:
    if not out.strip():
        raise ConfigError([("out", "must name a folder (an empty --out would write into the current folder)")])
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise ConfigError([("out", f"{out} exists and is not a folder")])
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".resnorm-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError([("out", f"cannot write to {out}: {e.strerror}")]) from None
    return d


def cmd_train(args) -> int:
    from .science.trainer import Trainer, command_line_threads, resolve_device  # torch import only once the arguments parse

    cfg = _config_from_args(args)
    resolve_device(cfg.train.device)
    threads = command_line_threads(args.threads)  # a malformed value: a usage error now, not a failed run
    out = _prepare_out_dir(args.out)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=cfg.train.steps, desc="train", unit="step", file=sys.stderr, dynamic_ncols=True)

    def on_step(step, tr):
        if bar is not None:
            bar.update(step - bar.n)
            if step % 10 == 0 or step == cfg.train.steps:
                bar.set_postfix(loss=f"{tr.store.latest('train/loss', float('nan')):.4f}", refresh=False)

    tr = Trainer(cfg, on_step=on_step, threads=threads)
    interrupted = None
    previous = _on_sigterm()
    try:
        summary = tr.run()
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: keep what was computed
        interrupted = "SIGTERM" if isinstance(e, _Terminated) else "SIGINT"
        tr._finish("stopped", f"interrupted ({interrupted}) after step {tr.step}", tr.store.latest("train/loss"))
        summary = tr.summary
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the run is saved below; a second TERM waits
        if bar is not None:
            bar.close()
    from .serving.runs import write_into  # the runs folder's one writer: the same files, written the same way

    saved = tr.model is not None and summary.status != "failed"  # reload with torch.load(weights_only=True)
    write_into(out, cfg, tr.store.columns(), summary.to_dict(), tr.model.state_dict() if saved else None)
    _restore_sigterm(previous)
    msg = f"{summary.status}: {summary.steps} steps"
    if summary.final_loss is not None:
        msg += f", final loss {summary.final_loss:.4f}"
    if summary.reason:
        msg += f" ({summary.reason})"
    if summary.status != "failed":
        print(f"{msg}; wrote {out}/config.json, metrics.csv, summary.json, weights.pt", file=sys.stderr)
    if summary.status == "failed":
        print(f"error: the run failed at step {summary.steps + 1}: {summary.reason}", file=sys.stderr)
        return 1
    return {"SIGINT": 130, "SIGTERM": 143}.get(interrupted, 0)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the run stops, is saved and the exit code says so."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def _restore_sigterm(previous) -> None:
    """Put SIGTERM's handler back once the results are written: ``main`` called in-process (a test, a
    script) must not leave the caller ignoring SIGTERM — a process started later would inherit the
    ignored signal and outlive a ``terminate()``."""
    if previous is not None:
        try:
            signal.signal(signal.SIGTERM, previous)
        except (ValueError, OSError):
            pass


def _on_sigterm():
    """Handle SIGTERM like SIGINT (``kill``, a container or a job scheduler stopping the run); returns
    the previous handler, or None where signals cannot be set (not the main thread)."""
    try:
        return signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, OSError):
        return None


def cmd_init_stats(args) -> int:
    from .studies.signal import init_stats
    from .science.trainer import command_line_threads, resolve_device

    cfg = _config_from_args(args)
    if args.seeds < 1 or args.seeds > 1000:
        raise ConfigError([("seeds", f"must be between 1 and 1000 (got {args.seeds})")])
    resolve_device(cfg.train.device)
    threads = command_line_threads(args.threads)
    if args.out:
        folder = Path(args.out).parent
        if not folder.is_dir():
            raise ConfigError([("out", f"folder {folder} does not exist")])
        if not os.access(folder, os.W_OK):
            raise ConfigError([("out", f"cannot write to folder {folder}")])
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=args.seeds, desc="init-stats", unit="seed", file=sys.stderr)
    try:
        df = init_stats(cfg, seeds=range(args.seeds), on_seed=(lambda i: bar.update(1)) if bar else None,
                        threads=threads)
    except (RuntimeError, MemoryError) as e:  # e.g. out of memory for a huge model
        if bar is not None:
            bar.close()
            bar = None
        print(f"error: init-stats failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    if args.out:
        path = Path(args.out)
        try:
            _atomic_write(path, df.to_csv(index=False))
        except OSError as e:
            raise ConfigError([("out", f"cannot write {args.out}: {e.strerror}")]) from None
        print(f"wrote {path.resolve()} ({len(df)} rows: seed, name, value)", file=sys.stderr)  # where it went
    else:
        df.to_csv(sys.stdout, index=False)
    return 0


def _sweep_spec(args):
    """The sweep's spec from the arguments; a bad axis is a usage error naming it (``--axis NAME: why``)."""
    from .studies.sweep_spec import MAX_AXES, SweepSpec, parse_axis

    if not args.axis or len(args.axis) > MAX_AXES:
        raise _UsageError(f"--axis: give 1 to {MAX_AXES} axes, e.g. --axis lr=3e-4,1e-3 (got {len(args.axis)})")
    axes = {}
    for text in args.axis:
        try:
            name, values = parse_axis(text)
        except ConfigError as e:
            raise _UsageError(f"--axis {e.problems[0][0]}: {e.problems[0][1]}") from None
        if name in axes:
            raise _UsageError(f"--axis {name}: given twice; put every value in one --axis {name}=V1,V2,...")
        axes[name] = values
    steps = args.steps
    args.steps = None  # the spec sets the cells' steps (and keeps every step's metrics)
    base = _config_from_args(args)
    try:
        return SweepSpec(base, axes, steps=steps, target=args.target)
    except ConfigError as e:
        f, m = e.problems[0]
        raise _UsageError(f"--axis {f}: {m}" if f in axes else f"{_field_option(f)}: {m}") from None


def cmd_sweep(args) -> int:
    import threading

    from .serving.sweep import SweepJob
    from .studies.sweep_spec import cells

    from .science.feasibility import check

    spec = _sweep_spec(args)
    try:
        all_cells = cells(spec)
    except ConfigError as e:
        f, m = e.problems[0]
        raise _UsageError(f"--axis {f}: {m}") from None
    for c in all_cells:  # every cell must be able to train here (memory), before any starts
        problems = check(c.config, read_text=False)
        if problems:
            f, m = problems[0]
            axis = f if f in c.values else list(c.values)[-1]
            shown = ", ".join(f"{k}={v}" for k, v in c.values.items())
            raise _UsageError(f"--axis {axis}: the cell {shown} cannot train here: {m}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError([("workers", f"must be at least 1 (got {args.workers})")])
    if args.threads is not None and args.threads < 1:
        raise ConfigError([("threads", f"must be at least 1 (got {args.threads})")])
    out = _prepare_out_dir(args.out)
    bar = None
    lock = threading.Lock()

    def on_cell(result):
        with lock:
            if bar is not None:
                r = result.row
                loss = r.get("final_loss")
                bar.set_postfix_str(f"{r['status']}" + (f" {loss:.3f}" if isinstance(loss, float) else ""), refresh=False)
                bar.update(1)

    job = SweepJob(spec, out, args.backend, args.workers, None, threads=args.threads or 1, batch=args.batch)
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=job.total, initial=0, desc=f"sweep ({args.backend}, {job.workers} workers)", unit="cell",
                   file=sys.stderr, dynamic_ncols=True)
    job.on_cell = on_cell
    previous = _on_sigterm()
    interrupted = None
    try:
        job.start()
        while not job.join(0.5):
            pass
    except KeyboardInterrupt as e:
        interrupted = "SIGTERM" if isinstance(e, _Terminated) else "SIGINT"
        job.stop()
        job.join()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bar is not None:
            bar.close()
    _restore_sigterm(previous)
    counts = _status_counts(job.rows())
    print(f"{job.status}: {job.done}/{job.total} cells ({job.skipped} already done; {counts}); "
          f"wrote {out}/cells.csv and {out}/cells/", file=sys.stderr)
    if job.status == "failed":
        print(_one_line(f"error: the sweep failed: {job.error}"), file=sys.stderr)
        return 1
    return {"SIGINT": 130, "SIGTERM": 143}.get(interrupted, 0)


def _status_counts(rows) -> str:
    """``3 completed, 1 diverged`` from rows' statuses."""
    from collections import Counter

    c = Counter(r.get("status") for r in rows)
    return ", ".join(f"{n} {s}" for s, n in sorted(c.items())) or "none run"


def _field_option(field: str) -> str:
    if "." in field or field.isupper():  # section.field from a JSON config; an environment variable
        return field
    return _option(field) if field not in ("config",) else "--config"


_BREAKS = {ord(c): repr(c)[1:-1] for c in "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def _one_line(msg: str) -> str:
    """An error is one line even when it quotes a value or path holding line breaks (escaped)."""
    return msg.translate(_BREAKS)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from . import bench

        return bench.main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return {"train": cmd_train, "init-stats": cmd_init_stats, "sweep": cmd_sweep}[args.command](args)
    except _UsageError as e:
        print(_one_line(f"error: {e}"), file=sys.stderr)
    except ConfigError as e:
        print(_one_line("error: " + "; ".join(f"{_field_option(f)}: {m}" for f, m in e.problems)), file=sys.stderr)
    except BrokenPipeError:  # e.g. `init-stats | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    return EXIT_USAGE
