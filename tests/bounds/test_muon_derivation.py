"""Quantized Muon: checks pass, q = 0 vs the anchor, the reviewer's factor and its limit."""
import math

import sympy as sp

from qbound import bounds
from qbound.bounds import muon as M


def test_derivation_passes():
    d = bounds.derive("muon", n=2000, trajectory=False)
    assert d.status == "passed", [s.name for s in d.steps if s.status != "passed"]
    assert "reviewer.factor" in [s.name for s in d.steps]


def test_q0_difference_to_anchor_is_the_sqrt_r_factor():
    diff = sp.simplify(M.ANCHOR - M.BOUND.subs(M.Q0))
    want = 2 * M.beta * sp.sqrt(2 * M.L * M.Delta) * (sp.sqrt(M.r) - 1) / (M.T * (1 - M.beta))
    assert sp.simplify(diff - want) == 0
    assert sp.simplify((M.ANCHOR - M.BOUND.subs(M.Q0)).subs(M.r, 1)) == 0


def test_reviewer_limit():
    res = M.reviewer_limit()
    c1, c2 = sp.symbols("c1 c2", positive=True)
    assert sp.simplify(sp.parse_expr(res["limit_factor"], local_dict={"c1": c1, "c2": c2}) - c1 / (c2 - c1)) == 0
    assert res["limit_quant_M_term"] == "oo"
    assert res["limit_quant_M_term_with_q_M=c1/T"] == "0"


def test_momentum_trajectory():
    c = M.check_momentum_trajectory(plans=(("bf16", "rne"), ("fp8_e4m3fn", "rtz")), steps=40)
    assert c.status == "passed"


def test_evaluate():
    v = dict(T=10000, eta=1e-3, beta=0.9, L=1, sigma=1, B=8, r=4, Delta=1, q_W=0, q_G=0, q_M=0, W0=1)
    base = bounds.evaluate_bound("muon", v)
    assert math.isfinite(base) and base > 0
    assert bounds.evaluate_bound("muon", dict(v, q_M=2 ** -8)) > base
    assert bounds.evaluate_bound("muon", dict(v, beta=0.999, q_M=0.01)) == math.inf  # beta(1+q_M) >= 1


def test_json_roundtrip_and_reductions():
    d = bounds.derive("muon", n=2000, trajectory=False)
    j = d.to_dict()
    loc = bounds.symbols("muon")
    assert sp.parse_expr(j["bound"], local_dict=loc) == d.bound
    assert "sqrt(r)" in j["reductions"]["q=0"]["difference_anchor_minus_ours"]
