"""Bit-exact rounding of real values into any :class:`~numeric.formats.FloatFormat`.

Every input is taken exactly (as if widened to float64, which is exact for float16/32/64 and every
ml_dtypes type), so the result is the correctly rounded value of the *exact* input: there is no
double rounding. The result is stored in the input's float dtype when that dtype holds every value
of the format (float32 input to bf16, fp16, tf32, FP8, FP6, FP4 stays float32), else in float64
(:func:`result_dtype`); ``out=`` writes into a given array, also in place.

Let x != 0 be finite, e = floor(log2|x|), and let the target have m stored mantissa bits and smallest
normal exponent emin. The representable values near x are the integer multiples of the quantum

    q(x) = 2^(max(e, emin) - m)           (subnormals on)
    q(x) = 2^(e - m) if e >= emin else 2^emin   (subnormals flushed: the grid below tiny is {0, tiny})

Write |x| = (k + r) q with k an integer and 0 <= r < 1. The modes choose k or k + 1 for |x|:

* ``rne``  nearest, ties to even k;           ``rna``  nearest, ties away from zero;
* ``rtz``  toward zero (k);                    ``rup``  toward +inf;   ``rdn``  toward -inf;
* ``sr``   stochastic: k + 1 with probability r, k otherwise, so E[Q(x)] = x when enough random
  bits are used (see :func:`quantize`).

Then the sign is reapplied (so -0.0 is kept and tiny negatives round to -0.0). A result above the
largest finite value overflows: under ``overflow="ieee"`` it becomes +-inf for IEEE-like formats, NaN
for OCP "fn" formats (as ml_dtypes does) when the mode rounds away from zero, and +-huge when it
rounds toward zero (rtz, or rup/rdn on the side that goes toward zero); formats with neither inf nor
NaN saturate (as ml_dtypes does). ``overflow="saturate"`` always gives +-huge.

NaN inputs give NaN (also for formats that have no NaN encoding; ml_dtypes returns -0 there).

Two kernels compute this, bit for bit the same (tests/numeric/test_rounding_fast.py): the numpy
reference :func:`_round_reference` (the oracle, and the path for small inputs before the compiled
kernel is loaded) and the compiled numeric._kernel_numba (numba; float32 input is rounded from its
32-bit patterns, which is the same as widening it first, in one vectorized pass when the result is
float32). For ``sr`` with an ``rng`` both draw one 64-bit key from the generator and use the
SplitMix64 counter stream :func:`sr_random_stream` (numeric.splitmix), so a seed gives the same
result on either kernel and for any thread count. :func:`quantize_exact` rounds
exact rationals (e.g. decimal strings) the same way without going through float64.
"""
from __future__ import annotations

import functools
import sys

import numpy as np

from qbound.numeric.errors import InputError, did_you_mean
from qbound.numeric.formats import FloatFormat, FormatError, check_rounding, get_format
from qbound.numeric.splitmix import sr_random_stream

__all__ = ["quantize", "quantize_exact", "is_representable", "result_dtype", "holds", "overflow_magnitudes",
           "compiled_kernel", "sr_random_stream", "check_overflow", "OVERFLOW_POLICIES", "KERNELS",
           "FAST_MIN_SIZE"]

OVERFLOW_POLICIES = ("ieee", "saturate")

_U64 = np.uint64
_MANT_MASK = _U64((1 << 52) - 1)
_ABS_MASK = _U64((1 << 63) - 1)
_IMPLICIT = _U64(1 << 52)


def check_overflow(policy: str) -> str:
    if policy not in OVERFLOW_POLICIES:
        hint = did_you_mean(policy, OVERFLOW_POLICIES, n=1, cutoff=0.3)
        raise FormatError(f"unknown overflow policy {policy!r}.{hint} Accepted: {', '.join(OVERFLOW_POLICIES)}.")
    return policy


def _as_float64(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        return np.asarray(arr, order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
    if arr.dtype.kind in "biu":
        out = arr.astype(np.float64)
        if arr.dtype.itemsize >= 8 and out.size and np.any(out.astype(arr.dtype) != arr):
            raise ValueError("integer input is not exactly representable in float64")
        return out
    if arr.dtype.kind == "c":
        raise TypeError("complex input is not supported; quantize real and imaginary parts separately")
    if arr.dtype.kind == "O":
        raise TypeError("object arrays are not supported; pass numbers or a float array")
    # float16/32 and ml_dtypes types widen to float64 exactly (signaling NaNs become quiet NaNs)
    with np.errstate(invalid="ignore"):
        return arr.astype(np.float64)


def result_dtype(dtype, fmt) -> np.dtype:
    """The dtype :func:`quantize` returns for input of ``dtype`` rounded into ``fmt``.

    The input's own dtype when it is float16, float32 or float64 and every value of ``fmt`` (and
    +-inf and NaN) is exactly a value of it, so that nothing is lost by storing the result there;
    float64 otherwise (integers, ml_dtypes types, and e.g. float32 input rounded to a format with
    more than 23 mantissa bits or 8 exponent bits). A format's values lie in a binary dtype with
    mantissa bits D_m and exponent range [D_emin, D_emax] iff m <= D_m, emax <= D_emax and
    emin - m >= D_emin - D_m (its finest quantum is on the dtype's grid).

    >>> result_dtype(np.float32, "bf16"), result_dtype(np.float32, "e11m4"), result_dtype(np.int64, "bf16")
    (dtype('float32'), dtype('float64'), dtype('float64'))
    >>> result_dtype(np.float16, "fp8_e5m2"), result_dtype(np.float16, "bf16")
    (dtype('float16'), dtype('float64'))
    """
    dt = np.dtype(dtype)
    if dt in _NATIVE_FLOATS and holds(dt, get_format(fmt)):
        return dt
    return np.dtype(np.float64)


_NATIVE_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
#: (mantissa bits, emin, emax) of numpy's binary float dtypes
_DTYPE_GRID = {np.dtype(np.float16): (10, -14, 15), np.dtype(np.float32): (23, -126, 127),
               np.dtype(np.float64): (52, -1022, 1023)}


def holds(dtype, fmt: FloatFormat) -> bool:
    """Whether every value of ``fmt`` is exactly a value of the numpy float ``dtype``."""
    grid = _DTYPE_GRID.get(np.dtype(dtype))
    if grid is None:
        return False
    dm, demin, demax = grid
    return fmt.man_bits <= dm and fmt.emax <= demax and fmt.emin - fmt.man_bits >= demin - dm


KERNELS = ("auto", "compiled", "reference")


def quantize(x, fmt, rounding: str = "rne", *, rng=None, sr_bits: int | None = None,
             overflow: str = "ieee", sr_random=None, out=None, kernel: str = "auto"):
    """Round ``x`` into ``fmt``.

    Parameters
    ----------
    x : scalar or array of any real float dtype (float16/32/64, ml_dtypes) or integers.
    fmt : FloatFormat or a registry name (``"bf16"``, ``"e4m3fn"``, ``"e5m7"``...).
    rounding : one of ``rne, rna, rtz, rup, rdn, sr`` or a :class:`~qbound.numeric.modes.RoundingMode`.
    rng : ``numpy.random.Generator`` supplying the randomness for ``sr`` (required for ``sr`` unless
        ``sr_random`` is given). Each call takes exactly one 64-bit draw from ``rng``, the *key*; the
        random integers are then R_i = SplitMix64(key + i * 0x9E3779B97F4A7C15) >> (64 - k),
        i = 1..n in C order (:func:`sr_random_stream`). SplitMix64 is a counter-based generator, so
        the same seed gives bit-identical results on the numpy and the compiled path and whatever
        the array is split into.
    sr_bits : number k of random bits per value for ``sr`` (1..64, default 64). The rounding goes up
        iff R < floor(r * 2^k) with R uniform on {0..2^k-1}; it is exactly unbiased when the input's
        discarded part has at most k bits, and otherwise rounds up with probability
        floor(r 2^k) / 2^k, a downward bias in magnitude of less than 2^-k quanta.
    sr_random : optional integer array (broadcastable to x) of the random integers R in [0, 2^k)
        to use instead of drawing from ``rng`` (lets callers enumerate every random draw).
    overflow : ``"ieee"`` or ``"saturate"`` (see module docstring).
    out : optional ndarray of x's shape to write the result into and return: float64, or a float32
        (float16) array when every value of ``fmt`` is a float32 (float16) value. ``out=x`` rounds
        in place.
    kernel : ``"auto"`` (default), ``"compiled"`` (the numba kernel; RuntimeError without numba) or
        ``"reference"`` (the numpy oracle). Every kernel gives the same bits.

    Returns
    -------
    float for scalar input; else ``out``, or a new array of x's shape whose dtype is
    :func:`result_dtype`: **float32 for float32 input** whenever the format fits in float32 (at
    most 8 exponent and 23 mantissa bits with the standard range: bf16, fp16, tf32, every FP8, FP6
    and FP4 format), float16 for float16 input into a format that fits float16, float64 otherwise.
    The values are the same in every case; only the storage differs.

    >>> import numpy as np
    >>> quantize(np.float32([0.999, 3.0e-3]), "bf16")
    array([1.        , 0.00300598], dtype=float32)
    >>> quantize([0.999, 500.0], "fp8_e4m3fn")          # a list is float64 data; 500 > 464 is NaN
    array([ 1., nan])
    >>> x = np.float32([1.3, -2.7]); y = quantize(x, "fp4_e2m1", out=x); y is x, x.tolist()
    (True, [1.5, -3.0])

    With ``kernel="auto"``, arrays of at least ``FAST_MIN_SIZE`` elements run on the compiled kernel
    (numeric._kernel_numba) when numba is importable, and so does everything once that module has
    been imported in this process; smaller inputs before that use the numpy reference
    :func:`_round_reference` (no JIT import for a process that only rounds a few values).
    """
    fmt = get_format(fmt)
    rounding = check_rounding(rounding)
    check_overflow(overflow)
    if kernel not in KERNELS:
        raise InputError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    scalar = np.ndim(x) == 0 and not isinstance(x, np.ndarray) and out is None
    arr = np.asarray(x)
    if arr.dtype.kind in "cO":
        _as_float64(arr[:0])  # the one place that words the refusal
    want = result_dtype(arr.dtype, fmt)
    if out is not None:
        _check_out(out, arr.shape, fmt)
    comp = compiled_kernel()
    if kernel == "compiled":
        if comp is None:
            raise RuntimeError("the compiled kernel needs numba")
        use_fast = True
    elif kernel == "reference":
        use_fast = False
    else:
        # the compiled kernel once it is loaded (~10 us per call), else numpy below FAST_MIN_SIZE
        # elements so that short-lived processes (the CLI on a few values) never import numba
        use_fast = comp is not None and (arr.size >= FAST_MIN_SIZE or _COMPILED_MODULE in sys.modules)
    # the compiled kernel reads float32 patterns directly when the format's normal range starts at or
    # above float32's (emin >= -126: a float32 subnormal is then below the format's normal range, where
    # the quantum is fixed); otherwise the input is widened to float64 first, which is exact
    if use_fast and (arr.dtype == np.float64 or (arr.dtype == np.float32 and fmt.emin >= -126)):
        xin = np.asarray(arr, order="C")
    else:
        xin = _as_float64(arr)
    k, key, R = _sr_args(rounding, sr_bits, rng, sr_random, xin.shape)
    if use_fast:
        target = out if out is not None else np.empty(arr.shape, dtype=want)
        direct = (target.dtype in (np.float32, np.float64) and target.flags.c_contiguous
                  and target.flags.writeable
                  and (not np.shares_memory(target, xin) or _same_buffer(target, xin)))
        dest = target if direct else np.empty(arr.shape, dtype=np.float64)
        if R is not None:
            R = np.ascontiguousarray(R).reshape(-1)
        comp.round_fast(xin, _kernel_params(fmt, rounding, overflow), rounding, R=R, key=key, k=k, out=dest)
        if dest is not target:
            np.copyto(target, dest, casting="same_kind")
        res = target
    else:
        if rounding == "sr" and R is None:
            assert key is not None  # _sr_args gives sr_random or a key
            R = sr_random_stream(key, xin.size, k).reshape(xin.shape)
        res64 = _round_reference(xin, fmt, rounding, overflow, R, k)
        if out is not None:
            np.copyto(out, res64, casting="same_kind")
            res = out
        else:
            res = res64 if want == np.float64 else res64.astype(want)
    if scalar:
        return float(res.reshape(-1)[0])
    return res


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    """a and b are the same contiguous memory, element for element (in-place rounding is safe)."""
    return (a.dtype.itemsize == b.dtype.itemsize and a.size == b.size and b.flags.c_contiguous
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _check_out(out, shape, fmt: FloatFormat) -> None:
    if not isinstance(out, np.ndarray):
        raise InputError(f"out must be a numpy array, got {type(out).__name__}")
    if out.shape != shape:
        raise InputError(f"out has shape {out.shape}, the input {shape}")
    if out.dtype not in _NATIVE_FLOATS or not holds(out.dtype, fmt):
        raise InputError(f"out of dtype {out.dtype} cannot hold every {fmt.name} value; use float64"
                         + (" or float32" if holds(np.float32, fmt) else ""))
    if not out.flags.writeable:
        raise InputError("out is read-only")


def _sr_args(rounding: str, sr_bits, rng, sr_random, shape) -> tuple[int, int | None, np.ndarray | None]:
    """The one check of the stochastic-rounding arguments: (k, key, R).

    k: random bits per value (1..64); key: the one 64-bit draw from ``rng`` (None with ``sr_random``
    or for deterministic modes); R: ``sr_random`` broadcast to ``shape`` (values checked < 2^k).
    """
    if rounding != "sr":
        return 64, None, None
    k = 64 if sr_bits is None else int(sr_bits)
    if not (1 <= k <= 64):
        raise InputError(f"sr_bits must be in 1..64, got {sr_bits}")
    if sr_random is not None:
        R = np.broadcast_to(np.asarray(sr_random, dtype=np.uint64), shape)
        if k < 64 and np.any(R >> _U64(k)):
            raise InputError(f"sr_random values must be < 2^sr_bits = 2^{k}")
        return k, None, R
    if rng is None:
        raise InputError("stochastic rounding needs an explicit rng=numpy.random.Generator (or sr_random)")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
    return k, int(rng.integers(0, 1 << 64, dtype=np.uint64)), None


#: arrays smaller than this use the numpy reference (no JIT import, lowest overhead)
FAST_MIN_SIZE = 4096
_COMPILED_MODULE = "qbound.numeric._kernel_numba"


@functools.lru_cache(maxsize=1)
def compiled_kernel():
    """The compiled kernel module (numeric._kernel_numba), or None if numba is not available."""
    try:
        from qbound.numeric import _kernel_numba
    except ImportError:  # pragma: no cover - numba missing: numpy reference only
        return None
    return _kernel_numba


def _fast_module():
    """Old name of :func:`compiled_kernel`."""
    return compiled_kernel()


def overflow_magnitudes(fmt: FloatFormat, rounding: str, overflow: str) -> tuple[float, float, float]:
    """The one overflow rule: (over_pos, over_neg, inf_val), magnitudes as floats.

    ``over_pos`` / ``over_neg``: what a positive / negative finite input whose rounded magnitude
    exceeds huge = max_finite becomes; ``inf_val``: what an infinite input becomes. With
    ``overflow="saturate"``, or a format without inf and NaN (policy "none"), all three are huge.
    Otherwise a rounding that moves away from zero (rne, rna, sr; rup for x > 0, rdn for x < 0)
    overflows to big = inf (IEEE-like) or NaN (OCP "fn"), one toward zero stays at huge, and an
    infinite input becomes big.

    >>> overflow_magnitudes(get_format("fp8_e4m3fn"), "rup", "ieee")
    (nan, 448.0, nan)
    >>> overflow_magnitudes(get_format("fp4_e2m1"), "rne", "ieee")
    (6.0, 6.0, 6.0)
    """
    huge = float(fmt.max_finite)
    if overflow == "saturate" or fmt.policy == "none":
        return huge, huge, huge
    big = np.inf if fmt.has_inf else np.nan
    away_pos = rounding in ("rne", "rna", "sr", "rup")
    away_neg = rounding in ("rne", "rna", "sr", "rdn")
    return (big if away_pos else huge), (big if away_neg else huge), big


@functools.lru_cache(maxsize=256)
def _kernel_params(fmt: FloatFormat, rounding: str, overflow: str) -> dict:
    """Per-call constants of the compiled kernel: the grid, and what overflow/inf map to
    (:func:`overflow_magnitudes`); ``k32`` the constants of the 32-bit kernel (None when the format
    needs the general one: emin < -126, or values that are not float32 values)."""
    huge = float(fmt.max_finite)
    over_pos, over_neg, inf_val = overflow_magnitudes(fmt, rounding, overflow)
    k32 = None
    if fmt.man_bits <= 23 and fmt.emax <= 127 and fmt.emin >= -126:
        s0 = 23 - fmt.man_bits
        emin_b = fmt.emin + 127
        C = emin_b + (s0 if fmt.subnormals else 23)
        qe0 = fmt.emin - fmt.man_bits if fmt.subnormals else fmt.emin  # exponent of the fixed quantum
        shl = min(max(qe0 + 149, 0), 31)
        kth = min(max(1 << max(-125 - qe0, 0), 1), 1 << 31)
        k32 = (np.uint32(s0), np.uint32(emin_b), np.uint32(C), np.uint32(shl), np.uint32((qe0 << 23) & 0xFFFFFFFF),
               np.uint32(kth), np.float32(huge), np.float32(over_pos), np.float32(over_neg), np.float32(inf_val))
    return {"m": fmt.man_bits, "emin": fmt.emin, "subn": fmt.subnormals, "huge": huge,
            "over_pos": over_pos, "over_neg": over_neg, "inf_val": inf_val, "k32": k32}


def _quantize(x, fmt, rounding="rne", *, rng=None, sr_bits=None, overflow="ieee", sr_random=None,
              path="auto", out=None):
    """:func:`quantize` with the kernel named the old way: path "auto", "fast" or "reference"."""
    kernels = {"auto": "auto", "fast": "compiled", "compiled": "compiled", "reference": "reference"}
    if path not in kernels:
        raise ValueError(f"path must be auto, fast or reference, got {path!r}")
    return quantize(x, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow, sr_random=sr_random,
                    out=out, kernel=kernels[path])


def _round_reference(x64: np.ndarray, fmt: FloatFormat, rounding: str, overflow: str, R, k: int) -> np.ndarray:
    """Reference integer kernel in numpy (see module docstring for the mathematics).

    Kept as the oracle the compiled kernel is tested against, and used for small inputs.
    """
    shape = x64.shape
    xf = x64.reshape(-1)
    bits = xf.view(_U64)
    a = bits & _ABS_MASK
    neg = (bits >> _U64(63)).astype(bool)
    expf = (a >> _U64(52)).astype(np.int64)
    finite = expf < 2047
    mant = a & _MANT_MASK
    normal64 = expf > 0
    sig = np.where(normal64, mant | _IMPLICIT, mant)
    E = np.where(normal64, expf - 1023, -1022)  # |x| = sig * 2^(E - 52)
    m, emin = fmt.man_bits, fmt.emin
    below = E < emin
    qe = np.where(below, (emin - m) if fmt.subnormals else emin, E - m)
    s = qe - (E - 52)  # number of discarded bits, >= 0
    s_c = np.minimum(s, 63).astype(_U64)
    kept = sig >> s_c
    rem = sig & ((_U64(1) << s_c) - _U64(1))
    if rounding == "rne":
        half = _U64(1) << np.maximum(s_c, _U64(1)) - _U64(1)
        up = (s > 0) & ((rem > half) | ((rem == half) & ((kept & _U64(1)) == _U64(1))))
    elif rounding == "rna":
        half = _U64(1) << np.maximum(s_c, _U64(1)) - _U64(1)
        up = (s > 0) & (rem >= half)
    elif rounding == "rtz":
        up = np.zeros(xf.shape, dtype=bool)
    elif rounding == "rup":
        up = (rem > 0) & ~neg
    elif rounding == "rdn":
        up = (rem > 0) & neg
    else:  # sr
        # rem as a 64-bit binary fraction of the quantum: frac64 = floor(rem * 2^(64 - s))
        sh_left = np.clip(64 - s, 0, 63).astype(_U64)
        sh_right = np.clip(s - 64, 0, 63).astype(_U64)
        frac64 = np.where(s <= 64, rem << sh_left, rem >> sh_right)
        frac64 = np.where(s == 0, _U64(0), frac64)
        thresh = frac64 >> _U64(64 - k) if k < 64 else frac64
        Rf = np.asarray(R, dtype=_U64).reshape(-1)
        up = Rf < thresh
    kept = kept + up.astype(_U64)
    with np.errstate(over="ignore", invalid="ignore"):
        val = np.ldexp(kept.astype(np.float64), qe)
    huge = float(fmt.max_finite)
    over = finite & (val > huge)
    if np.any(over) or not np.all(finite):
        val = _apply_overflow(val, over, finite, neg, xf, fmt, rounding, overflow, huge)
    out = np.where(neg, -val, val)
    return out.reshape(shape)


def _apply_overflow(val, over, finite, neg, xf, fmt, rounding, overflow, huge):
    """Replace overflowed, infinite and NaN results by the values of :func:`overflow_magnitudes`."""
    over_pos, over_neg, inf_val = overflow_magnitudes(fmt, rounding, overflow)
    val = val.copy()
    val[over & ~neg] = over_pos
    val[over & neg] = over_neg
    val[np.isinf(xf)] = inf_val
    val[np.isnan(xf)] = np.nan
    return val


def is_representable(x, fmt) -> np.ndarray:
    """Elementwise: is x exactly a value of ``fmt`` (finite, or inf/NaN where the format has them)?"""
    fmt = get_format(fmt)
    x64 = _as_float64(x)
    with np.errstate(invalid="ignore"):
        q = _quantize(x64, fmt, "rtz", overflow="ieee")
        same = (q == x64) | (np.isnan(q) & np.isnan(x64))
    if not fmt.has_inf:
        same &= ~np.isinf(x64)
    if not fmt.has_nan:
        same &= ~np.isnan(x64)
    return same


#: old name of the reference kernel
_round_kernel = _round_reference


def quantize_exact(values, fmt, rounding: str = "rne", *, rng=None, sr_bits: int | None = None,
                   overflow: str = "ieee", sr_random=None, negative_zero=None):
    """Round exact rationals (Fraction, int, or float taken exactly) into ``fmt``; float64 results.

    The same rounding as :func:`quantize` (same modes, overflow rules and SR stream), but the input
    is the exact rational, so a decimal such as Fraction("0.99804687500000000001") is rounded
    without passing through float64 first (no double rounding). Computed with Fractions: for
    |X| = (k + r) q on the grid of spacing q around |X|, each mode picks k or k + 1. Infinite and NaN
    floats are accepted as floats. ``negative_zero`` (booleans, one per value) gives the sign of
    zero inputs, which a Fraction cannot carry.

    Returns a float for a single non-sequence value, else a float64 ndarray (1-d).

    This is one of qbound's two exact rounding oracles; the other, ``qbound.proofs.exact.round_fraction``,
    is written independently **on purpose** (different code, same mathematics), so that each checks
    the other and the fast kernels in the tests; do not make one call the other. (The overflow rule
    and the SR arguments are shared with :func:`quantize`, of which this is the exact-input form.)

    >>> from fractions import Fraction
    >>> float(quantize_exact(Fraction(1) + Fraction(1, 256), "bf16"))          # a tie: to even
    1.0
    >>> float(quantize_exact(Fraction(1) + Fraction(1, 256) + Fraction(1, 10**30), "bf16"))
    1.0078125
    """
    from fractions import Fraction

    fmt = get_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow)
    single = not isinstance(values, (list, tuple, np.ndarray))
    vals = [values] if single else list(values)
    n = len(vals)
    negz = [False] * n if negative_zero is None else [bool(v) for v in np.broadcast_to(negative_zero, (n,))]
    k, key, R = _sr_args(rounding, sr_bits, rng, sr_random, (n,))
    if key is not None:
        R = sr_random_stream(key, n, k)
    huge = fmt.max_finite
    over_pos, over_neg, _ = overflow_magnitudes(fmt, rounding, overflow)
    out = np.empty(n, dtype=np.float64)
    for i, v in enumerate(vals):
        if isinstance(v, float) and not np.isfinite(v):
            out[i] = _round_reference(np.array([v]), fmt, "rne" if rounding == "sr" else rounding,
                                      overflow, None, 64)[0]
            continue
        X = Fraction(v)
        neg = X < 0 or (X == 0 and (negz[i] or (isinstance(v, float) and np.signbit(v))))
        A = abs(X)
        if A == 0:
            out[i] = -0.0 if neg else 0.0
            continue
        e = A.numerator.bit_length() - A.denominator.bit_length()
        if Fraction(2) ** e > A:
            e -= 1
        if e >= fmt.emin:
            q = Fraction(2) ** (e - fmt.man_bits)
        elif fmt.subnormals:
            q = Fraction(2) ** (fmt.emin - fmt.man_bits)
        else:
            q = Fraction(2) ** fmt.emin
        kq, rem = divmod(A, q)
        kq = int(kq)
        r = rem / q
        if rounding == "rne":
            up = r > Fraction(1, 2) or (r == Fraction(1, 2) and kq % 2 == 1)
        elif rounding == "rna":
            up = r >= Fraction(1, 2)
        elif rounding == "rtz":
            up = False
        elif rounding == "rup":
            up = r > 0 and not neg
        elif rounding == "rdn":
            up = r > 0 and neg
        else:
            assert R is not None
            up = int(R[i]) < (r.numerator << k) // r.denominator
        V = (kq + up) * q
        if V > huge:
            mag = over_neg if neg else over_pos
        else:
            mag = float(V)
        out[i] = -mag if neg else mag
    return float(out[0]) if single else out
