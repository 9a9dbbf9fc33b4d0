"""Lemma family ``sub``: below the normal range, where the relative model fails.

* ``sub.relfail`` (expected falsified): |rnd(a c) - a c| <= u |a c| fails for some 0 < |a c| < tiny.
  Formats of at most 16 bits are enumerated with c = 3/4; wider ones are decided at the witness
  a = minsub, c = 3/4 (what enumeration finds on every 16-bit format), evaluated exactly.
* ``sub.mixed``: the mixed model that holds there, |rnd(x) - x| <= eta for every real |x| < tiny,
  with eta = minsub/2 (nearest) or minsub (toward zero), decided over the reals.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator

from qbound.proofs.exact import fmt_value
from qbound.proofs.prover import prove
from qbound.proofs.suite.common import Unit
from qbound.proofs.verdict import LemmaResult, Verdict

RELFAIL_CLAIM = "abs(rnd(a*c) - a*c) <= bnd*abs(a*c)"
RELFAIL_TITLE = "the relative model fails below the normal range"


def _relfail(u: Unit) -> LemmaResult:
    fmt, mode = u.fmt, u.mode
    bconst = {"bnd": u.bound}
    if fmt.total_bits <= 16:
        return u.lemma("sub.relfail", RELFAIL_TITLE, RELFAIL_CLAIM, ["0 < abs(a*c) < tiny"], "falsified",
                       {**bconst, "c": Fraction(3, 4)}, engine="exhaustive")
    v = prove(f"not ({RELFAIL_CLAIM})", fmt, mode,
              consts={**bconst, "c": Fraction(3, 4), "a": fmt.min_subnormal}, engine="exhaustive")
    st = {"proved": "falsified", "falsified": "proved"}.get(v.status, "unknown")
    cx = None
    if st == "falsified":
        cx = {"a": {"decimal": fmt_value(fmt.min_subnormal), "hex": fmt.hex(fmt.encode(float(fmt.min_subnormal)))},
              "lhs": "|rnd(3/4 minsub) - 3/4 minsub|", "rhs": "bound * 3/4 minsub"}
    v = Verdict(st, v.engine, v.engine_version, v.seconds, cx,
                details={"note": "witness point a = minsub, c = 3/4 checked exactly"})
    return LemmaResult("sub.relfail", RELFAIL_TITLE, fmt.name, mode, ["0 < abs(a*c) < tiny", "c = 3/4"],
                       RELFAIL_CLAIM, "falsified", v, {"bound": u.bound})


def _mixed(u: Unit) -> LemmaResult:
    from qbound.proofs.reductions import real_conversion
    fmt, mode = u.fmt, u.mode
    eta = fmt.min_subnormal / 2 if mode == "rne" else fmt.min_subnormal
    v, _ = real_conversion(fmt, mode, region="subnormal", eta=Fraction(1, 2) if mode == "rne" else 1,
                           timeout=u.timeout, smt2_dir=u.smt2_dir)
    if eta.numerator == 1 or eta.denominator == 1:
        claim = f"abs(rnd(x) - x) <= 2**({eta.numerator.bit_length() - eta.denominator.bit_length()})"
    else:
        claim = f"abs(rnd(x) - x) <= {fmt_value(eta)}"
    return LemmaResult("sub.mixed", "mixed model below the normal range: |rnd(x) - x| <= eta", fmt.name, mode,
                       ["0 <= abs(x) < tiny", "x real"], claim, "proved", v,
                       {"eta": eta, "delta": u.bound, "model": "rnd(x) = x(1+delta) + eta', |delta| <= bound, "
                        "|eta'| <= eta, delta*eta' = 0"})


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``sub.relfail`` then ``sub.mixed`` (directed and nearest modes only)."""
    if u.mode not in ("rne", "rtz"):
        return
    yield _relfail(u)
    yield _mixed(u)
