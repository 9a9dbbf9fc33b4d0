"""Issue 15 item 6: where a problem assumes a box (||x_t||_inf <= Bx), the Adam bound uses it for X:
X = Min(drift, sqrt(d) Bx), each piece proved, with wrong variants the checks must reject."""
import math

import sympy as sp

from qbound.bounds import adam as A
from qbound.bounds import evaluate_bound
from qbound.bounds import mutants as M
from qbound.bounds.adam_proof import nx, xi
from qbound.bounds.obligation import discharge

CFG = dict(T=1000, alpha=1e-3, beta1=0.0, beta2=0.999, eps=1e-8, R=100.0, L=1000.0, d=2, Delta=100.0,
           q_W=2.0 ** -4, q_G=0.0, q_M=0.0, q_V=0.0, X0=1.0)


def _mutant(**kw):
    return M.evaluate(A.proof_chain, M.Mutant("box", "box", "box", kw), timeout_s=8)


def test_the_box_items_are_proved_by_an_engine():
    ch = A.proof_chain()
    for name in ("box.coord", "box.norm", "descent.weight_bound"):
        d = discharge(ch.by_name[name], engines=("sympy", "z3"), timeout_s=20)
        assert d.status == "proved", (name, d.status, d.detail)
    assert ch.conclusions["descent.weight_bound"].rhs == A.X_0 and A.X_0.has(sp.Min)


def test_a_box_without_sqrt_d_is_refuted():
    # ||x||_2 <= Bx does not follow from ||x||_inf <= Bx when d > 1
    drift = A.X0 + A.T * sp.sqrt(A.d) * A.alpha * A.U0 / sp.sqrt(1 - A.beta2)
    r = _mutant(overrides={"descent.weight_bound": sp.Le(nx, sp.Min(drift, A.Bx))})
    assert r["killed"] and r["by"] == "descent.weight_bound", r
    r = _mutant(overrides={"box.norm": sp.Le(nx, A.Bx)})
    assert r["killed"] and r["by"] == "box.norm", r


def test_a_weakened_box_premise_is_rejected():
    r = _mutant(domain={"box": sp.Le(sp.Abs(xi), 2 * A.Bx)})
    assert r["killed"], r


def test_no_box_is_the_drift_bound_and_a_box_only_lowers_it():
    for b1 in (0.0, 0.9):
        cfg = dict(CFG, beta1=b1)
        free = evaluate_bound("adam", cfg)
        assert free == evaluate_bound("adam", dict(cfg, Bx=math.inf))
        boxed = [evaluate_bound("adam", dict(cfg, Bx=b)) for b in (1e9, 10.0, 2.0, 1.0)]
        assert boxed[0] == free                      # a box wider than the drift changes nothing
        assert all(x >= y for x, y in zip([free] + boxed, boxed))
        assert boxed[-1] < free / 5                  # the W term dominates here: the box must show
        # at q = 0 there is no W term, so the box cannot change the bound (Theorem 2 at beta1 = 0)
        q0 = dict(cfg, q_W=0.0)
        assert evaluate_bound("adam", q0) == evaluate_bound("adam", dict(q0, Bx=1.0))
