"""Binary floating-point formats and their exact constants.

A format with ``e`` exponent bits, ``m`` stored mantissa bits and bias ``b`` represents, for a
finite non-zero bit pattern with biased exponent field ``E`` and mantissa field ``f``:

* normal (``E >= 1``):      (-1)^s * 2^(E - b) * (1 + f / 2^m)
* subnormal (``E == 0``):   (-1)^s * 2^(1 - b) * (f / 2^m)       (or zero when flushed)

The precision is ``p = m + 1`` bits, ``emin = 1 - b``. Which patterns are finite depends on the
*special-value policy*:

* ``"ieee"``: the all-ones exponent encodes +-inf (f == 0) and NaN (f != 0);  emax = 2^e - 2 - b.
* ``"fn"`` (OCP "finite, NaN"): no infinities; only S.1...1.1...1 is NaN;   emax = 2^e - 1 - b.
* ``"none"``: every pattern is finite (OCP FP6/FP4); there is no inf and no NaN.

All derived constants are exact :class:`fractions.Fraction` values.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np

from qbound.numeric.errors import InputError, check_choice, did_you_mean

from qbound.numeric.modes import POLICIES, ROUNDING_MODES, FormatPolicy, RoundingMode

#: (ROUNDING_MODES: the rounding modes understood across qbound, the values of RoundingMode; see
#: numeric.modes and numeric.rounding for their definitions; POLICIES: the values of FormatPolicy)
NEAREST_MODES = ("rne", "rna")


class FormatError(InputError):
    """An unknown or impossible floating-point format, or an unknown rounding mode."""


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format (frozen, hashable).

    Parameters
    ----------
    name : registry name, e.g. ``"bf16"``.
    exp_bits : number of exponent bits ``e`` (>= 1).
    man_bits : number of stored mantissa (fraction) bits ``m`` (>= 0).
    bias : exponent bias; default ``2^(e-1) - 1``.
    policy : ``"ieee"``, ``"fn"`` or ``"none"``, or a :class:`~qbound.numeric.modes.FormatPolicy`
        (stored as the plain string; see module docstring).
    subnormals : whether the zero-exponent patterns are subnormals (True) or flushed to zero.
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int = None  # type: ignore[assignment]  # None means 2^(e-1) - 1, set in __post_init__
    policy: str = "ieee"
    subnormals: bool = True
    aliases: tuple = field(default=(), compare=False, hash=False, repr=False)

    def __post_init__(self):
        if self.bias is None:
            object.__setattr__(self, "bias", (1 << (self.exp_bits - 1)) - 1)
        if self.policy not in POLICIES:
            raise FormatError(f"policy must be one of {POLICIES}, got {self.policy!r}")
        object.__setattr__(self, "policy", FormatPolicy(self.policy).value)
        if not (1 <= self.exp_bits <= 11):
            raise FormatError(f"exp_bits must be in 1..11, got {self.exp_bits}")
        if not (0 <= self.man_bits <= 52):
            raise FormatError(f"man_bits must be in 0..52, got {self.man_bits}")
        if self.policy == "fn" and self.man_bits == 0:
            raise FormatError("policy 'fn' needs at least one mantissa bit")
        if self.emin < -1022 or self.emax > 1023:
            raise FormatError(f"format {self.name} does not fit inside float64")

    # ----------------------------------------------------------------- exact constants
    @property
    def total_bits(self) -> int:
        """Storage width 1 + e + m."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def p(self) -> int:
        """Precision in bits, including the implicit leading bit: p = m + 1."""
        return self.man_bits + 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number: 1 - bias."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number."""
        top = (1 << self.exp_bits) - 1
        return (top - 1 if self.policy == "ieee" else top) - self.bias

    @cached_property
    def max_finite(self) -> Fraction:
        """Largest finite value ("huge")."""
        m = self.man_bits
        if self.policy == "fn":  # all-ones mantissa at the top exponent is NaN
            frac = Fraction(2) - Fraction(2, 1 << m)
        else:
            frac = Fraction(2) - Fraction(1, 1 << m)
        return frac * Fraction(2) ** self.emax

    @cached_property
    def min_normal(self) -> Fraction:
        """Smallest positive normal value 2^emin ("tiny")."""
        return Fraction(2) ** self.emin

    @cached_property
    def min_subnormal(self) -> Fraction:
        """Smallest positive value: 2^(emin - m), or 2^emin when subnormals are flushed."""
        if not self.subnormals:
            return self.min_normal
        return Fraction(2) ** (self.emin - self.man_bits)

    @property
    def has_inf(self) -> bool:
        return self.policy == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.policy in ("ieee", "fn")

    def unit_roundoff(self, rounding: str = "rne") -> Fraction:
        """Unit roundoff: u = 2^-p for round-to-nearest, 2^(1-p) (one ulp of 1) otherwise."""
        check_rounding(rounding)
        if rounding in NEAREST_MODES:
            return Fraction(1, 1 << self.p)
        return Fraction(2, 1 << self.p)

    def rel_error_bound(self, rounding: str = "rne") -> Fraction:
        """Sharp bound on |Q(x) - x| / |x| for x in the normal range [tiny, huge].

        * rne, rna: u/(1+u) with u = 2^-p, attained at x = 1 + u (a tie).
        * rtz:      2^(1-p)/(1+2^(1-p)), a supremum approached just below 1 + 2^(1-p), not attained.
        * rup, rdn, sr: 2^(1-p), a supremum approached just above 1 when the rounding goes away
          from zero (x > 0 for rup, x < 0 for rdn, and either sign for sr), not attained.
        """
        check_rounding(rounding)
        if rounding in NEAREST_MODES:
            u = self.unit_roundoff(rounding)
            return u / (1 + u)
        w = Fraction(2, 1 << self.p)
        if rounding == "rtz":
            return w / (1 + w)
        return w

    def rel_error_bound_attained(self, rounding: str = "rne") -> bool:
        """Whether :meth:`rel_error_bound` is attained (True) or only a supremum (False)."""
        return rounding in NEAREST_MODES

    def overflow_threshold(self, rounding: str = "rne") -> Fraction:
        """Smallest |x| that overflows under a nearest mode: huge + ulp(huge)/2.

        Under rne the tie itself overflows when huge has an odd significand (the next grid value
        2^emax * (huge_sig + ulp) is even); for fn formats huge = ...110 is even, so the tie rounds
        back to huge and only values strictly above the tie overflow. See :meth:`overflows_at_tie`.
        """
        check_rounding(rounding)
        return self.max_finite + self.ulp(self.max_finite) / 2

    def overflows_at_tie(self, rounding: str = "rne") -> bool:
        """Whether x = overflow_threshold exactly overflows (rna: always; rne: if huge is odd)."""
        if rounding == "rna":
            return True
        sig = self.max_finite / self.ulp(self.max_finite)
        return int(sig) % 2 == 1

    def ulp(self, x) -> Fraction:
        """Unit in the last place at x: 2^(max(floor(log2|x|), emin) - m); for 0 the subnormal step."""
        x = Fraction(x)
        if x == 0:
            return self.min_subnormal if self.subnormals else self.min_normal
        e = floor_log2(abs(x))
        if e < self.emin:
            return self.min_subnormal if self.subnormals else self.min_normal
        return Fraction(2) ** (e - self.man_bits)

    # ----------------------------------------------------------------- encode / decode
    def decode(self, bits: int) -> float:
        """Value of a bit pattern (an int in [0, 2^total_bits)) as a Python float (exact)."""
        bits = int(bits)
        if not (0 <= bits < (1 << self.total_bits)):
            raise ValueError(f"bit pattern {bits:#x} out of range for {self.total_bits}-bit {self.name}")
        m, e = self.man_bits, self.exp_bits
        sign = -1.0 if bits >> (e + m) else 1.0
        E = (bits >> m) & ((1 << e) - 1)
        f = bits & ((1 << m) - 1)
        top = (1 << e) - 1
        if self.policy == "ieee" and E == top:
            return sign * float("inf") if f == 0 else float("nan")
        if self.policy == "fn" and E == top and f == (1 << m) - 1:
            return float("nan")
        if E == 0:
            if not self.subnormals:
                return sign * 0.0
            return sign * float(Fraction(f, 1 << m) * self.min_normal)
        return sign * float((1 + Fraction(f, 1 << m)) * Fraction(2) ** (E - self.bias))

    def decode_fraction(self, bits: int) -> Fraction:
        """Exact value of a finite bit pattern as a Fraction (ValueError for inf/NaN)."""
        v = self.decode(bits)
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"pattern {bits:#x} of {self.name} is not finite")
        return Fraction(v)

    def encode(self, x) -> int:
        """Bit pattern of a value exactly representable in this format (or inf/NaN if it has them).

        Raises ValueError if ``x`` is not representable; quantize first.
        """
        xf = float(x)
        m, e = self.man_bits, self.exp_bits
        top = (1 << e) - 1
        if xf != xf:
            if not self.has_nan:
                raise ValueError(f"{self.name} has no NaN")
            if self.policy == "ieee":
                return (top << m) | (1 << max(m - 1, 0)) if m else (top << m)
            return (top << m) | ((1 << m) - 1)
        sign = 1 if (np.signbit(xf)) else 0
        sbit = sign << (e + m)
        ax = abs(xf)
        if ax == float("inf"):
            if not self.has_inf:
                raise ValueError(f"{self.name} has no infinity")
            return sbit | (top << m)
        if ax == 0.0:
            return sbit
        fx = Fraction(ax)
        if fx > self.max_finite:
            raise ValueError(f"{x!r} exceeds the largest finite {self.name} value {float(self.max_finite)!r}")
        ex = floor_log2(fx)
        if ex < self.emin:
            step = self.min_subnormal
            if not self.subnormals or fx % step != 0:
                raise ValueError(f"{x!r} is not representable in {self.name}")
            return sbit | int(fx / step)
        sig = fx / Fraction(2) ** (ex - m)
        if sig.denominator != 1:
            raise ValueError(f"{x!r} is not representable in {self.name}")
        f = int(sig) - (1 << m)
        return sbit | ((ex + self.bias) << m) | f

    def hex(self, bits: int) -> str:
        """Bit pattern formatted as 0x.. with as many hex digits as the format needs."""
        width = (self.total_bits + 3) // 4
        return f"0x{int(bits):0{width}x}"

    # ----------------------------------------------------------------- enumeration
    def all_patterns_values(self) -> tuple[np.ndarray, np.ndarray]:
        """All bit patterns (uint64) and their float64 values (NaN for NaN patterns).

        Only for formats of at most 16 bits.
        """
        if self.total_bits > 16:
            raise ValueError(f"enumeration is limited to formats of at most 16 bits; {self.name} has {self.total_bits}")
        n = 1 << self.total_bits
        bits = np.arange(n, dtype=np.uint64)
        m, e = self.man_bits, self.exp_bits
        sign = np.where((bits >> np.uint64(e + m)) & np.uint64(1), -1.0, 1.0)
        E = ((bits >> np.uint64(m)) & np.uint64((1 << e) - 1)).astype(np.int64)
        f = (bits & np.uint64((1 << m) - 1)).astype(np.float64)
        normal = np.ldexp(1.0 + f / (1 << m), E - self.bias)
        sub = np.ldexp(f / (1 << m), self.emin) if self.subnormals else np.zeros(n)
        vals = sign * np.where(E == 0, sub, normal)
        top = (1 << e) - 1
        if self.policy == "ieee":
            vals = np.where((E == top) & (f == 0), sign * np.inf, vals)
            vals = np.where((E == top) & (f != 0), np.nan, vals)
        elif self.policy == "fn":
            vals = np.where((E == top) & (f == (1 << m) - 1), np.nan, vals)
        return bits, vals

    def finite_values(self, *, positive_only: bool = False, include_negative_zero: bool = False) -> np.ndarray:
        """Sorted array of every distinct finite value (formats of at most 16 bits)."""
        _, vals = self.all_patterns_values()
        vals = vals[np.isfinite(vals)]
        if positive_only:
            vals = vals[vals > 0]
        out = np.unique(vals)
        if include_negative_zero and not positive_only:
            out = np.concatenate([[-0.0], out])
        return out

    def describe(self) -> dict:
        """JSON-friendly summary of the format and its constants (exact values as strings)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "bits": self.total_bits,
            "exp_bits": self.exp_bits,
            "man_bits": self.man_bits,
            "bias": self.bias,
            "policy": self.policy,
            "subnormals": self.subnormals,
            "p": self.p,
            "emin": self.emin,
            "emax": self.emax,
            "max_finite": _frac_str(self.max_finite),
            "min_normal": _frac_str(self.min_normal),
            "min_subnormal": _frac_str(self.min_subnormal),
            "unit_roundoff": {r: _frac_str(self.unit_roundoff(r)) for r in ROUNDING_MODES},
            "rel_error_bound": {r: _frac_str(self.rel_error_bound(r)) for r in ROUNDING_MODES},
        }


def _frac_str(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def floor_log2(x) -> int:
    """floor(log2(x)) for a positive rational x (Fraction, int, or float taken exactly), exactly.

    With n / d = x in lowest terms, e = bitlen(n) - bitlen(d) satisfies 2^(e-1) < x < 2^(e+1), so
    floor(log2 x) is e or e - 1, decided by one exact comparison with 2^e.

    >>> floor_log2(Fraction(1, 3)), floor_log2(8), floor_log2(0.75), floor_log2(Fraction(2**100 + 1))
    (-2, 3, -1, 100)
    """
    x = Fraction(x)
    if x <= 0:
        raise ValueError(f"floor_log2 needs a positive number, got {x}")
    n, d = x.numerator, x.denominator
    e = n.bit_length() - d.bit_length()
    if (Fraction(2) ** e) > x:
        e -= 1
    return e


#: old private name (proofs/exact.py imports it; use floor_log2)
_floor_log2 = floor_log2


# --------------------------------------------------------------------- registry
_REGISTRY: dict[str, FloatFormat] = {}
_ALIASES: dict[str, str] = {}


def _register(fmt: FloatFormat) -> FloatFormat:
    _REGISTRY[fmt.name] = fmt
    for a in fmt.aliases:
        _ALIASES[a] = fmt.name
    return fmt


FP64 = _register(FloatFormat("fp64", 11, 52, aliases=("float64", "double", "binary64", "e11m52")))
FP32 = _register(FloatFormat("fp32", 8, 23, aliases=("float32", "single", "binary32", "e8m23")))
TF32 = _register(FloatFormat("tf32", 8, 10, aliases=("tensorfloat32",)))
FP16 = _register(FloatFormat("fp16", 5, 10, aliases=("float16", "half", "binary16", "e5m10")))
BF16 = _register(FloatFormat("bf16", 8, 7, aliases=("bfloat16", "brain")))
FP8_E5M2 = _register(FloatFormat("fp8_e5m2", 5, 2, aliases=("e5m2", "float8_e5m2")))
FP8_E4M3FN = _register(FloatFormat("fp8_e4m3fn", 4, 3, policy="fn", aliases=("e4m3fn", "float8_e4m3fn", "fp8")))
FP8_E4M3 = _register(FloatFormat("fp8_e4m3", 4, 3, aliases=("e4m3", "float8_e4m3")))
FP6_E3M2 = _register(FloatFormat("fp6_e3m2", 3, 2, policy="none", aliases=("float6_e3m2fn", "e3m2fn")))
FP6_E2M3 = _register(FloatFormat("fp6_e2m3", 2, 3, policy="none", aliases=("float6_e2m3fn", "e2m3fn")))
FP4_E2M1 = _register(FloatFormat("fp4_e2m1", 2, 1, policy="none", aliases=("float4_e2m1fn", "e2m1fn", "fp4")))

#: the OCP finite formats whose plain eXmY spelling meant them before eXmY was always IEEE-like
_OCP_FINITE = {"e2m1": "fp4_e2m1", "e3m2": "fp6_e3m2", "e2m3": "fp6_e2m3"}


class FormatSpellingWarning(UserWarning):
    """A format spelling whose meaning changed: plain ``e2m1``, ``e3m2``, ``e2m3`` are IEEE-like."""


_EXMY = re.compile(r"^(?:fp(\d+)_)?e(\d+)m(\d+)$")


def registry() -> dict[str, FloatFormat]:
    """The named formats (a copy)."""
    return dict(_REGISTRY)


def accepted_names() -> list[str]:
    return sorted(_REGISTRY) + sorted(_ALIASES)


def get_format(name) -> FloatFormat:
    """Look up a format by name, alias, or IEEE-like ``eXmY`` (2 <= X <= 11, 1 <= Y <= 52).

    A FloatFormat passes through unchanged. Unknown names raise :class:`FormatError` listing the
    accepted names and close matches.
    """
    if isinstance(name, FloatFormat):
        return name
    if not isinstance(name, str):
        raise FormatError(f"format must be a name or FloatFormat, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key in _ALIASES:
        return _REGISTRY[_ALIASES[key]]
    mt = _EXMY.match(key)
    if mt:
        x, y = int(mt.group(2)), int(mt.group(3))
        if not (2 <= x <= 11 and 1 <= y <= 52):
            raise FormatError(f"eXmY formats need 2 <= X <= 11 and 1 <= Y <= 52; got e{x}m{y}")
        if mt.group(1) is not None and int(mt.group(1)) != 1 + x + y:
            raise FormatError(f"{name!r}: e{x}m{y} has 1 + {x} + {y} = {1 + x + y} bits, not {mt.group(1)}")
        if f"e{x}m{y}" in _OCP_FINITE:
            warnings.warn(
                f"{name!r} is the IEEE-like e{x}m{y} (with infinities and NaN, as every eXmY); the OCP "
                f"finite format is spelled e{x}m{y}fn or {_OCP_FINITE[f'e{x}m{y}']}", FormatSpellingWarning,
                stacklevel=2)
        try:
            return FloatFormat(f"e{x}m{y}", x, y)
        except FormatError as exc:
            raise FormatError(f"e{x}m{y} does not fit float64: {exc}") from None
    hint = did_you_mean(key, accepted_names(), n=3, cutoff=0.5)
    raise FormatError(
        f"unknown format {name!r}.{hint} Accepted: {', '.join(sorted(_REGISTRY))}, "
        f"their aliases, or eXmY with 2 <= X <= 11, 1 <= Y <= 52."
    )


def check_rounding(mode) -> str:
    """Validate a rounding mode (a name or a :class:`~qbound.numeric.modes.RoundingMode`), with close
    matches in the error; returns the plain name.

    >>> check_rounding("sr"), check_rounding(RoundingMode.RTZ)
    ('sr', 'rtz')
    """
    if mode in ROUNDING_MODES:
        return RoundingMode(mode).value
    return check_choice(mode, ROUNDING_MODES, what="rounding mode", error=FormatError)
