"""Hypothesis strategies for the values of any floating-point format, formats, rounding modes and plans.

A finite value of a format with ``e`` exponent bits and ``m`` stored mantissa bits is drawn from its
bit fields, sign ``s``, exponent field ``E`` and mantissa field ``f`` (see :mod:`qbound.numeric.formats`):

    (-1)^s * 2^(E - bias) * (1 + f / 2^m)   (E >= 1),      (-1)^s * 2^(1 - bias) * f / 2^m   (E = 0).

Hypothesis shrinks each field towards its simplest choice: a list of special values first (0, then
1), then ``s`` towards +, ``E - bias`` towards 0 (the binade [1, 2)) and ``f`` towards 0, so a
failing example ends as 0, 1, a power of two near 1, or a short mantissa. Extra weight goes where
rounding bites:

* exponent fields 0 (subnormals), 1 (the smallest normal binade, the subnormal boundary) and the
  largest finite one; mantissa fields 0 and all ones (binade edges: 2^k and 2^(k+1) - ulp);
* *tie-shaped* mantissas ``f = h * 2^(j+1) + 2^j`` (a 1 followed by zeros): every such value is an
  exact tie when rounded to ``m - j - 1`` or fewer mantissa bits, and ``f = 1`` is the odd last bit;
* the largest finite value, the smallest normal, the smallest and largest subnormal.

:func:`rounding_inputs` draws inputs of a *source* format (float64 by default) placed at the
rounding boundaries of a target format: exact ties, one source ulp either side of them, the
overflow threshold, the values themselves.

>>> from hypothesis import find
>>> find(values("bf16"), lambda x: 3.38e38 < x < float("inf"))        # the largest finite bf16
3.3895313892515355e+38
>>> find(values("fp16"), lambda x: 0 < x < 2 ** -23)                  # the smallest subnormal
5.960464477539063e-08
>>> find(values("e5m2", as_fraction=True), lambda x: 1 < x < 1.3)
Fraction(5, 4)
"""
from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("qbound.testing.strategies needs hypothesis: pip install 'qbound[testing]'") from exc

from qbound.numeric.errors import InputError, finite_float
from qbound.numeric.formats import (ROUNDING_MODES, FloatFormat, FormatSpellingWarning, check_rounding, get_format,
                                    registry)

__all__ = ["values", "rounding_inputs", "formats", "rounding_modes", "plans", "finite_count"]


# ----------------------------------------------------------------------------- bit layout
class _Layout:
    """The bit fields of a format: which (E, f) pairs are finite, and the ordered keys of its values.

    The *key* of a finite pattern is its magnitude bits (pattern without the sign), negated for a
    negative sign: keys are ordered like the values, so an interval of values is an interval of keys.
    """

    def __init__(self, fmt: FloatFormat):
        self.fmt = fmt
        self.e, self.m = fmt.exp_bits, fmt.man_bits
        self.top = (1 << self.e) - 1
        self.M = (1 << self.m) - 1
        self.sign_bit = 1 << (self.e + self.m)
        # largest finite exponent field, and the largest mantissa field there
        self.E_max = self.top - 1 if fmt.policy == "ieee" else self.top
        self.f_max_top = self.M - 1 if fmt.policy == "fn" else self.M
        self.max_key = (self.E_max << self.m) | self.f_max_top

    def f_max(self, E: int) -> int:
        return self.f_max_top if E == self.E_max else self.M

    def bits(self, neg: bool, E: int, f: int) -> int:
        return (self.sign_bit if neg else 0) | (E << self.m) | f

    def key_bits(self, k: int) -> int:
        return (self.sign_bit | -k) if k < 0 else k

    def value(self, bits: int) -> Fraction:
        return self.fmt.decode_fraction(bits)

    def key_of_at_least(self, x: Fraction) -> int | None:
        """Smallest key whose value is >= x (None if none)."""
        return self._search(x, ge=True)

    def key_of_at_most(self, x: Fraction) -> int | None:
        return self._search(x, ge=False)

    def _search(self, x: Fraction, ge: bool) -> int | None:
        lo, hi = -self.max_key, self.max_key
        val = lambda k: self.value(self.key_bits(k))  # noqa: E731
        if ge:
            if val(hi) < x:
                return None
            while lo < hi:  # smallest k with val(k) >= x
                mid = (lo + hi) // 2
                if val(mid) >= x:
                    hi = mid
                else:
                    lo = mid + 1
            return lo
        if val(lo) > x:
            return None
        while lo < hi:  # largest k with val(k) <= x
            mid = (lo + hi + 1) // 2
            if val(mid) <= x:
                lo = mid
            else:
                hi = mid - 1
        return lo


def finite_count(fmt) -> int:
    """Number of finite bit patterns of a format, both zeros included (each counted once).

    >>> finite_count("fp8_e4m3fn"), finite_count("fp8_e5m2"), finite_count("fp4_e2m1")
    (254, 248, 16)
    """
    L = _Layout(get_format(fmt))
    return 2 * (L.max_key + 1)


def _is_subnormal(fmt: FloatFormat, x: Fraction) -> bool:
    return x != 0 and abs(x) < fmt.min_normal


# ----------------------------------------------------------------------------- output conversion
def _resolve_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, str):
        try:
            return np.dtype(dtype)
        except TypeError:
            import ml_dtypes  # noqa: F401  (registers bfloat16, float8_* ... with numpy)
            return np.dtype(dtype)
    return np.dtype(dtype)


def _check_dtype_holds(fmt: FloatFormat, dtype: np.dtype, nan: bool, inf: bool) -> None:
    """Refuse a dtype that cannot hold every value the strategy may draw (exactly)."""
    probes = [fmt.max_finite, fmt.min_subnormal, 1 + Fraction(1, 1 << fmt.man_bits)]
    if fmt.subnormals and fmt.man_bits:
        probes.append(fmt.min_normal - fmt.min_subnormal)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for p in probes:
            got = np.array([float(p)], dtype=np.float64).astype(dtype).astype(np.float64)[0]
            if not math.isfinite(got) or Fraction(float(got)) != p:
                raise InputError(f"dtype {dtype} cannot hold every value of {fmt.name} exactly (e.g. {float(p)!r}); "
                                 f"use a wider dtype (float64 holds every format up to fp64)")
        if inf and not np.isinf(np.array([np.inf]).astype(dtype).astype(np.float64)[0]):
            raise InputError(f"dtype {dtype} has no infinity; pass allow_infinity=False")
        if nan and not np.isnan(np.array([np.nan]).astype(dtype).astype(np.float64)[0]):
            raise InputError(f"dtype {dtype} has no NaN; pass allow_nan=False")


def _converter(dtype, as_fraction: bool):
    if as_fraction:
        return lambda v: v if isinstance(v, Fraction) else Fraction(v)
    if dtype is None:
        return float
    scalar = dtype.type
    return lambda v: scalar(float(v))


# ----------------------------------------------------------------------------- values
def _special_magnitudes(fmt: FloatFormat, allow_subnormal: bool) -> list[Fraction]:
    """Where rounding bites, simplest first: 0, 1, the extremes, binade edges, a tie-shaped mantissa."""
    one_ulp = Fraction(1, 1 << fmt.man_bits)
    out = [Fraction(0), Fraction(1), fmt.min_normal]
    if allow_subnormal and fmt.subnormals and fmt.man_bits:
        out += [fmt.min_subnormal, fmt.min_normal - fmt.min_subnormal]
    out += [1 + one_ulp, 2 - one_ulp, 1 - one_ulp / 2]
    if fmt.man_bits >= 1:
        out.append(Fraction(3, 2))
    out += [2 * fmt.min_normal, fmt.max_finite / 2, fmt.max_finite]
    seen, keep = set(), []
    for v in out:
        if v not in seen and v <= fmt.max_finite and _representable(fmt, v):
            seen.add(v)
            keep.append(v)
    return keep


def _representable(fmt: FloatFormat, v: Fraction) -> bool:
    try:
        fmt.encode(float(v))
    except ValueError:
        return False
    return Fraction(float(v)) == v


def _mantissa_fields(L: _Layout, hi: int):
    """Mantissa fields in [0, hi]: uniform-ish, the edges, or tie-shaped (1 followed by zeros)."""
    if hi <= 0:
        return st.just(0)
    edges = sorted({0, hi, 1, min(hi, 1 << (L.m - 1)), min(hi, (1 << (L.m - 1)) + 1)})
    branches = [st.integers(0, hi), st.sampled_from(edges)]
    if L.m >= 2:
        @st.composite
        def tie_shaped(draw):
            j = draw(st.integers(0, L.m - 1))
            h = draw(st.integers(0, hi >> (j + 1)))
            return min(hi, (h << (j + 1)) | (1 << j))
        branches.append(tie_shaped())
    return st.one_of(*branches)


def _field_values(L: _Layout, allow_subnormal: bool):
    """Finite values drawn field by field (sign, exponent, mantissa); see the module docstring."""
    fmt = L.fmt
    bias = fmt.bias
    E_lo = 1 if (allow_subnormal and fmt.subnormals) is False else 0
    edge_E = sorted({E for E in (0, 1, L.E_max, min(L.E_max, bias)) if E >= E_lo}, key=lambda E: (E != bias, E))

    exponents = st.one_of(st.integers(E_lo - bias, L.E_max - bias).map(lambda d: d + bias), st.sampled_from(edge_E))
    mantissas = {hi: _mantissa_fields(L, hi) for hi in {L.M, L.f_max_top}}

    @st.composite
    def fields(draw):
        neg = draw(st.booleans())
        E = draw(exponents)
        if E == 0 and not fmt.subnormals:
            f = 0
        else:
            f = draw(mantissas[L.f_max(E)])
        return L.value(L.bits(neg, E, f)), neg
    return fields()


def values(fmt, *, allow_nan: bool | None = None, allow_infinity: bool | None = None,
           allow_subnormal: bool | None = None, min_value=None, max_value=None, dtype=None,
           as_fraction: bool = False):
    """Strategy for the values of ``fmt`` (a registry name, ``"eXmY"`` or a FloatFormat).

    Parameters
    ----------
    allow_nan, allow_infinity : draw NaN / +-inf too. Default (None): as Hypothesis' ``floats``,
        True when the format has them and no bound is given, else False. Asking for a value the
        format does not have (NaN of fp4_e2m1, inf of fp8_e4m3fn) is an error.
    allow_subnormal : draw subnormals (default: when the format has them). Zeros are always drawn,
        both signs (-0.0 only when min_value allows it).
    min_value, max_value : bounds (inclusive, exact: floats, ints, Fractions, decimal strings).
    dtype : numpy or ml_dtypes dtype of the result (np.float32, "bfloat16", ...); it must hold every
        value exactly. Default: Python ``float`` (float64 holds every format up to fp64 exactly).
    as_fraction : return the exact value as ``fractions.Fraction`` (finite values only).

    Every finite value of the format can be drawn; failures shrink towards 0, 1 and small exponents.

    >>> from hypothesis import find
    >>> find(values("fp16", min_value=3), lambda x: True)
    3.0
    >>> find(values("fp16", allow_subnormal=False), lambda x: 0 < x < 2 ** -13)  # no subnormal: tiny
    6.103515625e-05
    >>> x = find(values("fp8_e4m3fn", dtype="float8_e4m3fn"), lambda x: float(x) > 440)
    >>> x, x.dtype
    (448, dtype(float8_e4m3fn))
    """
    fmt = get_format(fmt)
    L = _Layout(fmt)
    bounded = min_value is not None or max_value is not None
    if allow_nan is None:
        allow_nan = fmt.has_nan and not bounded and not as_fraction
    if allow_infinity is None:
        allow_infinity = fmt.has_inf and not bounded and not as_fraction
    if allow_subnormal is None:
        allow_subnormal = fmt.subnormals
    if allow_nan and not fmt.has_nan:
        raise InputError(f"{fmt.name} has no NaN; pass allow_nan=False")
    if allow_infinity and not fmt.has_inf:
        raise InputError(f"{fmt.name} has no infinity; pass allow_infinity=False")
    if allow_subnormal and not fmt.subnormals:
        raise InputError(f"{fmt.name} flushes subnormals; pass allow_subnormal=False")
    if as_fraction and (allow_nan or allow_infinity):
        raise InputError("as_fraction=True draws finite values only; pass allow_nan=False, allow_infinity=False")
    if as_fraction and dtype is not None:
        raise InputError("give either dtype or as_fraction=True, not both")
    if allow_nan and bounded:
        raise InputError("NaN lies outside any min_value/max_value; pass allow_nan=False")
    dt = _resolve_dtype(dtype)
    if dt is not None:
        _check_dtype_holds(fmt, dt, allow_nan, allow_infinity)
    conv = _converter(dt, as_fraction)

    lo = None if min_value is None else _exact(min_value, "min_value")
    hi = None if max_value is None else _exact(max_value, "max_value")
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"min_value {min_value!r} is above max_value {max_value!r}")
    neg_zero_ok = lo is None or lo < 0 or (lo == 0 and isinstance(min_value, float) and math.copysign(1, min_value) < 0)

    def in_range(x: Fraction) -> bool:
        return (lo is None or x >= lo) and (hi is None or x <= hi)

    def finish(pair):
        x, neg = pair
        if x == 0:
            if conv is float or dt is not None:
                return conv(-0.0 if (neg and neg_zero_ok) else 0.0)
            return Fraction(0)
        return conv(x)

    special = []
    for mag in _special_magnitudes(fmt, allow_subnormal):
        for neg in (False, True):
            x = -mag if neg else mag
            if in_range(x) and not (neg and mag == 0 and not neg_zero_ok):
                special.append((x, neg))
    branches = []
    if bounded:
        k_lo = -L.max_key if lo is None else L.key_of_at_least(lo)
        k_hi = L.max_key if hi is None else L.key_of_at_most(hi)
        if k_lo is None or k_hi is None or k_lo > k_hi:
            raise InputError(f"no finite {fmt.name} value lies in [{min_value}, {max_value}]")
        ends = sorted({k_lo, k_hi}, key=abs)
        head = [p for p in special if p[0] in (0, 1)]
        tail = [p for p in special if p[0] not in (0, 1)]
        special = head + [(L.value(L.key_bits(k)), k < 0) for k in ends]
        special += [p for p in tail if p not in special]
        keys = st.integers(k_lo, k_hi).map(lambda k: (L.value(L.key_bits(k)), k < 0))
        if not allow_subnormal:
            if not any(not _is_subnormal(fmt, x) for x, _ in special):
                raise InputError(f"[{min_value}, {max_value}] holds only subnormals of {fmt.name}; "
                                 f"allow_subnormal=True or widen the range")
            keys = keys.filter(lambda p: not _is_subnormal(fmt, p[0]))
        special = [p for p in special if allow_subnormal or not _is_subnormal(fmt, p[0])]
        branches = [st.sampled_from(special), keys] if special else [keys]
    else:
        branches = [st.sampled_from(special), _field_values(L, allow_subnormal)]
    out = st.one_of(*branches).map(finish)
    extra = []
    if allow_infinity:
        infs = [v for v in (math.inf, -math.inf) if (v > 0 and hi is None) or (v < 0 and lo is None)]
        if not infs:
            raise InputError("no infinity lies in [min_value, max_value]; pass allow_infinity=False")
        extra.append(st.sampled_from(infs).map(conv))
    if allow_nan:
        extra.append(st.just(math.nan).map(conv))
    return st.one_of(out, *extra) if extra else out


def _exact(v, what: str) -> Fraction:
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return Fraction(int(v))
    if isinstance(v, str):
        try:
            return Fraction(v.strip())
        except ValueError:
            raise InputError(f"{what} must be a number, got {v!r}") from None
    return Fraction(finite_float(v, what=what, hint="(leave it None for no bound)"))


# ----------------------------------------------------------------------------- rounding inputs
def rounding_inputs(fmt, source="fp64", *, min_value=None, max_value=None, dtype=None):
    """Strategy for finite values of ``source`` that sit where rounding into ``fmt`` bites.

    A value ``v`` of ``fmt`` is drawn with :func:`values`, then one of: ``v`` itself, the exact tie
    ``v + ulp(v)/2`` (midpoint to the next value away from zero; at the largest finite value the
    overflow threshold), one ``source`` ulp above or below that tie or ``v``, or any value of
    ``source``. Candidates that ``source`` cannot represent fall back to ``v``. Results are Python
    floats, or ``dtype`` scalars (default for a ``source`` other than fp64: its numpy/ml_dtypes type).

    >>> from hypothesis import find
    >>> from hypothesis import settings
    >>> from qbound.numeric import quantize
    >>> find(rounding_inputs("bf16"), lambda x: 1 < x < 1 + 2 ** -7 and quantize(x, "bf16") != quantize(x, "bf16", "rna"),
    ...      settings=settings(deadline=None))
    1.00390625
    """
    fmt, src = get_format(fmt), get_format(source)
    Ls = _Layout(src)
    dt = _resolve_dtype(dtype)
    if dt is None and src.name != "fp64":
        dt = _SOURCE_DTYPES.get(src.name)
        if dt is not None:
            dt = _resolve_dtype(dt)
    lo = None if min_value is None else _exact(min_value, "min_value")
    hi = None if max_value is None else _exact(max_value, "max_value")
    base = values(fmt, allow_nan=False, allow_infinity=False, allow_subnormal=fmt.subnormals, as_fraction=True)
    # ties and their neighbours shrink towards the binade of 1 (1 + ulp/2 reads better than minsub/2)
    tie_base = st.one_of(st.just(Fraction(1)), base) if fmt.max_finite >= 1 else base
    anything = values(src, allow_nan=False, allow_infinity=False, min_value=min_value, max_value=max_value,
                      as_fraction=True)
    kinds = ["value", "tie", "tie+1", "tie-1", "value+1", "value-1", "any"]

    def representable(x: Fraction) -> bool:
        if abs(x) > src.max_finite:
            return False
        try:
            src.encode(float(x))
        except (ValueError, OverflowError):
            return False
        return Fraction(float(x)) == x

    def step(x: Fraction, k: int) -> Fraction:
        """x moved k source ulps (in key order); x must be a value of source."""
        b = src.encode(float(x))
        key = -(b & ~Ls.sign_bit) if b & Ls.sign_bit else b
        key = max(-Ls.max_key, min(Ls.max_key, key + k))
        return Ls.value(Ls.key_bits(key))

    @st.composite
    def draw_input(draw):
        kind = draw(st.sampled_from(kinds))
        if kind == "any":
            x = draw(anything)
        else:
            v = draw(tie_base if kind.startswith("tie") else base)
            x = v
            if kind.startswith("tie"):
                mag = abs(v) + fmt.ulp(v) / 2
                t = -mag if v < 0 else mag
                if representable(t):
                    x = t
            if representable(x) and kind.endswith(("+1", "-1")):
                x = step(x, 1 if kind.endswith("+1") else -1)
            if not representable(x):
                x = v if representable(v) else Fraction(0)
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            x = draw(anything)
        return x

    if dt is None:
        return draw_input().map(float)
    return draw_input().map(lambda x: dt.type(float(x)))


_SOURCE_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "fp8_e5m2": "float8_e5m2",
                  "fp8_e4m3fn": "float8_e4m3fn"}


# ----------------------------------------------------------------------------- formats, modes, plans
def _canonical(e: int, m: int) -> FloatFormat:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatSpellingWarning)
        return get_format(f"e{e}m{m}")


def formats(*, registry_formats: bool = True, ieee_like: bool = True, min_exp_bits: int = 2, max_exp_bits: int = 8,
            min_man_bits: int = 1, max_man_bits: int = 23, max_bits: int = 32, names=None):
    """Strategy for formats: the registry's (those within the bounds on bits) and random IEEE-like ``eXmY``.

    ``names`` restricts the registry part to those names. Random formats are canonical
    (``get_format("e5m2")`` is the registry's fp8_e5m2), so their names round-trip. Shrinks towards
    the first registry format.

    >>> from hypothesis import find
    >>> find(formats(registry_formats=False, max_bits=8), lambda f: True).name
    'e2m1'
    >>> find(formats(max_bits=8), lambda f: f.policy == "fn").name
    'fp8_e4m3fn'
    """
    if not (1 <= min_exp_bits <= max_exp_bits <= 11 and 0 <= min_man_bits <= max_man_bits <= 52):
        raise InputError("need 1 <= min_exp_bits <= max_exp_bits <= 11 and 0 <= min_man_bits <= max_man_bits <= 52")

    def fits(f: FloatFormat) -> bool:
        return (min_exp_bits <= f.exp_bits <= max_exp_bits and min_man_bits <= f.man_bits <= max_man_bits
                and f.total_bits <= max_bits)

    branches = []
    if registry_formats:
        pool = [get_format(n) for n in names] if names is not None else sorted(registry().values(),
                                                                                 key=lambda f: (f.total_bits, f.name))
        pool = [f for f in pool if fits(f)]
        if pool:
            branches.append(st.sampled_from(pool))
    if ieee_like:
        e_lo, m_lo = max(2, min_exp_bits), max(1, min_man_bits)
        e_hi = min(max_exp_bits, max_bits - 1 - m_lo)
        if e_lo <= e_hi:
            @st.composite
            def random_format(draw):
                e = draw(st.integers(e_lo, e_hi))
                m = draw(st.integers(m_lo, min(max_man_bits, max_bits - 1 - e)))
                return _canonical(e, m)
            branches.append(random_format().filter(fits))
    if not branches:
        raise InputError("no format satisfies these bounds on bits")
    return st.one_of(*branches)


def rounding_modes(modes=None, *, stochastic: bool = True):
    """Strategy for rounding-mode names (shrinks towards ``rne``); ``stochastic=False`` leaves out ``sr``.

    >>> from hypothesis import find
    >>> find(rounding_modes(), lambda r: r != "rne")
    'rna'
    """
    modes = list(ROUNDING_MODES if modes is None else [check_rounding(m) for m in modes])
    if not stochastic:
        modes = [m for m in modes if m != "sr"]
    if not modes:
        raise InputError("no rounding mode left to draw")
    return st.sampled_from(modes)


def plans(*, components="WGMV", formats=None, roundings=None, allow_none: bool = True, master=("fp64", "stored"),
          update_formats=None):
    """Strategy for :class:`~qbound.numeric.QuantPlan` objects.

    Each of ``components`` gets ``None`` (if ``allow_none``) or a format from ``formats`` (a
    strategy; default registry and IEEE-like formats up to 16 bits) with a mode from ``roundings``
    (default :func:`rounding_modes`), ``sr`` sometimes with a number of random bits. ``master`` lists
    the master modes to draw ("stored" only when W is quantized); ``update_formats`` a strategy for
    the update arithmetic format, or None for float64 updates. Shrinks towards the empty plan.

    >>> from hypothesis import find
    >>> str(find(plans(components="V", allow_none=False), lambda p: True))
    'V=fp4_e2m1'
    """
    from qbound.numeric.quantplan import COMPONENTS, CompQuant, QuantPlan
    comps = [c for c in COMPONENTS if c in components]
    fmts = formats if formats is not None else globals()["formats"](max_bits=16)
    modes = roundings if roundings is not None else rounding_modes()

    @st.composite
    def comp_quant(draw):
        f = draw(fmts)
        r = draw(modes)
        k = draw(st.one_of(st.none(), st.integers(1, 64))) if r == "sr" else None
        return CompQuant(f, r, k)

    @st.composite
    def plan(draw):
        kw = {}
        for c in comps:
            kw[c] = draw(st.one_of(st.none(), comp_quant())) if allow_none else draw(comp_quant())
        masters = [m for m in master if m == "fp64" or kw.get("W") is not None]
        kw["master"] = draw(st.sampled_from(masters)) if masters else "fp64"
        if update_formats is not None:
            kw["update_format"] = draw(st.one_of(st.none(), update_formats))
        return QuantPlan(**kw)
    return plan()
