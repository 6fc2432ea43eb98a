"""``bench --first-point`` (resnorm.bench_first): its statistics and its argument checks. The timing
itself is measured by the bench, never asserted here."""
from __future__ import annotations

import pytest

from resnorm import bench, bench_first


def test_summary_takes_the_median_and_the_nearest_rank_p95():
    xs = [float(i) for i in range(1, 21)]  # 1 … 20: p95 by nearest rank is the 19th value
    s = bench_first.summary(list(reversed(xs)))
    assert (s["runs"], s["p50"], s["p95"], s["min"], s["max"]) == (20, 10.5, 19.0, 1.0, 20.0)
    assert bench_first.summary([3.0])["p95"] == 3.0


@pytest.mark.parametrize("argv", [["--first-point", "--runs", "0"], ["--first-point", "--gap", "-1"]])
def test_bad_arguments_are_one_error_line(argv, capsys):
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_first_point_reports_a_run_that_ends_before_its_first_point():
    class Ended:
        done, status, reason = True, "failed", "why"

        class store:
            @staticmethod
            def series(name):
                return [], []

    class Run:
        trainer, phase = Ended(), "failed"

        def start(self, cfg):
            return None

    with pytest.raises(RuntimeError, match="failed before its first point: why"):
        bench_first.first_point(Run(), None)
