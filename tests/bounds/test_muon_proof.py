"""Muon: every step is proved by an engine, and a deliberately wrong variant of each is refuted."""
import pytest
import sympy as sp

from qbound import bounds
from qbound.bounds import muon as M
from qbound.bounds.obligation import Induction, Obligation, RuleApplication, discharge

ITEMS = dict((it.name, it) for _, it in M.proof_items())


def _wrong(rel):
    """The conclusion made false-in-general: halve an upper bound, raise a lower bound, shift an identity."""
    if isinstance(rel, sp.And):
        return sp.And(*[_wrong(a) for a in rel.args])
    if isinstance(rel, (sp.Le, sp.Lt)):
        return type(rel)(rel.lhs, rel.rhs / 2)
    if isinstance(rel, (sp.Ge, sp.Gt)):
        return type(rel)(rel.lhs, 2 * rel.rhs + 1)
    if isinstance(rel, sp.Eq):
        return sp.Eq(rel.lhs, 2 * rel.rhs + 1)
    raise AssertionError(rel)


def test_every_step_proved_by_an_engine():
    d = bounds.derive("muon", n=2000, trajectory=False)
    assert d.status == "passed"
    assert [s.name for s in d.steps if not M.step_proved(s)] == []
    assert len(d.steps) == 8
    assert all(x.proved for x in d.proofs.values()), {k: x.status for k, x in d.proofs.items() if not x.proved}
    engines = {x.engine for x in d.proofs.values()}
    assert {"z3", "sympy", "induction"} <= engines
    # every statement over t is an induction whose base and step are proved and of the right shape
    inds = [it for it in d.proof_items if isinstance(it, Induction)]
    assert len(inds) >= 6 and all(it.shape_errors() == [] for it in inds)
    # rule applications only from the fixed set
    assert all(it.rule in ("expectation_monotone", "expectation_linear", "sum_over_t", "jensen")
               for it in d.proof_items if isinstance(it, RuleApplication))


WRONG = [n for n, it in ITEMS.items() if not isinstance(it, RuleApplication)
         and n not in ("envelope.nonneg", "telescope.geometric", "telescope.closed_form")]


@pytest.mark.parametrize("name", WRONG)
def test_wrong_variant_of_each_step_is_refuted(name):
    it = ITEMS[name]
    ob = it.step if isinstance(it, Induction) else it
    bad = Obligation(ob.name + ".wrong", ob.premises, _wrong(ob.conclusion), aux=ob.aux)
    assert discharge(bad, engines=("z3",), timeout_s=10).status == "refuted"


def test_wrong_nonneg_and_geometric():
    ob = ITEMS["envelope.nonneg"]
    assert discharge(Obligation("w", ob.premises, sp.Ge(M.Gg, 1)), engines=("z3",)).status == "refuted"
    ob = ITEMS["telescope.geometric"]
    bad = Obligation("w", ob.premises, sp.Eq(ob.conclusion.lhs, M.beta / (1 - M.beta)))
    assert discharge(bad, engines=("sympy",)).status != "proved"


def test_a_looser_bound_is_not_the_solved_form():
    # doubling a coefficient of the bound keeps telescope.bound true but breaks telescope.closed_form
    ch = M.proof_chain(BOUND=M.BOUND + M.TERMS["bias_W"])
    assert discharge(ch.by_name["telescope.closed_form"], engines=("sympy",)).status != "proved"
    assert discharge(ch.by_name["telescope.bound"], engines=("z3",), timeout_s=20).status == "proved"


@pytest.mark.parametrize("term", sorted(M.TERMS))
def test_dropping_any_term_of_the_bound_fails(term):
    ob = ITEMS["telescope.bound"]
    bad = Obligation("telescope.bound.drop_" + term, ob.premises, sp.Le(ob.conclusion.lhs, M.BOUND - M.TERMS[term]), aux=ob.aux)
    assert discharge(bad, engines=("z3",), timeout_s=10).status == "refuted"


def test_induction_of_the_wrong_claim_is_refuted():
    ind = ITEMS["envelope.weights.growth"]
    # a step that proves the right successor but for a claim without sqrt(r): the shape check refuses it
    claim = sp.Le(ind.claim.lhs, M.W0 + M.eta * M.t_)
    bad = Induction("w", ind.base, ind.step, claim=claim, init=ind.init, shift=ind.shift)
    assert discharge(bad, engines=("z3",)).status == "refuted"


def test_q0_reduces_to_the_exact_polar_anchor():
    assert discharge(ITEMS["reduction.anchor"], engines=("z3",)).status == "proved"
    assert discharge(ITEMS["reduction.anchor_difference"], engines=("sympy",)).status == "proved"
    # at r = 1 the two are equal; a bound above the anchor would be refuted
    bad = Obligation("w", ITEMS["reduction.anchor"].premises, sp.Le(M.BOUND.subs(M.Q0) + M.Delta / (M.T * M.eta), M.ANCHOR))
    assert discharge(bad, engines=("z3",)).status == "refuted"
