"""Compiled (numba) rounding kernel: the fast path behind :func:`numeric.rounding.quantize`.

It computes exactly what the numpy reference kernel :func:`numeric.rounding._round_reference` does,
one element at a time, on the raw bit pattern of the input (32-bit patterns for float32 input, so a
float32 array is read once and never widened in memory; 64-bit patterns for float64), writing
float64 or float32 results (float32 only when every value of the target format is a float32, so the
narrowing is exact), in one pass over memory.

Mathematics (see numeric.rounding for the definitions of the modes). For a finite input with biased
exponent field ``expf`` and fraction field ``mant`` of an input format with ``FRAC`` fraction bits and
bias ``BIAS``:

    sig = mant + 2^FRAC (normal) or mant (subnormal),  E = max(expf, 1) - BIAS,  |x| = sig 2^(E - FRAC)

The target quantum exponent is qt = E - m (E >= emin), emin - m (below tiny, subnormals on) or emin
(below tiny, flushed). With s = max(qt - (E - FRAC), 0) discarded bits, |x| = (kept + rem/2^s) 2^qe,
qe = E - FRAC + s, kept = sig >> s, rem = sig mod 2^s. Each mode picks kept or kept + 1; the
magnitude kept' 2^qe is formed by one exact float64 multiplication (kept' <= 2^53 and 2^qe, qe in
[-1074, 1023], are both exact doubles and so is their product, a value of the target or +inf beyond
float64). Overflow, infinities and NaN are then replaced by per-call constants, and the input's sign
bit is copied onto the result (so -0.0 and negative NaN come out exactly as in the reference).

The float32 -> float32 kernel (:func:`_one32`) computes the same thing in 32-bit lanes so that LLVM
vectorizes it (8 values per AVX2 instruction). With a = |x| as a float32 pattern and biased target
emin_b = emin + 127 >= 1: if max(expf, 1) >= emin_b (x in the target's normal range or above) the
quantum is a fixed s0 = 23 - m bits of the *pattern*, so kept = a >> s0 and the result pattern is
(kept + up) << s0 (a carry out of the mantissa correctly bumps the exponent, up to the inf pattern,
which then overflows; ties to even look at the last kept mantissa bit, and at the implicit 1 when
m = 0). Below, the quantum Q = 2^(emin - m) (2^emin when flushed) is fixed in value:
s = C - max(expf, 1) bits of the significand sig are discarded (C = emin_b + s0, or emin_b + 23 when
flushed) and the result (kept + up) * Q is assembled from integers (no float arithmetic on
subnormals, which would cost a microcode assist per vector).

Stochastic rounding compares an integer R in [0, 2^k) with floor(rem 2^(k - s)). R is either taken
from a caller's array or generated in the kernel from a 64-bit key: R_i = mix(key + (i + 1) * GAMMA)
>> (64 - k), the SplitMix64 sequence of numeric.splitmix (whose ``mix`` this module compiles), a
counter-based stream, so the result does not depend on how the work is split.

Arrays of at least THREAD_MIN_SIZE elements are cut into chunks rounded by the GIL-free kernels on a
small thread pool (n_threads(): the usable CPUs, at most 8; set QBOUND_THREADS=1 in worker processes
that already run in parallel). The pool is recreated after fork.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from qbound.numeric import splitmix

MODE_CODES = {"rne": 0, "rna": 1, "rtz": 2, "rup": 3, "rdn": 4, "sr": 5}

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_GAMMA = splitmix.GAMMA
_U32 = np.uint32
_U64 = np.uint64
_I32 = np.int32


@intrinsic
def _f2u(typingctx, x):
    """Reinterpret a float64 as its uint64 bit pattern."""
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _u2f(typingctx, x):
    """Reinterpret a uint64 bit pattern as a float64."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f2u32(typingctx, x):
    """Reinterpret a float32 as its uint32 bit pattern."""
    sig = types.uint32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def _u2f32(typingctx, x):
    """Reinterpret a uint32 bit pattern as a float32."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


#: SplitMix64's output function, the very function numeric.splitmix evaluates with numpy
_mix = njit(inline="always", cache=True)(splitmix.mix)


@njit(inline="always", cache=True)
def _round_up(mode, r2, h2, odd, inexact, neg, rem, s, k, r):
    """The rounding-direction ladder shared by :func:`_one`, :func:`_one64` and :func:`_one32`:
    whether the kept significand goes up by one. ``r2`` = 2 rem and ``h2`` = 2^s (clamped shift) in
    the caller's lane type, ``odd``: the last kept significand bit, ``inexact``: rem != 0, ``neg``:
    the sign, ``rem``/``s``: the remainder and shift, ``r``: the random integer (< 2^k) for sr.
    sr goes up iff R < floor(rem 2^(k - s)). With ``mode`` a constant, numba inlines this and LLVM
    keeps only that mode's branch.

    >>> bool(_round_up(0, 2, 2, True, True, False, 1, 1, 64, 0))   # tie, odd kept: up (rne)
    True
    >>> bool(_round_up(0, 2, 2, False, True, False, 1, 1, 64, 0))  # tie, even kept: down (rne)
    False
    >>> bool(_round_up(3, 1, 4, False, True, True, 1, 2, 64, 0))   # rup of a negative: down
    False
    """
    if mode == 0:  # rne: compare 2 rem with 2^s
        return (r2 > h2) | ((r2 == h2) & odd)
    elif mode == 1:  # rna
        return r2 >= h2
    elif mode == 2:  # rtz
        return False
    elif mode == 3:  # rup
        return inexact & (not neg)
    elif mode == 4:  # rdn
        return inexact & neg
    rr = np.uint64(rem)
    si = np.int64(s)
    if si <= k:
        th = rr << np.uint64(min(k - si, np.int64(63)))
    else:
        th = rr >> np.uint64(min(si - k, np.int64(63)))
    return r < th


@njit(inline="always", cache=True)
def _one(b, frac, bias, expall, signsh, m, emin, subn, mode, r, k,
         huge, over_pos, over_neg, inf_val):
    """Round one input pattern ``b`` (uint64) and return the float64 result pattern (uint64)."""
    neg = (b >> signsh) & _U1
    a = b & ((_U1 << signsh) - _U1)
    expf = np.int64(a >> frac)
    mant = a & ((_U1 << frac) - _U1)
    if expf != 0:
        sig = mant | (_U1 << frac)
        E = expf - bias
    else:
        sig = mant
        E = np.int64(1) - bias
    if E >= emin:
        qt = E - m
    elif subn:
        qt = emin - m
    else:
        qt = emin
    lo = E - np.int64(frac)
    s = qt - lo
    if s < 0:
        s = np.int64(0)
    qe = lo + s
    sc = np.uint64(min(s, np.int64(63)))
    kept = sig >> sc
    rem = sig & ((_U1 << sc) - _U1)
    r2 = rem << _U1
    h2 = _U1 << sc
    up = _round_up(mode, r2, h2, (kept & _U1) == _U1, rem != _U0, neg == _U1, rem, s, k, r)
    if up:
        kept += _U1
    if qe >= -1022:
        p2 = _u2f(np.uint64(qe + 1023) << np.uint64(52))
    else:
        p2 = _u2f(_U1 << np.uint64(qe + 1074))
    mag = np.float64(kept) * p2
    if mag > huge:
        mag = over_neg if neg else over_pos
    if expf == expall:
        mag = np.nan if mant != _U0 else inf_val
    return _f2u(mag) | (neg << np.uint64(63))


@njit(inline="always", cache=True)
def _one64(b, s0, emin_b, C, q0, mode, r, k, huge, over_pos, over_neg, inf_val):
    """Round one float64 pattern ``b`` (uint64) to the float64 result pattern: the same value as
    :func:`_one` with the input format float64, computed like :func:`_one32` (branch-free selects
    on 64-bit lanes, so a loop over it vectorizes). Needs a target whose finest quantum is a normal
    float64 (emin - m >= -1022; numeric._fused_numba._site computes these): ``s0 = 52 - m``, ``emin_b = emin + 1023``,
    ``C`` = emin_b + s0 (subnormals) or emin_b + 52 (flushed), ``q0`` = the fixed quantum of the
    range below 2^emin (2^(emin - m), or 2^emin when flushed) as a float64.

    In the normal range the pattern is rounded at bit s0 (a carry bumps the exponent, up to the inf
    pattern, which then overflows); below it kept * q0 is one exact float64 product (kept <= 2^53,
    q0 normal, the product a value of the format)."""
    a = b & _U64(0x7FFFFFFFFFFFFFFF)
    neg = b >> _U64(63)
    expf = a >> _U64(52)
    mant = a & _U64(0xFFFFFFFFFFFFF)
    ee = expf if expf != _U0 else _U1
    normal = ee >= emin_b
    base = a if normal else (mant | (_U64(1 << 52) if expf != _U0 else _U0))
    s = s0 if normal else C - ee
    sc = s if s < _U64(63) else _U64(63)
    kept = base >> sc
    rem = base & ((_U1 << sc) - _U1)
    r2 = rem << _U1
    h2 = _U1 << sc
    # the last kept significand bit; with m = 0 the normal-range significand is the implicit 1
    # (kept is then the exponent field), except for a float64 subnormal (expf = 0, kept = 0)
    odd = ((kept & _U1) == _U1) | (normal & (s0 == _U64(52)) & (expf != _U0))
    up = _round_up(mode, r2, h2, odd, rem != _U0, neg != _U0, rem, s, k, r)
    kept = kept + (_U1 if up else _U0)
    if normal:
        mag = _u2f(kept << sc)
    else:
        mag = np.float64(np.int64(kept)) * q0
    if mag > huge:
        mag = over_neg if neg != _U0 else over_pos
    if expf == _U64(2047):
        mag = np.nan if mant != _U0 else inf_val
    return _f2u(mag) | (neg << _U64(63))


@njit(cache=True, nogil=True)
def _det_kernel(xb, out, frac, bias, expall, signsh, m, emin, subn, mode,
                huge, over_pos, over_neg, inf_val):
    """Deterministic modes. ``xb``: uint32/uint64 input patterns; ``out``: float64 or float32 results
    (float32 only when the format's values are float32 values, so the store is exact)."""
    n = xb.size
    z = _U0
    if mode == 0:
        for i in range(n):
            out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 0, z, 64,
                               huge, over_pos, over_neg, inf_val))
    elif mode == 1:
        for i in range(n):
            out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 1, z, 64,
                               huge, over_pos, over_neg, inf_val))
    elif mode == 2:
        for i in range(n):
            out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 2, z, 64,
                               huge, over_pos, over_neg, inf_val))
    elif mode == 3:
        for i in range(n):
            out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 3, z, 64,
                               huge, over_pos, over_neg, inf_val))
    else:
        for i in range(n):
            out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 4, z, 64,
                               huge, over_pos, over_neg, inf_val))


@njit(cache=True, nogil=True)
def _sr_kernel_key(xb, out, key, start, k, frac, bias, expall, signsh, m, emin, subn,
                   huge, over_pos, over_neg, inf_val):
    """Stochastic rounding with R_i from the SplitMix64 stream keyed by ``key`` (top k bits).

    ``start`` is the index of xb[0] in the whole array (the stream is indexed globally).
    """
    n = xb.size
    drop = np.uint64(64 - k)
    for i in range(n):
        r = _mix(key + np.uint64(start + i + 1) * _GAMMA) >> drop
        out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 5, r, k,
                           huge, over_pos, over_neg, inf_val))


@njit(cache=True, nogil=True)
def _sr_kernel_arr(xb, out, R, k, frac, bias, expall, signsh, m, emin, subn,
                   huge, over_pos, over_neg, inf_val):
    """Stochastic rounding with caller-supplied random integers ``R`` (uint64, same length)."""
    n = xb.size
    for i in range(n):
        out[i] = _u2f(_one(np.uint64(xb[i]), frac, bias, expall, signsh, m, emin, subn, 5, R[i], k,
                           huge, over_pos, over_neg, inf_val))


@njit(inline="always", cache=True)
def _one32(b, s0, emin_b, C, shl, qadd, kth, mode, r, k, huge, over_pos, over_neg, inf_val):
    """Round one float32 pattern ``b`` (uint32) to a float32 result pattern (see module docstring).

    Every intermediate is cut back to 32 bits (numba widens integer arithmetic to 64 bits, LLVM
    narrows it again), so the loop vectorizes. ``huge`` and the overflow/inf magnitudes are float32.
    """
    a = _U32(b & _U32(0x7FFFFFFF))
    neg = _U32(b >> _U32(31))
    expf = _U32(a >> _U32(23))
    mant = _U32(a & _U32(0x7FFFFF))
    ee = expf if expf != _U32(0) else _U32(1)
    normal = ee >= emin_b
    base = a if normal else _U32(mant | (_U32(0x800000) if expf != _U32(0) else _U32(0)))
    s = s0 if normal else _U32(C - ee)
    sc = s if s < _U32(31) else _U32(31)
    kept = _U32(base >> sc)
    rem = _U32(base & _U32(_U32(_U32(1) << sc) - _U32(1)))
    r2 = _U32(rem << _U32(1))  # s >= 32 clamps to 31; rem < 2^24 stays below
    h2 = _U32(_U32(1) << sc)
    # the last kept significand bit; with m = 0 the normal-range significand is the implicit 1
    # (kept is then the exponent field, whose parity is not the significand's), except for a
    # float32 subnormal taken as normal range (emin_b = 1): kept = 0 is even
    odd = (_U32(kept & _U32(1)) == _U32(1)) | (normal & (s0 == _U32(23)) & (expf != _U32(0)))
    up = _round_up(mode, r2, h2, odd, rem != _U32(0), neg != _U32(0), rem, s, k, r)
    kept = _U32(kept + (_U32(1) if up else _U32(0)))
    if normal:
        mag = _u2f32(_U32(kept << sc))
    else:
        # kept * Q, Q = 2^qe0, built in integers (a float product with the subnormal Q would cost a
        # microcode assist per instruction): below 2^-125 the float32 pattern is value * 2^149, so
        # kept << (qe0 + 149) (kth = 2^(-125 - qe0), at least 1 so that kept = 0 gives +0); above, the
        # pattern of float32(kept) (exact, kept <= 2^24) with qe0 added to its exponent field (qadd)
        lin = _U32(kept << shl)
        flt = _U32(_f2u32(np.float32(_I32(kept))) + qadd)
        mag = _u2f32(lin if kept < kth else flt)
    if mag > huge:
        mag = over_neg if neg != _U32(0) else over_pos
    if expf == _U32(255):
        mag = np.float32(np.nan) if mant != _U32(0) else inf_val
    return _U32(_f2u32(mag) | _U32(neg << _U32(31)))


@njit(cache=True, nogil=True)
def _det32_kernel(xb, outb, s0, emin_b, C, shl, qadd, kth, mode, huge, over_pos, over_neg, inf_val):
    """float32 patterns -> float32 patterns, deterministic modes (one loop per mode, vectorized)."""
    n = xb.size
    z = _U0
    if mode == 0:
        for i in range(n):
            outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 0, z, 64, huge, over_pos, over_neg, inf_val)
    elif mode == 1:
        for i in range(n):
            outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 1, z, 64, huge, over_pos, over_neg, inf_val)
    elif mode == 2:
        for i in range(n):
            outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 2, z, 64, huge, over_pos, over_neg, inf_val)
    elif mode == 3:
        for i in range(n):
            outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 3, z, 64, huge, over_pos, over_neg, inf_val)
    else:
        for i in range(n):
            outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 4, z, 64, huge, over_pos, over_neg, inf_val)


@njit(cache=True, nogil=True)
def _sr32_kernel_key(xb, outb, key, start, k, s0, emin_b, C, shl, qadd, kth, huge, over_pos, over_neg, inf_val):
    """float32 -> float32 stochastic rounding, R_i from the SplitMix64 stream (global index)."""
    n = xb.size
    drop = np.uint64(64 - k)
    for i in range(n):
        r = _mix(key + np.uint64(start + i + 1) * _GAMMA) >> drop
        outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 5, r, k, huge, over_pos, over_neg, inf_val)


@njit(cache=True, nogil=True)
def _sr32_kernel_arr(xb, outb, R, k, s0, emin_b, C, shl, qadd, kth, huge, over_pos, over_neg, inf_val):
    """float32 -> float32 stochastic rounding with caller-supplied random integers ``R``."""
    n = xb.size
    for i in range(n):
        outb[i] = _one32(xb[i], s0, emin_b, C, shl, qadd, kth, 5, R[i], k, huge, over_pos, over_neg, inf_val)


@njit(cache=True, nogil=True)
def _splitmix_kernel(key, k, out):
    drop = np.uint64(64 - k)
    for i in range(out.size):
        out[i] = _mix(key + np.uint64(i + 1) * _GAMMA) >> drop


def splitmix_stream(key: int, n: int, k: int = 64) -> np.ndarray:
    """The n random integers R_1..R_n (each < 2^k) the in-kernel stream uses for ``key``."""
    out = np.empty(n, dtype=np.uint64)
    _splitmix_kernel(np.uint64(key), np.int64(k), out)
    return out


#: arrays of at least this many elements are split over threads
THREAD_MIN_SIZE = 1 << 18
_POOL = None
_POOL_PID = None
_POOL_LOCK = threading.Lock()


def n_threads() -> int:
    """Worker threads for large arrays: $QBOUND_THREADS, else the CPUs this process may use (<= 8)."""
    env = os.environ.get("QBOUND_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _after_fork_in_child():
    global _POOL, _POOL_PID, _POOL_LOCK
    _POOL, _POOL_PID, _POOL_LOCK = None, None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _pool(nth: int):
    """A thread pool owned by this process (recreated after fork)."""
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or _POOL_PID != os.getpid() or _POOL._max_workers != nth:
            _POOL = ThreadPoolExecutor(max_workers=nth, thread_name_prefix="qbound-quantize")
            _POOL_PID = os.getpid()
        return _POOL


def fits_float32_kernel(fmt) -> bool:
    """Whether the 32-bit kernel handles ``fmt``: its values are float32 values and 2^emin is normal."""
    return fmt.man_bits <= 23 and fmt.emax <= 127 and fmt.emin >= -126


def round_fast(x, params: dict, mode: str, *, R=None, key=None, k: int = 64, out=None) -> np.ndarray:
    """Round a contiguous float32/float64 array ``x`` (any shape) with the compiled kernel.

    ``params`` holds the per-format/overflow constants built by numeric.rounding (m, emin, subn,
    huge, over_pos, over_neg, inf_val, and ``k32``: the constants of the 32-bit kernel, or None when
    the format needs the general one). ``out``: a C-contiguous float64 or float32 array of x's shape
    (float32 only for formats whose values are all float32 values), or None for a new float64 array;
    it may be ``x`` itself (each element is read before it is written). Large arrays are cut into
    contiguous chunks rounded by the GIL-free kernel on a few threads; every element's result (also
    its SR random integer) depends only on its value and index, so the output does not depend on
    the number of threads.
    """
    if x.dtype == np.float32:
        xb = x.reshape(-1).view(np.uint32)
        frac, bias, expall, signsh = 23, 127, 255, 31
    elif x.dtype == np.float64:
        xb = x.reshape(-1).view(np.uint64)
        frac, bias, expall, signsh = 52, 1023, 2047, 63
    else:
        raise TypeError(f"round_fast needs float32 or float64, got {x.dtype}")
    if out is None:
        out = np.empty(x.shape, dtype=np.float64)
    of = out.reshape(-1)
    k32 = params.get("k32")
    use32 = x.dtype == np.float32 and out.dtype == np.float32 and k32 is not None
    kk = np.int64(k)
    if use32:
        assert k32 is not None
        ob = of.view(np.uint32)
        c32 = k32[:6]
        f32 = k32[6:]
    else:
        common = (np.uint64(frac), np.int64(bias), np.int64(expall), np.uint64(signsh),
                  np.int64(params["m"]), np.int64(params["emin"]), bool(params["subn"]))
        consts = (float(params["huge"]), float(params["over_pos"]), float(params["over_neg"]),
                  float(params["inf_val"]))
    if mode == "sr" and R is None:
        key64 = np.uint64(key)

    def work(a, b):
        if use32:
            if mode != "sr":
                _det32_kernel(xb[a:b], ob[a:b], *c32, np.int64(MODE_CODES[mode]), *f32)
            elif R is not None:
                _sr32_kernel_arr(xb[a:b], ob[a:b], R[a:b], kk, *c32, *f32)
            else:
                _sr32_kernel_key(xb[a:b], ob[a:b], key64, np.int64(a), kk, *c32, *f32)
        elif mode != "sr":
            _det_kernel(xb[a:b], of[a:b], *common, np.int64(MODE_CODES[mode]), *consts)
        elif R is not None:
            _sr_kernel_arr(xb[a:b], of[a:b], R[a:b], kk, *common, *consts)
        else:
            _sr_kernel_key(xb[a:b], of[a:b], key64, np.int64(a), kk, *common, *consts)

    run_chunked(work, xb.size)
    return out


def chunks(n: int) -> list[tuple[int, int]]:
    """The [a, b) index ranges that :func:`run_chunked` hands to the threads for n elements."""
    nth = n_threads() if n >= THREAD_MIN_SIZE else 1
    if nth == 1:
        return [(0, n)]
    # several chunks per thread, so a thread that the OS delays does not hold up the others; chunk
    # edges on multiples of 1024 elements (4 KiB pages of a float32 output)
    step = max(THREAD_MIN_SIZE // 2, -(-n // (4 * nth)))
    step = -(-step // 1024) * 1024
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def run_chunked(work, n: int) -> list:
    """Call ``work(a, b)`` for the chunks of :func:`chunks` (on the thread pool when there are
    several) and return the results in chunk order."""
    bounds = chunks(n)
    if len(bounds) == 1:
        return [work(*bounds[0])]
    return list(_pool(n_threads()).map(lambda ab: work(*ab), bounds))
