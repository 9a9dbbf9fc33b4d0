"""Format registry: exact constants against known values, encode/decode over every pattern, ulp,
eXmY parsing and refusals."""
from fractions import Fraction as F

import ml_dtypes
import numpy as np
import pytest

from qbound.numeric.errors import InputError
from qbound.numeric.formats import (ROUNDING_MODES, FloatFormat, FormatError, check_rounding, get_format,
                             registry)

P2 = lambda e: F(2) ** e  # noqa: E731

# name: (bits, p, emin, emax, max_finite, min_normal, min_subnormal)
KNOWN = {
    "fp64": (64, 53, -1022, 1023, (2 - P2(-52)) * P2(1023), P2(-1022), P2(-1074)),
    "fp32": (32, 24, -126, 127, F(340282346638528859811704183484516925440), P2(-126), P2(-149)),
    "tf32": (19, 11, -126, 127, (2 - P2(-10)) * P2(127), P2(-126), P2(-136)),
    "fp16": (16, 11, -14, 15, F(65504), P2(-14), P2(-24)),
    "bf16": (16, 8, -126, 127, F(338953138925153547590470800371487866880), P2(-126), P2(-133)),
    "fp8_e5m2": (8, 3, -14, 15, F(57344), P2(-14), P2(-16)),
    "fp8_e4m3fn": (8, 4, -6, 8, F(448), P2(-6), P2(-9)),
    "fp8_e4m3": (8, 4, -6, 7, F(240), P2(-6), P2(-9)),
    "fp6_e3m2": (6, 3, -2, 4, F(28), P2(-2), P2(-4)),
    "fp6_e2m3": (6, 4, 0, 2, F(15, 2), F(1), P2(-3)),
    "fp4_e2m1": (4, 2, 0, 2, F(6), F(1), F(1, 2)),
}

ML = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp32": np.float32, "fp64": np.float64,
      "fp8_e5m2": ml_dtypes.float8_e5m2, "fp8_e4m3fn": ml_dtypes.float8_e4m3fn,
      "fp8_e4m3": ml_dtypes.float8_e4m3, "fp6_e3m2": ml_dtypes.float6_e3m2fn,
      "fp6_e2m3": ml_dtypes.float6_e2m3fn, "fp4_e2m1": ml_dtypes.float4_e2m1fn}

SMALL = [f for f in registry().values() if f.total_bits <= 16] + [get_format("e3m4"), get_format("e2m2"),
                                                                  FloatFormat("e4m2_ftz", 4, 2, subnormals=False),
                                                                  FloatFormat("e3m3fn_ftz", 3, 3, policy="fn", subnormals=False)]


def test_registry_is_complete():
    assert set(registry()) == set(KNOWN)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_exact_constants(name):
    f = get_format(name)
    bits, p, emin, emax, huge, tiny, sub = KNOWN[name]
    assert (f.total_bits, f.p, f.emin, f.emax) == (bits, p, emin, emax)
    assert f.max_finite == huge and f.min_normal == tiny and f.min_subnormal == sub
    for c in (f.max_finite, f.min_normal, f.min_subnormal):
        assert isinstance(c, F)


@pytest.mark.parametrize("name", sorted(ML))
def test_constants_match_ml_dtypes_finfo(name):
    f, fi = get_format(name), ml_dtypes.finfo(ML[name])
    assert F(float(fi.max)) == f.max_finite
    assert F(float(fi.smallest_normal)) == f.min_normal
    assert F(float(fi.smallest_subnormal)) == f.min_subnormal
    assert fi.nmant == f.man_bits


def test_unit_roundoff_and_bounds():
    f = get_format("bf16")
    assert f.unit_roundoff("rne") == P2(-8) and f.unit_roundoff("rtz") == P2(-7)
    assert f.rel_error_bound("rne") == P2(-8) / (1 + P2(-8))
    assert f.rel_error_bound("rtz") == P2(-7) / (1 + P2(-7))
    assert f.rel_error_bound("rup") == P2(-7) == f.rel_error_bound("sr")
    assert f.rel_error_bound_attained("rna") and not f.rel_error_bound_attained("rdn")
    # the nearest bound is attained at the tie 1 + u
    x = 1 + f.unit_roundoff("rne")
    from qbound.numeric.rounding import quantize
    assert abs(F(quantize(float(x), f)) - x) / x == f.rel_error_bound("rne")


def test_overflow_threshold():
    e4m3fn, e5m2 = get_format("fp8_e4m3fn"), get_format("fp8_e5m2")
    assert e4m3fn.overflow_threshold() == 464 and not e4m3fn.overflows_at_tie("rne")
    assert e5m2.overflow_threshold() == 61440 and e5m2.overflows_at_tie("rne")
    assert e4m3fn.overflows_at_tie("rna")


def test_ulp():
    f = get_format("bf16")
    assert f.ulp(1) == P2(-7) and f.ulp(F(3, 2)) == P2(-7) and f.ulp(2) == P2(-6)
    assert f.ulp(F(-1, 2)) == P2(-8)
    assert f.ulp(0) == f.min_subnormal == f.ulp(P2(-130))
    e4 = get_format("e4m3fn")
    assert e4.ulp(448) == 32 and e4.ulp(P2(-6)) == P2(-9) and e4.ulp(P2(-8)) == P2(-9)
    ftz = FloatFormat("x", 4, 3, subnormals=False)
    assert ftz.ulp(P2(-8)) == ftz.min_normal == ftz.min_subnormal


@pytest.mark.parametrize("fmt", SMALL, ids=lambda f: f.name)
def test_encode_decode_every_pattern(fmt):
    """decode(b) then encode gives b back for every pattern (one canonical pattern for NaN)."""
    bits, vals = fmt.all_patterns_values()
    assert bits.size == 1 << fmt.total_bits
    nan_count = 0
    for b, v in zip(bits.tolist(), vals.tolist()):
        d = fmt.decode(b)
        assert (d == v) or (d != d and v != v)
        if d != d:
            nan_count += 1
            assert np.isnan(fmt.decode(fmt.encode(d)))
            continue
        if d == 0 and not fmt.subnormals and (b & ((1 << fmt.man_bits) - 1)):
            continue  # flushed patterns decode to zero; zero encodes to the canonical pattern
        assert fmt.encode(d) == b, (fmt.hex(b), d)
        assert np.signbit(d) == bool(b >> (fmt.total_bits - 1))
    m = fmt.man_bits
    expected_nan = {"ieee": 2 * ((1 << m) - 1), "fn": 2, "none": 0}[fmt.policy]
    assert nan_count == expected_nan


@pytest.mark.parametrize("name", sorted(ML))
def test_all_patterns_match_ml_dtypes(name):
    f = get_format(name)
    if f.total_bits > 16:
        pytest.skip("enumeration only up to 16 bits")
    bits, vals = f.all_patterns_values()
    dt = np.dtype(ML[name])
    raw = bits.astype({1: np.uint8, 2: np.uint16}[dt.itemsize])
    with np.errstate(invalid="ignore"):
        ml = raw.view(dt).astype(np.float64)
    assert np.array_equal(vals, ml, equal_nan=True)


def test_encode_refuses_unrepresentable():
    f = get_format("bf16")
    with pytest.raises(ValueError):
        f.encode(0.999)
    with pytest.raises(ValueError):
        get_format("e4m3fn").encode(float("inf"))
    with pytest.raises(ValueError):
        get_format("fp4").encode(float("nan"))
    with pytest.raises(ValueError):
        get_format("e4m3fn").encode(480.0)
    assert f.encode(-0.0) == 0x8000 and f.hex(0x3f7f) == "0x3f7f"
    assert get_format("fp4").hex(0x7) == "0x7"


def test_finite_values_counts():
    assert get_format("fp4").finite_values().size == 15  # +-0 collapse to one
    assert get_format("fp8_e4m3fn").finite_values(positive_only=True).size == 126
    assert get_format("fp8_e5m2").finite_values(positive_only=True).size == 123


def test_exmy_parsing():
    f = get_format("e5m7")
    assert (f.exp_bits, f.man_bits, f.bias, f.policy, f.subnormals) == (5, 7, 15, "ieee", True)
    assert get_format("E6M9").man_bits == 9 and get_format("fp12_e5m6").total_bits == 12
    assert get_format("e11m52").name == "fp64" and get_format("bfloat16").name == "bf16"
    assert get_format(" Float8-E4M3FN ").name == "fp8_e4m3fn"
    assert get_format(f) is f
    assert get_format("e11m40").emin == -1022


@pytest.mark.parametrize("bad,needle", [
    ("e1m3", "2 <= X <= 11"), ("e12m3", "2 <= X <= 11"), ("e5m0", "1 <= Y <= 52"),
    ("e11m53", "1 <= Y <= 52"), ("fp10_e5m6", "12 bits"), ("bf61", "bf16"), ("fp8_e4m3f", "fp8_e4m3"),
    ("float33", "Accepted"),
])
def test_format_refusals(bad, needle):
    with pytest.raises(InputError) as ei:
        get_format(bad)
    assert needle in str(ei.value)
    assert isinstance(ei.value, FormatError)


def test_rounding_refusal():
    for m in ROUNDING_MODES:
        assert check_rounding(m) == m
    with pytest.raises(InputError, match="rne"):
        check_rounding("rn")
    with pytest.raises(InputError, match="Accepted"):
        check_rounding("nearest-even")


def test_describe_is_json_stable():
    import json
    d = get_format("fp8_e4m3fn").describe()
    assert d["max_finite"] == "448" and d["min_subnormal"] == "1/512"
    assert list(d["unit_roundoff"]) == list(ROUNDING_MODES)
    json.dumps(d)


def test_bad_dataclass_fields():
    with pytest.raises(FormatError):
        FloatFormat("x", 4, 3, policy="weird")
    with pytest.raises(FormatError):
        FloatFormat("x", 4, 0, policy="fn")
    with pytest.raises(FormatError):
        FloatFormat("x", 11, 52, bias=2000)
