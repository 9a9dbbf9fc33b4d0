"""The audit's wrong derivations (issue 15) must not be proved; every checker rejects its wrong variant."""
import pytest
import sympy as sp

from qbound.bounds import adam as A
from qbound.bounds import mutants as M
from qbound.bounds.adam_proof import Ss, bs, tt
from qbound.bounds.obligation import discharge


def _mutant(**kw):
    return M.evaluate(A.proof_chain, M.Mutant("audit", "audit", "audit", kw), timeout_s=8)


def test_the_right_chain_is_proved():
    ch, res = A.prove_beta1_0()
    bad = {k: (d.status, d.detail) for k, d in res.items() if not d.proved}
    assert not bad, bad
    assert ch.goal_error() == ""
    assert ch.goal[1] == sp.Le(ch.goal[1].lhs, A.BOUND0)


def test_kappa_zero_and_dropped_bias_gmv_fail():
    terms = dict(A.TERMS0)
    terms.pop("bias_GMV")
    r = _mutant(kappa=sp.Integer(0), BOUND0=A.Gamma * sp.Add(*terms.values()))
    assert r["killed"], r
    # either alone is rejected too
    assert _mutant(kappa=sp.Integer(0))["killed"]
    assert _mutant(BOUND0=A.Gamma * sp.Add(*terms.values()))["killed"]


def test_descent_direction_with_kappa_zero_fails_in_the_used_regime():
    # the sampled sanity check now draws beta2 in 1 - [1e-7, 1e-3] with v ~ R^2/(1 - beta2) ...
    assert A.check_descent_direction(n=10_000, kappa_scale=0.0).status == "failed"
    assert A.check_descent_direction(n=10_000).status == "passed"
    # ... and the proof refutes kappa = 0 at its pointwise core, for every beta2
    ch = A.proof_chain(kappa=sp.Integer(0))
    d = discharge(ch.by_name["dd.kappa_core"], engines=("z3",), timeout_s=10)
    assert d.status == "refuted" and d.counterexample


def test_sum_of_ratios_without_the_1_over_1_minus_qV_factor_fails():
    ch = A.proof_chain()
    claim = ch.conclusions["ratios.claim"]
    wrong = sp.Le(Ss, sp.log(1 + bs / A.eps) - tt * sp.log(A.beta2 * (1 - A.q_V)))
    assert wrong != claim
    r = _mutant(overrides={"ratios.claim": wrong})
    assert r["killed"] and r["by"] == "ratios", r


def test_weaker_step_conclusions_are_caught_downstream():
    # a true but weaker envelope (2x) is not enough for the induction that uses it
    ch = A.proof_chain()
    c = ch.conclusions["envelope.gradient"]
    r = _mutant(overrides={"envelope.gradient": sp.Le(c.lhs, 2 * c.rhs)})
    assert r["killed"] and r["by"] != "envelope.gradient", r
    # the final conclusion must be the stated bound itself
    r = _mutant(overrides={"telescope.bound": sp.Le(ch.goal[1].lhs, 2 * A.BOUND0)})
    assert r["killed"] and r["by"] == "goal"


@pytest.mark.slow
def test_a_sample_of_generated_mutants_is_killed():
    muts = M.generate(A.proof_chain, "BOUND0", A.PROOF_SYMBOLS)
    kinds = {m.kind for m in muts}
    assert kinds == {"drop_term", "scale_coeff", "drop_factor", "weaken_domain"}
    # every term of the bound and the factors of the bias term: each one dropped is rejected
    sample = [m for m in muts if m.where == "BOUND0"][:12]
    for m in sample:
        r = M.evaluate(A.proof_chain, m, timeout_s=5)
        assert r["killed"], (m.name, r)


@pytest.mark.slow
def test_generated_mutant_kinds():
    muts = M.generate(A.proof_chain, "BOUND0", A.PROOF_SYMBOLS)
    assert {m.kind for m in muts} == {"drop_term", "scale_coeff", "drop_factor", "weaken_domain"}
    assert len({m.name for m in muts}) == len(muts)
    # one of each kind at the bound, evaluated: all rejected
    picks = {}
    for m in muts:
        if m.where == "BOUND0" and m.kind not in picks:
            picks[m.kind] = m
    for m in picks.values():
        assert M.evaluate(A.proof_chain, m, timeout_s=5)["killed"], m.name


@pytest.mark.slow
def test_mutant_generation_is_deterministic_and_named():
    muts = M.generate(A.proof_chain, "BOUND0", A.PROOF_SYMBOLS)
    again = M.generate(A.proof_chain, "BOUND0", A.PROOF_SYMBOLS)
    assert [m.name for m in muts] == [m.name for m in again]
    assert len({m.name for m in muts}) == len(muts) > 100
    assert {m.kind for m in muts} == {"drop_term", "scale_coeff", "drop_factor", "weaken_domain"}
