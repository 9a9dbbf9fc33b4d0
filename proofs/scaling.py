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
from qbound.proofs.claimwalk import NodeVisitor, same_node

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


class _Analysis(NodeVisitor):
    """Degree vectors (module docstring): :meth:`deg` of a numeric node, :meth:`boolean` checks a
    boolean node (every comparison link between terms of one degree). Collects the ``rnd``/``ulp``
    arguments in ``obligations``; raises :class:`_NotHomogeneous` where the claim is not
    homogeneous."""

    def __init__(self):
        self.obligations = []   # rnd/ulp arguments (nodes)

    def deg(self, n: Node):
        if n.is_bool:
            raise _NotHomogeneous(f"{n.kind} is not scale-invariant")
        return self.visit(n)

    def boolean(self, n: Node):
        if not n.is_bool:
            raise _NotHomogeneous(n.kind)
        self.visit(n)

    def visit_num(self, n: Node):
        return ANY if n.value == 0 else {}

    def visit_var(self, n: Node):
        return {n.value: 1}

    def visit_name(self, n: Node):
        raise _NotHomogeneous(f"{n.kind} is not scale-invariant")

    def visit_mul(self, n: Node):
        return _vec_add(self.deg(n.args[0]), self.deg(n.args[1]))

    def visit_div(self, n: Node):
        return _vec_add(self.deg(n.args[0]), self.deg(n.args[1]), -1)

    def visit_add(self, n: Node):
        a, b = self.deg(n.args[0]), self.deg(n.args[1])
        if not _eq(a, b):
            raise _NotHomogeneous(f"sum of terms of different degree: {n}")
        return b if a == ANY else a

    visit_sub = visit_add

    def visit_neg(self, n: Node):
        return self.deg(n.args[0])

    def visit_pow(self, n: Node):
        a = self.deg(n.args[0])
        k = cast(int, n.value)
        return ANY if a == ANY else {v: d * k for v, d in a.items() if d * k}

    visit_call_abs = visit_neg

    def visit_call_min(self, n: Node):
        a, b = self.deg(n.args[0]), self.deg(n.args[1])
        if not _eq(a, b):
            raise _NotHomogeneous(f"{n.value} of terms of different degree")
        return b if a == ANY else a

    visit_call_max = visit_call_min

    def visit_call_sqrt(self, n: Node):
        a = self.deg(n.args[0])
        if a == ANY:
            return ANY
        if any(d % 2 for d in a.values()):
            raise _NotHomogeneous("sqrt of a term of odd degree")
        return {v: d // 2 for v, d in a.items()}

    def visit_call_rnd(self, n: Node):
        a = self.deg(n.args[0])
        self.obligations.append(n.args[0])
        return a

    visit_call_ulp = visit_call_rnd

    def visit_cmp(self, n: Node):
        ds = [self.deg(a) for a in n.args]
        known = [d for d in ds if d != ANY]
        if any(d != known[0] for d in known):
            raise _NotHomogeneous(f"comparison of terms of different degree: {n}")

    def visit_and(self, n: Node):
        for a in n.args:
            self.boolean(a)

    visit_or = visit_not = visit_and


def _range_hyp(h: Node, fmt):
    """E if h is ``tiny <= abs(E) <= huge`` (also written with < huge... no: exactly these bounds)."""
    if h.kind != "cmp" or len(h.args) != 3 or h.value != ("<=", "<="):
        return None
    lo, mid, hi = h.args
    if lo.kind == "num" and hi.kind == "num" and lo.value == fmt.min_normal and hi.value == fmt.max_finite \
            and mid.kind == "call" and mid.value == "abs":
        return mid.args[0]
    return None


class _AbsInterval(NodeVisitor):
    """``[lo, hi]`` containing ``|n|`` for every point with ``|x| in [1, 2)`` for each variable, by
    interval arithmetic on absolute values: |x*y| = |x||y|, |x/y| = |x|/|y|, |x +- y| lies in
    ``[max(0, |x|lo - |y|hi, |y|lo - |x|hi), |x|hi + |y|hi]``, ``rnd`` is monotone (round the ends
    down and up). None where no bound is known (overflow, a divisor reaching 0, min/max, ulp)."""

    def __init__(self, fmt):
        self.fmt = fmt

    def unknown(self, n: Node):
        return None

    visit_name = visit_call_min = visit_call_max = visit_call_ulp = unknown
    visit_cmp = visit_and = visit_or = visit_not = unknown   # no numeric value

    def visit_num(self, n: Node):
        v = cast(Fraction, n.value)
        return abs(v), abs(v)

    def visit_var(self, n: Node):
        return Fraction(1), Fraction(2)

    def visit_neg(self, n: Node):
        return self.visit(n.args[0])

    visit_call_abs = visit_neg

    def visit_mul(self, n: Node):
        a, b = self.visit(n.args[0]), self.visit(n.args[1])
        if a is None or b is None:
            return None
        return a[0] * b[0], a[1] * b[1]

    def visit_div(self, n: Node):
        a, b = self.visit(n.args[0]), self.visit(n.args[1])
        if a is None or b is None:
            return None
        if b[0] == 0:
            return None
        return a[0] / b[1], a[1] / b[0]

    def visit_add(self, n: Node):
        a, b = self.visit(n.args[0]), self.visit(n.args[1])
        if a is None or b is None:
            return None
        lo = max(Fraction(0), a[0] - b[1], b[0] - a[1])
        return lo, a[1] + b[1]

    visit_sub = visit_add

    def visit_pow(self, n: Node):
        a = self.visit(n.args[0])
        e = cast(int, n.value)
        if a is None or (e < 0 and a[0] == 0):
            return None
        lo, hi = a[0] ** e, a[1] ** e
        return (min(lo, hi), max(lo, hi))

    def visit_call_rnd(self, n: Node):
        from qbound.proofs.exact import round_fraction
        a = self.visit(n.args[0])
        if a is None:
            return None
        lo, hi = round_fraction(a[0], self.fmt, "rdn"), round_fraction(a[1], self.fmt, "rup")
        if isinstance(lo, float) or isinstance(hi, float):
            return None
        return lo, hi

    def visit_call_sqrt(self, n: Node):
        a = self.visit(n.args[0])
        if a is None:
            return None
        import math
        lo = Fraction(math.isqrt(int(a[0] * 2 ** 40)), 2 ** 20)
        hi = Fraction(math.isqrt(int(a[1] * 2 ** 40)) + 1, 2 ** 20)
        return lo, hi


def _abs_interval(n: Node, fmt):
    """Interval [lo, hi] of |n| when every variable has |x| in [1, 2) (None: unbounded/unknown)."""
    return _AbsInterval(fmt).visit(n)


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
        if not any(same_node(ob, e) for e in ranges):
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
