"""``python -m resnorm init-stats --out FILE`` says where it wrote (issue 13, item 10): one line on
stderr naming the file's absolute path and its row count, stdout left empty; without --out the CSV
goes to stdout and nothing is claimed."""
from __future__ import annotations

import pandas as pd

from test_cli import run


def test_init_stats_names_the_file_it_wrote(tmp_path):
    out = tmp_path / "init.csv"
    r = run("init-stats", "--seeds", "1", "--layers", "2", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    rows = len(pd.read_csv(out))
    assert r.stdout == ""
    assert f"wrote {out.resolve()} ({rows} rows" in r.stderr


def test_init_stats_to_stdout_claims_no_file():
    r = run("init-stats", "--seeds", "1", "--layers", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("seed,name,value") and "wrote" not in r.stderr
