"""Rule applications are checked against their premises: the stated conclusion must be what the rule
yields from the premises' conclusions; deliberately wrong applications are refuted (issue 15)."""
import pytest
import sympy as sp

from qbound.bounds.obligation import (Obligation, RuleApplication, RuleError, apply_rule, check_rule, prove_all,
                                      relations_agree)

x, y, z, S_x, S_y, E_x, E_y = sp.symbols("x y z S_x S_y E_x E_y", real=True)
T, d, c = sp.symbols("T d c", positive=True)
PREM = Obligation("p", (sp.Ge(x, 0), sp.Le(x, c * y + 1)), sp.Le(x, c * y + 1))
SUMS = {"sums": ((x, S_x), (y, S_y)), "count": T}


def _run(app):
    return prove_all([PREM, app], engines=("z3",))[app.name]


def _sum(concl, **spec):
    return RuleApplication("sum_over_t", ("p",), concl, name="r", spec=tuple((spec or SUMS).items()))


def test_the_right_sum_is_proved_and_derived_from_the_premise():
    right = apply_rule("sum_over_t", SUMS, {"p": PREM.conclusion}, ("p",))
    assert relations_agree(right, sp.Le(S_x, c * S_y + T))
    assert _run(_sum(sp.Le(S_x, c * S_y + T))).status == "proved"
    assert _run(_sum(sp.Ge(c * S_y + T, S_x))).status == "proved"   # the same relation, written the other way


@pytest.mark.parametrize("wrong, why", [
    (sp.Le(S_x, c * S_y + 1), "wrong summation bounds: the constant summed over T terms, not 1"),
    (sp.Le(S_x, c * S_y + d), "wrong count: d terms where the sum has T"),
    (sp.Le(S_x, S_y + T), "dropped factor c"),
    (sp.Le(S_x, c * S_y / 2 + T), "halved coefficient"),
    (sp.Le(S_x, c * S_y), "dropped term"),
    (sp.Ge(S_x, c * S_y + T), "wrong direction"),
    (sp.Lt(S_x, c * S_y + T), "strict where the premise is not"),
])
def test_wrong_sum_is_refuted(wrong, why):
    d_ = _run(_sum(wrong))
    assert d_.status == "refuted", why
    assert "is not what sum_over_t yields" in d_.detail


def test_sum_of_a_premise_that_is_not_affine_in_the_summed_quantity_is_refuted():
    sq = Obligation("p", (sp.Le(x ** 2, c * y ** 2 + 1),), sp.Le(x ** 2, c * y ** 2 + 1))
    app = RuleApplication("sum_over_t", ("p",), sp.Le(S_x ** 2, c * S_y ** 2 + T), name="r", spec=tuple(SUMS.items()))
    d_ = prove_all([sq, app], engines=("z3",))["r"]
    assert d_.status == "refuted" and "not affine" in d_.detail


def test_expectation_renames_the_random_quantities_only_when_linear():
    spec = (("rename", ((x, E_x), (y, E_y))),)
    ok = RuleApplication("expectation_monotone", ("p",), sp.Le(E_x, c * E_y + 1), name="r", spec=spec)
    assert _run(ok).status == "proved"
    for wrong in (sp.Le(E_x, E_y + 1), sp.Le(E_x, c * E_y), sp.Le(E_x, c * E_y + 2), sp.Ge(E_x, c * E_y + 1)):
        assert _run(RuleApplication("expectation_monotone", ("p",), wrong, name="r", spec=spec)).status == "refuted", wrong
    # E[x y] is not E x E y: a product of random quantities is refused
    prod = Obligation("p", (sp.Le(x * y, 1),), sp.Le(x * y, 1))
    app = RuleApplication("expectation_monotone", ("p",), sp.Le(E_x * E_y, 1), name="r", spec=spec)
    assert prove_all([prod, app], engines=("z3",))["r"].status == "refuted"


def test_pointwise_instance_and_zero_mean_term():
    n2, p2, ip, x2, en, e, xx = sp.symbols("n2 p2 ip x2 en e xx", real=True)
    b = sp.Symbol("b", positive=True)
    spec = (("pointwise", sp.Eq(n2, b ** 2 * p2 + 2 * b * ip + x2)), ("rename", ((n2, en), (p2, e), (ip, 0), (x2, xx))))
    ok = RuleApplication("expectation_linear", (), sp.Eq(en, b ** 2 * e + xx), name="r", spec=spec)
    assert prove_all([ok])["r"].status == "proved"
    bad = RuleApplication("expectation_linear", (), sp.Eq(en, b * e + xx), name="r", spec=spec)   # dropped a factor b
    assert prove_all([bad])["r"].status == "refuted"


def test_jensen_needs_a_convex_phi_and_the_right_direction():
    u = sp.Symbol("u", real=True)
    w = sp.Symbol("w", positive=True)
    sq = (("phi", sp.Lambda(u, u ** 2)), ("at", E_x), ("value", z))
    assert prove_all([RuleApplication("jensen", (), sp.Le(E_x ** 2, z), name="r", spec=sq)])["r"].status == "proved"
    assert prove_all([RuleApplication("jensen", (), sp.Le(z, E_x ** 2), name="r", spec=sq)])["r"].status == "refuted"
    # sqrt is concave, not convex: stating it convex is refused (its second derivative is not >= 0)
    conv_sqrt = (("phi", sp.Lambda(w, sp.sqrt(w))), ("at", E_x), ("value", z))
    d_ = prove_all([RuleApplication("jensen", (), sp.Le(sp.sqrt(E_x), z), name="r", spec=conv_sqrt)])["r"]
    assert d_.status == "refuted" and "convex" in d_.detail
    conc_sqrt = conv_sqrt + (("concave", True),)
    assert prove_all([RuleApplication("jensen", (), sp.Le(z, sp.sqrt(E_x)), name="r", spec=conc_sqrt)])["r"].status == "proved"


def test_cauchy_schwarz_form():
    ip, na, nb = sp.symbols("ip na nb", real=True)
    spec = (("inner", ip), ("norm_a", na), ("norm_b", nb))
    assert check_rule(RuleApplication("cauchy_schwarz", (), sp.Le(ip, na * nb), name="r", spec=spec), {})[0] is True
    assert check_rule(RuleApplication("cauchy_schwarz", (), sp.Le(ip, na), name="r", spec=spec), {})[0] is False


def test_unchecked_without_spec_and_unknown_premise():
    app = RuleApplication("sum_over_t", ("p",), sp.Le(S_x, 0), name="r")
    ok, why = check_rule(app, {"p": PREM.conclusion})
    assert ok is None and "not checked" in why
    assert "not checked" in _run(app).detail
    with pytest.raises(RuleError):
        apply_rule("sum_over_t", SUMS, {}, ("missing",))


def test_mutated_rule_conclusion_in_the_muon_chain_is_killed():
    from qbound.bounds import muon as M
    from qbound.bounds.mutants import Mutant, evaluate
    ch = M.proof_chain()
    rel = ch.conclusions["telescope.sum_descent"]
    dropped = sp.Le(rel.lhs, rel.rhs - M.T * M.L * M.eta ** 2 / 2)   # the summed curvature term dropped
    r = evaluate(M.proof_chain, Mutant("drop curvature", "drop_term", "telescope.sum_descent",
                                       {"overrides": {"telescope.sum_descent": dropped}}), timeout_s=5)
    assert r["killed"] and r["by"] == "telescope.sum_descent"
