"""Adam with momentum at q = 0: the derived Thm 4 skeleton passes its checks, implies Thm 4, and
deliberately wrong momentum steps are caught."""
import math

import sympy as sp

from qbound import bounds
from qbound.bounds import adam as A
from qbound.bounds import adam_momentum as M


def test_momentum_steps_pass():
    steps = M.build_momentum_steps(n=2000)
    names = [s.name for s in steps]
    assert names == ["momentum.unroll", "momentum.lag_lemma", "momentum.lag_lemma_q", "momentum.gap", "momentum.ratios", "momentum.geometric",
                     "momentum.weights", "momentum.assembly", "momentum.vs_thm4"]
    bad = [(s.name, [c.detail for c in s.checks if c.status != "passed"]) for s in steps if s.status != "passed"]
    assert not bad, bad
    assert all(not s.cited for s in steps)
    kinds = {c.kind for s in steps for c in s.checks}
    assert kinds == {"proof", "symbolic", "sampled"}
    # every q = 0 momentum step is proved by an engine
    assert [s.name for s in steps if s.proof_status != "proved"] == []


def test_wrong_lag_lemma_is_caught():
    c = M.check_lag_lemma(n=10_000, wrong="no_penalty")
    assert c.status == "failed" and c.worst_margin < 0


def test_wrong_quantized_lag_lemma_is_caught():
    assert M.check_lag_lemma_q(n=2000).status == "passed"
    c = M.check_lag_lemma_q(n=10_000, wrong="no_w_bias")
    assert c.status == "failed" and c.worst_margin < 0


def test_wrong_geometric_sum_is_caught():
    c = M.check_geometric_sums(n=10_000, wrong=True)
    assert c.status == "failed"


def test_wrong_assembly_is_caught():
    # dropping the lag_tail term from the closed form must break the assembly identity
    from qbound.bounds.derivation import check_identity
    bad = M.BOUND_M0 - (M.T / M.NTIL) * M.E_TERMS["lag_tail"] * M.LAM0
    Dn = M.d * M.T * M.LAM0
    E2 = M.ALPHA_BAR * M.R / (1 - M.B_) ** 2 * Dn
    full = M.BOUND_M0
    assert check_identity(full - bad, 2 * M.R / (M.alpha * M.NTIL) * E2).status == "passed"
    assert check_identity(bad, full).status == "failed"


def test_derived_bound_below_thm4_and_structure():
    vals = {M.T: 10_000, M.alpha: sp.Rational(1, 100), M.beta1: sp.Rational(9, 10), M.beta2: sp.Rational(999, 1000),
            M.eps: sp.Rational(1, 10 ** 8), M.R: 1, M.L: 1, M.d: 10, M.Delta: 1}
    ours, thm = float(M.BOUND_M0.subs(vals)), float(M.THM4.subs(vals))
    assert 0 < ours < thm
    # init and curvature terms are those of Thm 4
    assert sp.simplify(M.E_TERMS["curvature"] - M.E_THM4["curvature"]) == 0


def test_adam_derivation_has_no_cited_premise_and_the_derived_momentum_bound():
    der = bounds.derive("adam", n=2000, trajectory=False)
    assert der.status == "passed"
    assert [p.name for p in der.premises if p.kind == "cited"] == []
    assert "cited.momentum_quantized" not in [p.name for p in A.PREMISES]
    tm = der.step("telescope.momentum")
    assert not tm.cited and tm.proof_status == "proved" and "momentum.assembly_q" in tm.uses
    assert der.bound == M.BOUND_MQ and A.BOUND == M.BOUND_MQ and A.TERMS1 == M.TERMS_MQ
    assert "momentum.vs_thm4" in der.reductions["beta1>0"]["result"]
    # q = 0: the API bound equals the derived skeleton, which is below Thm 4
    v = dict(T=10000, alpha=0.01, beta1=0.9, beta2=0.999, eps=1e-8, R=1, L=1, d=10, Delta=1, q_W=0, q_G=0, q_M=0, q_V=0, X0=1)
    b = bounds.evaluate_bound("adam", v)
    thm = float(A.THM4.subs({A.SYMBOLS[k]: x for k, x in v.items()}))
    ours = float(M.BOUND_M0.subs({getattr(M, k): x for k, x in v.items() if hasattr(M, k) and k in
                                  ("T", "alpha", "beta1", "beta2", "eps", "R", "L", "d", "Delta")}))
    assert math.isclose(b, ours, rel_tol=1e-9) and b < thm


def test_quantized_momentum_steps_pass_and_reduce_at_q0():
    steps = M.build_quantized_steps(n=2000, trajectory=False)
    assert [s.name for s in steps] == ["momentum.ratios_q", "momentum.bias_q", "momentum.geometric_q",
                                       "momentum.weight_growth", "momentum.w_shift", "momentum.assembly_q"]
    # proved by an engine, except the sampled-only momentum-rounding bias and lagged denominator
    assert [s.name for s in steps if s.proof_status != "proved"] == []
    bad = [(s.name, [c.detail for c in s.checks if c.status != "passed"]) for s in steps if s.status != "passed"]
    assert not bad, bad
    bq, conds, _ = M.quantized_bound()
    assert {s.name for s in bq.free_symbols} >= {"q_W", "q_G", "q_M", "q_V", "X0"}
    # grows with every q at a typical configuration
    from qbound.bounds.adam import _eval_expr
    v = dict(T=10000, alpha=0.01, beta1=0.9, beta2=0.999, eps=1e-8, R=1, L=1, d=10, Delta=1, X0=1,
             q_W=0, q_G=0, q_M=0, q_V=0)
    base = _eval_expr(bq, conds, v)
    assert math.isfinite(base)
    for X in "WGMV":
        assert _eval_expr(bq, conds, dict(v, **{f"q_{X}": 2 ** -12})) > base


def test_wrong_quantized_ratio_fact_is_caught():
    c = M.check_ratio_facts_q(n=10_000, wrong=True)
    assert c.status == "failed" and c.worst_margin < 0
