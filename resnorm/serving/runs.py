"""Saved runs: one folder per finished run under a runs folder, readable by the app and by hand.

Layout of a run folder (the CLI's ``train --out DIR`` layout, plus a small meta file; one writer,
``run_files`` and ``write_files``, writes both: ``write_run`` here, ``write_into`` for the CLI)::

    runs/20261125-173012-post-layernorm-on-L6/
        config.json    RunConfig.to_json()
        metrics.csv    step,name,value (long format, docs/ARCHITECTURE.md §3)
        summary.json   Summary.to_dict(): status, steps, final_loss, reason (English; reason_code: its
                       message code, resnorm.messages.to_data), ...
        weights.pt     the model's state_dict (``weights_bytes``); optional (older CLI runs lack it)
        meta.json      {"created", "source", "label"}; optional

The runs folder is ``./runs`` unless ``RESNORM_RUNS_DIR`` or a ``root`` argument says otherwise.
It is the one thing sessions share, and its content is **not trusted**:

- a run appears whole or not at all: every file is written to a temporary file and renamed, inside
  a hidden temporary folder that is renamed to the run's name only once complete;
- run names are checked (no ``..``, separators, NUL, absolute paths, leading dot) before any path
  is built from them, and symbolic links are never followed;
- weights load only with ``torch.load(..., weights_only=True)`` (tensors and plain containers;
  never arbitrary pickled objects);
- a folder with a missing or malformed file, and any foreign file or folder, is skipped with a
  note saying which and why; listing never raises.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a frame is read: the command line writes its files without it
    import pandas as pd

from ..science import feasibility
from .. import settings
from ..science.config import MAX_CONFIG_BYTES, ConfigError, RunConfig, _finite, show
from ..messages import from_data

ENV_VAR = "RESNORM_RUNS_DIR"
SWEEPS_DIR = "sweeps"  # the saved sweeps' folder inside the runs folder (not a run)

CONFIG, METRICS, SUMMARY, WEIGHTS, META = "config.json", "metrics.csv", "summary.json", "weights.pt", "meta.json"
REQUIRED_FILES = (CONFIG, METRICS, SUMMARY)
RUN_FILES = (CONFIG, METRICS, SUMMARY, WEIGHTS, META)
METRICS_HEADER = "step,name,value"
STATUSES = ("completed", "stopped", "diverged", "failed")

MAX_JSON_BYTES = MAX_CONFIG_BYTES  # config/summary/meta are a few hundred bytes; the CLI has the same cap
MAX_NAME_LEN = 120
TMP_PREFIX = ".tmp-run-"
TRASH_PREFIX = ".trash-"


QUOTA_ENV = "RESNORM_RUNS_QUOTA_GB"      # the whole runs folder (resnorm.settings)
WEIGHTS_ENV = "RESNORM_MAX_WEIGHTS_MB"    # weights a server run saves


def quota_bytes() -> int:
    """How much the runs folder may hold in all: ``RESNORM_RUNS_QUOTA_GB`` GiB (default 10). A save
    that would go over it is refused (the run stays in memory, downloadable from its page)."""
    return int(settings.get(QUOTA_ENV) * 2**30)


def max_weights_bytes() -> int:
    """Weights a run saved by the server may have: ``RESNORM_MAX_WEIGHTS_MB`` MB (default 50);
    larger ones are left out (``meta.json`` says so) unless the caller asks for them."""
    return int(settings.get(WEIGHTS_ENV) * 1000 * 1000)


def folder_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root`` (links not followed); 0 when it does not exist."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for f in filenames:
            try:
                st_ = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if not os.path.islink(os.path.join(dirpath, f)):
                total += st_.st_size
    return total


class RunSaveError(OSError):
    """The runs folder cannot be written (read-only, full, not a folder, ...). The message says
    where and why; the caller still holds the run in memory."""


class RunLoadError(ValueError):
    """A run is missing, malformed or unsafe to load; the message names the file and the reason."""


# ---- where --------------------------------------------------------------------------------------
def runs_root(root: str | os.PathLike | None = None) -> Path:
    """The runs folder: ``root`` if given, else ``$RESNORM_RUNS_DIR``, else ``./runs``."""
    if root is not None:
        return Path(root)
    return Path(settings.get(ENV_VAR))


def validate_name(name: Any) -> str:
    """Return ``name`` if it is a plain run-folder name; raise ValueError saying why not.

    Refused: empty, too long, ``.``/``..`` or a leading dot (hidden/temporary folders), any path
    separator (``/``, ``\\``), NUL or other control characters, and anything absolute."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"invalid run name {name!r}: must be a non-empty string")
    why = None
    if len(name) > MAX_NAME_LEN:
        why = f"longer than {MAX_NAME_LEN} characters"
    elif name in (".", ".."):
        why = "'.' and '..' are not run names"
    elif "/" in name or "\\" in name:
        why = "it contains a path separator ('/' or '\\')"
    elif "\x00" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        why = "it contains NUL or a control character"
    elif os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        why = "it is an absolute path"
    elif name.startswith("."):
        why = "a leading dot is reserved for hidden and temporary folders"
    elif name != name.strip():
        why = "it starts or ends with whitespace"
    if why:
        raise ValueError(f"invalid run name {name!r}: {why}")
    return name


def run_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of run ``name`` (validated; the result is always directly inside the root)."""
    return runs_root(root) / validate_name(name)


# ---- records ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunEntry:
    """One listed run: enough to show it in a table and filter it, without loading its metrics."""
    name: str
    created: datetime
    source: str
    label: str
    arch: str
    layers: int
    norm_position: str
    norm: str
    residual: str
    task: str
    status: str
    steps: int
    final_loss: float | None
    has_weights: bool


@dataclass
class RunRecord:
    """A loaded run."""
    name: str
    config: RunConfig
    frame: pd.DataFrame          # step, name, value
    summary: dict
    meta: dict
    notes: list[str] = field(default_factory=list)   # e.g. "text file no longer readable"

    def series(self) -> dict:
        from ..studies.figures import series_from_frame

        return series_from_frame(self.frame)

    def markers(self) -> list:
        """The divergence marker (as the live store has it), rebuilt from the summary."""
        from ..science.store import Marker

        step = self.summary.get("diverged_step")
        if self.summary.get("status") == "diverged" and isinstance(step, int):
            return [Marker(step, "diverged", str(self.summary.get("reason") or "diverged"))]
        return []

    @property
    def label(self) -> str:
        return self.meta.get("label") or self.name


# ---- writing ------------------------------------------------------------------------------------
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``:
    readers see the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; saved runs are readable like any file
                os.fchmod(fh.fileno(), 0o644)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def json_safe(x):
    """NaN/inf → None (JSON has no such numbers), recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def _json_bytes(obj) -> bytes:
    return (json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n").encode("utf-8")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-")[:40]


def default_name(cfg: RunConfig, when: datetime | None = None) -> str:
    """``20261125-173012-post-layernorm-on-L6``: local time, then the block design and depth."""
    when = (when or datetime.now()).astimezone()
    m = cfg.model
    parts = [when.strftime("%Y%m%d-%H%M%S"), m.norm_position, m.norm, m.residual, f"L{m.layers}"]
    if m.arch != "decoder":
        parts.insert(1, m.arch)
    return "-".join(_slug(p) for p in parts if _slug(p))


def _why(e: OSError) -> str:
    msg = e.strerror or str(e) or type(e).__name__
    return msg[0].lower() + msg[1:] if msg else msg


def _os_error(cls, message: str, cause: OSError | None = None):
    """``cls(message)`` whose ``str`` is just the message, with the cause's errno kept."""
    err = cls(message)
    err.errno = getattr(cause, "errno", None)
    return err


def _save_error(root: Path, e: OSError) -> RunSaveError:
    return _os_error(RunSaveError, f"cannot save the run to {root}/: {_why(e)}", e)


def weights_bytes(state_dict: dict) -> bytes:
    """The one serialisation of a model's weights: ``torch.save`` of its tensors, on the CPU (read
    back by ``load_weights`` with ``torch.load(weights_only=True)``)."""
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().to("cpu") for k, v in state_dict.items()}, buf)
    return buf.getvalue()


class SerialisedWeights:
    """Weights already serialised by ``weights_bytes`` — a worker process's run as the server holds
    it: saved as they are (never loaded only to be saved again); ``state_dict`` loads them."""

    def __init__(self, data: bytes):
        self.data = data

    def state_dict(self) -> dict:
        import torch

        return torch.load(io.BytesIO(self.data), weights_only=True)


def _weights_data(weights_in, policy: str, meta: dict) -> bytes | None:
    """The bytes of ``weights.pt`` (serialised here at most once), or None: no weights, or over the
    server's limit under the ``limited`` policy (``meta`` then says so)."""
    if weights_in is None:
        return None
    serialised = isinstance(weights_in, SerialisedWeights)
    size = len(weights_in.data) if serialised else sum(v.numel() * v.element_size() for v in weights_in.values())
    if policy == "limited" and size > max_weights_bytes():
        meta["weights"] = (f"not saved: {size / 1e6:.1f} MB is over the server's limit of "
                           f"{max_weights_bytes() / 1e6:g} MB ({WEIGHTS_ENV})")
        return None
    return weights_in.data if serialised else weights_bytes(weights_in)


def _check_parts(frame: pd.DataFrame | dict, summary: dict) -> None:
    if not isinstance(summary, dict):
        raise TypeError("summary must be a dict (Summary.to_dict())")
    missing = {"step", "name", "value"} - set(frame if isinstance(frame, dict) else frame.columns)
    if missing:
        raise ValueError(f"metrics frame lacks column(s) {sorted(missing)}")


def metrics_csv(frame: pd.DataFrame | dict) -> bytes:
    """``metrics.csv`` of a metrics frame, or of its columns as arrays (``MetricStore.columns()``):
    the header ``step,name,value``, then one row per point, written by the csv module as pandas'
    ``to_csv(index=False)`` writes it (a test keeps the two byte for byte equal): a float as its
    shortest repr, NaN as an empty cell, ``inf`` spelt out. No pandas needed (0.3 s of the command
    line's start)."""
    cols = frame if isinstance(frame, dict) else {c: frame[c].to_numpy() for c in ("step", "name", "value")}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("step", "name", "value"))
    values = ("" if v != v else repr(v) for v in np.asarray(cols["value"], dtype="float64").tolist())
    w.writerows(zip(np.asarray(cols["step"]).tolist(), (str(n) for n in cols["name"]), values))
    return out.getvalue().encode("utf-8")


def run_files(cfg: RunConfig, frame: pd.DataFrame | dict, summary: dict, weights: bytes | None = None,
              meta: dict | None = None) -> dict[str, bytes]:
    """The files of a run folder as bytes, each serialised once, in the order they are written:
    config.json, metrics.csv, summary.json, weights.pt (if any), meta.json (if any)."""
    _check_parts(frame, summary)
    files = {CONFIG: (cfg.to_json() + "\n").encode("utf-8"),
             METRICS: metrics_csv(frame),
             SUMMARY: _json_bytes(summary)}
    if weights is not None:
        files[WEIGHTS] = weights
    if meta is not None:
        files[META] = _json_bytes(meta)
    return files


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write each file into ``folder`` atomically (``atomic_write_bytes``: fsynced, mode 0644, no
    temporary file left behind), then sync the folder."""
    for fname, data in files.items():
        atomic_write_bytes(folder / fname, data)
    _fsync_dir(folder)


def write_into(folder: str | os.PathLike, cfg: RunConfig, frame: pd.DataFrame | dict, summary: dict,
               state_dict: dict | None = None) -> None:
    """Write a run's files into a folder the user named (the CLI's ``train --out DIR``): the files
    of a run folder without ``meta.json`` (listed, such a folder's source is ``cli``), each written
    atomically. Not the runs folder: no quota, no weights limit, existing files are replaced."""
    write_files(Path(folder), run_files(cfg, frame, summary, _weights_data(state_dict, "always", {})))


def write_run(cfg: RunConfig, frame: pd.DataFrame, summary: dict,
              state_dict: dict | SerialisedWeights | None = None, *,
              root: str | os.PathLike | None = None, source: str = "live", label: str | None = None,
              name: str | None = None, weights: str = "always") -> Path:
    """Save a run from its parts (``save_run`` takes them from a trainer) into the runs folder.
    Returns its folder.

    The run is written into a hidden temporary folder inside the root, each file atomically, and
    that folder is renamed to the run's name at the end; on any failure it is removed, so a
    half-written run never appears. ``name`` defaults to ``default_name(cfg)``; if taken, ``-2``,
    ``-3``, ... is appended. Raises ``RunSaveError`` when the folder cannot be written, or when the
    run would take the folder over ``quota_bytes()``. ``state_dict``: the model's, or its
    ``SerialisedWeights``. ``weights``: ``always`` saves them, ``limited`` only when they are at most
    ``max_weights_bytes()`` (what the server does)."""
    base = validate_name(name) if name is not None else default_name(cfg)
    root = runs_root(root)
    created = datetime.now(timezone.utc).astimezone()
    meta = {"created": created.isoformat(timespec="seconds"), "source": str(source),
            "label": str(label) if label else None}
    _check_parts(frame, summary)  # refused before any work
    tmp = None
    try:
        quota = quota_bytes()
        root.mkdir(parents=True, exist_ok=True)
        weights_b = _weights_data(state_dict, weights, meta)
        files = run_files(cfg, frame, summary, weights_b, meta)
        new = sum(len(b) for b in files.values()) + 4096
        used = folder_bytes(root)
        if used + new > quota:
            raise _os_error(RunSaveError, f"cannot save the run to {root}/: the runs folder would hold "
                            f"{(used + new) / 2**30:.2f} GiB, over its quota of {quota / 2**30:g} GiB "
                            f"({QUOTA_ENV}); delete runs on the Runs page, or download this one from its page")
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=TMP_PREFIX))
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; a saved run is readable like any folder
        write_files(tmp, files)
        final = _publish(tmp, root, base)
        tmp = None
        _fsync_dir(root)
        return final
    except OSError as e:
        raise _save_error(root, e) from e
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, root: Path, base: str) -> Path:
    """Rename the finished temporary folder to the first free name ``base``, ``base-2``, ..."""
    for i in range(1, 1000):
        name = base if i == 1 else f"{base}-{i}"
        final = root / name
        if os.path.lexists(final):
            continue
        try:
            os.rename(tmp, final)
        except OSError as e:  # taken meanwhile by another session
            if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR) or isinstance(e, FileExistsError):
                continue
            raise
        return final
    raise OSError(errno.EEXIST, f"no free run name starting with {base}")


def save_run(trainer, root: str | os.PathLike | None = None, source: str = "live",
             label: str | None = None, weights: str = "always") -> Path:
    """Save a finished (or stopped, diverged, failed) trainer's run; returns its folder.

    Raises ``ValueError`` while the run has not ended and ``RunSaveError`` when the runs folder
    cannot be written; in both cases the trainer and its metrics are untouched."""
    summary = getattr(trainer, "summary", None)
    if summary is None:
        raise ValueError(f"the run has not ended yet (status {getattr(trainer, 'status', '?')}); "
                         "save it once it has finished or been stopped")
    model = getattr(trainer, "model", None)  # a Transformer, or a worker's SerialisedWeights
    state = model if model is None or isinstance(model, SerialisedWeights) else model.state_dict()
    return write_run(trainer.cfg, trainer.store.frame(), summary.to_dict(), state, root=root,
                     source=source, label=label, weights=weights)


# ---- reading ------------------------------------------------------------------------------------
def _regular_file(folder: Path, fname: str) -> Path | None:
    """The file if it exists as a regular file (not a link); None if absent. Raises RunLoadError
    for a link or anything else that is not a plain file."""
    p = folder / fname
    if not os.path.lexists(p):
        return None
    if p.is_symlink():
        raise RunLoadError(f"{fname} is a symbolic link (not followed)")
    if not p.is_file():
        raise RunLoadError(f"{fname} is not a regular file")
    return p


def _read_json(folder: Path, fname: str, required: bool = True):
    p = _regular_file(folder, fname)
    if p is None:
        if required:
            raise RunLoadError(f"{fname} is missing")
        return None
    try:
        if p.stat().st_size > MAX_JSON_BYTES:
            raise RunLoadError(f"{fname} is larger than {MAX_JSON_BYTES // 1024} KiB")
        with open(p, "rb") as fh:
            data = json.loads(fh.read(MAX_JSON_BYTES + 1).decode("utf-8"))
    except RunLoadError:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RunLoadError(f"{fname} is not valid JSON ({type(e).__name__}: {str(e)[:120]})") from None
    except OSError as e:
        raise RunLoadError(f"{fname} cannot be read: {_why(e)}") from None
    if not isinstance(data, dict):
        raise RunLoadError(f"{fname} must hold a JSON object")
    return data


def _read_config(folder: Path) -> RunConfig:
    """``config.json`` as a RunConfig: its fields checked, nothing read (a config is a pure value)."""
    d = _read_json(folder, CONFIG)
    try:
        return RunConfig.from_dict(d)
    except ConfigError as e:
        raise RunLoadError(f"{CONFIG} is not a valid config ({e})") from None


MAX_STEP = 10**12          # a step, step count or divergence step read from disk (int64-safe)
MAX_REASON = 2000          # characters of a summary's reason kept
EARLIEST, LATEST = datetime(1970, 1, 2, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)


def _whole(v, lo: int = 0, hi: int = MAX_STEP) -> bool:
    return not isinstance(v, bool) and isinstance(v, int) and lo <= v <= hi


def _read_summary(folder: Path) -> dict:
    """``summary.json``, each field read validated into its type and range (a foreign file may hold
    ``"steps": 10**30``, which no table or chart can show)."""
    s = _read_json(folder, SUMMARY)
    status, steps, loss = s.get("status"), s.get("steps"), s.get("final_loss", None)
    if status not in STATUSES:
        raise RunLoadError(f"{SUMMARY}: status {show(status)} is not one of {', '.join(STATUSES)}")
    if not _whole(steps):
        raise RunLoadError(f"{SUMMARY}: steps must be a whole number from 0 to {MAX_STEP} (got {show(steps)})")
    if loss is not None and (isinstance(loss, bool) or not isinstance(loss, (int, float)) or not _finite(loss)):
        raise RunLoadError(f"{SUMMARY}: final_loss must be a finite number or null (got {show(loss)})")
    div = s.get("diverged_step")
    if div is not None and not _whole(div):
        raise RunLoadError(f"{SUMMARY}: diverged_step must be null or a whole number from 0 to {MAX_STEP} "
                           f"(got {show(div)})")
    reason = s.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise RunLoadError(f"{SUMMARY}: reason must be a string or null (got {show(reason)})")
    for key in ("elapsed_s",):
        v = s.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not _finite(v)):
            raise RunLoadError(f"{SUMMARY}: {key} must be a finite number or null (got {show(v)})")
    out = dict(s)
    if loss is not None:
        out["final_loss"] = float(loss)
    if isinstance(reason, str) and len(reason) > MAX_REASON:
        out["reason"] = reason[: MAX_REASON - 1] + "…"
    elif isinstance(reason, str) and "reason_code" in s:  # its code, when well-formed: shown translated
        out["reason"] = from_data(reason, s["reason_code"]) or reason
    return out


def _read_meta(folder: Path) -> dict:
    m = _read_json(folder, META, required=False)
    if m is None:
        return {}
    for key in ("created", "source", "label"):
        v = m.get(key)
        if v is not None and (not isinstance(v, str) or len(v) > 200):
            raise RunLoadError(f"{META}: {key} must be a short string (got {show(v)})")
    if m.get("created"):
        try:
            when = datetime.fromisoformat(m["created"])
            utc = (when if when.tzinfo else when.astimezone()).astimezone(timezone.utc)
            if not EARLIEST <= utc < LATEST:
                raise OverflowError
            utc.astimezone()  # the local time the table shows must exist too
        except ValueError:
            raise RunLoadError(f"{META}: created {show(m['created'])} is not an ISO date") from None
        except (OverflowError, OSError):
            raise RunLoadError(f"{META}: created {show(m['created'])} is out of range (years 1970 to 8999)") from None
    return m


def _check_metrics_header(folder: Path) -> Path:
    p = _regular_file(folder, METRICS)
    if p is None:
        raise RunLoadError(f"{METRICS} is missing")
    try:
        with open(p, "rb") as fh:
            head = fh.readline(200).decode("utf-8-sig", errors="replace").strip()
    except OSError as e:
        raise RunLoadError(f"{METRICS} cannot be read: {_why(e)}") from None
    if head != METRICS_HEADER:
        raise RunLoadError(f"{METRICS} does not start with the header {METRICS_HEADER!r}")
    return p


def _created(meta: dict, folder: Path) -> datetime:
    if meta.get("created"):
        t = datetime.fromisoformat(meta["created"])
        return t if t.tzinfo else t.astimezone()
    try:
        ts = (folder / SUMMARY).stat().st_mtime
    except OSError:
        ts = time.time()
    return datetime.fromtimestamp(ts, timezone.utc).astimezone()


def _entry(folder: Path) -> RunEntry:
    cfg = _read_config(folder)
    summary = _read_summary(folder)
    _check_metrics_header(folder)
    meta = _read_meta(folder)
    has_weights = _regular_file(folder, WEIGHTS) is not None
    m, loss = cfg.model, summary.get("final_loss")
    return RunEntry(name=folder.name, created=_created(meta, folder), source=meta.get("source") or "cli",
                    label=meta.get("label") or "", arch=m.arch, layers=m.layers, norm_position=m.norm_position,
                    norm=m.norm, residual=m.residual, task=cfg.task.task, status=summary["status"],
                    steps=summary["steps"], final_loss=None if loss is None else float(loss),
                    has_weights=has_weights)


def list_runs(root: str | os.PathLike | None = None) -> tuple[list[RunEntry], list[str]]:
    """Every readable run in the runs folder, newest first, and a note for each thing skipped.

    Never raises: a missing folder is an empty list; an unreadable one, a foreign file or folder, a
    run folder with a missing or malformed file, a symbolic link: each is skipped with a note that
    names it and says why. Hidden entries (temporary folders of saves in progress) are ignored."""
    root = runs_root(root)
    entries: list[RunEntry] = []
    notes: list[str] = []
    try:
        if not os.path.lexists(root):
            return [], []
        if not root.is_dir():
            return [], [f"the runs folder {root} is not a folder"]
        names = sorted(os.listdir(root))
    except OSError as e:
        return [], [f"the runs folder {root} cannot be read: {_why(e)}"]
    for name in names:
        if name.startswith(".") or name == SWEEPS_DIR:  # sweeps: resnorm.serving.sweep_session
            continue
        p = root / name
        try:
            validate_name(name)
            if p.is_symlink():
                raise RunLoadError("it is a symbolic link (not followed)")
            if not p.is_dir():
                raise RunLoadError("it is a file, not a run folder")
            try:
                inside = os.listdir(p)
            except OSError as e:
                raise RunLoadError(f"it cannot be read: {_why(e)}") from None
            if not inside:
                raise RunLoadError("the folder is empty")
            if not any(f in inside for f in REQUIRED_FILES):
                raise RunLoadError(f"not a run folder (no {', '.join(REQUIRED_FILES)})")
            entry = _entry(p)
        except (RunLoadError, ValueError) as e:
            notes.append(f"{name}: {e}")
            continue
        except Exception as e:  # never let one odd folder break the page
            notes.append(f"{name}: unreadable ({type(e).__name__}: {str(e)[:120]})")
            continue
        extra = sorted(set(inside) - set(RUN_FILES))
        extra = [f for f in extra if not f.startswith(".")]
        if extra:
            notes.append(f"{name}: ignored unexpected file(s) {', '.join(extra[:5])}"
                         + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""))
        entries.append(entry)
    entries.sort(key=lambda e: (e.created, e.name), reverse=True)
    return entries, notes


def _as_set(v) -> set | None:
    if v is None:
        return None
    if isinstance(v, str):
        return {v}
    s = set(v)
    return s or None


def filter_runs(entries: Iterable[RunEntry], norm_position=None, norm=None, residual=None,
                status=None) -> list[RunEntry]:
    """Entries matching every given criterion. Each criterion is one value or a collection of
    accepted values; None or an empty collection means "any"."""
    crit = {"norm_position": _as_set(norm_position), "norm": _as_set(norm), "residual": _as_set(residual),
            "status": _as_set(status)}
    return [e for e in entries if all(v is None or getattr(e, k) in v for k, v in crit.items())]


def _existing_run(name: str, root) -> Path:
    p = run_path(name, root)
    if p.is_symlink():
        raise RunLoadError(f"run {name!r} is a symbolic link (not followed)")
    if not p.is_dir():
        raise RunLoadError(f"no run named {name!r} in {runs_root(root)}/")
    return p


def read_metrics(path: Path) -> pd.DataFrame:
    """``metrics.csv`` → frame with dtypes step int64, name object, value float64 (empty cells and
    nan → NaN; inf kept); RunLoadError if the file does not have that shape."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype={"name": "object"}, keep_default_na=False,
                         na_values={"value": ["", "nan", "NaN", "-nan"]})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise RunLoadError(f"{METRICS} is malformed ({str(e)[:120]})") from None
    except OSError as e:
        raise RunLoadError(f"{METRICS} cannot be read: {_why(e)}") from None
    if list(df.columns) != ["step", "name", "value"]:
        raise RunLoadError(f"{METRICS} must have the columns step,name,value (has {','.join(map(str, df.columns))[:80]})")
    try:
        step = pd.to_numeric(df["step"], errors="raise")
        value = pd.to_numeric(df["value"], errors="raise").astype("float64")
    except (ValueError, TypeError):
        raise RunLoadError(f"{METRICS}: step and value must be numbers") from None
    if step.dtype == object:  # integers too large for int64 stay Python ints
        raise RunLoadError(f"{METRICS}: step must be whole numbers from 0 to {MAX_STEP}")
    if len(step) and (step.isna().any() or (step != step.round()).any()):
        raise RunLoadError(f"{METRICS}: step must be whole numbers")
    if len(step) and ((step < 0).any() or (step > MAX_STEP).any()):
        raise RunLoadError(f"{METRICS}: step must be whole numbers from 0 to {MAX_STEP}")
    # built like MetricStore.frame, so a loaded frame has the dtypes of a live one
    return pd.DataFrame({"step": step.to_numpy("int64"), "name": df["name"].to_numpy(dtype=object),
                         "value": value.to_numpy("float64")})


def load_run(name: str, root: str | os.PathLike | None = None) -> RunRecord:
    """Load one run's config, metrics, summary and meta (not the weights: ``load_weights``).
    Raises ValueError for an invalid name, RunLoadError for a missing or malformed run."""
    p = _existing_run(name, root)
    notes = []
    try:
        cfg = _read_config(p)
        summary = _read_summary(p)
        meta = _read_meta(p)
        frame = read_metrics(_check_metrics_header(p))
    except RunLoadError as e:
        raise RunLoadError(f"run {name!r}: {e}") from None
    # Could it be trained again here? A path from the runs folder is never opened (it could be
    # /etc/shadow or /dev/zero, and the answer would tell whether it exists): the text is not read,
    # the rest is checked, and a note says why.
    problems = feasibility.check(cfg, read_text=False)
    if problems:
        raise RunLoadError(f"run {name!r}: {CONFIG} is not a valid config ({ConfigError(problems)})")
    if cfg.task.task == "text-lm":
        notes.append("this run trained on a text file, which is not opened from the runs folder: its "
                     "saved metrics are shown; to train it again, upload the text on the Live page")
    return RunRecord(name=name, config=cfg, frame=frame, summary=summary, meta=meta, notes=notes)


def load_weights(name: str, root: str | os.PathLike | None = None) -> dict:
    """The run's ``state_dict`` (CPU tensors), loaded with ``torch.load(weights_only=True)``:
    a file holding anything but tensors and plain containers is refused, never executed."""
    import pickle

    import torch

    p = _existing_run(name, root)
    try:
        f = _regular_file(p, WEIGHTS)
    except RunLoadError as e:
        raise RunLoadError(f"run {name!r}: {e}") from None
    if f is None:
        raise RunLoadError(f"run {name!r} has no saved weights ({WEIGHTS})")
    try:
        state = torch.load(f, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, AttributeError, TypeError,
            ImportError, KeyError, IndexError) as e:
        raise RunLoadError(f"run {name!r}: {WEIGHTS} was refused: it is not a plain tensor file "
                           f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})") from None
    except OSError as e:
        raise RunLoadError(f"run {name!r}: {WEIGHTS} cannot be read: {_why(e)}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise RunLoadError(f"run {name!r}: {WEIGHTS} is not a state_dict (a mapping of names to tensors)")
    return state


def read_file(name: str, fname: str, root: str | os.PathLike | None = None) -> bytes:
    """The raw bytes of one of the run's files (for downloads); only the run file names are allowed."""
    if fname not in RUN_FILES:
        raise ValueError(f"{fname!r} is not a run file ({', '.join(RUN_FILES)})")
    p = _existing_run(name, root)
    f = _regular_file(p, fname)
    if f is None:
        raise RunLoadError(f"run {name!r} has no {fname}")
    return f.read_bytes()


def export_zip_to(name: str, out, root: str | os.PathLike | None = None) -> None:
    """Write a zip of the run's files (only the known run files, regular files only) under ``name/``
    to the binary file ``out``, file by file in chunks: a 200 MB ``weights.pt`` is never held in
    memory (stored, not deflated: tensors do not compress)."""
    p = _existing_run(name, root)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for fname in RUN_FILES:
            try:
                f = _regular_file(p, fname)
            except RunLoadError:
                continue
            if f is not None:
                zf.write(f, arcname=f"{name}/{fname}",
                         compress_type=zipfile.ZIP_STORED if fname == WEIGHTS else zipfile.ZIP_DEFLATED)


def export_zip_file(name: str, root: str | os.PathLike | None = None):
    """The zip as an open temporary file (already unlinked: it goes when closed), for a download."""
    fh = tempfile.TemporaryFile(prefix="resnorm-zip-")
    try:
        export_zip_to(name, fh, root)
    except BaseException:
        fh.close()
        raise
    fh.seek(0)
    return fh


def export_zip(name: str, root: str | os.PathLike | None = None) -> bytes:
    """A zip of the run's files as bytes (small runs, tests); downloads use ``export_zip_file``."""
    buf = io.BytesIO()
    export_zip_to(name, buf, root)
    return buf.getvalue()


def delete_run(name: str, root: str | os.PathLike | None = None) -> None:
    """Delete a run folder. It is first renamed to a hidden name (so it leaves the listing at once,
    whole), then removed. Only a real folder holding run files is deleted, never a link."""
    p = _existing_run(name, root)
    try:
        inside = os.listdir(p)
    except OSError as e:
        raise _os_error(RunSaveError, f"cannot delete run {name!r}: {_why(e)}", e) from e
    if inside and not any(f in inside for f in RUN_FILES):
        raise RunLoadError(f"{name!r} is not a run folder; not deleting it")
    trash = p.parent / f"{TRASH_PREFIX}{name}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        os.rename(p, trash)
    except FileNotFoundError:
        raise RunLoadError(f"no run named {name!r} in {runs_root(root)}/") from None
    except OSError as e:
        raise _os_error(RunSaveError, f"cannot delete run {name!r}: {_why(e)}", e) from e
    shutil.rmtree(trash, ignore_errors=True)
