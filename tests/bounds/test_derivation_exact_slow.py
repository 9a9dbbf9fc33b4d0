"""Slow: every sampled step re-evaluated in mpmath at all 10^4 points (no float screen)."""
import pytest

from qbound.bounds import adam as A
from qbound.bounds import muon as M


@pytest.mark.slow
@pytest.mark.parametrize("check", [A.check_envelope_m, A.check_envelope_v, A.check_update_bound, A.check_sum_of_ratios,
                                   A.check_descent_direction, A.check_denominator, M.check_momentum_envelope,
                                   M.check_error_recursion])
def test_sampled_steps_exact_everywhere(check):
    c = check(n=10_000, exact_all=True)
    assert c.status == "passed", c.detail
