"""Direct test of the branch-free 64-bit rounding ``_one64`` (the fused kernels' vectorizable
path) against the general ``_one`` of the compiled kernel, pattern by pattern, for every
registered format whose finest quantum is a normal float64, every rounding mode, and inputs that
reach each branch: zeros of both signs, inf, NaN, target and float64 subnormals, every tie and
its neighbours near the bottom, middle and top of the range, overflow, and random patterns; sr
with fixed random bits (0, all ones, and random).

``_one`` is itself tested against the exact reference (``quantize_exact``) elsewhere; this file
pins the second implementation to it directly, so a fault in ``_one64`` is found without going
through a fused plan.
"""
from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from qbound.numeric import _kernel_numba as K  # noqa: E402
from qbound.numeric.formats import FloatFormat, registry  # noqa: E402
from qbound.numeric.rounding import overflow_magnitudes  # noqa: E402

MODES = ["rne", "rna", "rtz", "rup", "rdn", "sr"]
SR_K = 24  # random bits per sr draw


@numba.njit(cache=False)
def _both(bits, rs, m, emin, subn, mode, k, huge, op, on, iv, s0, emin_b, C, q0):
    a = np.empty(bits.size, np.uint64)
    b = np.empty(bits.size, np.uint64)
    for i in range(bits.size):
        a[i] = K._one(bits[i], np.uint64(52), np.int64(1023), np.int64(2047), np.uint64(63), m, emin, subn,
                      mode, rs[i], k, huge, op, on, iv)
        b[i] = K._one64(bits[i], s0, emin_b, C, q0, mode, rs[i], k, huge, op, on, iv)
    return a, b


def _params64(fmt):
    """_one64's constants, as numeric._fused_numba._site derives them; None if it does not apply."""
    m, emin, subn = fmt.man_bits, fmt.emin, fmt.subnormals
    qe0 = emin - m if subn else emin
    if not (m <= 52 and qe0 >= -1022 and emin + 1023 >= 1):
        return None
    s0 = np.uint64(52 - m)
    emin_b = np.uint64(emin + 1023)
    C = emin_b + (s0 if subn else np.uint64(52))
    q0 = float(2.0 ** qe0)
    return s0, emin_b, C, q0


def _inputs(fmt, rng):
    m = fmt.man_bits
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
            float(fmt.max_finite), -float(fmt.max_finite), 1.0, -1.0]
    q_lo = 2.0 ** ((fmt.emin - m) if fmt.subnormals else fmt.emin)
    for e in list(range(fmt.emin - m - 3, fmt.emin + 4)) + list(range(-2, 3)) + list(range(fmt.emax - 2, fmt.emax + 3)):
        base = 2.0 ** e
        for j in range(0, 2 ** min(m, 3) + 1):
            v = base * (1.0 + j / 2.0 ** min(m, 3))
            tie = v + (2.0 ** (e - m - 1) if e >= fmt.emin else q_lo / 2)
            for w in (v, tie):
                if np.isfinite(w):
                    vals += [w, np.nextafter(w, 0.0), np.nextafter(w, np.inf)]
    vals += [float(fmt.max_finite) * 1.0625, float(fmt.max_finite) * 2, 1e300]
    a = np.array(vals, dtype=np.float64)
    a = np.concatenate([a, -a]).view(np.uint64)
    rnd = rng.integers(0, 2 ** 63, size=4000, dtype=np.uint64) | (rng.integers(0, 2, size=4000, dtype=np.uint64) << np.uint64(63))
    # random patterns concentrated on the format's exponent range
    near = (rng.uniform(fmt.emin - m - 4, fmt.emax + 2, size=4000))
    near = (np.exp2(near) * rng.choice([-1.0, 1.0], size=4000)).view(np.uint64)
    return np.concatenate([a, rnd, near])


FORMATS = [f for f in registry().values() if _params64(f) is not None] + [FloatFormat("e8m0_t", 8, 0), FloatFormat("e3m1_t", 3, 1)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_one64_equals_one(fmt, mode):
    rng = np.random.default_rng(20261203)
    bits = _inputs(fmt, rng)
    ov = overflow_magnitudes(fmt, mode, "ieee")
    s0, emin_b, C, q0 = _params64(fmt)
    mi = MODES.index(mode)
    for rs in (np.zeros(bits.size, np.uint64), np.full(bits.size, (1 << SR_K) - 1, np.uint64),
               rng.integers(0, 1 << SR_K, size=bits.size, dtype=np.uint64)):
        a, b = _both(bits, rs, np.int64(fmt.man_bits), np.int64(fmt.emin), fmt.subnormals, mi, np.int64(SR_K),
                     float(fmt.max_finite), *map(float, ov), s0, emin_b, C, q0)
        fa, fb = a.view(np.float64), b.view(np.float64)
        same = (a == b) | (np.isnan(fa) & np.isnan(fb))
        bad = np.flatnonzero(~same)
        assert bad.size == 0, [(bits[i].view(np.float64), fa[i], fb[i]) for i in bad[:5]]
        if mode != "sr":
            break


def test_comparison_catches_a_wrong_constant():
    """The check can fail: _one64 given the quantum of a format one mantissa bit shorter differs."""
    from qbound.numeric.formats import get_format
    fmt = get_format("bf16")
    rng = np.random.default_rng(1)
    bits = _inputs(fmt, rng)
    ov = overflow_magnitudes(fmt, "rne", "ieee")
    s0, emin_b, C, q0 = _params64(fmt)
    zeros = np.zeros(bits.size, np.uint64)
    a, b = _both(bits, zeros, np.int64(fmt.man_bits), np.int64(fmt.emin), fmt.subnormals, 0, np.int64(SR_K),
                 float(fmt.max_finite), *map(float, ov), s0 + np.uint64(1), emin_b, C + np.uint64(1), q0 * 2)
    assert np.any(a != b)
