"""Issue 15 item 1: every rule application of the Adam beta1 = 0 chain carries a spec, so its stated
conclusion is checked against its premises; a conclusion that does not follow is refuted (one wrong
variant per application, of every rule kind used)."""
import dataclasses

import pytest
import sympy as sp

from qbound.bounds import adam as A
from qbound.bounds.obligation import RuleApplication, check_rule, discharge_rule, item_relation

CH = A.proof_chain()
RELS = {n: item_relation(it) for n, it in CH.by_name.items()}
APPS = [it for it in CH.by_name.values() if isinstance(it, RuleApplication)]


def _wrong(rel):
    """A relation that does not follow: the right-hand side doubled plus one (an equality: plus one)."""
    if isinstance(rel, sp.Eq):
        return sp.Eq(rel.lhs, rel.rhs + 1)
    return rel.func(rel.lhs, 2 * rel.rhs + 1)


def test_every_rule_application_is_checked():
    assert len(APPS) >= 19
    unchecked = [a.name for a in APPS if not a.spec]
    assert not unchecked, unchecked
    assert {a.rule for a in APPS} >= {"cauchy_schwarz", "sum_over_t", "expectation_monotone", "expectation_linear"}


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_stated_conclusion_follows_and_a_wrong_one_is_refuted(app):
    ok, why = check_rule(app, RELS)
    assert ok is True, (app.name, why)
    bad = dataclasses.replace(app, conclusion=_wrong(app.conclusion))
    ok, why = check_rule(bad, RELS)
    assert ok is False, (app.name, why)
    done = {p: type("D", (), {"proved": True})() for p in app.premises}
    assert discharge_rule(bad, done, RELS).status == "refuted"


def test_a_weakened_premise_flows_into_the_rule_check():
    # the sum of grad.abs is checked against grad.abs as stated: a premise |Ghat_i| <= 2 R does not give SG <= d R
    app = CH.by_name["descent.sum_G"]
    rels = dict(RELS)
    r = rels["grad.abs"]
    rels["grad.abs"] = sp.Le(r.lhs, 2 * r.rhs)
    assert check_rule(app, rels)[0] is False
    # the expectation of dd.pointwise: a pointwise lemma without its kappa term changes E_rhs's linear form
    app = CH.by_name["dd.linear"]
    spec = dict(app.spec)
    pw = spec["pointwise"]
    bad = dataclasses.replace(app, spec=tuple({**spec, "pointwise": sp.Eq(pw.lhs, pw.rhs + A.kappa * sp.Abs(sp.Symbol("Ghat_i", real=True)))}.items()))
    assert check_rule(bad, RELS)[0] is False
