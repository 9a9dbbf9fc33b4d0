"""Quantized Adam: the derivation passes its checks, reduces to Défossez at q = 0, round-trips."""
import math

import pytest
import sympy as sp

from qbound import bounds
from qbound.bounds import adam as A
from qbound.numeric.errors import InputError


@pytest.fixture(scope="module")
def der():
    return bounds.derive("adam", n=2000, trajectory=False)


BETA1_0_STEPS = ("envelope.gradient", "envelope.v", "envelope.update", "descent.step_size", "descent.weight_growth",
                 "descent.w_bias", "descent.denominator", "lemma.sum_of_ratios_q", "lemma.descent_direction_q",
                 "descent.per_step", "telescope.beta1_0")


def test_steps_pass_and_are_named(der):
    names = [s.name for s in der.steps]
    for want in ("envelope.m", "envelope.v", "envelope.update", "descent.w_bias", "lemma.sum_of_ratios_q",
                 "lemma.descent_direction_q", "telescope.beta1_0", "telescope.momentum"):
        assert want in names
    # the beta1 = 0 chain: every step passes and is proved by an engine (sampling only adds sanity)
    for name in BETA1_0_STEPS:
        s = der.step(name)
        assert s.status == "passed" and s.proof_status == "proved", (name, [c.detail for c in s.checks])
        assert s.proof and len(s.discharges) == len(s.proof)
    # beta1 > 0 steps that fail may only fail on a certificate that no longer covers its domain
    for s in der.steps:
        if s.status != "passed":
            assert s.name.startswith("momentum."), s.name
            assert any("certificate rejected" in c.detail for c in s.checks), [c.detail for c in s.checks]
    kinds = {c.kind for s in der.steps for c in s.checks}
    assert {"proof", "symbolic", "sampled"} <= kinds
    summary = der.proof_summary()
    assert summary["steps_proved"] >= len(BETA1_0_STEPS)
    assert {r["rule"] for r in summary["rule_applications"]} <= {"expectation_monotone", "expectation_linear", "sum_over_t",
                                                                 "cauchy_schwarz", "jensen", "derivative_sign"}


def test_q0_reduces_to_defossez():
    assert sp.simplify(A.resolve_q0(A.BOUND0) - A.THM2) == 0
    # beta1 > 0: the bound is the derived quantized momentum bound; at q = 0 it is the derived skeleton BOUND_M0,
    # which is <= Thm 4 (proved: momentum.vs_thm4), not Thm 4 itself
    from qbound.bounds import adam_momentum as M
    assert M.check_q0_of_quantized().status == "passed"


def test_wrong_lemmas_are_caught():
    assert A.check_sum_of_ratios(n=10_000, wrong=True).status == "failed"
    assert A.check_descent_direction(n=10_000, c_scale=0.0).status == "failed"


def test_trajectory_envelopes_and_a_wrong_envelope():
    plans = (("bf16", "rne"), ("fp8_e4m3fn", "rtz"), ("fp8_e5m2", "sr"))
    ok = A.check_envelopes_trajectory(plans=plans, steps=60, dim=16)
    assert ok.status == "passed" and ok.kind == "trajectory"
    bad = A.check_envelopes_trajectory(plans=(("fp8_e4m3fn", "rne"),), steps=60, dim=16, q_scale=0.5)
    assert bad.status == "failed"


def test_json_roundtrip(der):
    d = der.to_dict()
    loc = bounds.symbols("adam")
    back = sp.parse_expr(d["bound"], local_dict=loc)
    assert back == der.bound
    assert [sp.parse_expr(c, local_dict=loc) for c in d["conditions"]] == der.conditions
    assert {s["status"] for s in d["steps"] if s["name"] in BETA1_0_STEPS} == {"passed"}
    assert d["proof"]["steps_total"] == len(d["steps"])
    assert "version" in d and d["derivation"] == "adam"


VALS = dict(T=10000, alpha=0.01, beta1=0.0, beta2=0.999, eps=1e-8, R=1, L=1, d=10, Delta=1,
            q_W=0, q_G=0, q_M=0, q_V=0, X0=1)


def test_evaluate_matches_theorem2_at_q0():
    v = bounds.evaluate_bound("adam", VALS)
    th2 = float(A.THM2.subs({A.SYMBOLS[k]: x for k, x in VALS.items() if k in A.SYMBOLS}))
    assert math.isclose(v, th2, rel_tol=1e-12)


def test_evaluate_monotone_in_q_and_conditions():
    base = bounds.evaluate_bound("adam", VALS)
    for X in ("W", "G", "M", "V"):
        v = dict(VALS, **{f"q_{X}": 2 ** -10})
        assert bounds.evaluate_bound("adam", v) > base
    # coupling condition violated -> the bound says nothing
    v = dict(VALS, beta1=0.99, beta2=0.9)
    assert bounds.evaluate_bound("adam", v) == math.inf


def test_evaluate_reports_missing_and_unknown_symbols():
    with pytest.raises(InputError, match="missing"):
        bounds.evaluate_bound("adam", {"T": 10})
    with pytest.raises(InputError, match="alpah"):
        bounds.evaluate_bound("adam", dict(VALS, alpah=1))
    with pytest.raises(InputError, match="Did you mean adam"):
        bounds.derive("adma")


def test_q_of():
    from fractions import Fraction
    assert bounds.q_of("bf16") == Fraction(1, 257)
    assert bounds.q_of(None) == 0
    assert bounds.q_of("bf16", "rtz") == Fraction(1, 129)


def test_harness_states_satisfy_premises_and_envelopes():
    c = A.check_harness_trajectory(plans=("G=bf16,M=bf16,V=bf16",), steps=60)
    if c is None:
        pytest.skip("numeric.harness not available")
    assert c.status == "passed", c.detail


def test_theorem_holds_with_exact_expectation_on_quantized_runs():
    c = A.check_theorem_exact_expectation(configs=A.EXACT_CONFIGS[:2])
    assert c.status == "passed" and c.worst_margin > 0
