"""Sign-flip invariance: enumerate only the non-negative half of a variable when that is sound.

Mathematics. Flip a set S of variables, x -> -x for x in S, others unchanged. Give each term a
*parity* under the flip: ``even`` when its value is unchanged, ``odd`` when it changes sign, and
``any`` for the constant 0 (both at once). Then

* a variable in S is odd, one outside S even; a non-zero constant or reserved name (u, tiny, ...) is
  even; ``x*y`` and ``x/y`` have parity ``p(x) xor p(y)``, ``x**k`` has ``k p(x)``, ``-x`` and
  ``rnd(x)`` keep ``p(x)``; ``x + y`` and ``x - y`` need ``p(x) == p(y)`` (``any`` fits both);
* ``abs(x)`` and ``ulp(x)`` are even whatever ``p(x)``; ``sqrt(x)`` and ``min``/``max`` need even
  operands (``min(-x, -y) = -max(x, y)``, ``sqrt(-x) != -sqrt(x)``);
* ``rnd`` commutes with negation for the sign-symmetric roundings: ``rnd(-E) = -rnd(E)`` for rne, rna
  and rtz, and sr maps the toward-zero/away-from-zero outcomes of E onto those of -E (rup and rdn
  exchange under negation: the analysis refuses them). Formats are sign-symmetric, overflow
  included (±inf, NaN or ±max alike for both signs);
* a comparison link ``x op y`` is invariant when both sides are even (or ``any``), and for ``==``,
  ``!=`` also when both are odd; ``and``/``or``/``not`` of invariant formulas are invariant.

If the claim and every hypothesis are invariant under flipping S, the claim holds at a point iff it
holds at the flipped point (for every sr outcome combination, outcome for outcome). Signed zeros:
both zeros stay in the reduced domain; a variable's zero flips exactly (+0 <-> -0), but a zero
that exact arithmetic computes is +0 whatever the signs (``1/(a - a)`` and ``1/(a*0)`` are +inf for
every a), so it need not follow its parity. A zero's sign is observable only through a division by
it (``1/±0 = ±inf``), so the analysis admits only divisors that are a variable or a non-zero constant,
and no negative powers.

The analysis reads the claim as written (``report_expr`` and ``raw_hyps``: names resolved, constants
folded, no denominator clearing): the claim compiler turns ``a/b <= c`` into the equivalent sign cases
``b > 0 and a <= c*b or b < 0 and ...``, whose order comparisons on b are not invariant although the
claim is.

Two reductions follow: a variable v whose own flip ``{v}`` is invariant ranges over its values with
sign bit 0 plus -0 (about half of them); if no single flip is invariant but the flip of every
variable at once is, the first variable is halved. Each application is validated against full
enumeration on small formats in ``tests/proofs/test_sign_reduction.py``, with claims it must refuse.

>>> from qbound.proofs.exact import build_claim
>>> sign_reduce(build_claim("abs(rnd(a*b) - a*b) <= u*abs(a*b)", "fp16", "rne")).halved
('a', 'b')
>>> sign_reduce(build_claim("abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*abs(a*b + a)", "fp16", "sr")).halved
('a',)
>>> r = sign_reduce(build_claim("rnd(a+b) >= a+b", "fp16", "rup")); r.halved, r.why
((), 'rounding rup is not sign-symmetric (rnd(-x) != -rnd(x))')
>>> sign_reduce(build_claim("rnd(a*b) <= a", "fp16", "rne")).halved
()
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from qbound.proofs.claims import Node
from qbound.proofs.claimwalk import NodeVisitor

EVEN, ODD, ANY = 0, 1, "any"
SYMMETRIC_MODES = ("rne", "rna", "rtz", "sr")


class _NotInvariant(Exception):
    pass


@dataclass(frozen=True)
class SignReduction:
    """``halved``: the variables enumerated on their non-negative half (sign bit 0, and -0);
    ``why``: the flips found invariant, or why none applies."""

    halved: tuple
    why: str


def _xor(a, b):
    if a == ANY or b == ANY:
        return ANY
    return a ^ b


class _Parity(NodeVisitor):
    """Parity of numeric nodes under the flip of ``flipped`` (module docstring); :meth:`boolean`
    raises :class:`_NotInvariant` where a formula is not invariant."""

    def __init__(self, flipped):
        self.flipped = frozenset(flipped)

    def boolean(self, n: Node):
        if not n.is_bool:
            raise _NotInvariant(f"{n.kind} is not a formula")
        self.visit(n)

    def num(self, n: Node):
        if n.is_bool:
            raise _NotInvariant(f"{n.kind} inside a term")
        return self.visit(n)

    def visit_num(self, n: Node):
        return ANY if n.value == 0 else EVEN

    def visit_var(self, n: Node):
        return ODD if n.value in self.flipped else EVEN

    def visit_name(self, n: Node):
        return EVEN

    def visit_mul(self, n: Node):
        return _xor(self.num(n.args[0]), self.num(n.args[1]))

    def visit_div(self, n: Node):
        d = n.args[1]
        if not (d.kind in ("var", "name") or (d.kind == "num" and d.value != 0)):
            raise _NotInvariant(f"the divisor of {n} is not a variable or a non-zero constant (the sign of "
                                "a computed zero need not follow its parity)")
        return self.visit_mul(n)

    def visit_add(self, n: Node):
        a, b = self.num(n.args[0]), self.num(n.args[1])
        if a != ANY and b != ANY and a != b:
            raise _NotInvariant(f"sum of an odd and an even term: {n}")
        return b if a == ANY else a

    visit_sub = visit_add

    def visit_neg(self, n: Node):
        return self.num(n.args[0])

    visit_call_rnd = visit_neg

    def visit_pow(self, n: Node):
        k = cast(int, n.value)
        if k < 0:
            raise _NotInvariant(f"negative power {n} (a division by a computed value)")
        a = self.num(n.args[0])
        return ANY if a == ANY else (a * k) % 2

    def visit_call_abs(self, n: Node):
        self.num(n.args[0])
        return EVEN

    visit_call_ulp = visit_call_abs

    def _even(self, n: Node):
        for a in n.args:
            if self.num(a) == ODD:
                raise _NotInvariant(f"{n.value} of a term that changes sign: {n}")
        return EVEN

    visit_call_sqrt = visit_call_min = visit_call_max = _even

    def visit_cmp(self, n: Node):
        ps = [self.num(a) for a in n.args]
        for op, x, y in zip(cast(tuple, n.value), ps, ps[1:]):
            if op in ("==", "!="):
                if x != ANY and y != ANY and x != y:
                    raise _NotInvariant(f"{op} between an odd and an even term: {n}")
            elif ODD in (x, y):
                raise _NotInvariant(f"order comparison {op} of a term that changes sign: {n}")

    def visit_and(self, n: Node):
        for a in n.args:
            self.boolean(a)

    visit_or = visit_not = visit_and


def invariant(claim, flipped) -> bool:
    """Is the claim (hypotheses included) unchanged when the variables ``flipped`` change sign?"""
    return _why_not(claim, flipped) is None


def _why_not(claim, flipped):
    if claim.rounding not in SYMMETRIC_MODES:
        return f"rounding {claim.rounding} is not sign-symmetric (rnd(-x) != -rnd(x))"
    p = _Parity(flipped)
    expr = claim.report_expr if getattr(claim, "report_expr", None) is not None else claim.expr
    raw = getattr(claim, "raw_hyps", ())
    hyps = raw if len(raw) == len(claim.hyps) else claim.hyps
    try:
        p.boolean(expr)
        for h in hyps:
            p.boolean(h)
    except _NotInvariant as exc:
        return str(exc)
    return None


def sign_reduce(claim) -> SignReduction:
    """The variables that may be enumerated on their non-negative half, and why (module docstring)."""
    vs = list(claim.vars)
    if not vs:
        return SignReduction((), "no variables")
    if claim.rounding not in SYMMETRIC_MODES:
        return SignReduction((), cast(str, _why_not(claim, vs)))
    single = [v for v in vs if invariant(claim, [v])]
    if single:
        return SignReduction(tuple(single), "invariant under the sign flip of " + ", ".join(single)
                             + " alone: enumerated on sign bit 0 (and -0)")
    why = _why_not(claim, vs)
    if why is None:
        return SignReduction((vs[0],), f"invariant under flipping the signs of {', '.join(vs)} together: "
                                       f"{vs[0]} enumerated on sign bit 0 (and -0)")
    return SignReduction((), f"not invariant under any sign flip: {why}")


def nonnegative_half(vals):
    """The values with sign bit 0, and -0 (numpy float64 array in, same order kept).

    >>> import numpy as np
    >>> nonnegative_half(np.array([-2.0, -0.0, 0.0, 1.0, -1.0])).tolist()
    [-0.0, 0.0, 1.0]
    """
    import numpy as np
    keep = ~np.signbit(vals) | (vals == 0)
    return vals[keep]
