"""Issue 15, "Hardening round two": each item reproduced as a hostile user found it, then held.

Package-level and CLI tests live here; the pages (AppTest) are in tests/test_hardening_app.py.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from resnorm import runs as R
from resnorm.config import RunConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(layers=1, d_model=8, heads=2, d_ff=16, seq_len=4, batch_size=2, steps=2, probe_every=0,
            attention_every=0, eval_every=0)


def _cfg(**kw) -> RunConfig:
    return RunConfig.from_flat({**TINY, **kw})


def _frame(steps=(1, 2)) -> pd.DataFrame:
    return pd.DataFrame({"step": list(steps), "name": ["train/loss"] * len(steps),
                         "value": [1.0] * len(steps)})


def _save(root, name="good", **summary) -> Path:
    s = {"status": "completed", "steps": 2, "final_loss": 1.0, "reason": "", **summary}
    return R.write_run(_cfg(), _frame(), s, root=root, name=name)


# ---- item 2: one foreign run folder must not take the Runs page down ---------------------------------
FOREIGN_META = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00"]


@pytest.mark.parametrize("created", FOREIGN_META)
def test_item2_extreme_created_date_is_a_note_not_a_crash(tmp_path, created):
    p = _save(tmp_path, "odd")
    _save(tmp_path, "good")
    (p / R.META).write_text(json.dumps({"created": created, "source": "cli", "label": None}))
    entries, notes = R.list_runs(tmp_path)
    for e in entries:
        e.row()  # the Runs table's rows: raised OverflowError for the odd run
    assert [e.name for e in entries] == ["good"]
    assert any(n.startswith("odd:") and "created" in n for n in notes), notes


@pytest.mark.parametrize("field,value", [("steps", 10**30), ("steps", 2**63), ("final_loss", 10**400),
                                         ("final_loss", 1e308 * 10), ("diverged_step", 10**30),
                                         ("reason", "x" * 100_000), ("reason", 5)])
def test_item2_summary_fields_are_validated_into_type_and_range(tmp_path, field, value):
    p = _save(tmp_path, "odd")
    s = json.loads((p / R.SUMMARY).read_text())
    s[field] = value
    (p / R.SUMMARY).write_text(json.dumps(s) if not isinstance(value, float) else
                               json.dumps(s).replace("Infinity", "1e999"))
    entries, notes = R.list_runs(tmp_path)
    if entries:  # accepted only if every field is in range and the table can be built
        pd.DataFrame([e.row() for e in entries]).astype({"steps": "int64"})
        rec = R.load_run("odd", tmp_path)
        assert isinstance(rec.summary.get("reason", ""), str) and len(rec.summary.get("reason", "")) <= 2000
    else:
        assert any(n.startswith("odd:") and field in n for n in notes), notes
    if field in ("steps", "diverged_step", "final_loss"):
        assert not entries
        with pytest.raises(R.RunLoadError, match=field):
            R.load_run("odd", tmp_path)


@pytest.mark.parametrize("step", ["1e23", "100000000000000000000000", "-5", "9223372036854775808"])
def test_item2_metrics_step_out_of_range_is_refused_when_opened(tmp_path, step):
    p = _save(tmp_path, "odd")
    (p / R.METRICS).write_text(f"step,name,value\n1,train/loss,1.0\n{step},train/loss,0.5\n")
    with pytest.raises(R.RunLoadError, match="step"):
        R.load_run("odd", tmp_path)
