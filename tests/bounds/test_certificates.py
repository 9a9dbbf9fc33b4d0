"""Certificates: standalone SMT-LIB2 files that a second solver re-checks; a wrong one is not confirmed."""
import json

import pytest
import sympy as sp

from qbound.bounds import adam as A
from qbound.bounds.certificates import recheck_one, write_certificates
from qbound.bounds.obligation import Obligation, discharge, run_cvc5, run_z3_text


@pytest.mark.slow
def test_adam_certificates_recheck(tmp_path):
    ch, res = A.prove_beta1_0()
    pairs = [("envelope.gradient", res["envelope.gradient"]), ("envelope.v", res["envelope.v.A"]),
             ("lemma.descent_direction_q", res["dd.kappa_core"])]
    idx = write_certificates(pairs, str(tmp_path), recheck=True, derivation="adam", timeout_s=5)
    files = {f["obligation"]: f for f in idx["files"]}
    assert {"envelope.gradient", "envelope.v.A.base", "envelope.v.A.step", "dd.kappa_core"} <= set(files)
    for f in idx["files"]:
        text = (tmp_path / f["file"]).read_text()
        assert "(set-logic QF_NRA)" in text and text.rstrip().endswith("(check-sat)")
        assert f["prover"] in ("sympy", "z3", "cvc5") and f["seconds"] >= 0
        rc = f["recheck"]
        assert rc["solver"] != f["prover"]
        # never refuted; where cvc5 gives up, z3 re-reading the file confirms unsat
        assert rc["agrees"] or (rc["status"] == "unknown" and rc["file_z3"]["status"] == "unsat"), f
    on_disk = json.loads((tmp_path / "index.json").read_text())
    assert on_disk["recheck_summary"]["refuted_by_second_solver"] == []
    # the recheck is recorded on the discharge too (so derive's JSON carries it)
    assert res["envelope.gradient"].recheck["solver"] == "cvc5"


def test_a_wrong_certificate_is_not_confirmed(tmp_path):
    x = sp.Symbol("x", positive=True)
    d = discharge(Obligation("wrong", (sp.Le(x, 2),), sp.Le(x ** 2, x)), engines=("z3",))
    assert d.status == "refuted"
    rec = recheck_one(d, timeout_s=5)
    assert rec["status"] == "sat" and not rec["agrees"]
    assert run_cvc5(d.smt2, 10)[0] == "sat" and run_z3_text(d.smt2, 10)[0] == "sat"


def test_a_sympy_identity_certificate_states_where_it_holds():
    """(1 - x^2)/(1 - x) = 1 + x is what SymPy proves, where 1 - x != 0.  The certificate of the
    identity assumes the denominators nonzero (before, it asked for definedness everywhere, and cvc5
    answered sat at x = 1: three of the momentum identities were 'refuted by the second solver')."""
    x = sp.Symbol("x", nonnegative=True)
    d = discharge(Obligation("demo.ident", (), sp.Eq((1 - x ** 2) / (1 - x), 1 + x)), engines=("sympy",), cache=None)
    assert d.proved and d.engine == "sympy"
    assert "denominators nonzero" in d.smt2
    assert run_cvc5(d.smt2, 10)[0] == "unsat" and run_z3_text(d.smt2, 10)[0] == "unsat"
    # the wrong variant: not proved by SymPy, and its certificate text (denominators assumed) is sat
    from qbound.bounds.obligation import encode
    bad = Obligation("demo.bad", (), sp.Eq((1 - x ** 2) / (1 - x), 1 + 2 * x))
    assert not discharge(bad, engines=("sympy",), cache=None).proved
    assert run_z3_text(encode(bad, assume_defined=True)[1], 10)[0] == "sat"
    # an obligation proved by z3 keeps the strict form: undefinedness is part of the negated goal
    y = sp.Symbol("y", real=True)
    strict = encode(Obligation("demo.div", (sp.Ge(y, 0),), sp.Ge(y / (1 + y), 0)))[1]
    assert "denominators nonzero" not in strict


def test_unary_sums_are_written_as_smt_lib():
    """SMT-LIB's + takes two or more arguments; cvc5 refused z3's (+ x) (momentum.vs_thm4.log_term)."""
    from qbound.bounds.obligation import _no_unary
    assert _no_unary("(assert (>= (+ (* 2.0 a)) (+ b c)))") == "(assert (>= (* 2.0 a) (+ b c)))"
    assert _no_unary("(+ (+ (f x)))") == "(f x)"
    text = "(declare-fun a () Real)\n(assert (> (+ a) 1.0))\n(assert (< a 0.0))\n(check-sat)\n"
    assert run_cvc5(_no_unary(text), 10)[0] == "unsat"


def test_recheck_tries_the_next_cvc5_configuration(monkeypatch):
    """cvc5's default gives up: the next configuration (nl-icp) answers; a sat from it is never 'agrees'."""
    import qbound.bounds.certificates as C
    calls = []

    def fake(solver, text, timeout_s, config=0):
        calls.append((solver, config))
        return ("unknown", None, "cvc5: killed") if config == 0 else answer

    monkeypatch.setattr(C, "_isolated", fake)
    x = sp.Symbol("x", positive=True)
    d = discharge(Obligation("demo.sq", (sp.Le(x, 1),), sp.Le(x ** 2, x)), engines=("z3",), cache=None)
    answer = ("unsat", None, "")
    rec = recheck_one(d, timeout_s=1)
    assert rec["agrees"] and rec["configs_tried"] == 2 and calls[:2] == [("cvc5", 0), ("cvc5", 1)]
    answer = ("sat", {"x": "2"}, "")
    rec = recheck_one(d, timeout_s=1)
    assert not rec["agrees"] and rec["status"] == "sat"


DD_SPLIT = ("dd.kappa_prem", "dd.pr_up", "dd.pr_down", "dd.abs_pr", "dd.kappa_core", "dd.kappa_lin", "dd.kappa",
            "dd.w_st", "dd.h_sb", "dd.w_sq", "dd.rest_a", "dd.rest_b")


def test_split_descent_direction_steps_are_confirmed_by_cvc5():
    """dd.kappa_core, dd.kappa, dd.rest_a and dd.rest_b were single queries that z3 proved and cvc5 did
    not decide in 40 s; split into the small steps above, the second solver confirms every one (each
    in about 2 s or less, in its own process, trying CVC5_CONFIGS in order)."""
    ch, res = A.prove_beta1_0()
    for name in DD_SPLIT:
        d = res[name]
        assert d.proved and d.engine == "z3", name
        rec = recheck_one(d, timeout_s=8)
        assert rec["solver"] == "cvc5" and rec["status"] == "unsat" and rec["agrees"], (name, rec)


def test_split_step_without_its_premise_is_not_confirmed():
    """Wrong variant: dd.rest_b without the bound w^2 <= st^3 Rh (dd.w_sq) is false, and neither
    solver confirms it."""
    ch, res = A.prove_beta1_0()
    ob = ch.by_name["dd.rest_b"]
    w_sq = ch.fact("dd.w_sq")
    bad = Obligation("dd.rest_b.wrong", tuple(p for p in ob.premises if p != w_sq), ob.conclusion)
    assert len(bad.premises) == len(ob.premises) - 1
    d = discharge(bad, engines=("z3",), cache=None)
    assert d.status == "refuted"
    rec = recheck_one(d, timeout_s=8)
    assert not rec["agrees"]


def test_recheck_of_a_cache_hit_encodes_it_again_and_nothing_is_never_confirmed():
    """A cache hit carries no SMT-LIB2 text until encoded again; the re-check encodes it (before, it
    sent cvc5 an empty script, which is satisfiable, and reported 'sat'). A discharge with no text
    at all is 'unknown', never checked."""
    from qbound.bounds.obligation import ObligationCache
    x = sp.Symbol("x", positive=True)
    ob = Obligation("demo.cached", (sp.Le(x, 1),), sp.Le(x ** 2, x))
    cache = ObligationCache(None)
    first = discharge(ob, engines=("z3",), cache=cache)
    hit = discharge(ob, engines=("z3",), cache=cache)
    assert first.proved and hit.proved and hit.cached
    rec = recheck_one(hit, timeout_s=5)
    assert rec["status"] == "unsat" and rec["agrees"]
    hit.smt2 = ""
    hit.ensure_smt2 = lambda: None
    rec = recheck_one(hit, timeout_s=5)
    assert rec["status"] == "unknown" and not rec["agrees"]
