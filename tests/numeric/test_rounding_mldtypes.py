"""quantize(rne) against ml_dtypes' casts (round to nearest even, IEEE overflow as ml_dtypes does it).

* every float16 and every bfloat16 input into every ml_dtypes format with fewer mantissa bits
  (bf16, fp8 e4m3fn/e5m2/e4m3/e3m4, fp6 e3m2/e2m3, fp4 e2m1, and fp16 from bf16);
* large samples of float32 inputs rich in exact ties, near-ties (a few float32 ulps off), binade
  boundaries, the subnormal range of the target, the overflow threshold and beyond, and specials.

Documented difference: a NaN input into a format without NaN (fp6, fp4) gives NaN from quantize
(there is no honest value to return) and -0.0 from ml_dtypes; those inputs are checked separately.
ml_dtypes is reached through float32 (exact for every source here) and also directly from the
source dtype; both must agree with quantize.
"""
import ml_dtypes
import numpy as np
import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import _quantize, quantize, result_dtype

TARGETS = {
    "bf16": ml_dtypes.bfloat16,
    "fp16": np.float16,
    "fp8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp8_e4m3": ml_dtypes.float8_e4m3,
    "e3m4": ml_dtypes.float8_e3m4,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}
SOURCES = {"fp16": np.float16, "bf16": ml_dtypes.bfloat16}


def all_values(dtype) -> np.ndarray:
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


def ml_round(x, dtype) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(x).astype(dtype).astype(np.float64)


def assert_same(ours, ref, x, label):
    ob, rb = ours.view(np.uint64), ref.view(np.uint64)
    ok = (ob == rb) | (np.isnan(ours) & np.isnan(ref))
    bad = np.nonzero(~ok)[0]
    assert bad.size == 0, f"{label}: {bad.size} differ, e.g. x={x[bad[:4]]} ours={ours[bad[:4]]} ml={ref[bad[:4]]}"


def check(x, name, label, direct=True):
    fmt, dt = get_format(name), TARGETS[name]
    with np.errstate(invalid="ignore"):
        x64 = np.asarray(x).astype(np.float64)
    ours = quantize(x, fmt)
    assert ours.dtype == result_dtype(np.asarray(x).dtype, fmt)
    ours = ours.astype(np.float64)  # exact: the result dtype holds every value of fmt
    nan_in = np.isnan(x64)
    if not fmt.has_nan:
        assert np.all(np.isnan(ours[nan_in])), "NaN input must give NaN"
        assert np.all(ml_round(x64[nan_in], dt) == 0)  # the documented ml_dtypes behaviour (-0)
        keep = ~nan_in
        x, x64, ours = np.asarray(x)[keep], x64[keep], ours[keep]
    with np.errstate(invalid="ignore"):
        x32 = x.astype(np.float32)
    assert_same(ours, ml_round(x32, dt), x64, f"{label} via float32")
    if direct:
        assert_same(ours, ml_round(x, dt), x64, f"{label} direct")


@pytest.mark.parametrize("src", sorted(SOURCES))
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_exhaustive_16bit_sources(src, name):
    fmt = get_format(name)
    sfmt = get_format(src)
    if fmt.man_bits >= sfmt.man_bits and fmt.name != "fp16":
        pytest.skip("target is not narrower")
    if fmt.name == src:
        pytest.skip("identity")
    x = all_values(SOURCES[src])
    check(x, name, f"{src}->{name}")
    # the numpy reference kernel agrees too (quantize above used the compiled path)
    ref = _quantize(x, name, "rne", path="reference")
    assert np.array_equal(ref, quantize(x, name), equal_nan=True)


def float32_samples(fmt, n, seed):
    """float32 values rich in ties, near-ties, boundaries, subnormals and overflow for ``fmt``."""
    rng = np.random.default_rng(seed)
    m = fmt.man_bits
    parts = [rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)]
    lo = max(fmt.emin - m - 4, -149)
    hi = min(fmt.emax + 3, 127)
    e = rng.integers(lo, hi + 1, n)
    frac = rng.integers(0, 2 ** (m + 1), n).astype(np.float64)
    ties = np.ldexp(1.0 + frac / 2.0 ** (m + 1), e)  # grid points (even frac) and exact ties (odd)
    with np.errstate(over="ignore"):
        t32 = ties.astype(np.float32)
    t32 = t32[np.isfinite(t32)]
    jitter = rng.integers(-2, 3, t32.size).astype(np.int64)
    near = (t32.view(np.int32).astype(np.int64) + jitter)
    near = near[(near >= 0) & (near < 0x7F800000)].astype(np.int32).view(np.float32)
    parts += [t32, near]
    huge, tiny, sub = (float(fmt.max_finite), float(fmt.min_normal), float(fmt.min_subnormal))
    thr = float(fmt.overflow_threshold())
    edge = np.array([huge, tiny, sub, thr, sub / 2, tiny / 2, thr * 2, 1.0], dtype=np.float64)
    with np.errstate(over="ignore"):
        e32 = edge.astype(np.float32)
        e32 = np.concatenate([np.nextafter(e32, np.float32(0)), e32, np.nextafter(e32, np.float32(np.inf))])
    parts.append(e32)
    parts.append(np.array([0.0, np.inf, np.nan, 1e-45, 3.4028235e38], dtype=np.float32))
    x = np.concatenate(parts)
    return np.concatenate([x, -x])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_float32_samples(name):
    fmt = get_format(name)
    x = float32_samples(fmt, 200_000, seed=fmt.total_bits * 13 + fmt.man_bits)
    check(x, name, f"float32->{name}", direct=True)


def test_float64_inputs_into_float32():
    """float64 -> float32 is numpy's own correctly rounded cast."""
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64),
                        rng.standard_normal(100_000) * 1e-40, rng.standard_normal(1000) * 1e38])
    with np.errstate(over="ignore", invalid="ignore"):
        ref = x.astype(np.float32).astype(np.float64)
    assert_same(quantize(x, "fp32"), ref, x, "float64->fp32")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bf16", "fp16", "fp8_e4m3fn", "fp8_e5m2"])
def test_every_float32_input(name):
    """All 2^32 float32 patterns (in chunks of 2^26), except NaNs compared as NaN."""
    dt = TARGETS[name]
    step = 1 << 26
    for start in range(0, 1 << 32, step):
        x = np.arange(start, start + step, dtype=np.uint64).astype(np.uint32).view(np.float32)
        ours = quantize(x, name)
        ref = ml_round(x, dt)
        ok = (ours.view(np.uint64) == ref.view(np.uint64)) | (np.isnan(ours) & np.isnan(ref))
        assert ok.all(), (name, hex(start), x[~ok][:4], ours[~ok][:4], ref[~ok][:4])
