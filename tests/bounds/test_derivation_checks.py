"""The check machinery itself: identities, non-negativity, sampled checks, and that failures propagate."""
import numpy as np
import sympy as sp

from qbound.bounds.derivation import (Check, Derivation, Step, check_identity, check_nonnegative, check_sampled)


def test_identity_passes_and_fails():
    x = sp.Symbol("x", positive=True)
    assert check_identity((x + 1) ** 2, x ** 2 + 2 * x + 1).status == "passed"
    bad = check_identity((x + 1) ** 2, x ** 2 + 1)
    assert bad.status == "failed" and "2*x" in bad.detail


def test_nonnegative_with_certificate():
    x = sp.Symbol("x", positive=True)
    t = sp.Symbol("t", positive=True)
    assert check_nonnegative(x ** 2 + x).status == "passed"
    assert check_nonnegative(x - 1).status == "failed"
    b = sp.Symbol("b", positive=True)
    # 1/(1-b) - 1 >= 0 for 0 < b < 1, certified by b = 1/(1+t) (which covers exactly (0, 1))
    assert check_nonnegative(1 / (1 - b) - 1, subs={b: 1 / (1 + t)}, domain={b: (sp.Lt(b, 1),)}).status == "passed"
    # without the stated domain b < 1, b's domain is (0, oo): the certificate misses b >= 1
    assert check_nonnegative(1 / (1 - b) - 1, subs={b: 1 / (1 + t)}).status == "failed"


def test_partial_cover_certificate_is_rejected():
    """The audit's example: 1 - 2 q_V >= 0 'passed' with q_V = 1/(2+t), false for q_V > 1/2."""
    q = sp.Symbol("q_V", nonnegative=True)
    t = sp.Symbol("t", positive=True)
    bad = check_nonnegative(1 - 2 * q, subs={q: 1 / (2 + t)}, domain={q: (sp.Lt(q, 1),)})
    assert bad.status == "failed" and "does not cover" in bad.detail
    # a covering certificate of a true statement still passes: 1 - q >= 0 on [0, 1) with q = 1 - s ... s in (0, 1]
    s_ = sp.Symbol("s", positive=True)
    ok = check_nonnegative(1 - q, subs={q: 1 - s_}, domain={q: (sp.Lt(q, 1),)})
    assert ok.status == "passed", ok.detail


def _sampler(rng, n):
    return {"x": rng.uniform(0, 1, n)}


def test_sampled_check_catches_a_false_inequality():
    import mpmath
    ok = check_sampled(_sampler, lambda p: p["x"] + 0.0, lambda pt: mpmath.mpf(pt["x"]), n=10_000)
    assert ok.status == "passed" and ok.points == 10_000 and ok.worst_margin >= 0
    bad = check_sampled(_sampler, lambda p: p["x"] - 0.5, lambda pt: mpmath.mpf(pt["x"]) - mpmath.mpf("0.5"), n=10_000)
    assert bad.status == "failed" and bad.worst_margin < 0


def test_exact_recheck_overrides_float_screen():
    """A float margin that looks fine but is negative in exact arithmetic must fail."""
    import mpmath
    bad = check_sampled(_sampler, lambda p: np.full(p["x"].shape, 1.0), lambda pt: mpmath.mpf(-1), n=10_000, n_exact=5)
    assert bad.status == "failed"


def test_failed_step_fails_the_derivation():
    good = Step("a", "fine", [Check("symbolic", "passed")])
    bad = Step("b", "wrong", [Check("sampled", "passed"), Check("sampled", "failed", -1.0)])
    assert good.status == "passed" and bad.status == "failed" and bad.worst_margin == -1.0
    d = Derivation("x", {}, [], [good, bad], sp.Integer(1), [])
    assert d.status == "failed"
    assert Step("c", "unchecked").status == "failed"  # a step without a check is not passed
