"""The compiled enumerator's kernel (double-double exactness, static exactness, sr outcome loops,
symmetry) against the numpy engine on small formats, and deliberately wrong variants it must reject:
(a) float64 error margins shrunk to 0, (b) the a<->b symmetry forced on a non-symmetric claim,
(c) sr evaluated for one outcome only."""
from __future__ import annotations

import numpy as np
import pytest

import qbound.proofs.engines.compiled as comp
from qbound.proofs.engines import get_engine
from qbound.proofs.engines.exhaustive import ExhaustiveEngine
from qbound.proofs.exact import build_claim


def _both(c):
    comp._CACHE.clear()
    return get_engine("compiled").decide(c), ExhaustiveEngine().decide(c)


def _same(v1, v2, c):
    if v1.status != v2.status:
        return False
    if v1.falsified:
        return {k: v1.counterexample[k]["hex"] for k in c.vars} == {k: v2.counterexample[k]["hex"] for k in c.vars}
    return True


@pytest.mark.parametrize("claim,hyps,fmt,mode", [
    ("abs(rnd(a+b) - (a+b)) <= u*abs(a+b)", ["tiny <= abs(a+b) <= huge"], "fp8_e5m2", "sr"),
    ("abs(rnd(a+b) - (a+b)) <= u/2*abs(a+b)", ["tiny <= abs(a+b) <= huge"], "fp8_e5m2", "sr"),
    ("abs(fma(a, b, a) - (a*b + a)) <= u*abs(a*b + a)", ["tiny <= abs(a*b + a) <= huge"], "fp6_e3m2", "sr"),
    ("abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*(abs(a*b) + abs(rnd(a*b) + a)) + 2*minsub",
     ["abs(a*b + a) <= huge/2", "abs(a*b) <= huge"], "fp6_e3m2", "sr"),
    ("rnd(rnd(a*b) + a) >= a*b + a", [], "fp6_e3m2", "sr"),
    ("min(a,b) <= rnd((a+b)/2) <= max(a,b)", [], "fp6_e3m2", "sr"),
    ("abs(rnd(a+b) - (a+b)) <= ulp(a+b)/2", ["abs(a+b) <= huge"], "fp8_e4m3fn", "rne"),
    ("abs(rnd(a/b) - a/b) <= u*abs(a/b)", ["b != 0", "tiny <= abs(a/b) <= huge"], "fp6_e3m2", "rtz"),
    ("rnd(a*b + a) == rnd(rnd(a*b) + a)", [], "fp8_e5m2", "rne"),
])
def test_kernel_matches_numpy(claim, hyps, fmt, mode):
    c = build_claim(claim, fmt, mode, assume=hyps)
    v1, v2 = _both(c)
    assert _same(v1, v2, c), (v1.status, v2.status)


def test_wrong_margin_is_caught(monkeypatch):
    """(a) sqrt(a)^2 <= a + a*minsub^4 is true (equality up to a gap of 2^-64 relative, below float64's
    resolution). With the float64 margins, the kernel leaves the close cases to the exact evaluator and
    proves it; with the margins 0, float64's fl(sqrt(2))^2 = 2(1 + 2^-52) is taken as decided and a
    counterexample comes out, which the exact replay rejects: never a wrong verdict, but the kernel
    itself is shown wrong without its margins."""
    c = build_claim("sqrt(a)*sqrt(a) <= a + a*minsub*minsub*minsub*minsub", "fp8_e5m2", "rne",
                    assume=["a > 0", "a <= 1000"])
    v1, v2 = _both(c)
    assert v2.status == "proved" and _same(v1, v2, c) and v1.details["exact_fallback"] > 0
    monkeypatch.setattr(comp, "margins", lambda: {"eps": 0.0, "slack_rel": 0.0, "slack_abs": 0.0})
    w1, _ = _both(c)
    assert w1.status == "unknown" and "bad_model" in w1.details
    comp._CACHE.clear()


@pytest.mark.parametrize("claim", ["a - b <= 0", "min(a, b) == a", "rnd(a/b) <= 1"])
def test_symmetric_false_and_forced_symmetry_caught(monkeypatch, claim):
    """(b) symmetric() is False for claims that change under a<->b; forcing the i <= j reduction on
    them gives a result the numpy engine contradicts."""
    assert comp.symmetric(build_claim(claim, "fp6_e3m2", "rne")) is False
    # false only at pairs whose a comes after b in enumeration (pattern) order
    c = build_claim("implies(a >= 0 and b >= 0, a <= b)", "fp6_e3m2", "rne")
    assert comp.symmetric(c) is False
    v1, v2 = _both(c)
    assert _same(v1, v2, c)
    monkeypatch.setattr(comp, "symmetric", lambda claim: True)
    w1, _ = _both(c)
    assert not _same(w1, v2, c)
    comp._CACHE.clear()


@pytest.mark.parametrize("claim,only", [
    ("abs(rnd(a*b)) >= abs(a*b)", 1),   # true away from zero, false toward zero
    ("abs(rnd(a*b)) <= abs(a*b)", 0),   # true toward zero, false away
])
def test_sr_one_outcome_caught(monkeypatch, claim, only):
    """(c) sr must hold for both outcomes: evaluating one outcome only proves a false claim."""
    c = build_claim(claim, "fp6_e3m2", "sr", assume=["abs(a*b) <= huge"])
    v1, v2 = _both(c)
    assert v2.falsified and _same(v1, v2, c)
    monkeypatch.setattr(comp, "_outcomes", lambda nr: np.array([only], dtype=np.int64))
    w1, _ = _both(c)
    assert w1.status == "proved" and not _same(w1, v2, c)
    comp._CACHE.clear()
