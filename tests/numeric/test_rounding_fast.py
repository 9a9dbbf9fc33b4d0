"""The compiled kernel (numeric._kernel_numba) agrees bit for bit with the numpy reference.

Inputs are large mixed samples: uniformly random float64 / float32 bit patterns (every exponent,
NaN payloads, subnormals), values a few float64 ulps around every kind of grid point of the target
(exact ties, near-ties, binade boundaries, tiny, huge, the overflow threshold), and the specials.
Every registry format plus some eXmY and flush-to-zero formats, every mode, both overflow policies,
float64 and float32 input, SR with caller-supplied random integers and with an rng.
"""
import numpy as np
import pytest

from qbound.numeric.formats import FloatFormat, get_format, registry
from qbound.numeric.rounding import FAST_MIN_SIZE, _quantize, quantize, result_dtype, sr_random_stream

pytest.importorskip("numba")

MODES = ("rne", "rna", "rtz", "rup", "rdn")
FORMATS = list(registry().values()) + [
    get_format("e3m4"), get_format("e6m9"), get_format("e11m40"), get_format("e8m1"),
    FloatFormat("e5m2_ftz", 5, 2, subnormals=False),
    FloatFormat("e4m3fn_ftz", 4, 3, policy="fn", subnormals=False),
    FloatFormat("e2m0_none", 2, 0, policy="none"),
    FloatFormat("e8m3_bias140", 8, 3, bias=140),  # emin = -139 < float32's -126 (float32 holds it all)
]


def tricky_inputs(fmt: FloatFormat, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64)
    e = rng.integers(fmt.emin - fmt.man_bits - 3, fmt.emax + 2, n)
    frac = rng.integers(0, 2 ** min(fmt.man_bits + 2, 52), n).astype(np.float64)
    with np.errstate(over="ignore"):
        grid = np.ldexp(1.0 + frac / 2.0 ** (fmt.man_bits + 1), e)  # grid points and exact ties
    grid = grid[np.isfinite(grid)]
    near = (grid.view(np.int64) + rng.integers(-3, 4, grid.size)).view(np.float64)
    near = near * rng.choice([-1.0, 1.0], near.size)
    with np.errstate(over="ignore"):
        edges = _edges(fmt)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324,
                1.7976931348623157e308, -1.7976931348623157e308, 2.2250738585072014e-308]
    return np.concatenate([raw, near, np.array(edges), np.array(specials)])


def _edges(fmt):
    huge, tiny = float(fmt.max_finite), float(fmt.min_normal)
    sub = float(fmt.min_subnormal)
    edges = []
    for v in (huge, tiny, sub, huge + float(fmt.ulp(fmt.max_finite)) / 2, sub / 2, tiny / 2, 1.0):
        if np.isfinite(v):
            for t in (np.nextafter(v, 0), v, np.nextafter(v, np.inf)):
                edges += [t, -t]
    return edges


def _bits(a):
    a = np.asarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def same_bits(a, b):
    """Same dtype and the same bit pattern in every element (NaN payloads and -0.0 included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_equals_reference_deterministic(fmt, dtype):
    x = tricky_inputs(fmt, 6000, seed=fmt.total_bits * 7 + fmt.exp_bits)
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(dtype)
    if dtype == np.float32:  # every float32 exponent, subnormals and NaN payloads too
        raw32 = np.random.default_rng(5).integers(0, 2**32, 6000, dtype=np.uint64).astype(np.uint32)
        x = np.concatenate([x, raw32.view(np.float32)])
    for mode in MODES:
        for ov in ("ieee", "saturate"):
            a = _quantize(x, fmt, mode, overflow=ov, path="fast")
            b = _quantize(x, fmt, mode, overflow=ov, path="reference")
            assert a.dtype == b.dtype == result_dtype(dtype, fmt)
            bad = np.nonzero(_bits(a) != _bits(b))[0]
            assert bad.size == 0, (mode, ov, x[bad[:5]], a[bad[:5]], b[bad[:5]])
            # the float64 result (the old return type, and what out=float64 gives) has the same values
            c = _quantize(x, fmt, mode, overflow=ov, path="fast", out=np.empty(x.shape))
            assert same_bits(c.astype(a.dtype), a)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_fast_equals_reference_sr(fmt):
    rng = np.random.default_rng(fmt.total_bits)
    x = tricky_inputs(fmt, 3000, seed=fmt.total_bits + 1)
    for dtype in (np.float64, np.float32):
        with np.errstate(over="ignore", invalid="ignore"):
            xx = x.astype(dtype)
        for k in (64, 1, 5, 23, 40):
            R = rng.integers(0, 2**64, xx.size, dtype=np.uint64) >> np.uint64(64 - k)
            for ov in ("ieee", "saturate"):
                a = _quantize(xx, fmt, "sr", sr_bits=k, sr_random=R, overflow=ov, path="fast")
                b = _quantize(xx, fmt, "sr", sr_bits=k, sr_random=R, overflow=ov, path="reference")
                assert same_bits(a, b), (k, ov)
            a = _quantize(xx, fmt, "sr", sr_bits=k, rng=np.random.default_rng(k), path="fast")
            b = _quantize(xx, fmt, "sr", sr_bits=k, rng=np.random.default_rng(k), path="reference")
            assert same_bits(a, b), k


def test_sr_stream_numpy_equals_compiled():
    from qbound.numeric._kernel_numba import splitmix_stream
    for key in (0, 1, 2**63 + 12345, 2**64 - 1):
        for k in (1, 7, 64):
            assert np.array_equal(sr_random_stream(key, 1000, k), splitmix_stream(key, 1000, k))
    # SplitMix64 reference values (seed 0): first outputs of the published generator
    assert int(sr_random_stream(0, 1)[0]) == 0xE220A8397B1DCDAF


def test_auto_path_switches_and_agrees():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(FAST_MIN_SIZE * 2).astype(np.float32)
    big = quantize(x, "fp8_e4m3fn")
    small = np.concatenate([quantize(c, "fp8_e4m3fn") for c in np.split(x, 8)])
    assert same_bits(big, small)
    # SR with the same seed: the same stream whichever kernel runs it
    a = quantize(x, "bf16", "sr", rng=np.random.default_rng(9))
    b = _quantize(x, "bf16", "sr", rng=np.random.default_rng(9), path="reference")
    assert same_bits(a, b)


def test_fast_path_shapes_and_dtypes():
    import ml_dtypes
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 96)).astype(np.float32)
    out = quantize(x, "bf16")
    assert out.shape == x.shape and out.dtype == np.float32
    assert quantize(x, "e11m4").dtype == np.float64 and quantize(x, "e5m30").dtype == np.float64
    assert same_bits(out, _quantize(x, "bf16", path="reference"))
    xt = np.asfortranarray(x.astype(np.float64))[:, ::2]  # non-contiguous
    assert same_bits(_quantize(xt, "e4m3", path="fast"), _quantize(xt, "e4m3", path="reference"))
    for dt in (np.float16, ml_dtypes.bfloat16):
        xd = x.astype(dt)
        assert same_bits(_quantize(xd, "fp8_e5m2", path="fast"),
                         _quantize(xd, "fp8_e5m2", path="reference"))


def test_threaded_chunks_equal_reference(monkeypatch):
    """Splitting over threads changes nothing (also the SR stream, which is indexed globally)."""
    from qbound.numeric import _kernel_numba as K
    monkeypatch.setattr(K, "THREAD_MIN_SIZE", 1000)
    monkeypatch.setenv("QBOUND_THREADS", "3")
    x = tricky_inputs(get_format("bf16"), 5000, seed=11)
    for mode in MODES:
        assert same_bits(_quantize(x, "bf16", mode, path="fast"), _quantize(x, "bf16", mode, path="reference"))
    for k in (64, 9):
        a = _quantize(x, "e4m3", "sr", sr_bits=k, rng=np.random.default_rng(1), path="fast")
        b = _quantize(x, "e4m3", "sr", sr_bits=k, rng=np.random.default_rng(1), path="reference")
        assert same_bits(a, b)
        R = np.random.default_rng(2).integers(0, 2**k, x.size, dtype=np.uint64)
        a = _quantize(x, "e4m3", "sr", sr_bits=k, sr_random=R, path="fast")
        b = _quantize(x, "e4m3", "sr", sr_bits=k, sr_random=R, path="reference")
        assert same_bits(a, b)


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_out_and_in_place(path):
    """out= writes into a float32 or float64 array (also x itself) and gives the same bits."""
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(5000) * np.exp2(rng.integers(-30, 30, 5000))).astype(np.float32)
    for fmt in ("bf16", "fp8_e4m3fn", "fp4_e2m1", "e8m1"):
        for mode in ("rne", "rdn", "sr"):
            ref = _quantize(x, fmt, mode, rng=np.random.default_rng(1), path="reference")
            o32 = np.full(x.shape, 7.0, dtype=np.float32)
            r = _quantize(x, fmt, mode, rng=np.random.default_rng(1), path=path, out=o32)
            assert r is o32 and same_bits(o32, ref)
            o64 = np.empty(x.shape)
            _quantize(x, fmt, mode, rng=np.random.default_rng(1), path=path, out=o64)
            assert same_bits(o64.astype(np.float32), ref)
            y = x.copy()
            assert _quantize(y, fmt, mode, rng=np.random.default_rng(1), path=path, out=y) is y
            assert same_bits(y, ref)
    # float64 in place, and a strided (non-contiguous) out
    x64 = x.astype(np.float64)
    ref = quantize(x64, "e5m7")
    y = x64.copy()
    quantize(y, "e5m7", out=y)
    assert same_bits(y, ref)
    big = np.zeros((2, x.size))
    quantize(x64, "e5m7", out=big[:, ::1][0])
    col = np.zeros((x.size, 2))
    quantize(x64, "e5m7", out=col[:, 1])
    assert same_bits(col[:, 1].copy(), ref) and same_bits(big[0].copy(), ref)


def test_out_refuses_what_cannot_hold_the_result():
    from qbound.numeric.errors import InputError
    x = np.ones(10, dtype=np.float32)
    with pytest.raises(InputError, match="cannot hold every fp64"):
        quantize(x, "fp64", out=np.empty(10, dtype=np.float32))
    with pytest.raises(InputError, match="cannot hold every bf16"):
        quantize(x, "bf16", out=np.empty(10, dtype=np.float16))
    with pytest.raises(InputError, match="shape"):
        quantize(x, "bf16", out=np.empty(11, dtype=np.float32))
    with pytest.raises(InputError, match="numpy array"):
        quantize(x, "bf16", out=[0.0] * 10)
    with pytest.raises(InputError, match="kernel must be"):
        quantize(x, "bf16", kernel="gpu")


def test_result_dtype_rule():
    """float32 exactly when every value of the format is a float32 (and the same for float16)."""
    f32 = {name for name, f in registry().items() if result_dtype(np.float32, f) == np.float32}
    assert f32 == set(registry()) - {"fp64"}
    assert result_dtype(np.float32, "e8m23") == np.float32 and result_dtype(np.float32, "e8m24") == np.float64
    assert result_dtype(np.float32, "e9m3") == np.float64  # range beyond float32
    assert result_dtype(np.float64, "bf16") == np.float64 and result_dtype(np.int32, "bf16") == np.float64
    assert result_dtype(np.float16, "fp8_e5m2") == np.float16 and result_dtype(np.float16, "bf16") == np.float64
    # bias 140: emin = -139 < -126 but the finest quantum 2^(emin - m) = 2^-142 is on the float32 grid,
    # so float32 holds it (the general kernel writes float32); with m = 21 the quantum 2^-150 is not
    # on it, although a rule on exponent and mantissa bits alone would say it fits
    x = np.float32([2.0 ** -140, 3.0, 2.0 ** -149, -1.7e-42])
    fits = FloatFormat("lowbias", 8, 3, bias=140)
    assert result_dtype(np.float32, fits) == np.float32
    assert same_bits(quantize(x, fits, kernel="compiled"), _quantize(x, fits, path="reference"))
    lowbias = FloatFormat("lowbias2", 8, 21, bias=130)
    assert lowbias.exp_bits <= 8 and lowbias.man_bits <= 23 and result_dtype(np.float32, lowbias) == np.float64
    assert same_bits(quantize(x, lowbias, kernel="compiled"), _quantize(x, lowbias, path="reference"))


def test_rounding_mode_enum_is_accepted_everywhere():
    from qbound.numeric.modes import RoundingMode
    from qbound.numeric.quantplan import CompQuant
    x = np.float32([1.00390625, -2.5, 1e-3])
    for mode in RoundingMode:
        a = quantize(x, "bf16", mode, rng=np.random.default_rng(0))
        b = quantize(x, "bf16", mode.value, rng=np.random.default_rng(0))
        assert same_bits(a, b)
    cq = CompQuant("bf16", RoundingMode.SR)
    assert cq.rounding == "sr" and type(cq.rounding) is str and str(cq) == "bf16:sr"
