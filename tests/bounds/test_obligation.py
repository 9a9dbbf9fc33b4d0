"""The obligation layer: engines prove, refute or say unknown; nothing else counts as a proof."""
import json

import sympy as sp

from qbound.bounds.obligation import (Discharge, Induction, Obligation, ObligationCache, RuleApplication, discharge,
                                      encode, prove_all, prove_lemma, run_cvc5, run_z3_text)

x, y = sp.symbols("x y", positive=True)
r = sp.Symbol("r", real=True)


def test_proved_and_refuted_with_counterexample():
    ok = Obligation("t.amgm", (), sp.Ge(x**2 + y**2, 2 * x * y))
    assert discharge(ok, engines=("z3",)).status == "proved"
    bad = Obligation("t.amgm.wrong", (), sp.Ge(x**2 + y**2, 3 * x * y))
    d = discharge(bad, engines=("z3",))
    assert d.status == "refuted" and set(d.counterexample) == {"x", "y"}


def test_sympy_engine_cannot_refute_and_falls_through():
    d = discharge(Obligation("t.sq", (sp.Le(r, 1), sp.Ge(r, -1)), sp.Le(r**2, 1)), engines=("sympy",))
    assert d.status == "unknown"
    assert discharge(Obligation("t.sq", (sp.Le(r, 1), sp.Ge(r, -1)), sp.Le(r**2, 1))).status == "proved"


def test_undefined_expressions_are_not_proved():
    # 1/r >= 1/r is "true" wherever defined, but r = 0 satisfies the premises: not proved
    d = discharge(Obligation("t.div", (sp.Le(r, 1),), sp.Ge(1 / r + 1, 1 / r)), engines=("z3",))
    assert d.status == "refuted"
    d = discharge(Obligation("t.sqrt", (sp.Le(r, 1),), sp.Ge(sp.sqrt(r), 0)), engines=("z3",))
    assert d.status == "refuted"


def test_unsupported_atom_is_unknown():
    n = sp.Symbol("n", positive=True)
    d = discharge(Obligation("t.pow", (sp.Lt(x, 1),), sp.Le(x**n, 1)), engines=("z3", "cvc5"))
    assert d.status == "unknown" and "aux" in d.detail


def test_log_needs_its_lemma():
    ob = Obligation("t.ln", (), sp.Ge(sp.log(x), 1 - 1 / x))
    assert discharge(ob, engines=("z3",)).status == "refuted"  # a free real without the lemma
    ob2 = Obligation("t.ln", (), sp.Ge(sp.log(x), 1 - 1 / x), lemmas=("ln_lower",))
    assert prove_all([ob2], engines=("z3",))["t.ln"].status == "proved"
    assert all(d.proved for d in prove_lemma("ln_upper"))


def test_both_solvers_read_the_certificate_text():
    _, text = encode(Obligation("t.c", (sp.Le(x, 4),), sp.Le(sp.sqrt(x + y) - sp.sqrt(y), sp.sqrt(x))))
    assert "(set-logic QF_NRA)" in text and "(check-sat)" in text
    assert run_cvc5(text, 10)[0] == "unsat" and run_z3_text(text, 10)[0] == "unsat"


def test_induction_shape_is_checked():
    v, g = sp.symbols("v g", real=True)
    b = sp.Rational(1, 2)
    claim = sp.Le(v, 2)
    base = Obligation("i.base", (), sp.Le(0, 2))
    step = Obligation("i.step", (claim, sp.Le(g**2, 1), sp.Ge(v, 0)), sp.Le(b * v + g**2, 2))
    ind = Induction("i", base, step, claim=claim, init=((v, 0),), shift=((v, b * v + g**2),))
    assert discharge(ind).status == "proved"
    # a step that does not assume the hypothesis, or concludes something else, is rejected
    step_bad = Obligation("i.step", (sp.Le(g**2, 1), sp.Ge(v, 0), sp.Le(v, 1)), sp.Le(b * v + g**2, 2))
    assert discharge(Induction("i", base, step_bad, claim=claim, init=((v, 0),), shift=((v, b * v + g**2),))).status == "refuted"
    step_wrong = Obligation("i.step", (claim, sp.Le(g**2, 1), sp.Ge(v, 0)), sp.Le(b * v + g**2 / 2, 2))
    assert discharge(Induction("i", base, step_wrong, claim=claim, init=((v, 0),), shift=((v, b * v + g**2),))).status == "refuted"


def test_rule_application_needs_proved_premises_and_a_known_rule():
    ok = Obligation("p.ok", (), sp.Ge(x**2 + y**2, 2 * x * y))
    bad = Obligation("p.bad", (), sp.Ge(x**2 + y**2, 3 * x * y))
    res = prove_all([ok, bad,
                     RuleApplication("expectation_monotone", ("p.ok",), sp.true, name="r.ok"),
                     RuleApplication("expectation_monotone", ("p.bad",), sp.true, name="r.bad"),
                     RuleApplication("wishful_thinking", ("p.ok",), sp.true, name="r.unknown")], engines=("z3",))
    assert res["r.ok"].status == "proved"
    assert res["r.bad"].status == "unknown" and res["r.unknown"].status == "unknown"


def test_cache_hit_is_revalidated(tmp_path):
    cache = ObligationCache(str(tmp_path))
    ob = Obligation("t.cache", (), sp.Ge(x**2 + y**2, 2 * x * y))
    d1 = discharge(ob, engines=("z3",), cache=cache)
    d2 = discharge(ob, engines=("z3",), cache=ObligationCache(str(tmp_path)))
    assert d1.proved and not d1.cached and d2.proved and d2.cached
    # a tampered record (its text no longer hashes to the key) is a miss, and the obligation is re-proved
    f = next(tmp_path.rglob("*.json"))
    rec = json.loads(f.read_text())
    rec["text"] = rec["text"].replace("t.cache", "t.other")
    f.write_text(json.dumps(rec))
    d3 = discharge(ob, engines=("z3",), cache=ObligationCache(str(tmp_path)))
    assert d3.proved and not d3.cached
    # a changed obligation never hits the old record
    ob2 = Obligation("t.cache", (), sp.Ge(x**2 + y**2, 3 * x * y))
    assert discharge(ob2, engines=("z3",), cache=cache).status == "refuted"


def test_discharge_status_vocabulary():
    try:
        Discharge("x", "passed")
    except ValueError:
        pass
    else:  # pragma: no cover
        raise AssertionError("'passed' is not a discharge status")
