"""The Ray backend (issue 17, item 3): a real 4-cell sweep on a local Ray, with the same rows as the
local backend (same seeds → final losses equal to 1e-6 in float32 on CPU), and Ray initialised once
per process. Slow: starting Ray takes seconds to tens of seconds on a busy 2-core machine."""
from __future__ import annotations

import math
import os

import pytest

from helpers import TINY, configs
from resnorm.serving.sweep import read_sweep, run_sweep
from resnorm.studies.predictors import COLUMNS
from resnorm.studies.sweep_spec import SweepSpec, cells

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

base = configs(TINY, probe_every=0, attention_every=0, eval_every=0)


@pytest.fixture(scope="module")
def local_ray():
    if os.environ.get("RAY_ADDRESS"):
        pytest.skip("RAY_ADDRESS is set: this test starts its own local Ray")
    yield
    ray.shutdown()


def test_a_4_cell_sweep_on_local_ray_equals_the_local_backend(local_ray, tmp_path):
    from resnorm.serving import sweep_ray

    spec = SweepSpec(base(), {"norm_position": ("pre", "post"), "lr": (1e-3, 3e-2)}, steps=10, target=2.2)
    on_ray = run_sweep(spec, tmp_path / "ray", backend="ray", workers=2)
    info = sweep_ray.ensure_ray(2)  # already up: attached to, not started again
    assert info == {"address": "local", "local": True} and ray.is_initialized()
    assert ray.cluster_resources().get("CPU") == max(2, os.cpu_count())
    local = run_sweep(spec, tmp_path / "local", backend="local", workers=2)
    assert [r["key"] for r in on_ray] == [c.key for c in cells(spec)] == [r["key"] for r in local]
    for a, b in zip(on_ray, local):
        assert a["status"] == b["status"] == "completed"
        assert a["final_loss"] == pytest.approx(b["final_loss"], abs=1e-6)
        assert a["min_loss"] == pytest.approx(b["min_loss"], abs=1e-6)
        assert a["steps_to_target"] == b["steps_to_target"]
        for col in COLUMNS:
            assert a[col] == pytest.approx(b[col], rel=1e-6) or (math.isnan(a[col]) and math.isnan(b[col]))
    # each Ray task wrote its own cell folder: the sweep reads back from the folders alone
    back = read_sweep(tmp_path / "ray").rows
    assert list(back["final_loss"]) == [r["final_loss"] for r in on_ray]
    # a rerun on Ray skips every finished cell (no task submitted)
    seen = []
    run_sweep(spec, tmp_path / "ray", backend="ray", on_cell=seen.append)
    assert [r.skipped for r in seen] == [True] * 4
