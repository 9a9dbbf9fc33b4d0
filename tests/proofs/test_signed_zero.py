"""Signed zero: a variable may be the pattern -0, and x/(-0) = -inf (IEEE 754). Before, the exact
evaluator took every zero as +0, so `1/a > 0` under `a >= 0` was PROVED by enumeration although
a = -0 falsifies it, and z3's correct counterexample did not replay."""
from __future__ import annotations

import pytest

from qbound.proofs import prove


@pytest.mark.parametrize("engine", ["auto", "exhaustive", "z3"])
def test_division_by_negative_zero_is_a_counterexample(engine):
    v = prove("1/a > 0", "fp8_e4m3fn", "rne", assume=["a >= 0"], engine=engine, timeout=30)
    assert v.status == "falsified", (v.status, v.reason)
    assert v.counterexample["a"]["hex"] == "0x80"


def test_positive_zero_excluded_still_proves():
    """The wrong variant of the fix (every zero treated as -0) would refute this; +0 is excluded here."""
    assert prove("1/a > 0", "fp8_e4m3fn", "rne", assume=["a > 0"]).status == "proved"
    assert prove("1/a < 0", "fp8_e4m3fn", "rne", assume=["a < 0"]).status == "proved"
