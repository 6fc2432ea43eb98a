"""Warm spare worker processes (``resnorm.serving.warm``, issue 13 item 2): a job handed to a spare
trains exactly as in a cold worker, a spare serves one job only, the pool follows its cap and the
server's settings, and spares die with their server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from resnorm.serving import warm
from resnorm.serving.procworker import ProcessTrainer
from helpers import ROOT, TINY, configs, wait

cfg = configs(TINY, steps=12, probe_every=3, attention_every=0, eval_every=6, seed=7)

pytestmark = pytest.mark.slow  # each test starts worker processes (torch imported in each)


@pytest.fixture
def spares(monkeypatch):
    """The process's pool, filled to ``RESNORM_WARM_WORKERS``=2 at the default niceness; emptied
    (and turned off) afterwards, so that other tests start cold workers as before."""
    monkeypatch.setenv("RESNORM_WARM_WORKERS", "2")
    monkeypatch.delenv("RESNORM_WORKER_NICE", raising=False)
    pool = warm.pool()
    pool.close()
    pool.fill()
    assert wait(lambda: pool.ready() == 2, 120), "the spares did not warm up"
    yield pool
    pool.close()


def finished(tr) -> ProcessTrainer:
    tr.start()
    assert tr.join(180) and tr.status == "completed", (tr.status, tr.reason)
    return tr


def curves(tr) -> dict[str, np.ndarray]:
    return {name: tr.store.series(name)[1] for name in tr.store.names()}


def test_a_warm_worker_and_a_cold_one_give_the_same_curves(spares):
    """Same config and seed: every recorded series is identical, bit for bit, whichever process
    trained it — and identical to the in-process trainer's."""
    from resnorm.science.trainer import train

    hot = finished(ProcessTrainer(cfg()))
    spares.close()  # no spares now: the next job starts cold
    cold = finished(ProcessTrainer(cfg()))
    assert hot.warm and not cold.warm
    here = train(cfg())
    a, b, c = curves(hot), curves(cold), curves(here)
    assert set(a) == set(b) == set(c) and "train/loss" in a and any(n.startswith("grad/") for n in a)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
        assert np.array_equal(a[name], c[name]), name
    assert hot.summary.final_loss == cold.summary.final_loss == here.summary.final_loss
    other = finished(ProcessTrainer(cfg(seed=8)))  # and a different seed does differ
    assert not np.array_equal(curves(other)["train/loss"], a["train/loss"])


def test_a_spare_serves_one_job_and_the_pool_keeps_to_its_cap(spares):
    first, second = ProcessTrainer(cfg(steps=100_000)), ProcessTrainer(cfg(steps=100_000))
    first.start()
    second.start()
    try:
        assert first.warm and second.warm and first.pid != second.pid  # two jobs, two processes
        assert spares.pids() == []  # both spares handed out; cap 2 = 2 working: no third started
        spares.fill()
        assert spares.pids() == []
        third = ProcessTrainer(cfg())  # the cap is reached: a third job starts cold
        finished(third)
        assert not third.warm and third.pid not in (first.pid, second.pid)
    finally:
        for tr in (first, second):
            tr.stop()
            tr.join(60)
    # a spare's process exits with its job (it is never reused) and a new spare takes its place
    for tr in (first, second):
        assert wait(lambda: not os.path.exists(f"/proc/{tr.pid}") or _zombie(tr.pid), 30)
    assert wait(lambda: spares.ready() == 2, 120)
    assert not {first.pid, second.pid} & set(spares.pids())


def test_a_job_takes_the_servers_settings_as_they_are_when_it_starts(spares, monkeypatch):
    """The spares started before this setting changed; the job still obeys it (here: a run larger
    than ``RESNORM_MAX_RUN_GB`` is refused inside the worker, as a cold worker would)."""
    monkeypatch.setenv("RESNORM_MAX_RUN_GB", "0.0000001")
    tr = ProcessTrainer(cfg())
    tr.start()
    assert tr.join(120) and tr.warm
    assert tr.status == "failed" and "RESNORM_MAX_RUN_GB" in tr.reason, tr.reason


def test_a_spare_at_another_priority_is_not_used(spares, monkeypatch):
    """``os.nice`` cannot be undone: after ``RESNORM_WORKER_NICE`` changed, the job starts cold
    at the new priority, and the stale spares are replaced on the next fill."""
    monkeypatch.setenv("RESNORM_WORKER_NICE", "3")
    old = set(spares.pids())
    tr = finished(ProcessTrainer(cfg()))
    assert not tr.warm
    spares.fill()
    assert wait(lambda: spares.ready() == 2, 120)
    assert not old & set(spares.pids())
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(os.getpriority(os.PRIO_PROCESS, pid) == min(19, mine + 3) for pid in spares.pids())


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in fh)
    except FileNotFoundError:
        return True


def test_spares_die_with_their_server_even_by_sigkill(tmp_path):
    script, pid_file = tmp_path / "server_like.py", tmp_path / "spares.pid"
    script.write_text(
        "import os, signal, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "os.environ['RESNORM_WARM_WORKERS'] = '2'\n"
        "from resnorm.serving.warm import pool\n"
        "if __name__ == '__main__':\n"
        "    pool().fill()\n"
        "    while pool().ready() < 2:\n"
        "        time.sleep(0.05)\n"
        f"    open({str(pid_file)!r}, 'w').write(' '.join(map(str, pool().pids())))\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")
    rc = subprocess.run([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        timeout=300).returncode
    assert rc == -signal.SIGKILL
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2
    try:
        assert wait(lambda: all(_zombie(p) for p in pids), 30), "a spare outlived its server"
    finally:
        for p in pids:
            if not _zombie(p):
                os.kill(p, signal.SIGKILL)
