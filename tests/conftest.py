import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Runs saved by pages and sessions during the tests go to a throw-away folder, never ./runs.
os.environ.setdefault("RESNORM_RUNS_DIR", tempfile.mkdtemp(prefix="resnorm-test-runs-"))
# In-process tests train in threads (fast to start); tests/test_live.py covers worker processes and
# the browser test runs the server as deployed, with processes.
os.environ.setdefault("RESNORM_WORKERS", "thread")

import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import TINY, configs  # noqa: E402

# Tiny models: one intra-op thread is as fast, and immune to a busy machine's thread contention
# (the trainer does the same by default, see resnorm.science.trainer.cpu_threads).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained_run():
    """One short finished run of a tiny 3-layer decoder (Post-LN, RMSNorm), every probe on, with
    attention maps and validation: shared by every test that only reads a run."""
    from resnorm.science.trainer import train

    tr = train(configs(TINY, layers=3, steps=30, probe_every=5, attention_every=5, eval_every=10,
                       norm_position="post", norm="rmsnorm")())
    assert tr.summary.status == "completed" and tr.store.n_points() > 0
    return tr


# ---- tests never write into the checkout ---------------------------------------------------------------
def _checkout_state() -> set[str] | None:
    """``git status --porcelain`` lines of the repository (None where git or the repository is absent)."""
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(out.stdout.splitlines()) if out.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._checkout_before = _checkout_state()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_checkout_before", None)
    after = _checkout_state()
    if before is None or after is None:
        return
    new = sorted(after - before)
    if new:
        # In CI (and in a fresh clone) only the tests can have changed it: that fails the run. On a
        # developer's machine an edit made while the tests ran would look the same: a warning there.
        fail = bool(os.environ.get("CI"))
        session.config.get_terminal_writer().line(
            f"\n{'error' if fail else 'warning'}: the checkout changed while the tests ran (tests must write "
            "only to temporary folders):\n  " + "\n  ".join(new), red=True)
        if fail:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
