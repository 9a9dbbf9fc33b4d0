"""Lemma family ``op``: the x(1 + delta) model of the basic operations in the normal range.

``op.{mul,add,sub,div,sqrt,fma}.relerr`` (rne, rtz): one correctly rounded operation whose exact
result lies in the normal range has relative error at most u. How each is decided (each choice is a
reduction validated in tests/proofs against enumeration):

* formats of at most 8 bits: enumeration (fma only up to 6 bits: three operands);
* sqrt on formats of at most 16 bits: the planner (enumeration of one operand);
* * and +/-: the significand reductions of :mod:`qbound.proofs.reductions` (the reduced query for
  a + b has a free sign, so it covers a - b, which shares its verdict);
* /, sqrt and fma otherwise: one rounding of an exact real, i.e. the conversion lemma over reals.
"""
from __future__ import annotations

from typing import Iterator

from qbound.proofs.suite.common import Unit
from qbound.proofs.verdict import LemmaResult, Verdict

#: operation -> (claim with the bound written ``bnd``, hypotheses)
OPERATIONS = {
    "mul": ("abs(rnd(a*b) - a*b) <= bnd*abs(a*b)", ["tiny <= abs(a*b) <= huge"]),
    "add": ("abs(rnd(a+b) - (a+b)) <= bnd*abs(a+b)", ["tiny <= abs(a+b) <= huge"]),
    "sub": ("abs(rnd(a-b) - (a-b)) <= bnd*abs(a-b)", ["tiny <= abs(a-b) <= huge"]),
    "div": ("abs(rnd(a/b)*b - a) <= bnd*abs(a)", ["b != 0", "tiny*abs(b) <= abs(a) <= huge*abs(b)"]),
    "sqrt": ("(1-bnd)**2*a <= rnd(sqrt(a))**2 <= (1+bnd)**2*a", ["tiny**2 <= a"]),
    "fma": ("abs(rnd(a*b+c) - (a*b+c)) <= bnd*abs(a*b+c)", ["tiny <= abs(a*b+c) <= huge"]),
}


def _shared(v: Verdict, with_lemma: str) -> Verdict:
    """A copy of ``v`` that says it is the verdict of ``with_lemma``."""
    return Verdict(v.status, v.engine, v.engine_version, v.seconds, v.counterexample, v.reason,
                   details={**v.details, "shared_with": with_lemma})


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``op.*.relerr`` in the order of :data:`OPERATIONS` (directed and nearest modes only)."""
    from qbound.proofs.reductions import product_lemma, real_conversion, sum_lemma
    fmt, mode = u.fmt, u.mode
    if mode not in ("rne", "rtz"):
        return
    bconst = {"bnd": u.bound}
    sum_verdict = None
    for op, (claim, hyps) in OPERATIONS.items():
        lid = f"op.{op}.relerr"
        title = f"x(1+delta) model for {op} in the normal range, |delta| <= {u.bound_str}"
        if u.small and not (op == "fma" and fmt.total_bits > 6):
            yield u.lemma(lid, title, claim, hyps, "proved", bconst, engine="exhaustive")
            continue
        if op == "sqrt" and fmt.total_bits <= 16:
            yield u.lemma(lid, title, claim, hyps, "proved", bconst)
            continue
        if op == "mul":
            v = product_lemma(fmt, mode, timeout=u.timeout, smt2_dir=u.smt2_dir)
        elif op == "add":
            v = sum_lemma(fmt, mode, timeout=u.timeout, smt2_dir=u.smt2_dir)
            v.details["note"] = "the reduced query covers a+b and a-b (free sign)"
            sum_verdict = v
        elif op == "sub":
            # a - b = a + (-b) and the format is symmetric: the same reduced query (free sign)
            assert sum_verdict is not None, "op.add.relerr is decided before op.sub.relerr"
            v = _shared(sum_verdict, "op.add.relerr")
        else:
            v, _ = real_conversion(fmt, mode, timeout=u.timeout, smt2_dir=u.smt2_dir)
            v.details["note"] = (f"{op} is one rounding of an exact real in the normal range "
                                 "(IEEE 754), so it is the conversion lemma over reals")
        yield LemmaResult(lid, title, fmt.name, mode, hyps, claim.replace("bnd", u.bound_str), "proved", v,
                          {"bound": u.bound})
