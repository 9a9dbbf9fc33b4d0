"""Differential tests against gfloat (Graphcore), an independent implementation.

Mapping of names:

* formats: our FloatFormat(e, m, bias, policy) -> ``gfloat.FormatInfo(k=1+e+m, precision=m+1,
  bias, domain=Extended and num_high_nans=2^m-1 for "ieee"; domain=Finite with num_high_nans=1 for
  "fn" and 0 for "none"; has_subnormals, has_nz=True, signed)``; the constants must agree too.
* modes: rne -> RoundMode.TiesToEven, rna -> TiesToAway, rtz -> TowardZero, rup -> TowardPositive,
  rdn -> TowardNegative.
* sr: ours goes up iff R < floor(r 2^k); gfloat's StochasticFastest goes up iff
  r + srbits 2^-k >= 1. With srbits = 2^k - 1 - R the two are the same event (exact here because r
  has few bits, so gfloat's float64 sum is exact). gfloat's Stochastic (r rounded to k bits first)
  agrees as well when r has at most k bits.
* overflow: "saturate" -> sat=True; "ieee" -> sat=False (gfloat refuses to overflow formats with
  neither inf nor NaN, which we saturate, so those are compared with sat=True).

Only formats with subnormals are compared: gfloat has no flush-to-zero rounding.
"""
from fractions import Fraction

import numpy as np
import pytest

gfloat = pytest.importorskip("gfloat")
from gfloat import FormatInfo, RoundMode, round_float, round_ndarray  # noqa: E402
from gfloat.types import Domain  # noqa: E402

from qbound.numeric.formats import get_format, registry  # noqa: E402
from qbound.numeric.rounding import quantize  # noqa: E402

GF_MODE = {"rne": RoundMode.TiesToEven, "rna": RoundMode.TiesToAway, "rtz": RoundMode.TowardZero,
           "rup": RoundMode.TowardPositive, "rdn": RoundMode.TowardNegative}
FORMATS = list(registry().values()) + [get_format(n) for n in
                                       ("e3m4", "e5m7", "e6m9", "e8m1", "e2m2", "e3m1", "e11m40", "e4m10")]


def to_gfloat(fmt) -> FormatInfo:
    nans = {"ieee": (1 << fmt.man_bits) - 1, "fn": 1, "none": 0}[fmt.policy]
    return FormatInfo(fmt.name, fmt.total_bits, fmt.p, bias=fmt.bias, is_signed=True,
                      domain=Domain.Extended if fmt.policy == "ieee" else Domain.Finite,
                      has_nz=True, num_high_nans=nans, has_subnormals=fmt.subnormals,
                      is_twos_complement=False)


def samples(fmt, n, seed):
    rng = np.random.default_rng(seed)
    m = fmt.man_bits
    e = rng.integers(fmt.emin - m - 3, fmt.emax + 2, n)
    frac = rng.integers(0, 2 ** min(m + 2, 52), n).astype(np.float64)
    with np.errstate(over="ignore"):
        g = np.ldexp(1.0 + frac / 2.0 ** (m + 1), e)
    g = g[np.isfinite(g)]
    near = (g.view(np.int64) + rng.integers(-2, 3, g.size)).view(np.float64)
    raw = rng.integers(0, 2**64, n // 4, dtype=np.uint64).view(np.float64)
    raw = raw[np.isfinite(raw)]
    huge = float(fmt.max_finite)
    with np.errstate(over="ignore"):
        spec = [0.0, np.inf, np.nan, huge, np.nextafter(huge, np.inf), 5e-324, float(fmt.min_subnormal) / 2]
    x = np.concatenate([g, near, raw, np.array(spec)])
    return np.concatenate([x, -x])


def same(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_constants_agree(fmt):
    fi = to_gfloat(fmt)
    assert Fraction(fi.max) == fmt.max_finite
    assert Fraction(fi.smallest_normal) == fmt.min_normal
    assert Fraction(fi.smallest_subnormal) == fmt.min_subnormal


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_round_ndarray_every_deterministic_mode(fmt):
    fi = to_gfloat(fmt)
    x = samples(fmt, 8000, seed=fmt.total_bits * 31 + fmt.man_bits)
    for mode, gm in GF_MODE.items():
        for overflow in ("ieee", "saturate"):
            sat = overflow == "saturate" or fmt.policy == "none"
            with np.errstate(all="ignore"):
                ref = round_ndarray(fi, x, gm, sat=sat)
            ours = quantize(x, fmt, mode, overflow=overflow)
            ok = same(ours, ref)
            bad = np.nonzero(~ok)[0]
            assert bad.size == 0, (mode, overflow, x[bad[:4]], ours[bad[:4]], ref[bad[:4]])


@pytest.mark.parametrize("fmt", [get_format(n) for n in ("bf16", "fp8_e4m3fn", "fp8_e5m2", "fp4_e2m1", "e5m7")],
                         ids=lambda f: f.name)
def test_round_float_scalars(fmt):
    fi = to_gfloat(fmt)
    x = samples(fmt, 150, seed=3)
    for mode, gm in GF_MODE.items():
        for v in x.tolist():
            if np.isnan(v) or (np.isinf(v) and fmt.policy == "none"):
                continue
            sat = fmt.policy == "none"
            try:
                ref = round_float(fi, v, gm, sat=sat)
            except ValueError:
                continue
            ours = quantize(v, fmt, mode)
            assert same(ours, ref), (mode, v, ours, ref)


@pytest.mark.parametrize("fmt", [get_format(n) for n in ("bf16", "fp8_e4m3fn", "fp8_e5m2", "fp6_e2m3", "e5m7")],
                         ids=lambda f: f.name)
@pytest.mark.parametrize("k", [1, 4, 11])
def test_sr_matches_gfloat_given_the_same_bits(fmt, k):
    fi = to_gfloat(fmt)
    rng = np.random.default_rng(k)
    # float32-representable inputs: few discarded bits, so gfloat's float arithmetic is exact
    with np.errstate(over="ignore"):
        x = samples(fmt, 4000, seed=k).astype(np.float32).astype(np.float64)
    x = x[np.isfinite(x)]
    R = rng.integers(0, 2**k, x.size, dtype=np.uint64)
    srbits = ((1 << k) - 1 - R.astype(np.int64))
    sat = fmt.policy == "none"
    for overflow in ("ieee", "saturate"):
        s = sat or overflow == "saturate"
        with np.errstate(all="ignore"):
            ref = round_ndarray(fi, x, RoundMode.StochasticFastest, sat=s, srbits=srbits, srnumbits=k)
        ours = quantize(x, fmt, "sr", sr_bits=k, sr_random=R, overflow=overflow)
        assert np.all(same(ours, ref)), overflow
    # gfloat's exact Stochastic mode agrees wherever the discarded part has at most k bits
    with np.errstate(all="ignore"):
        ref = round_ndarray(fi, x, RoundMode.Stochastic, sat=True, srbits=srbits, srnumbits=k)
    ours = quantize(x, fmt, "sr", sr_bits=k, sr_random=R, overflow="saturate")
    q_lo = quantize(x, fmt, "rtz", overflow="saturate")
    ulp = np.array([float(fmt.ulp(v)) if np.isfinite(v) else 1.0 for v in q_lo.tolist()])
    with np.errstate(all="ignore"):
        r = np.abs(x - q_lo) / ulp  # exact: small integers over a power of two
        exact_k = (r * 2.0**k) == np.floor(r * 2.0**k)
    assert np.all(same(ours, ref)[exact_k])
