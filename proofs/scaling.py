"""Scale-invariance reduction: decide a claim on the significands only, when that is sound.

Mathematics. In the normal range rounding commutes with scaling by powers of two: for
``tiny <= |E| <= huge`` and ``tiny <= |2^s E| <= huge``, ``rnd(2^s E) = 2^s rnd(E)`` (same for
``ulp``), for every rounding mode and every sr outcome. Give each variable x a degree vector
(``deg x = e_x``); a term is *homogeneous* when ``deg(t1 * t2) = deg t1 + deg t2``,
``deg(t1 / t2) = deg t1 - deg t2``, ``deg t**k = k deg t``, ``deg sqrt t = deg t / 2`` (even),
sums, min, max and comparison links have operands of one degree (a zero constant fits any degree),
and ``rnd(E)``, ``ulp(E)`` keep ``deg E``. If the claim and every hypothesis except the *range
hypotheses* ``tiny <= abs(E) <= huge`` are homogeneous, and every ``rnd``/``ulp`` argument E has a
range hypothesis, then scaling each variable separately, ``x -> 2^(k_x) x``, maps a point satisfying
the hypotheses to a point where every comparison link is multiplied by the same power of two on both
sides, as long as every E stays in the normal range. Choose ``k_x`` so that ``|x| in [1, 2)`` (every
finite non-zero value of the format, subnormals included, has a p-bit significand there, and the
result is a value of the format): the claim holds everywhere iff it holds on the *reduced domain*
``{x : |x| in [1, 2)}`` for every variable, provided

1. every E lies in ``[tiny, huge]`` on the whole reduced domain (checked here by interval
   arithmetic on absolute values; a sum whose lower bound reaches 0, a possible cancellation, makes
   the reduction inapplicable), so the range hypotheses hold there and may be dropped;
2. every variable has a non-zero degree in some range-hypothesised E, so x = 0 (E = 0, or inf/NaN
   for a negative degree) violates a hypothesis and zero need not be in the reduced domain.

Only then is the reduction applied. Each application is validated against full enumeration on the
small formats in ``tests/proofs/test_proofs_claims16.py``, including claims where it must refuse.

>>> from qbound.proofs.exact import build_claim
>>> c = build_claim("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "bf16", assume=["tiny <= abs(a*b) <= huge"])
>>> r = scale_reduce(c)
>>> r.claim.var_domain, len(r.claim.hyps)
('significands', 0)
>>> scale_reduce(build_claim("rnd(a*b) >= 0", "bf16")).claim is None
True
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import cast

from qbound.proofs.claims import Node

ANY = "any"   # degree of the constant 0: fits every degree


class _NotHomogeneous(Exception):
    pass


@dataclass
class ScaleReduction:
    """Outcome of the analysis: ``claim`` (the reduced claim, or None) and ``why`` (text)."""

    claim: object
    why: str


def _vec_add(a, b, k=1):
    if a == ANY or b == ANY:
        return ANY
    out = dict(a)
    for v, d in b.items():
        out[v] = out.get(v, 0) + k * d
    return {v: d for v, d in out.items() if d}


def _eq(a, b):
    return a == ANY or b == ANY or a == b


class _Analysis:
    def __init__(self):
        self.obligations = []   # rnd/ulp arguments (nodes)

    def deg(self, n: Node):
        k = n.kind
        if k == "num":
            return ANY if n.value == 0 else {}
        if k == "var":
            return {n.value: 1}
        if k == "mul":
            return _vec_add(self.deg(n.args[0]), self.deg(n.args[1]))
        if k == "div":
            return _vec_add(self.deg(n.args[0]), self.deg(n.args[1]), -1)
        if k in ("add", "sub"):
            a, b = self.deg(n.args[0]), self.deg(n.args[1])
            if not _eq(a, b):
                raise _NotHomogeneous(f"sum of terms of different degree: {n}")
            return b if a == ANY else a
        if k == "neg":
            return self.deg(n.args[0])
        if k == "pow":
            a = self.deg(n.args[0])
            return ANY if a == ANY else {v: d * n.value for v, d in a.items() if d * n.value}
        if k == "call":
            f = n.value
            if f == "abs":
                return self.deg(n.args[0])
            if f in ("min", "max"):
                a, b = self.deg(n.args[0]), self.deg(n.args[1])
                if not _eq(a, b):
                    raise _NotHomogeneous(f"{f} of terms of different degree")
                return b if a == ANY else a
            if f == "sqrt":
                a = self.deg(n.args[0])
                if a == ANY:
                    return ANY
                if any(d % 2 for d in a.values()):
                    raise _NotHomogeneous("sqrt of a term of odd degree")
                return {v: d // 2 for v, d in a.items()}
            if f in ("rnd", "ulp"):
                a = self.deg(n.args[0])
                self.obligations.append(n.args[0])
                return a
        raise _NotHomogeneous(f"{k} is not scale-invariant")

    def boolean(self, n: Node):
        if n.kind in ("and", "or", "not"):
            for a in n.args:
                self.boolean(a)
            return
        if n.kind != "cmp":
            raise _NotHomogeneous(n.kind)
        ds = [self.deg(a) for a in n.args]
        known = [d for d in ds if d != ANY]
        if any(d != known[0] for d in known):
            raise _NotHomogeneous(f"comparison of terms of different degree: {n}")


def _same(x: Node, y: Node) -> bool:
    return (x.kind == y.kind and x.value == y.value and len(x.args) == len(y.args)
            and all(_same(a, b) for a, b in zip(x.args, y.args)))


def _range_hyp(h: Node, fmt):
    """E if h is ``tiny <= abs(E) <= huge`` (also written with < huge... no: exactly these bounds)."""
    if h.kind != "cmp" or len(h.args) != 3 or h.value != ("<=", "<="):
        return None
    lo, mid, hi = h.args
    if lo.kind == "num" and hi.kind == "num" and lo.value == fmt.min_normal and hi.value == fmt.max_finite \
            and mid.kind == "call" and mid.value == "abs":
        return mid.args[0]
    return None


def _abs_interval(n: Node, fmt):
    """Interval [lo, hi] of |n| when every variable has |x| in [1, 2) (None: unbounded/unknown)."""
    from qbound.proofs.exact import round_fraction
    k = n.kind
    if k == "num":
        v = cast(Fraction, n.value)
        return abs(v), abs(v)
    if k == "var":
        return Fraction(1), Fraction(2)
    if k in ("neg",) or (k == "call" and n.value == "abs"):
        return _abs_interval(n.args[0], fmt)
    if k in ("mul", "div"):
        a, b = _abs_interval(n.args[0], fmt), _abs_interval(n.args[1], fmt)
        if a is None or b is None:
            return None
        if k == "mul":
            return a[0] * b[0], a[1] * b[1]
        if b[0] == 0:
            return None
        return a[0] / b[1], a[1] / b[0]
    if k in ("add", "sub"):
        a, b = _abs_interval(n.args[0], fmt), _abs_interval(n.args[1], fmt)
        if a is None or b is None:
            return None
        lo = max(Fraction(0), a[0] - b[1], b[0] - a[1])
        return lo, a[1] + b[1]
    if k == "pow":
        a = _abs_interval(n.args[0], fmt)
        e = cast(int, n.value)
        if a is None or (e < 0 and a[0] == 0):
            return None
        lo, hi = a[0] ** e, a[1] ** e
        return (min(lo, hi), max(lo, hi))
    if k == "call" and n.value == "rnd":
        a = _abs_interval(n.args[0], fmt)
        if a is None:
            return None
        lo, hi = round_fraction(a[0], fmt, "rdn"), round_fraction(a[1], fmt, "rup")
        if isinstance(lo, float) or isinstance(hi, float):
            return None
        return lo, hi
    if k == "call" and n.value == "sqrt":
        a = _abs_interval(n.args[0], fmt)
        if a is None:
            return None
        import math
        lo = Fraction(math.isqrt(int(a[0] * 2 ** 40)), 2 ** 20)
        hi = Fraction(math.isqrt(int(a[1] * 2 ** 40)) + 1, 2 ** 20)
        return lo, hi
    return None


def scale_reduce(claim) -> ScaleReduction:
    """The reduced claim (variables on ±[1, 2)) if the scale-invariance reduction applies, with why."""
    fmt = claim.fmt
    if claim.var_fmt != fmt:
        return ScaleReduction(None, "variables range over another format")
    if not claim.vars:
        return ScaleReduction(None, "no variables")
    if getattr(claim, "var_domain", None):
        return ScaleReduction(None, "already reduced")
    ranges: list = []
    other: list = []
    raw = claim.raw_hyps if len(claim.raw_hyps) == len(claim.hyps) else claim.hyps
    for h, r in zip(claim.hyps, raw):
        e = _range_hyp(r, fmt)
        (ranges if e is not None else other).append(e if e is not None else h)
    an = _Analysis()
    try:
        an.boolean(claim.expr)
        for h in other:
            an.boolean(h)
        range_deg = [an.deg(e) for e in ranges]
    except _NotHomogeneous as exc:
        return ScaleReduction(None, f"not scale-invariant: {exc}")
    for ob in an.obligations:
        if not any(_same(ob, e) for e in ranges):
            return ScaleReduction(None, f"rnd/ulp argument {ob} has no hypothesis tiny <= abs({ob}) <= huge")
    for v in claim.vars:
        if not any(d != ANY and d.get(v, 0) for d in range_deg):
            return ScaleReduction(None, f"variable {v} has degree 0 in every range hypothesis (x = 0 not excluded)")
    for e in ranges:
        iv = _abs_interval(e, fmt)
        if iv is None or iv[0] < fmt.min_normal or iv[1] > fmt.max_finite:
            return ScaleReduction(None, f"{e} may leave the normal range on the reduced domain (cancellation?)")
    reduced = replace(claim, hyps=tuple(other), var_domain="significands")
    return ScaleReduction(reduced, "scale invariance in the normal range: every variable scaled by a power of "
                                   "two into ±[1, 2) (range hypotheses hold there and are dropped)")
