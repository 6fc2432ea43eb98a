"""A browser session's sweep (``resnorm.serving.sweep_session``): one at a time, the server's cap on
cells, the training-slot queue, saved under the runs folder's ``sweeps/`` (which the runs listing
leaves alone), a saved sweep found and reopened by its name only."""
from __future__ import annotations

import pytest

from helpers import TINY, wait
from resnorm.science.config import RunConfig
from resnorm.serving import runs as R
from resnorm.serving import sweep_session as SS
from resnorm.serving.slots import TrainingSlots
from resnorm.studies.sweep_spec import SweepSpec


def _spec(steps=3, **axes):
    return SweepSpec(base=RunConfig.from_flat({**TINY, "steps": steps, "layers": 1}),
                     axes=axes or {"lr": (1e-3, 1e-2)})


def test_a_sweep_waits_for_a_slot_runs_and_is_saved_where_the_runs_listing_does_not_look(tmp_path):
    slots = TrainingSlots(1)
    held = slots.acquire()
    s = SS.SessionSweep(slots, root=tmp_path, workers=1)
    assert s.start(_spec()) is None
    assert wait(lambda: s.status == "queued" and s.queue_position == 1, timeout=30)
    assert s.start(_spec()) is not None  # one sweep per session at a time
    slots.release(held)
    assert wait(lambda: not s.active, timeout=240) and s.status == "completed"
    assert slots.busy == 0  # its slot is back
    name = SS.sweep_name(_spec())
    assert s.job.out == tmp_path / "sweeps" / name
    (found_name, _, rec), = SS.list_sweeps(tmp_path)
    assert found_name == name and len(rec.rows) == 2 and SS.open_sweep(name, tmp_path).spec == _spec()
    entries, notes = R.list_runs(tmp_path)
    assert entries == [] and notes == []  # the sweeps folder is not a run, nor a note
    again = SS.SessionSweep(TrainingSlots(1), root=tmp_path, workers=1)
    assert again.start(_spec()) is None and wait(lambda: not again.active, timeout=120)
    assert again.job.skipped == 2  # the same sweep again: nothing re-run


def test_the_cap_on_cells_is_the_servers_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNORM_MAX_SWEEP_CELLS", "3")
    s = SS.SessionSweep(TrainingSlots(1), root=tmp_path, workers=1)
    why = s.start(_spec(lr=(1e-3, 3e-3), layers=(1, 2)))
    assert why is not None and "more than the limit of 3" in why and s.job is None
    monkeypatch.setenv("RESNORM_MAX_SWEEP_CELLS", "0")
    with pytest.raises(Exception, match="RESNORM_MAX_SWEEP_CELLS"):
        SS.max_cells()


def test_stop_ends_a_running_sweep_and_frees_its_slots(tmp_path):
    slots = TrainingSlots(2)
    s = SS.SessionSweep(slots, root=tmp_path, workers=2)
    assert s.start(_spec(steps=1_000_000)) is None
    assert wait(lambda: s.status == "running", timeout=120)
    s.stop(wait=30)
    assert s.status == "stopped" and not s.active and slots.busy == 0


@pytest.mark.parametrize("name", ["../x", "sweep-XYZ", "sweep-0123", "run-0123456789ab", 3])
def test_only_a_sweeps_own_name_opens(name, tmp_path):
    with pytest.raises(Exception, match="not a sweep's name"):
        SS.open_sweep(name, tmp_path)
