"""Bit-exact rounding of torch tensors into any registry format: :func:`quantize`.

The same mathematics as :func:`qbound.numeric.rounding.quantize` (see that module): with |x| = (k + r) q,
q the target quantum at x and 0 <= r < 1, each mode picks k or k + 1 (rne, rna, rtz, rup, rdn), and
``sr`` picks k + 1 with probability floor(r 2^K) / 2^K for K random bits (K = 64 by default), so
E[Q(x)] = x exactly whenever the input's discarded part r q has at most K bits, and otherwise the
rounding is biased towards zero by less than 2^-K quanta -- the guarantee of the numpy kernel.

Two kernels, bit for bit the same (tests/numeric/test_pytorch_quantize.py):

* ``path="numba"`` (CPU tensors, the default there): the contiguous float32/float64 tensor is handed
  to the compiled kernel of :mod:`qbound.numeric.rounding` through ``Tensor.numpy()`` (no copy);
  float16/bfloat16 tensors are widened to float32 first (exact).
* ``path="torch"`` (any device; the default on CUDA): the same integer algorithm written in torch
  int64 operations on the float64 bit pattern (input widened to float64, which is exact): kept and
  remainder of the significand by shifts, the magnitude kept' * 2^qe formed by one exact float64
  product with 2^qe built from its bit pattern, overflow/inf/NaN replaced by the per-format constants,
  the input's sign bit copied onto the result.

Random-bit policy for ``sr`` (both paths, identical to numpy): each call takes exactly one 64-bit
draw from ``rng`` (a ``numpy.random.Generator``), the key, and element i (C order, i = 1..n) uses
R_i = SplitMix64(key + i * 0x9E3779B97F4A7C15) >> (64 - K). So a seed gives the same rounding on the
numpy kernel, the numba kernel and the torch kernel, on any device and for any number of threads.

Result dtype: ``out_dtype`` if given, else the input's dtype when every value the rounding can produce
from that dtype is representable in it (the format's grid lies inside the dtype's, or the dtype's inside
the format's and the format has infinities), else float64. So quantizing a float32 tensor to bf16 or
fp8 gives float32, and a bf16 tensor to fp16 gives float64.

>>> import torch
>>> from qbound.numeric.pytorch import quantize
>>> quantize(torch.tensor([0.999, 3.0]), "bf16")
tensor([1., 3.])
>>> quantize(torch.tensor([0.999], dtype=torch.float64), "bf16", "rtz").item()
0.99609375
>>> quantize(torch.tensor([500.0]), "fp8_e4m3fn").item()   # beyond 448 + 16: OCP fn formats give NaN
nan
"""
from __future__ import annotations

import inspect

import numpy as np

from qbound.numeric.formats import FloatFormat, check_rounding, get_format
from qbound.numeric.pytorch._torch import require_torch, strip_examples_without_torch
from qbound.numeric.rounding import _kernel_params, check_overflow
from qbound.numeric.rounding import quantize as _np_quantize

__doc__ = strip_examples_without_torch(__doc__)

PATHS = ("auto", "numba", "torch")

_I64_MIN = -(1 << 63)


def _s64(u: int) -> int:
    """An unsigned 64-bit constant as the signed int64 with the same bit pattern."""
    u &= (1 << 64) - 1
    return u - (1 << 64) if u >= (1 << 63) else u


_GAMMA = _s64(0x9E3779B97F4A7C15)
_M1 = _s64(0xBF58476D1CE4E5B9)
_M2 = _s64(0x94D049BB133111EB)

# the numpy quantize of a newer numeric.rounding may write into ``out=`` (float32 or float64)
try:
    _NP_HAS_OUT = "out" in inspect.signature(_np_quantize).parameters
except (TypeError, ValueError):  # pragma: no cover
    _NP_HAS_OUT = False


def _dtype_format(dtype):
    """(p, emax, emin) of a torch floating dtype."""
    t = require_torch()
    fi = t.finfo(dtype)
    p = {t.float16: 11, t.bfloat16: 8, t.float32: 24, t.float64: 53}[dtype]
    emax = int(round(np.log2(fi.max / (2 - 2.0 ** (1 - p)))))
    emin = int(round(np.log2(fi.tiny)))
    return p, emax, emin


def result_dtype(fmt: FloatFormat, dtype):
    """The default result dtype of :func:`quantize` for an input of ``dtype`` (see module docstring)."""
    t = require_torch()
    if dtype not in (t.float16, t.bfloat16, t.float32, t.float64):
        return t.float64
    p, emax, emin = _dtype_format(dtype)
    lo_fmt = (fmt.emin - fmt.man_bits) if fmt.subnormals else fmt.emin
    inside = fmt.p <= p and fmt.emax <= emax and lo_fmt >= emin - (p - 1)
    contains = fmt.p >= p and fmt.emax >= emax and lo_fmt <= emin - (p - 1) and fmt.has_inf
    return dtype if (inside or contains) else t.float64


def quantize(x, fmt, rounding: str = "rne", *, rng=None, sr_bits: int | None = None, overflow: str = "ieee",
             out_dtype=None, out=None, path: str = "auto"):
    """Round every element of the tensor ``x`` into ``fmt``; a new tensor (or ``out``) on x's device.

    Parameters
    ----------
    x : torch.Tensor of dtype float16, bfloat16, float32 or float64 (any shape, any device).
    fmt : FloatFormat or registry name; rounding : rne, rna, rtz, rup, rdn or sr.
    rng : numpy.random.Generator (required for ``sr``): one 64-bit key per call (module docstring).
    sr_bits : random bits K per value for sr (1..64, default 64).
    overflow : "ieee" or "saturate" (as numeric.rounding).
    out_dtype : dtype of the result (default: see module docstring); out : a tensor to write into.
    path : "auto" (numba on CPU, torch ops elsewhere), "numba" or "torch".
    """
    t = require_torch()
    fmt = get_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow)
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    if not isinstance(x, t.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__} (use qbound.numeric.quantize for arrays)")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if rounding == "sr":
        k = 64 if sr_bits is None else int(sr_bits)
        if not (1 <= k <= 64):
            raise ValueError(f"sr_bits must be in 1..64, got {sr_bits}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError("stochastic rounding needs rng=numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
    else:
        k = 64
    odt = out.dtype if out is not None else (out_dtype if out_dtype is not None else result_dtype(fmt, x.dtype))
    if path == "auto":
        path = "numba" if x.device.type == "cpu" else "torch"
    if path == "numba" and x.device.type != "cpu":
        raise ValueError("path='numba' needs a CPU tensor")
    x = x.detach()
    if path == "numba":
        xin = x if x.dtype in (t.float32, t.float64) else x.to(t.float32)
        if xin.dtype == t.float32 and fmt.emin < -126:
            # a format that reaches below float32's normal range: widen first (exact), because the
            # compiled kernel's float32 path mis-rounds float32 subnormals into such formats
            xin = xin.to(t.float64)
        xin = xin.contiguous()
        arr = xin.numpy()
        if (_NP_HAS_OUT and out is not None and out.device.type == "cpu" and out.is_contiguous()
                and out.dtype in (t.float32, t.float64) and tuple(out.shape) == tuple(x.shape)):
            try:  # straight into out (in place when out is x): no temporary, no copy
                _np_quantize(arr, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow, out=out.numpy())
                return out
            except (ValueError, TypeError):  # a format that does not fit out's dtype: the general path
                pass
        if _NP_HAS_OUT and out is None and odt == xin.dtype:
            res = t.empty_like(xin)
            _np_quantize(arr, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow, out=res.numpy())
            return res
        r64 = _np_quantize(arr, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow)
        res = t.from_numpy(np.asarray(r64, dtype=np.float64).reshape(tuple(x.shape)))
    else:
        key = int(rng.integers(0, 1 << 64, dtype=np.uint64)) if rounding == "sr" else 0
        res = _round_torch(x.to(t.float64), fmt, rounding, overflow, key, k)
    if out is not None:
        out.copy_(res)
        return out
    return res.to(odt)


def sr_stream_torch(key: int, n: int, k: int = 64, device=None):
    """R_i = SplitMix64(key + i * 0x9E3779B97F4A7C15) >> (64 - k), i = 1..n, as int64 bit patterns.

    The same integers as :func:`qbound.numeric.rounding.sr_random_stream` (which returns uint64),
    computed with wrapping int64 arithmetic and logical shifts.
    """
    t = require_torch()
    i = t.arange(1, n + 1, dtype=t.int64, device=device)
    z = i * _GAMMA + _s64(key)
    z = (z ^ _lsr(z, 30)) * _M1
    z = (z ^ _lsr(z, 27)) * _M2
    z = z ^ _lsr(z, 31)
    return _lsr(z, 64 - k) if k < 64 else z


def _lsr(z, s: int):
    """Logical right shift of int64 bit patterns by a constant 0 < s < 64."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def _round_torch(x64, fmt: FloatFormat, rounding: str, overflow: str, key: int, k: int):
    """The integer rounding kernel in torch operations (see module docstring); float64 result."""
    t = require_torch()
    shape = x64.shape
    bits = x64.contiguous().reshape(-1).view(t.int64)
    neg = bits < 0
    a = bits & ((1 << 63) - 1)
    expf = a >> 52
    mant = a & ((1 << 52) - 1)
    normal = expf > 0
    sig = t.where(normal, mant | (1 << 52), mant)
    E = t.where(normal, expf - 1023, t.full_like(expf, -1022))
    m, emin = fmt.man_bits, fmt.emin
    low = (emin - m) if fmt.subnormals else emin
    qe = t.where(E < emin, t.full_like(E, low), E - m)
    s = qe - (E - 52)  # discarded bits, >= 0 because m <= 52
    sc = s.clamp(max=63)
    kept = sig >> sc
    rem = sig & ((t.ones_like(sc) << sc) - 1)
    if rounding in ("rne", "rna"):
        r2 = rem << 1                     # rem < 2^53, so 2 rem fits
        h2 = t.ones_like(sc) << sc.clamp(max=62)
        h2 = t.where(sc > 62, t.full_like(h2, 1 << 62), h2)  # s > 62: rem < 2^53 < half anyway
        if rounding == "rne":
            up = (r2 > h2) | ((r2 == h2) & ((kept & 1) == 1))
        else:
            up = r2 >= h2
        up &= s > 0
    elif rounding == "rtz":
        up = None
    elif rounding == "rup":
        up = (rem != 0) & ~neg
    elif rounding == "rdn":
        up = (rem != 0) & neg
    else:  # sr: up iff R < floor(rem 2^(k - s)), compared as unsigned 64-bit integers
        ls = (k - s).clamp(min=0, max=63)
        rs = (s - k).clamp(min=0, max=63)
        th = t.where(s <= k, rem << ls, rem >> rs)
        R = sr_stream_torch(key, bits.numel(), k, device=bits.device)
        up = (R ^ _I64_MIN) < (th ^ _I64_MIN)
    if up is not None:
        kept = kept + up.to(t.int64)
    p2 = t.where(qe >= -1022, (qe + 1023).clamp(min=0) << 52, t.ones_like(qe) << (qe + 1074).clamp(min=0, max=62))
    mag = kept.to(t.float64) * p2.view(t.float64)
    P = _kernel_params(fmt, rounding, overflow)
    over = mag > P["huge"]
    if bool(over.any()):
        mag = t.where(over & ~neg, t.full_like(mag, P["over_pos"]), mag)
        mag = t.where(over & neg, t.full_like(mag, P["over_neg"]), mag)
    special = expf == 2047
    if bool(special.any()):
        mag = t.where(special & (mant == 0), t.full_like(mag, P["inf_val"]), mag)
        mag = t.where(special & (mant != 0), t.full_like(mag, float("nan")), mag)
    out = mag.view(t.int64) | (bits & _I64_MIN)
    return out.view(t.float64).reshape(shape)


__all__ = ["quantize", "result_dtype", "sr_stream_torch", "PATHS"]
