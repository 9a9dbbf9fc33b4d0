"""Lemma family ``exact``: operations whose result needs no rounding.

* ``exact.sterbenz`` (Sterbenz): a - b is exact when b/2 <= a <= 2b (fp16/fp32: exactness is encoded
  as "rounding down equals rounding up", no wide sort);
* ``exact.pow2``: scaling by c = 2^k and by 2^-k is exact when a and a c are normal, with k = 3
  where the format has room, else the largest k for which some a has tiny <= |a| and
  tiny <= |a c| <= huge (fp6_e2m3, fp4_e2m1: huge/tiny < 8, so c = 8 would make the lemma vacuous;
  a suite lemma must not be).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator

from qbound.numeric.formats import floor_log2
from qbound.proofs.exact import fmt_value
from qbound.proofs.suite.common import Unit
from qbound.proofs.verdict import LemmaResult


def pow2_exponent(fmt) -> int:
    """k of ``exact.pow2`` (see module docstring).

    >>> from qbound.numeric.formats import get_format
    >>> pow2_exponent(get_format("bf16")), pow2_exponent(get_format("fp4_e2m1"))
    (3, 2)
    """
    return min(3, floor_log2(fmt.max_finite / fmt.min_normal))


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``exact.sterbenz`` then ``exact.pow2`` for 2^k and 2^-k (directed and nearest modes only)."""
    if u.mode not in ("rne", "rtz"):
        return
    yield u.lemma("exact.sterbenz", "Sterbenz: a - b is exact when b/2 <= a <= 2b", "rnd(a - b) == a - b",
                  ["b <= 2*a", "a <= 2*b"], "proved", engine="exhaustive" if u.fmt.total_bits <= 8 else "auto")
    k = pow2_exponent(u.fmt)
    for c in (Fraction(2) ** k, Fraction(1, 2 ** k)):
        yield u.lemma("exact.pow2", f"scaling by {fmt_value(c)} is exact inside the normal range",
                      "rnd(a*c) == a*c", ["tiny <= abs(a*c) <= huge", "tiny <= abs(a) <= huge"], "proved",
                      {"c": c}, data={"c": c})
