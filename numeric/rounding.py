"""Bit-exact rounding of float64 values into any :class:`~numeric.formats.FloatFormat`.

Every input is first widened to float64, which is exact for float16/32/64 and every ml_dtypes type,
so the result is the correctly rounded value of the *exact* input: there is no double rounding.

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
32-bit patterns, which is the same as widening it first). For ``sr`` with an ``rng`` both draw one
64-bit key from the generator and use the SplitMix64 counter stream :func:`sr_random_stream`, so a
seed gives the same result on either kernel and for any thread count. :func:`quantize_exact` rounds
exact rationals (e.g. decimal strings) the same way without going through float64.
"""
from __future__ import annotations

from qbound.numeric.errors import did_you_mean
import functools

import numpy as np

from qbound.numeric.formats import FloatFormat, FormatError, check_rounding, get_format

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


def quantize(x, fmt, rounding: str = "rne", *, rng=None, sr_bits: int | None = None,
             overflow: str = "ieee", sr_random=None):
    """Round ``x`` into ``fmt`` and return the values as float64.

    Parameters
    ----------
    x : scalar or array of any real float dtype (float16/32/64, ml_dtypes) or integers.
    fmt : FloatFormat or a registry name (``"bf16"``, ``"e4m3fn"``, ``"e5m7"``...).
    rounding : one of ``rne, rna, rtz, rup, rdn, sr``.
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

    Returns
    -------
    float for scalar input, else a float64 ndarray of the same shape.

    Arrays of at least ``FAST_MIN_SIZE`` elements run on the compiled kernel
    (numeric._kernel_numba) when numba is importable, and so does everything once that kernel is
    loaded; before that, smaller inputs use the numpy reference :func:`_round_reference` (no JIT
    import for a process that only rounds a few values). Both kernels give bit-identical results,
    SR included (tests/numeric/test_rounding_fast.py).
    """
    return _quantize(x, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow,
                     sr_random=sr_random, path="auto")


#: arrays smaller than this use the numpy reference (no JIT import, lowest overhead)
FAST_MIN_SIZE = 4096

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def sr_random_stream(key: int, n: int, k: int = 64) -> np.ndarray:
    """R_i = SplitMix64(key + i * 0x9E3779B97F4A7C15) >> (64 - k) for i = 1..n (numpy, uint64).

    This is the SplitMix64 sequence started at ``key`` (Steele, Lea & Flood 2014), the stream
    :func:`quantize` uses for ``sr`` with an ``rng``.
    """
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + i * _GAMMA
        z = (z ^ (z >> _U64(30))) * _M1
        z = (z ^ (z >> _U64(27))) * _M2
        z = z ^ (z >> _U64(31))
    if k < 64:
        z >>= _U64(64 - k)
    return z


def _fast_module():
    """The compiled kernel module, or None if numba is not available."""
    global _FAST
    if _FAST is None:
        try:
            from qbound.numeric import _kernel_numba
            _FAST = _kernel_numba
        except ImportError:  # pragma: no cover - numba missing: numpy reference only
            _FAST = False
    return _FAST or None


_FAST = None


@functools.lru_cache(maxsize=256)
def _kernel_params(fmt: FloatFormat, rounding: str, overflow: str) -> dict:
    """Per-call constants of the compiled kernel: the grid, and what overflow/inf map to.

    Mirrors :func:`_apply_overflow`: ``over_pos``/``over_neg`` are the magnitudes of a positive /
    negative result beyond the largest finite value, ``inf_val`` that of an infinite input.
    """
    huge = float(fmt.max_finite)
    if overflow == "saturate" or fmt.policy == "none":
        over_pos = over_neg = inf_val = huge
    else:
        big = np.inf if fmt.has_inf else np.nan
        away_pos = rounding in ("rne", "rna", "sr", "rup")
        away_neg = rounding in ("rne", "rna", "sr", "rdn")
        over_pos = big if away_pos else huge
        over_neg = big if away_neg else huge
        inf_val = big
    return {"m": fmt.man_bits, "emin": fmt.emin, "subn": fmt.subnormals, "huge": huge,
            "over_pos": over_pos, "over_neg": over_neg, "inf_val": inf_val}


def _quantize(x, fmt, rounding="rne", *, rng=None, sr_bits=None, overflow="ieee", sr_random=None,
              path="auto"):
    """:func:`quantize` with the kernel chosen by ``path``: "auto", "reference" or "fast"."""
    fmt = get_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow)
    scalar = np.ndim(x) == 0 and not isinstance(x, np.ndarray)
    arr = np.asarray(x)
    if path == "auto":
        # the compiled kernel once it is loaded (~10 us per call), else numpy below FAST_MIN_SIZE
        # elements so that short-lived processes (the CLI on a few values) never import numba
        use_fast = (_FAST or arr.size >= FAST_MIN_SIZE) and _fast_module() is not None
    elif path == "fast":
        if _fast_module() is None:
            raise RuntimeError("the compiled kernel needs numba")
        use_fast = True
    elif path == "reference":
        use_fast = False
    else:
        raise ValueError(f"path must be auto, fast or reference, got {path!r}")
    if use_fast and arr.dtype in (np.float32, np.float64):
        xin = np.asarray(arr, order="C")
    else:
        xin = _as_float64(arr)
    R = None
    key = None
    k = 64
    if rounding == "sr":
        k = 64 if sr_bits is None else int(sr_bits)
        if not (1 <= k <= 64):
            raise ValueError(f"sr_bits must be in 1..64, got {sr_bits}")
        if sr_random is None:
            if rng is None:
                raise ValueError("stochastic rounding needs an explicit rng=numpy.random.Generator (or sr_random)")
            if not isinstance(rng, np.random.Generator):
                raise TypeError("rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
            key = int(rng.integers(0, 1 << 64, dtype=np.uint64))
            if not use_fast:
                R = sr_random_stream(key, xin.size, k).reshape(xin.shape)
        else:
            R = np.broadcast_to(np.asarray(sr_random, dtype=np.uint64), xin.shape)
            if k < 64 and np.any(R >> _U64(k)):
                raise ValueError(f"sr_random values must be < 2^sr_bits = 2^{k}")
            if use_fast:
                R = np.ascontiguousarray(R).reshape(-1)
    if use_fast:
        out = _FAST.round_fast(xin, _kernel_params(fmt, rounding, overflow), rounding, R=R, key=key, k=k)
    else:
        out = _round_reference(xin, fmt, rounding, overflow, R, k)
    if scalar:
        return float(out.reshape(-1)[0])
    return out


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
    val = val.copy()
    isnan = np.isnan(xf)
    isinf = np.isinf(xf)
    if overflow == "saturate" or fmt.policy == "none":
        val[over] = huge
        if fmt.has_inf and overflow == "ieee":
            val[isinf] = np.inf
        else:
            val[isinf] = huge
    else:
        if rounding in ("rne", "rna", "sr"):
            away = over
        elif rounding == "rtz":
            away = np.zeros_like(over)
        elif rounding == "rup":
            away = over & ~neg
        else:  # rdn
            away = over & neg
        big = np.inf if fmt.has_inf else np.nan
        val[away] = big
        val[over & ~away] = huge
        val[isinf] = np.inf if fmt.has_inf else np.nan
    val[isnan] = np.nan
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
    """
    from fractions import Fraction

    fmt = get_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow)
    single = not isinstance(values, (list, tuple, np.ndarray))
    vals = [values] if single else list(values)
    n = len(vals)
    negz = [False] * n if negative_zero is None else [bool(v) for v in np.broadcast_to(negative_zero, (n,))]
    k = 64
    R = None
    if rounding == "sr":
        k = 64 if sr_bits is None else int(sr_bits)
        if not (1 <= k <= 64):
            raise ValueError(f"sr_bits must be in 1..64, got {sr_bits}")
        if sr_random is None:
            if not isinstance(rng, np.random.Generator):
                raise ValueError("stochastic rounding needs an explicit rng=numpy.random.Generator (or sr_random)")
            R = sr_random_stream(int(rng.integers(0, 1 << 64, dtype=np.uint64)), n, k)
        else:
            R = np.broadcast_to(np.asarray(sr_random, dtype=np.uint64), (n,))
            if k < 64 and np.any(R >> _U64(k)):
                raise ValueError(f"sr_random values must be < 2^sr_bits = 2^{k}")
    huge = fmt.max_finite
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
            up = int(R[i]) < (r.numerator << k) // r.denominator
        V = (kq + up) * q
        if V > huge:
            toward_zero = rounding == "rtz" or (rounding == "rup" and neg) or (rounding == "rdn" and not neg)
            if overflow == "saturate" or fmt.policy == "none" or toward_zero:
                mag = float(huge)
            else:
                mag = np.inf if fmt.has_inf else np.nan
        else:
            mag = float(V)
        out[i] = -mag if neg else mag
    return float(out[0]) if single else out
