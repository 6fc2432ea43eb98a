"""The ``ray`` sweep backend: one Ray task per cell.

``ensure_ray`` initialises Ray once per process (a module-level guard: Streamlit reruns a page's
script in the same process, and ``ray.init`` twice would fail or start a second local Ray):

- ``RAY_ADDRESS`` unset: a local Ray on this machine, started lean for small machines — no
  dashboard, a 100 MiB object store (only scalars travel through it), ``num_cpus`` = this machine's
  cores (or the first sweep's workers when more); this repository is put on the workers' ``PYTHONPATH``;
- ``RAY_ADDRESS`` set (``ray://host:10001``, ``host:6379``, or inside ``ray job submit``): attach
  to that cluster; every node needs resnorm's requirements and the ``resnorm`` package importable,
  and the sweep's output folder on a filesystem every node shares (each cell writes its own folder).

Each task asks ``num_cpus=1`` (the cell trains with one intra-op thread, as the local workers do,
so the same seed gives the same losses on both backends) and ``GPU_FRACTION`` of a GPU when the
cluster has GPUs and the cell's device is not ``cpu``. A task returns the cell's row (scalars);
Ray reuses its worker processes, so torch is imported once per worker, not per cell.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from .sweep_cell import failed_rows, unit_rows

OBJECT_STORE_BYTES = 100 * 1024 ** 2
GPU_FRACTION = 0.25  # four cells share a GPU: small models do not fill one
_LOCK = threading.Lock()
_REMOTE = None
REPO_ROOT = str(Path(__file__).resolve().parents[2])


def ensure_ray(num_cpus: int | None = None) -> dict:
    """Start or attach to Ray once per process; returns ``{"address": ..., "local": bool}``.
    ImportError (with how to install it) when Ray is missing."""
    try:
        import ray
    except ImportError:
        raise ImportError("the ray backend needs Ray: python -m pip install ray==2.60.0") from None
    with _LOCK:
        address = os.environ.get("RAY_ADDRESS", "").strip()
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                path = os.environ.get("PYTHONPATH", "")
                if REPO_ROOT not in path.split(os.pathsep):  # the local workers import resnorm from here
                    os.environ["PYTHONPATH"] = REPO_ROOT + (os.pathsep + path if path else "")
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                         object_store_memory=OBJECT_STORE_BYTES, log_to_driver=False)
        return {"address": address or "local", "local": not address}


def _cell_task(cfg_json, folder, target):
    from resnorm.serving.sweep_cell import run_unit

    return run_unit(cfg_json, folder, target, 1)


def _remote():
    global _REMOTE
    with _LOCK:
        if _REMOTE is None:
            import ray

            _REMOTE = ray.remote(max_retries=0)(_cell_task)
        return _REMOTE


class RayBackend:
    """Submit each cell as a Ray task; ``capacity`` cells in flight at once (the cluster's CPUs, or
    ``workers`` when given); ``poll`` returns finished ``(cell_id, row)`` pairs (a task that dies is a
    failed row)."""

    name = "ray"

    def __init__(self, workers: int | None = None):
        import ray

        # a local Ray is started once per process, for every later sweep too: size it to the machine
        # (or to more workers when asked), and cap the cells in flight per sweep below
        self.info = ensure_ray(max(workers or 1, os.cpu_count() or 1))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(workers, cpus) if workers else cpus)
        self._gpus = ray.cluster_resources().get("GPU", 0) > 0
        self._refs: dict = {}  # ObjectRef -> cell id

    @property
    def capacity(self) -> int:
        return self.workers

    def idle(self) -> int:
        return self.workers - len(self._refs)

    def submit(self, cell_id, cfg_json, folder, target: float | None) -> None:
        """One task per cell, or per batch (``cfg_json`` and ``folder`` lists, ``cell_id`` a tuple)."""
        import json

        first = cfg_json[0] if isinstance(cfg_json, (list, tuple)) else cfg_json
        device = json.loads(first)["train"].get("device", "auto")
        opts = {"num_cpus": 1}
        if self._gpus and device != "cpu":
            opts["num_gpus"] = GPU_FRACTION
        self._refs[_remote().options(**opts).remote(cfg_json, folder, target)] = cell_id

    def poll(self, timeout: float = 0.2) -> list[tuple[object, dict]]:
        import ray

        if not self._refs:
            return []
        ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=timeout)
        out = []
        for ref in ready:
            cid = self._refs.pop(ref)
            try:
                out += unit_rows(cid, ray.get(ref))
            except Exception as e:  # the task's worker died, the node went away, ...
                out += failed_rows(cid, f"Ray task failed: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}")
        return out

    def close(self, kill: bool = False) -> None:
        """Cancel what is in flight when ``kill``; Ray itself stays up for the next sweep."""
        if kill and self._refs:
            import ray

            for ref in list(self._refs):
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
        self._refs.clear()

