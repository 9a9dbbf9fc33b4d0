"""Issue 15 item 6: the W-quantization term goes through the step (no 1/sqrt(eps)); every piece is proved
and each deliberately wrong variant is rejected."""
import math

import sympy as sp

from qbound.bounds import adam as A
from qbound.bounds import mutants as M
from qbound.bounds.adam_proof import nGh
from qbound.bounds.obligation import discharge

# the configuration of the issue (X0 = 1: ||x_0||_2)
CFG = dict(T=1000, alpha=1e-3, beta1=0.0, beta2=0.999, eps=1e-8, R=100.0, L=1000.0, d=2, Delta=100.0,
           q_W=2.0 ** -4, q_G=0.0, q_M=0.0, q_V=0.0, X0=1.0)


def _mutant(**kw):
    return M.evaluate(A.proof_chain, M.Mutant("w", "w", "w", kw), timeout_s=8)


def _val(expr):
    return float(expr.subs({A.SYMBOLS[k]: v for k, v in CFG.items() if k in A.SYMBOLS}).subs(A.Bx, sp.oo).evalf())


def test_the_w_route_items_are_proved_by_an_engine():
    ch = A.proof_chain()
    for name in ("w_step.pointwise", "w_shift.coord", "w_shift.pointwise",
                 "telescope.unshift", "telescope.bound", "descent.per_step", "dd.final"):
        d = discharge(ch.by_name[name], engines=("sympy", "z3", "cvc5"), timeout_s=20)
        assert d.status == "proved", (name, d.status, d.detail)
    # no 1/sqrt(eps) left in the W terms
    for k in ("bias_W", "bias_W_shift"):
        assert not A.TERMS0[k].has(A.eps), k


def test_dropping_either_w_term_from_the_bound_is_rejected():
    for drop in ("bias_W", "bias_W_shift"):
        terms = dict(A.TERMS0)
        terms.pop(drop)
        r = _mutant(BOUND0=A.Gamma * sp.Add(*terms.values()))
        assert r["killed"], (drop, r)


def test_halving_the_w_prices_is_refuted():
    ch = A.proof_chain()
    c = ch.conclusions["w_step.pointwise"]
    r = _mutant(overrides={"w_step.pointwise": sp.Ge(c.lhs, c.rhs / 2)})
    assert r["killed"] and r["by"] == "w_step.pointwise", r
    c = ch.conclusions["w_shift.pointwise"]
    shift = c.rhs - nGh ** 2
    r = _mutant(overrides={"w_shift.pointwise": sp.Le(c.lhs, nGh ** 2 + shift / 2)})
    assert r["killed"] and r["by"] == "w_shift.pointwise", r
    # the descent-direction lemma may not drop its kappa term at the quantized point either
    c = ch.conclusions["dd.final"]
    r = _mutant(overrides={"dd.final": sp.Ge(c.lhs, c.rhs + A.kappa * sp.Abs(sp.Symbol("Ghat_i", real=True)))})
    assert r["killed"], r


def test_gain_at_the_issue_configuration():
    X = A.X_0
    old = 2 * A.Rh * A.R * sp.sqrt(A.d) * A.L * A.q_W * X / sp.sqrt(A.eps * (1 - A.beta2))
    new = A.TERMS0["bias_W"] + A.TERMS0["bias_W_shift"]
    o, n = _val(old), _val(new)
    assert o > 1e13 and n < 1e8 and o / n > 1e5
    # the q = 0 part is untouched (Theorem 2 exactly), so the total drops by the same W factor
    total = float(A.evaluate_expr("adam", A.SYMBOLS, A.BOUND0, A.CONDITIONS0, CFG))
    assert math.isfinite(total) and total < 1e8
