"""quantize against an exact rational oracle, and Hypothesis properties of every mode.

The oracle below is written from the definitions only (fractions.Fraction, no bit tricks): the grid
around |x| has spacing q = 2^(max(e, emin) - m) (2^emin below tiny when subnormals are flushed),
|x| = (k + r) q with 0 <= r < 1, and each mode picks k or k + 1; beyond the largest finite value
the result overflows as documented in numeric.rounding.
"""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbound.numeric.formats import FloatFormat, get_format, registry
from qbound.numeric.rounding import _quantize, is_representable, quantize

DET = ("rne", "rna", "rtz", "rup", "rdn")
ORACLE_FORMATS = list(registry().values()) + [get_format("e3m4"), get_format("e6m9"),
                                              FloatFormat("e4m3_ftz", 4, 3, subnormals=False),
                                              FloatFormat("e5m2fn_ftz", 5, 2, policy="fn", subnormals=False)]


def floor_log2(a: Fraction) -> int:
    """The e with 2^e <= a < 2^(e+1)."""
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    assert Fraction(2) ** e <= a < Fraction(2) ** (e + 1)
    return e


def oracle(x: float, fmt: FloatFormat, mode: str, overflow: str = "ieee") -> float:
    """The correctly rounded value of the exact number x, by the definitions."""
    huge = fmt.max_finite
    if math.isnan(x):
        return math.nan
    neg = math.copysign(1.0, x) < 0
    sgn = -1.0 if neg else 1.0
    if math.isinf(x):
        if overflow == "saturate" or fmt.policy == "none":
            return sgn * float(huge)
        return sgn * math.inf if fmt.has_inf else math.nan
    a = abs(Fraction(x))
    if a == 0:
        return x
    e = floor_log2(a)
    if e >= fmt.emin:
        q = Fraction(2) ** (e - fmt.man_bits)
    elif fmt.subnormals:
        q = Fraction(2) ** (fmt.emin - fmt.man_bits)
    else:
        q = Fraction(2) ** fmt.emin
    k = math.floor(a / q)
    r = a / q - k
    up = {"rne": r > Fraction(1, 2) or (r == Fraction(1, 2) and k % 2 == 1),
          "rna": r >= Fraction(1, 2),
          "rtz": False,
          "rup": r > 0 and not neg,
          "rdn": r > 0 and neg}[mode]
    v = (k + up) * q
    if v > huge:
        toward_zero = mode == "rtz" or (mode == "rup" and neg) or (mode == "rdn" and not neg)
        if overflow == "saturate" or fmt.policy == "none" or toward_zero:
            v = huge
        else:
            return sgn * math.inf if fmt.has_inf else math.nan
    return sgn * float(v)


def ties_and_near_ties(fmt: FloatFormat, n: int, seed: int) -> np.ndarray:
    """float64 values at exact ties (k + 1/2) q, one or two float64 ulps off them, and at grid points."""
    rng = np.random.default_rng(seed)
    m = fmt.man_bits
    out = []
    for _ in range(n):
        e = int(rng.integers(fmt.emin - m - 2, fmt.emax + 2))
        if e >= fmt.emin:
            q = Fraction(2) ** (e - m)
            k = int(rng.integers(1 << m, 1 << (m + 1)))
        else:
            q = Fraction(2) ** ((fmt.emin - m) if fmt.subnormals else fmt.emin)
            k = int(rng.integers(0, (1 << m) if fmt.subnormals else 1))
        for t in ((k + Fraction(1, 2)) * q, k * q):
            if t > Fraction(2) ** 1023 * 2 or t == 0:
                continue
            f = float(t)
            if Fraction(f) != t:  # a tie needing more than 53 bits (fp64 target) is skipped
                continue
            a = np.nextafter(f, 0.0)
            b = np.nextafter(f, np.inf)
            out += [f, a, b, np.nextafter(a, 0.0), np.nextafter(b, np.inf)]
    x = np.array(out, dtype=np.float64)
    x = x[np.isfinite(x)]
    return np.concatenate([x, -x])


@pytest.mark.parametrize("n", [pytest.param(100, id="n100"),
                               pytest.param(3000, id="n3000", marks=pytest.mark.slow)])
@pytest.mark.parametrize("fmt", ORACLE_FORMATS, ids=lambda f: f.name)
def test_oracle_ties_and_near_ties(fmt, n):
    x = ties_and_near_ties(fmt, n, seed=fmt.total_bits * 5 + fmt.exp_bits + n)
    assert x.size > 3 * n
    extra = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.7976931348623157e308,
                      float(fmt.max_finite), -float(fmt.max_finite)])
    x = np.concatenate([x, extra])
    for mode in DET:
        for overflow in ("ieee", "saturate"):
            want = np.array([oracle(v, fmt, mode, overflow) for v in x.tolist()])
            for path in ("reference", "fast"):
                got = _quantize(x, fmt, mode, overflow=overflow, path=path)
                ok = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
                bad = np.nonzero(~ok)[0]
                assert bad.size == 0, (mode, overflow, path, x[bad[:4]], got[bad[:4]], want[bad[:4]])


def test_bf16_0999_examples():
    """0.999 lies above the midpoint 0.998046875 of 0.99609375 = 1 - 2^-8 and 1 in bf16 (p = 8)."""
    assert quantize(0.999, "bf16") == 1.0 == oracle(0.999, get_format("bf16"), "rne")
    assert quantize(0.999, "bf16", "rtz") == 0.99609375 == oracle(0.999, get_format("bf16"), "rtz")
    assert get_format("bf16").encode(0.99609375) == 0x3F7F and get_format("bf16").encode(1.0) == 0x3F80


# ----------------------------------------------------------------- Hypothesis properties
PROP_FORMATS = [get_format(n) for n in ("bf16", "fp16", "fp8_e4m3fn", "fp8_e5m2", "fp8_e4m3", "fp6_e2m3",
                                        "fp4_e2m1", "e6m9", "tf32")] + [FloatFormat("e4m3_ftz", 4, 3, subnormals=False)]
fmts = st.sampled_from(PROP_FORMATS)
finite = st.floats(allow_nan=False, allow_infinity=False)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def fmt_and_x(draw, n=1):
    """A format and n values spread over its range (and occasionally anywhere in float64)."""
    fmt = draw(fmts)
    huge = float(fmt.max_finite)
    lo = float(fmt.min_subnormal) / 4

    def one():
        mag = draw(st.one_of(
            st.floats(min_value=lo, max_value=huge * 1.2),
            st.floats(min_value=0.0, max_value=float(fmt.min_normal) * 2),
            st.floats(min_value=0.5, max_value=4.0),
            finite.map(abs)))
        return -mag if draw(st.booleans()) else mag
    return fmt, [one() for _ in range(n)]


@SETTINGS
@given(fmt_and_x(2), st.sampled_from(DET))
def test_monotone(fx, mode):
    fmt, (x, y) = fx
    x, y = min(x, y), max(x, y)
    assert quantize(x, fmt, mode, overflow="saturate") <= quantize(y, fmt, mode, overflow="saturate")


@SETTINGS
@given(fmt_and_x(), st.sampled_from(DET + ("sr",)), st.sampled_from(("ieee", "saturate")))
def test_idempotent_and_representable(fx, mode, overflow):
    fmt, (x,) = fx
    q = quantize(x, fmt, mode, overflow=overflow, rng=np.random.default_rng(0))
    if math.isnan(q):
        return
    assert is_representable(np.array([q]), fmt)[0] or (math.isinf(q) and fmt.has_inf)
    for m2 in DET:
        q2 = quantize(q, fmt, m2, overflow=overflow)
        assert q2 == q and math.copysign(1, q2) == math.copysign(1, q)


@SETTINGS
@given(fmt_and_x(), st.sampled_from(("ieee", "saturate")))
def test_odd_symmetry(fx, overflow):
    fmt, (x,) = fx
    for mode in ("rne", "rna", "rtz"):
        a, b = quantize(-x, fmt, mode, overflow=overflow), quantize(x, fmt, mode, overflow=overflow)
        assert (math.isnan(a) and math.isnan(b)) or (np.float64(a).view(np.uint64) == np.float64(-b).view(np.uint64))
    a, b = quantize(-x, fmt, "rup", overflow=overflow), quantize(x, fmt, "rdn", overflow=overflow)
    assert (math.isnan(a) and math.isnan(b)) or (np.float64(a).view(np.uint64) == np.float64(-b).view(np.uint64))


@SETTINGS
@given(fmt_and_x(), st.sampled_from(DET + ("sr",)))
def test_result_is_a_neighbour(fx, mode):
    fmt, (x,) = fx
    huge = float(fmt.max_finite)
    if abs(x) > huge:
        return
    lo, hi = quantize(x, fmt, "rdn"), quantize(x, fmt, "rup")
    X = Fraction(x)
    assert Fraction(lo) <= X <= Fraction(hi)
    if lo == hi:
        assert Fraction(lo) == X
    else:
        assert Fraction(hi) - Fraction(lo) == fmt.ulp(x)
    q = quantize(x, fmt, mode, rng=np.random.default_rng(1))
    assert q in (lo, hi)


@SETTINGS
@given(fmt_and_x(), st.sampled_from(DET + ("sr",)))
def test_relative_error_bound_in_normal_range(fx, mode):
    fmt, (x,) = fx
    if not (float(fmt.min_normal) <= abs(x) <= float(fmt.max_finite)):
        return
    q = quantize(x, fmt, mode, rng=np.random.default_rng(2))
    if math.isinf(q) or math.isnan(q):  # only rna/rne just above huge... excluded by the range check
        pytest.fail(f"{x} in range gave {q}")
    err = abs(Fraction(q) - Fraction(x)) / abs(Fraction(x))
    bound = fmt.rel_error_bound(mode)
    assert err <= bound
    if not fmt.rel_error_bound_attained(mode):
        assert err < bound


def test_relative_error_bound_is_sharp():
    """The nearest bound is attained at 1 + u; the directed suprema are approached from inside."""
    for fmt in PROP_FORMATS:
        u = fmt.unit_roundoff("rne")
        x = 1 + u
        assert abs(Fraction(quantize(float(x), fmt)) - x) / x == fmt.rel_error_bound("rne")
        # just above 1 rup errs by almost one ulp
        x = float(1 + Fraction(1, 2**40))
        err = abs(Fraction(quantize(x, fmt, "rup")) - Fraction(x)) / Fraction(x)
        assert err < fmt.rel_error_bound("rup") and err > fmt.rel_error_bound("rup") * (1 - Fraction(1, 2**29))
