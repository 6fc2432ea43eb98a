"""The command line's fixed costs (issue 16, item 1): ``train`` writes its files without pandas, and
the metrics.csv it writes is byte for byte what pandas wrote before (pandas is the reference)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from resnorm.science.store import MetricStore
from resnorm.serving.runs import metrics_csv
from helpers import ROOT


def awkward_columns() -> dict:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(size=50) * 10.0 ** rng.integers(-30, 30, size=50),
                             [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1e16, 1e-300, 0.1, 123456789.0]])
    names = np.array([["train/loss", "grad/blocks.0.attn", 'odd,"name"', "val/accuracy"][i % 4]
                      for i in range(len(values))], dtype=object)
    return {"step": np.arange(len(values), dtype="int64") * 7, "name": names, "value": values}


def test_metrics_csv_matches_pandas_to_csv_byte_for_byte():
    cols = awkward_columns()
    frame = pd.DataFrame(cols)
    expected = frame.to_csv(index=False).encode("utf-8")
    assert metrics_csv(cols) == expected
    assert metrics_csv(frame) == expected
    empty = {"step": np.zeros(0, "int64"), "name": np.zeros(0, object), "value": np.zeros(0)}
    assert metrics_csv(empty) == pd.DataFrame(empty).to_csv(index=False).encode("utf-8")


def test_store_columns_are_its_frame():
    store = MetricStore()
    for step in range(1, 30):
        store.add(step, {"train/loss": 1.0 / step, "lr": 1e-3} | ({"val/loss": 2.0 / step} if step % 5 == 0 else {}))
    cols, frame = store.columns(), store.frame()
    assert list(cols) == list(frame.columns) == ["step", "name", "value"]
    for c in cols:
        assert np.array_equal(cols[c], frame[c].to_numpy())
    assert metrics_csv(cols) == frame.to_csv(index=False).encode("utf-8")


def test_train_on_the_command_line_does_not_import_pandas(tmp_path):
    code = ("import sys; from resnorm.cli import main; "
            f"rc = main(['train', '--out', {str(tmp_path)!r}, '--steps', '3', '--layers', '1', '--d-model', '8', "
            "'--heads', '1', '--d-ff', '8', '--quiet']); "
            "print(rc, 'pandas' in sys.modules, 'plotly' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["0", "False", "False"], out.stderr[-2000:]
    written = pd.read_csv(tmp_path / "metrics.csv")
    assert list(written.columns) == ["step", "name", "value"] and (written["step"] <= 3).all()
