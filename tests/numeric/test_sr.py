"""Stochastic rounding: exact unbiasedness by enumerating every random draw, the documented bias with
too few random bits, and statistical tests of the rng-driven stream.

With k random bits, quantize(x, "sr") rounds |x| = (j + r) q up iff R < floor(r 2^k), R uniform on
{0..2^k-1}; so P(up) = floor(r 2^k) / 2^k, which is r exactly when r has at most k bits, and
otherwise falls short of r by less than 2^-k (a bias toward zero of less than 2^-k quanta).
"""
import math
from fractions import Fraction

import numpy as np
import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import _quantize, quantize

FMTS = [get_format(n) for n in ("bf16", "fp8_e4m3fn", "fp8_e5m2", "fp4_e2m1", "e3m4")]


def exact_points(fmt, k):
    """x = (j + i/2^k) q for grid points j q in the normal and subnormal range, every i < 2^k."""
    m = fmt.man_bits
    out = []
    top = int(fmt.max_finite / Fraction(2) ** (fmt.emax - m)) - 1  # j q and (j + 1) q finite
    for e, j in ((0, (1 << m) + 1), (fmt.emax, top), (fmt.emin, 1 << m)):
        q = Fraction(2) ** (e - m)
        out += [(j + Fraction(i, 1 << k)) * q for i in range(1 << k)]
    q = fmt.min_subnormal
    out += [(3 + Fraction(i, 1 << k)) * q for i in range(1 << k)]
    return out


@pytest.mark.parametrize("fmt", FMTS, ids=lambda f: f.name)
@pytest.mark.parametrize("k", [1, 3, 6])
def test_exactly_unbiased_when_bits_suffice(fmt, k):
    R = np.arange(1 << k, dtype=np.uint64)
    for X in exact_points(fmt, k):
        for sign in (1, -1):
            x = float(sign * X)
            assert Fraction(x) == sign * X
            for path in ("reference", "fast"):
                q = _quantize(np.full(R.size, x), fmt, "sr", sr_bits=k, sr_random=R, path=path)
                assert sum(Fraction(v) for v in q.tolist()) / R.size == sign * X, (x, path)
                assert np.unique(q).size <= 2


@pytest.mark.parametrize("fmt", FMTS, ids=lambda f: f.name)
@pytest.mark.parametrize("k", [1, 2, 5])
def test_documented_bias_with_too_few_bits(fmt, k):
    """Mean over all 2^k draws is lo + floor(r 2^k)/2^k q: short of x by less than 2^-k q, toward zero."""
    rng = np.random.default_rng(k)
    R = np.arange(1 << k, dtype=np.uint64)
    m = fmt.man_bits
    q = Fraction(2) ** -m  # spacing in [1, 2)
    biased = 0
    for _ in range(40):
        j = int(rng.integers(1 << m, (1 << (m + 1)) - 1))
        r = Fraction(int(rng.integers(1, 1 << 20)), 1 << 20)  # 20 fractional bits > k
        X = (j + r) * q
        for sign in (1, -1):
            x = float(sign * X)
            vals = quantize(np.full(R.size, x), fmt, "sr", sr_bits=k, sr_random=R)
            mean = sum(Fraction(v) for v in vals.tolist()) / R.size
            expect = (j + Fraction(math.floor(r * (1 << k)), 1 << k)) * q
            assert mean == sign * expect
            bias = abs(mean) - X
            assert -q / (1 << k) < bias <= 0
            biased += bias != 0
    assert biased > 0
    # a discarded part below 2^-k quanta never rounds up
    x = float(1 + q / (1 << (k + 3)))
    assert np.all(quantize(np.full(R.size, x), fmt, "sr", sr_bits=k, sr_random=R) == 1.0)


def test_sr_64_bits_exact_for_float64_in_normal_range():
    """With the default 64 bits every float64 in the normal range of bf16 has r with < 64 bits."""
    R = np.array([0, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
    x = 1 + 2.0**-52  # r = 2^-45 in bf16 quanta: up iff R < 2^19
    assert list(quantize(np.full(4, x), "bf16", "sr", sr_random=R)) == [1 + 2**-7, 1, 1, 1]
    R = np.array([2**19 - 1, 2**19], dtype=np.uint64)
    assert list(quantize(np.full(2, x), "bf16", "sr", sr_random=R)) == [1 + 2**-7, 1]


def hoeffding_t(n: int, tests: int, p_fail: float = 1e-9, span: float = 1.0) -> float:
    """Half-width t with tests * 2 exp(-2 n t^2 / span^2) <= p_fail (Hoeffding + union bound)."""
    return span * math.sqrt(math.log(2 * tests / p_fail) / (2 * n))


def test_statistical_unbiasedness_with_rng():
    """Frequency of rounding up matches r for 12 points, and adjacent draws are uncorrelated.

    For a uniformly random key (rng draw), the probability that any of the 12 frequencies or 12 pair
    frequencies misses by the Hoeffding half-width is below 1e-9 (union bound over 24 events, each
    bounded by 2 exp(-2 n t^2) with n = 400000 independent Bernoulli draws; for the pair test, the
    n/2 disjoint pairs). The seed is fixed, so the test is reproducible.
    """
    n = 400_000
    fmt = get_format("fp8_e4m3fn")
    t1 = hoeffding_t(n, 24)
    t2 = hoeffding_t(n // 2, 24)
    rng = np.random.default_rng(2024)
    for r in (Fraction(1, 1024), Fraction(1, 8), Fraction(1, 3), Fraction(1, 2), Fraction(5, 7),
              Fraction(1023, 1024)):
        for base in (Fraction(9, 8), Fraction(-3, 512)):
            q = get_format("fp8_e4m3fn").ulp(base)
            X = abs(base) + r * q
            x = float(X) * (1 if base > 0 else -1)
            rr = (abs(Fraction(x)) - abs(base)) / q  # r as rounded to float64
            vals = quantize(np.full(n, x), fmt, "sr", rng=rng)
            up = np.abs(vals) > float(abs(base))
            assert set(np.unique(np.abs(vals)).tolist()) <= {float(abs(base)), float(abs(base) + q)}
            assert abs(up.mean() - float(rr)) < t1, (x, up.mean(), float(rr))
            pairs = up[0::2] & up[1::2]
            assert abs(pairs.mean() - float(rr) ** 2) < t2


def test_mean_error_of_random_inputs():
    """Sum of signed errors in quanta of 10^6 random inputs: |mean| < t, P(fail) < 1e-9 (Hoeffding, span 2)."""
    n = 1_000_000
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n) * 3
    for name in ("bf16", "fp8_e5m2"):
        fmt = get_format(name)
        q = quantize(x, fmt, "sr", rng=rng)
        lo = quantize(x, fmt, "rtz")
        ulp = np.abs(quantize(x, fmt, "rup") - quantize(x, fmt, "rdn"))
        ulp[ulp == 0] = 1.0
        err = (q - x) / ulp
        assert np.all(np.abs(err) < 1)
        assert np.all((q == lo) | (np.abs(q) > np.abs(lo)))
        assert abs(err.mean()) < hoeffding_t(n, 2, span=2.0)


def test_seed_reproducibility_and_one_draw_per_call():
    x = np.linspace(-3, 3, 10_001)
    a = quantize(x, "fp8_e4m3fn", "sr", rng=np.random.default_rng(1))
    b = quantize(x, "fp8_e4m3fn", "sr", rng=np.random.default_rng(1))
    assert np.array_equal(a, b)
    g = np.random.default_rng(1)
    c1 = quantize(x, "fp8_e4m3fn", "sr", rng=g)
    c2 = quantize(x, "fp8_e4m3fn", "sr", rng=g)
    assert np.array_equal(c1, a) and not np.array_equal(c1, c2)
    g2 = np.random.default_rng(1)
    g2.integers(0, 2**64, dtype=np.uint64)
    assert np.array_equal(quantize(x, "fp8_e4m3fn", "sr", rng=g2), c2)
    # small (numpy) and large (compiled) arrays use the same stream
    small = quantize(x[:100], "fp8_e4m3fn", "sr", rng=np.random.default_rng(1))
    assert np.array_equal(small, a[:100])


def test_sr_argument_errors():
    with pytest.raises(ValueError, match="rng"):
        quantize(1.5, "bf16", "sr")
    with pytest.raises(TypeError):
        quantize(1.5, "bf16", "sr", rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="sr_bits"):
        quantize(1.5, "bf16", "sr", rng=np.random.default_rng(0), sr_bits=0)
    with pytest.raises(ValueError, match="2\\^sr_bits"):
        quantize([1.5, 2.5], "bf16", "sr", sr_bits=3, sr_random=[1, 8])
    # a scalar sr_random broadcasts
    assert list(quantize([1 + 2**-9, -1 - 2**-9], "bf16", "sr", sr_bits=3, sr_random=1)) == [1 + 2**-7, -1 - 2**-7]
