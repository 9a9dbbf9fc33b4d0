"""The sign-flip reduction (:mod:`proofs.signs`) validated against full enumeration on small formats:
every flip the analysis calls invariant is checked point by point with the exact evaluator (every
point, every sr outcome combination), the compiled engine's verdict with the reduction equals the
numpy engine's full enumeration, and the claims it must refuse are refused. Wrong variants it must
reject: halving a claim that is not invariant proves a false claim (so the analysis is what makes
the reduction sound), and a parity analysis without the divisor rule or the order-comparison rule
admits claims that are not invariant point by point."""
from __future__ import annotations

import itertools

import pytest

import qbound.proofs.engines.compiled as comp
import qbound.proofs.signs as signs
from qbound.proofs.engines import get_engine
from qbound.proofs.engines.exhaustive import ExhaustiveEngine, exact_input, values_of
from qbound.proofs.exact import build_claim, holds_at

INVARIANT = [  # (claim, hypotheses, mode, variables the reduction halves)
    ("abs(rnd(a*b) - a*b) <= u*abs(a*b)", ["tiny <= abs(a*b) <= huge"], "rne", ("a", "b")),
    ("abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*(abs(a*b) + abs(rnd(a*b) + a)) + 2*minsub",
     ["abs(a*b + a) <= huge/2", "abs(a*b) <= huge"], "sr", ("a",)),
    ("abs(fma(a, b, a) - (a*b + a)) <= u*abs(a*b + a)", ["tiny <= abs(a*b + a) <= huge"], "sr", ("a",)),
    ("abs(rnd(a/b) - a/b) <= u*abs(a/b)", ["b != 0", "tiny <= abs(a/b) <= huge"], "rtz", ("a", "b")),
    ("abs(rnd(a+b) - (a+b)) <= ulp(a+b)/2", ["abs(a+b) <= huge"], "rne", ("a",)),   # joint flip only
    ("rnd(a*a) >= 0", [], "sr", ("a",)),
    ("rnd(a*b) == -rnd(-(a*b))", [], "rna", ("a", "b")),
    ("sqrt(rnd(a*a)) <= abs(a)*(1 + u)", [], "rne", ("a",)),
    ("max(abs(a), abs(b)) >= rnd(abs(a*b))", ["abs(a) <= 1", "abs(b) <= 1"], "rne", ("a", "b")),
]
REFUSED = [  # (claim, mode, part of the reason)
    ("rnd(a+b) >= a+b", "rup", "not sign-symmetric"),
    ("rnd(a*b) <= a", "rne", "order comparison"),
    ("min(a, b) <= rnd(a)", "rne", "min of a term"),
    ("sqrt(a) >= 0", "rne", "sqrt of a term"),
    ("rnd(a*b + b) == rnd(a*b) + a", "rne", "sum of an odd and an even term"),
    ("1/(a*b) == 1/a * (1/b)", "rne", "divisor"),
    ("a**-1 == 1/a", "rne", "negative power"),
]


def _flip(point, S):
    return {k: (-v if k in S else v) for k, v in point.items()}


def _first_noninvariant_point(c, S):
    """A point where the claim's truth (hypotheses, conclusion, over all sr outcomes) differs from
    its truth at the flipped point, or None: the definition the analysis must imply."""
    vals = values_of(c.var_fmt, c.var_domain)
    for xs in itertools.product(vals, repeat=len(c.vars)):
        p = {k: exact_input(x) for k, x in zip(c.vars, xs)}
        q = _flip(p, S)   # a zero is the float ±0.0, and -(0.0) is -0.0
        if holds_at(c, p)[:2] != holds_at(c, q)[:2]:
            return p
    return None


@pytest.mark.parametrize("claim,hyps,mode,halved", INVARIANT)
def test_analysis_halves_and_is_pointwise_invariant(claim, hyps, mode, halved):
    c = build_claim(claim, "fp6_e2m3", mode, assume=hyps)
    assert signs.sign_reduce(c).halved == halved
    checked = 0
    for r in range(1, len(c.vars) + 1):
        for S in itertools.combinations(c.vars, r):
            if signs.invariant(c, S):
                assert _first_noninvariant_point(c, S) is None, S
                checked += 1
    assert checked


@pytest.mark.parametrize("claim,mode,why", REFUSED)
def test_refused(claim, mode, why):
    c = build_claim(claim, "fp6_e2m3", mode)
    r = signs.sign_reduce(c)
    assert r.halved == () and why in r.why


@pytest.mark.parametrize("claim,hyps,fmt,mode", [
    (c, h, f, m) for (c, h, m, _) in INVARIANT[:5] for f in ("fp8_e5m2",)] + [
    ("abs(rnd(a*b) - a*b) <= u/4*abs(a*b)", ["tiny <= abs(a*b) <= huge"], "fp8_e4m3fn", "rne"),   # false
    ("rnd(a*b + a) == rnd(rnd(a*b) + a)", [], "fp8_e5m2", "rtz"),                                # false
    ("abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*abs(a*b + a)", ["tiny <= abs(a*b + a) <= huge"], "fp6_e3m2", "sr"),
])
def test_compiled_with_reduction_matches_full_enumeration(claim, hyps, fmt, mode):
    c = build_claim(claim, fmt, mode, assume=hyps)
    comp._CACHE.clear()
    v1 = get_engine("compiled").decide(c)
    v2 = ExhaustiveEngine().decide(c)
    assert v1.status == v2.status
    if v1.status == "proved" and signs.sign_reduce(c).halved:
        assert v1.details["sign_reduction"]["halved"] == list(signs.sign_reduce(c).halved)
        assert v1.details["evaluated"] < v1.details["cases"]


def test_forced_halving_proves_a_false_claim(monkeypatch):
    """Wrong variant: halving b > 0 ... a, a claim false only at a < 0, proves it; the analysis refuses."""
    c = build_claim("implies(b > 0, a*b >= 0)", "fp6_e3m2", "rne")
    comp._CACHE.clear()
    assert signs.sign_reduce(c).halved == ()
    assert get_engine("compiled").decide(c).falsified
    monkeypatch.setattr(signs, "sign_reduce", lambda claim: signs.SignReduction(("a",), "forced"))
    assert get_engine("compiled").decide(c).status == "proved"


class _NoDivisorRule(signs._Parity):
    def visit_div(self, n):
        return self.visit_mul(n)


class _NoOrderRule(signs._Parity):
    def visit_cmp(self, n):
        for a in n.args:
            self.num(a)


@pytest.mark.parametrize("weak,claim,S", [
    (_NoDivisorRule, "1/(a*b) == 1/a * (1/b)", ("a",)),   # a*b = +0 at b = +0 whatever a's sign
    (_NoOrderRule, "rnd(a*b) <= a", ("a",)),
])
def test_weakened_rules_admit_noninvariant_claims(monkeypatch, weak, claim, S):
    c = build_claim(claim, "fp6_e2m3", "rne")
    assert not signs.invariant(c, S)
    assert _first_noninvariant_point(c, S) is not None
    monkeypatch.setattr(signs, "_Parity", weak)
    assert signs.invariant(c, S)     # the weakened analysis is wrong: the point above shows it
