"""The Runs page names its folder as typed (issue 13, item 10): inside a code span a Markdown escape
would show, so a folder such as ``my-runs`` must appear as ``my-runs``, never ``my\\-runs``."""
from __future__ import annotations

from helpers import app_test


def test_runs_folder_is_shown_unescaped(tmp_path, monkeypatch):
    root = tmp_path / "my-runs_(1)"
    root.mkdir()
    monkeypatch.setenv("RESNORM_RUNS_DIR", str(root))
    at = app_test("app_pages/runs.py", timeout=60)
    assert not at.exception
    (header,) = [c.value for c in at.caption if "RESNORM_RUNS_DIR" in c.value]
    assert f"`{root}`" in header and "\\" not in header
