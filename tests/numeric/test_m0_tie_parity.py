"""Regression: round-to-nearest-even ties for formats with no stored mantissa bit (m = 0, e.g. the
OCP MX scale format E8M0's value set) on float32 input.

With m = 0 every normal value is a power of two, so a tie lies halfway between 2^e and 2^(e+1)
and the reference (``quantize_exact``) treats the one-digit significand as odd: a normal-range
tie rounds up. The float32 kernel once applied that rule to a float32 *subnormal* input taken as
normal range (e8 targets share float32's exponent range): 2^-127, halfway between 0 and
2^-126, rounded up to 2^-126 while the reference gives 0 (kept = 0 is even). These tests fail on
that code (the ``expf != 0`` guard in ``_one32``'s parity removed).
"""
from __future__ import annotations

import numpy as np
import pytest

from qbound.numeric import quantize
from qbound.numeric.formats import FloatFormat
from qbound.numeric.rounding import quantize_exact

E8M0 = FloatFormat("e8m0_test", 8, 0)
E5M0 = FloatFormat("e5m0_test", 5, 0)


def _ties_and_neighbours(fmt: FloatFormat) -> np.ndarray:
    """float32 values at, just below and just above every tie of ``fmt`` that float32 holds,
    including the float32 subnormal range, both signs."""
    vals = []
    for e in range(-149, 128):
        t = np.float32(2.0 ** e) * np.float32(1.5) if e < 127 else None
        for v in (np.float32(2.0 ** e), t):
            if v is None or not np.isfinite(v) or v == 0:
                continue
            vals += [v, np.nextafter(v, np.float32(0)), np.nextafter(v, np.float32(np.inf))]
    # the subnormal tie 2^-127 (between 0 and 2^-126) and its neighbours, explicitly
    t = np.float32(2.0 ** -127)
    vals += [t, np.nextafter(t, np.float32(0)), np.nextafter(t, np.float32(1))]
    a = np.array(vals, dtype=np.float32)
    return np.concatenate([a, -a])


@pytest.mark.parametrize("fmt", [E8M0, E5M0], ids=lambda f: f.name)
@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "rup", "rdn"])
def test_float32_kernel_matches_reference_on_m0_ties(fmt, mode):
    x = _ties_and_neighbours(fmt)
    got = quantize(x, fmt, mode)
    assert got.dtype == np.float32
    want = np.array([quantize_exact(float(v), fmt, mode) for v in x], dtype=np.float64)
    bad = np.flatnonzero(got.astype(np.float64).view(np.uint64) != want.view(np.uint64))
    assert bad.size == 0, [(float(x[i]), float(got[i]), float(want[i])) for i in bad[:5]]


def test_subnormal_tie_2_pow_minus_127_rounds_to_even_zero():
    x = np.array([2.0 ** -127, -(2.0 ** -127)], dtype=np.float32)
    got = quantize(x, E8M0, "rne")
    assert got.tolist() == [0.0, 0.0] and np.signbit(got).tolist() == [False, True]
    # the float64 path agrees (a different kernel)
    assert quantize(x.astype(np.float64), E8M0, "rne").tolist() == [0.0, 0.0]


def test_checker_rejects_a_wrong_reference():
    """The comparison above can fail: against a reference that rounds the subnormal tie up (the
    old kernel's answer), it reports a mismatch."""
    x = np.array([2.0 ** -127], dtype=np.float32)
    got = quantize(x, E8M0, "rne")
    wrong = np.array([2.0 ** -126])
    assert got.astype(np.float64).view(np.uint64)[0] != wrong.view(np.uint64)[0]
