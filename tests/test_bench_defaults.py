"""The criteria ``python -m resnorm bench --defaults`` judges the defaults by, on numbers whose answer
is known, and its bad input (the trainings themselves are measured, not unit-tested)."""
import math

from resnorm import bench
from resnorm.bench_defaults import contrast_holds, quarters, still_moving


def test_the_contrast_needs_post_ln_at_chance_and_pre_ln_far_below():
    chance = math.log(10)
    assert contrast_holds(2.31, 1e-4, chance)
    assert not contrast_holds(2.31, 0.1, chance)  # Pre-LN only 23x lower
    assert not contrast_holds(1.5, 1e-4, chance)  # Post-LN learning too: not stuck at chance
    assert not contrast_holds(4e-4, 5e-4, chance)  # the old default: no contrast


def test_quarters_and_still_moving():
    loss = [8, 8, 4, 4, 2, 2, 1, 1]
    assert quarters(loss) == (2.0, 1.0) and still_moving(2.0, 1.0)
    flat = [3, 0.01, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001]
    assert quarters(flat) == (0.001, 0.001) and not still_moving(*quarters(flat))
    assert still_moving(0.9, 0.8)  # not learnt yet: above the floor, the curve still has room to move


def test_bad_seeds_are_one_error_line(capsys):
    assert bench.main(["--defaults", "--seeds", "one,two"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --seeds") and len(err.strip().splitlines()) == 1
