"""Rounding modes and special-value policies as ``str`` enums, one mathematical definition per member.

Every member *is* its string (``RoundingMode.RNE == "rne"``, same hash, ``str()`` gives ``"rne"``),
so each function that takes ``rounding="rne"`` takes ``RoundingMode.RNE`` as well and results,
JSON files and command lines are unchanged.

Rounding of a real x != 0 onto a grid: write |x| = (k + r) q with q the grid spacing (the quantum)
at |x|, k an integer and 0 <= r < 1; each mode returns k q or (k + 1) q with the sign of x.

>>> RoundingMode("sr") is RoundingMode.SR, RoundingMode.RNE == "rne", str(RoundingMode.RTZ)
(True, True, 'rtz')
>>> print(RoundingMode.RNA.__doc__)
Round to nearest, ties away from zero: k + 1 iff r >= 1/2.
>>> {"rne": 1}[RoundingMode.RNE], len({RoundingMode.RNE, "rne"})
(1, 1)
>>> FormatPolicy.FN == "fn", FormatPolicy("none").has_inf
(True, False)
"""
from __future__ import annotations

from enum import Enum


class _StrEnum(str, Enum):
    """A str enum whose members hash, compare, print and format as their value."""

    def __new__(cls, value: str, doc: str = ""):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.__doc__ = doc
        return obj

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)

    __hash__ = str.__hash__

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


class RoundingMode(_StrEnum):
    """How a value between two neighbouring grid points k q < |x| < (k + 1) q is rounded."""

    RNE = ("rne", "Round to nearest, ties to even: k + 1 iff r > 1/2, or r = 1/2 and k is odd "
                  "(IEEE 754 roundTiesToEven).")
    RNA = ("rna", "Round to nearest, ties away from zero: k + 1 iff r >= 1/2.")
    RTZ = ("rtz", "Round toward zero (truncate): always k, so |Q(x)| <= |x|.")
    RUP = ("rup", "Round toward +infinity: Q(x) = min{y on the grid : y >= x}.")
    RDN = ("rdn", "Round toward -infinity: Q(x) = max{y on the grid : y <= x}.")
    SR = ("sr", "Stochastic rounding: k + 1 with probability r, else k, so E[Q(x)] = x; with k random "
                "bits R uniform on {0..2^k-1}, up iff R < floor(r 2^k).")

    @property
    def nearest(self) -> bool:
        """True for the round-to-nearest modes (|Q(x) - x| <= q/2)."""
        return self in (RoundingMode.RNE, RoundingMode.RNA)

    @property
    def directed(self) -> bool:
        """True for rtz, rup, rdn (deterministic, |Q(x) - x| < q)."""
        return self in (RoundingMode.RTZ, RoundingMode.RUP, RoundingMode.RDN)


class FormatPolicy(_StrEnum):
    """Which bit patterns of a binary format with e exponent bits and m mantissa bits are special."""

    IEEE = ("ieee", "IEEE 754: the all-ones exponent holds +-inf (mantissa 0) and NaN (mantissa != 0); "
                    "emax = 2^e - 2 - bias.")
    FN = ("fn", "OCP 'finite, NaN': no infinity; only S.1..1.1..1 is NaN, so emax = 2^e - 1 - bias and "
                "the largest finite mantissa is 1..10.")
    NONE = ("none", "Every pattern is finite (OCP FP6/FP4): no inf, no NaN; out-of-range values saturate.")

    @property
    def has_inf(self) -> bool:
        return self is FormatPolicy.IEEE

    @property
    def has_nan(self) -> bool:
        return self is not FormatPolicy.NONE


#: the mode names, in the order used across qbound
ROUNDING_MODES: tuple[str, ...] = RoundingMode.values()
POLICIES: tuple[str, ...] = FormatPolicy.values()
