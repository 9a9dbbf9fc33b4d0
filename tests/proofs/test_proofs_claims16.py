"""Issue 16 and the proofs items of issues 9/10: compiler rules, planner, scale reduction (validated
against full enumeration), vacuity, cross-check, counterexample records, input limits."""
import itertools
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from qbound.app.cli import main
from qbound.numeric.errors import InputError
from qbound.proofs import prove
from qbound.proofs.claims import ClaimSyntaxError, parse_const, parse_expr
from qbound.proofs.engines import ENGINES, get_engine
from qbound.proofs.engines.exhaustive import ExhaustiveEngine, values_of
from qbound.proofs.exact import build_claim, evaluate
from qbound.proofs.scaling import scale_reduce


# ------------------------------------------------------------------ issue 10: limits
@pytest.mark.parametrize("text", ["x == " + "-" * 1990 + "x", "x == " + "+".join(["x"] * 1300),
                                  "not " * 900 + "x < 1", "x == " + "(" * 300 + "x" + ")" * 300])
def test_deep_claims_refused_with_caret(text):
    with pytest.raises(ClaimSyntaxError) as e:
        parse_expr(text)
    assert "nested too deeply" in str(e.value) and "^" in str(e.value)


def test_exponent_caps():
    with pytest.raises(ClaimSyntaxError, match="exponent too large"):
        parse_expr("x < 1e99999999")
    with pytest.raises(InputError, match="exponent too large"):
        parse_const("c=1e999999999")
    assert parse_const("c=1e-300")[1] == Fraction(1, 10 ** 300)


@pytest.mark.parametrize("t", ["0", "-1", "nan", "inf", "0.0"])
def test_timeout_must_be_positive_finite(t, capsys):
    with pytest.raises(SystemExit) as e:
        main(["prove", "--claim", "rnd(a) == a", "--format", "fp8_e4m3fn", "--timeout", t])
    assert e.value.code == 2
    with pytest.raises(InputError):
        prove("rnd(a) == a", "fp8_e4m3fn", timeout=float(t))


def test_cli_claim_errors_exit_2(capsys):
    assert main(["prove", "--claim", "x < 1e99999999", "--format", "fp8_e4m3fn"]) == 2
    assert main(["prove", "--claim", "rnd(b2*v) == v", "--const", "b2=0.999", "--format", "bf16"]) == 2
    err = capsys.readouterr().err
    assert "0.99609375" in err and "^" in err


# ------------------------------------------------------------------ compiler rules
def test_constant_inside_rnd_must_be_a_format_value():
    with pytest.raises(ClaimSyntaxError) as e:
        build_claim("rnd(b2*v + (1-b2)*g*g) == v", "bf16", consts={"b2": "0.999"})
    msg = str(e.value)
    assert "b2 = 0.999" in msg and "0.99609375 (0x3f7f)" in msg and "1 (0x3f80)" in msg and "rnd(b2)" in msg
    # rounded explicitly: a constant expression, or rnd() inside the claim
    c = build_claim("rnd(b2*v) == v", "bf16", consts={"b2": "rnd(0.999)"})
    assert c.consts["b2"] == 1
    build_claim("rnd(rnd(b2)*v) == v", "bf16", consts={"b2": "0.999"})
    # dyadic constants are exact for every engine and stay allowed; constants outside rnd are exact
    build_claim("rnd(x*(2**-60)) == 0 or x != 0", "bf16")
    build_claim("abs(rnd(w) - w) <= lr*abs(w)", "bf16", consts={"lr": "0.001"})


def test_division_by_constant_inside_rnd_is_the_rounded_op():
    v = prove("rnd(x/2) == rnd(x*0.5)", "fp32", timeout=30)
    assert v.status == "proved"


def test_fma_and_implies():
    c = build_claim("implies(a > 0, fma(a, a, a) > 0)", "fp8_e4m3fn")
    assert c.expr.kind == "or"
    assert prove("implies(a > 0, fma(a, a, a) > 0)", "fp8_e5m2").status == "proved"
    assert prove("implies(a > 0, fma(a, a, a) > 0)", "fp8_e4m3fn").status == "falsified"  # overflow: NaN
    assert prove("fma(a, b, c) == rnd(a*b + c)", "fp6_e2m3").status == "proved"


@pytest.mark.parametrize("claim", ["abs(rnd(a/b) - a/b) <= u*abs(a/b)", "a/b <= 1", "abs(a/b - b/a) < 2",
                                   "abs(a) < ulp(b)/4"])
def test_division_multiplied_out_is_equivalent(claim):
    """The sign-case transform of exact divisions outside rnd, checked point by point against the
    untransformed tree with the exact evaluator (IEEE x/0 included) on every pair of fp6_e2m3."""
    fmt = "fp6_e2m3"
    c = build_claim(claim, fmt)
    vals = values_of(c.fmt)
    for a, b in itertools.product(vals, vals):
        if b == 0 and np.signbit(b):
            continue   # the exact evaluator has no signed zero (Fraction); +0 covers the zero branch
        env = {"a": Fraction(float(a)), "b": Fraction(float(b))}
        assert evaluate(c.expr, env, c.fmt, "rne") == evaluate(c.report_expr, env, c.fmt, "rne"), (a, b)


# ------------------------------------------------------------------ scale reduction
RED_CLAIMS = [
    ("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", ["tiny <= abs(a*b) <= huge"]),
    ("abs(rnd(a*b) - a*b) <= (u/(1+u))*(1 - 1/64)*abs(a*b)", ["tiny <= abs(a*b) <= huge"]),
    ("abs(rnd(a/b)*b - a) <= u*abs(a)", ["tiny <= abs(a/b) <= huge"]),
    ("rnd(a*b) == a*b", ["tiny <= abs(a*b) <= huge"]),
    ("abs(rnd(a*b) - a*b) <= ulp(a*b)/2", ["tiny <= abs(a*b) <= huge"]),
    ("abs(rnd(a*a) - a*a) < ulp(a*a)/2", ["tiny <= abs(a*a) <= huge"]),
]


@pytest.mark.parametrize("fmt", ["fp8_e4m3fn", "fp8_e5m2", "fp6_e3m2"])
@pytest.mark.parametrize("mode", ["rne", "rtz", "rup", "sr"])
@pytest.mark.parametrize("claim,hyps", RED_CLAIMS)
def test_scale_reduction_matches_full_enumeration(fmt, mode, claim, hyps):
    c = build_claim(claim, fmt, mode, assume=hyps)
    r = scale_reduce(c)
    assert r.claim is not None, r.why
    ex = ExhaustiveEngine()
    full, red = ex.decide(c), ex.decide(r.claim)
    assert full.status == red.status != "unknown", (full.status, red.status)
    if red.falsified:   # a reduced counterexample is a real one (replayed in the full claim)
        point = {k: Fraction(v["decimal"]) for k, v in red.counterexample.items() if k in c.vars}
        from qbound.proofs.exact import holds_at
        hyp, ok, _ = holds_at(c, point)
        assert hyp and not ok


@pytest.mark.parametrize("claim,hyps,why", [
    ("abs(rnd(a*b) - a*b) <= u*abs(a*b)", [], "no hypothesis"),
    ("abs(rnd(a+b) - (a+b)) <= u*abs(a+b)", ["tiny <= abs(a+b) <= huge"], "different degree"),
    ("rnd(a*b + 1) >= 0", [], "different degree"),
    ("abs(rnd(a*b) - a*b) <= u*abs(a*b)", ["tiny <= abs(a*b)"], "different degree"),
])
def test_scale_reduction_refuses(claim, hyps, why):
    r = scale_reduce(build_claim(claim, "fp8_e4m3fn", assume=hyps))
    assert r.claim is None and why in r.why


def test_wrong_reduction_is_caught_by_enumeration():
    """The deliberately wrong variant: reducing without the normal-range hypothesis changes the
    verdict (subnormal products violate the relative bound), which is why the analysis refuses it."""
    c = build_claim("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "fp8_e4m3fn")
    bad = replace(c, var_domain="significands")
    ex = ExhaustiveEngine()
    assert ex.decide(c).status == "falsified" and ex.decide(bad).status == "proved"


# ------------------------------------------------------------------ planner, vacuity, cross-check
def test_planner_explains_and_times_the_whole_decision():
    v = prove("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "bf16", assume=["tiny <= abs(a*b) <= huge"],
              explain=True, timeout=60)
    assert v.status == "proved" and not v.vacuous
    assert "plan (cheapest predicted first)" in v.details["explain"]
    assert v.seconds >= sum(t.get("seconds", 0) for t in v.details["plan"]) * 0.99


def test_vacuous_proof_is_flagged():
    v = prove("rnd(a) == 0", "fp8_e4m3fn", assume=["a > huge"])
    assert v.status == "proved" and v.vacuous and v.label == "proved, vacuously"
    assert v.to_dict()["vacuous"] is True
    assert not prove("rnd(a) == a", "fp8_e4m3fn", assume=["a > 1"]).vacuous


def test_cross_check_agrees_and_disagreement_is_an_error(monkeypatch):
    v = prove("rnd(a+b) == rnd(b+a)", "fp16", cross_check=True, timeout=60)
    assert v.status == "proved" and v.details["cross_check"]["agrees"] is True
    from qbound.proofs import planner
    real = planner._run_step
    calls = []

    def lying(step, timeout, smt2_dir):   # the second method lies
        calls.append(step.method)
        v = real(step, timeout, smt2_dir)
        if len(calls) > 1 and v.status == "proved":
            from qbound.proofs.verdict import Verdict
            return Verdict("falsified", "liar")
        return v
    monkeypatch.setattr(planner, "_run_step", lying)
    with pytest.raises(planner.Disagreement):
        prove("rnd(a+b) == rnd(b+a)", "fp16", cross_check=True, timeout=60)


def test_registry_declares_capabilities():
    assert get_engine("bitwuzla").sorts is not None and get_engine("z3").sorts is None
    assert set(ENGINES) >= {"exhaustive", "compiled", "z3", "bitwuzla", "cvc5"}
    for name in ("bitwuzla", "z3"):
        assert get_engine(name).cost_factor > 0


# ------------------------------------------------------------------ counterexamples
def test_counterexample_record_readable():
    v = prove("rnd(b*a) <= b*a", "fp32", "rup", timeout=60)
    assert v.status == "falsified"
    cx = v.counterexample
    names = [k for k, val in cx.items() if isinstance(val, dict) and "hex" in val]
    assert names[:2] == ["b", "a"]                 # the order the claim names them
    F = build_claim("a == a", "fp32").fmt
    for k in ("a", "b"):
        x = Fraction(cx[k]["decimal"])
        from qbound.proofs.exact import round_fraction
        assert round_fraction(Fraction(cx[k]["sci"]), F, "rne") == x   # exact in the format
        assert len(cx[k]["sci"]) < 20
    (key, rr), = cx["rounded"].items()
    assert key == "rnd(b * a)" and rr["hex"].startswith("0x")
    assert Fraction(cx["lhs_exact"]) > Fraction(cx["rhs_exact"])


def test_sr_counterexample_names_the_outcome():
    v = prove("rnd(a*b) <= a*b", "fp8_e4m3fn", "sr")
    assert v.falsified and v.counterexample["rounded"]["rnd(a * b)"]["sr"] == "away from zero"


def test_z3_counterexample_independent_of_history():
    """issue 10 item 6: z3 runs in a fresh context per query, so a model does not depend on what the
    process solved before (as with different --workers)."""
    claim = ("rnd(x) >= 0", "fp8_e4m3fn")
    a = prove(*claim, assume=["x >= 0"], var_format="fp64", engine="z3").counterexample
    for _ in range(3):
        prove("rnd(a*b) == a*b", "fp16", engine="z3", timeout=5)
    b = prove(*claim, assume=["x >= 0"], var_format="fp64", engine="z3").counterexample
    assert a == b and a is not None


def test_smt2_dir_has_replay(tmp_path):
    v = prove("rnd(a+b) >= a+b", "fp32", "rup", engine="bitwuzla", smt2_dir=str(tmp_path))
    assert v.status == "proved" and "replay" in v.details and str(tmp_path) in v.details["replay"]
    text = open(v.details["smt2"]).read()
    assert "(check-sat)" in text


# ------------------------------------------------------------------ compiled enumerator
@pytest.mark.slow
@pytest.mark.parametrize("claim,hyps,fmt,mode", [
    ("abs(rnd(a*b) - a*b) <= u*abs(a*b)", ["tiny <= abs(a*b) <= huge"], "fp8_e4m3fn", "rne"),
    ("rnd(a+b) >= a+b", [], "fp8_e5m2", "rne"),
    ("abs(rnd(a*b) - a*b) <= u*abs(a*b)", [], "fp8_e4m3fn", "sr"),
    ("min(a,b) <= rnd((a+b)/2) <= max(a,b)", [], "fp6_e3m2", "rne"),
    ("abs(d) < ulp(w)/4", [], "fp8_e5m2", "rne"),
])
def test_compiled_matches_numpy(claim, hyps, fmt, mode):
    c = build_claim(claim, fmt, mode, assume=hyps)
    v1, v2 = get_engine("compiled").decide(c), ExhaustiveEngine().decide(c)
    assert v1.status == v2.status
    if v1.falsified:
        assert {k: v1.counterexample[k]["hex"] for k in c.vars} == {k: v2.counterexample[k]["hex"] for k in c.vars}


def test_compiled_finds_first_counterexample():
    c = build_claim("rnd(a+b) >= a+b", "fp8_e5m2", "rne")
    v1, v2 = get_engine("compiled").decide(c), ExhaustiveEngine().decide(c)
    assert v1.falsified and v2.falsified
    assert {k: v1.counterexample[k]["hex"] for k in c.vars} == {k: v2.counterexample[k]["hex"] for k in c.vars}


@pytest.mark.parametrize("fmt", ["fp8_e4m3fn", "fp6_e3m2"])
@pytest.mark.parametrize("mode", ["rne", "rtz", "sr"])
@pytest.mark.parametrize("claim,hyps", [
    ("abs(rnd(a*b + c) - (a*b + c)) <= u/(1+u)*abs(a*b + c)", ["tiny <= abs(a*b + c) <= huge"]),
    ("abs(rnd(a/b)*b - a) <= u*abs(a)", ["b != 0", "tiny <= abs(a/b) <= huge"]),
    ("abs(rnd(a*b) - a*b) <= u/2*abs(a*b)", ["tiny <= abs(a*b) <= huge"]),
])
def test_conversion_lemma_step_matches_enumeration(fmt, mode, claim, hyps):
    """The planner's conversion-lemma step only ever proves, and only what enumeration proves."""
    from qbound.proofs import planner
    c = build_claim(claim, fmt, mode, assume=hyps)
    st = planner._conversion_step(c)
    assert st is not None
    v = planner._run_step(st, 30, None)
    full = ExhaustiveEngine().decide(c)
    assert v.status in ("proved", "unknown")
    if v.status == "proved":
        assert full.status == "proved"


# ------------------------------------------------------------------ compiled: error margins, symmetry
@pytest.mark.parametrize("claim,fmt,mode", [
    ("abs(rnd(sqrt(abs(a*b))) - sqrt(abs(a*b))) <= u*sqrt(abs(a*b))", "fp8_e4m3fn", "rne"),
    ("abs(rnd(sqrt(abs(a*b))) - sqrt(abs(a*b))) <= u/2*sqrt(abs(a*b))", "fp8_e5m2", "rtz"),
    ("implies(b != 0, abs(rnd(a/b) - a/b) <= u*abs(a/b))", "fp6_e3m2", "rne"),
    ("min(a, sqrt(abs(b))) <= rnd(sqrt(abs(a*b))) + ulp(a)", "fp6_e3m2", "rup"),
])
def test_compiled_error_margins_match_numpy(claim, fmt, mode):
    """Comparisons with an inexact side (sqrt, quotients) are decided by the error bound when the
    sides are far apart; verdicts and first counterexamples agree with the numpy engine, and fewer
    assignments go to the exact evaluator."""
    c = build_claim(claim, fmt, mode)
    v1, v2 = get_engine("compiled").decide(c), ExhaustiveEngine().decide(c)
    assert v1.status == v2.status
    if v1.falsified:
        assert {k: v1.counterexample[k]["hex"] for k in c.vars} == {k: v2.counterexample[k]["hex"] for k in c.vars}
    else:
        assert v1.details["exact_fallback"] < max(1, v2.details["exact_fallback"])


@pytest.mark.parametrize("claim,hyps,sym", [
    ("abs(rnd(a+b) - (b+a)) <= u*abs(a+b)", ["abs(a+b) <= huge"], True),
    ("abs(rnd(a*b) - a*b) <= u/2*abs(b*a)", ["tiny <= abs(a*b) <= huge"], True),
    ("rnd(a+b) >= a+b", [], True),
    ("rnd(a-b) <= a + ulp(b)", [], False),
    ("min(a, b) <= rnd(a+b)", [], False),       # min/max are not treated as commutative (+0, -0)
])
def test_compiled_symmetry_same_result_as_full(claim, hyps, sym):
    import qbound.proofs.engines.compiled as comp
    c = build_claim(claim, "fp8_e5m2", "rne", assume=hyps)
    assert comp.symmetric(c) is sym
    v1, v2 = get_engine("compiled").decide(c), ExhaustiveEngine().decide(c)
    assert v1.status == v2.status
    if v1.falsified:
        assert {k: v1.counterexample[k]["hex"] for k in c.vars} == {k: v2.counterexample[k]["hex"] for k in c.vars}



class _Clock:
    t = 0.0

    def perf_counter(self):
        return self.t


class _FakeEngine:
    """Records the budget it was given; decides (after ``needs`` seconds of the fake clock) only when
    the budget covers ``needs``, else spends the whole budget."""

    def __init__(self, clock, features, needs, status):
        self.clock, self.features, self.needs, self.status, self.budgets = clock, frozenset(features), needs, status, []

    def decide(self, claim, timeout=30.0, smt2_dir=None):
        from qbound.proofs.verdict import Verdict
        self.budgets.append(timeout)
        ok = timeout >= self.needs
        self.clock.t += self.needs if ok else timeout
        return Verdict(self.status if ok else "unknown", "fake", "", 0.0, reason="" if ok else "timeout")


@pytest.mark.parametrize("reserve", [True, False])
def test_planner_leaves_room_for_a_fitting_enumeration(monkeypatch, reserve):
    """An SMT step predicted cheap but undecided must not take the time an enumeration predicted to
    fit needs: with the reserve (1.25 x 30 s predicted), the enumeration needing 35 s gets 37.5 s of a
    60 s budget and decides; without it (ENUM_RESERVE 0: each step half of what is left) the SMT step
    spends 30 s and the enumeration, with a method behind it, gets 15 s and cannot decide."""
    import types

    import qbound.proofs.planner as pl
    from qbound.proofs.exact import build_claim
    clock = _Clock()
    monkeypatch.setattr(pl, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    smt = _FakeEngine(clock, {"fp"}, needs=1e9, status="proved")
    enum = _FakeEngine(clock, {"enumeration"}, needs=35.0, status="proved")
    last = _FakeEngine(clock, {"fp"}, needs=1e9, status="proved")
    c = build_claim("rnd(a) == a", "fp8_e4m3fn", "rne")
    steps = [pl.Step("z3", smt, c, 0.5, "fake smt"), pl.Step("compiled", enum, c, 30.0, "fake enumeration"),
             pl.Step("cvc5", last, c, 40.0, "fake smt")]
    monkeypatch.setattr(pl, "plan", lambda claim, engines=None: (list(steps), []))
    monkeypatch.setattr(pl, "_vacuity", lambda *a, **k: False)
    if not reserve:
        monkeypatch.setattr(pl, "ENUM_RESERVE", 0.0)
    v = pl.decide(c, timeout=60.0)
    assert smt.budgets == [pytest.approx(22.5 if reserve else 30.0)]
    assert enum.budgets == [pytest.approx(37.5 if reserve else 15.0)]
    assert (v.status == "proved") == reserve, (v.status, smt.budgets, enum.budgets)


@pytest.mark.parametrize("claim,fmt,truth", [
    ("abs(rnd(a+b) - (a+b)) < u/(1+u)*abs(a+b)", "fp32", "falsified"),    # 1 + 2^-24 is a tie: equality
    ("abs(rnd(a+b) - (a+b)) <= u/(1+u)*abs(a+b)", "fp32", "proved"),
    ("abs(rnd(a*b) - a*b) < u/(1+u)*abs(a*b)", "fp32", "falsified"),      # 2^24 + 1 = 97*257*673 splits
    ("abs(rnd(a*b) - a*b) < u/(1+u)*abs(a*b)", "bf16", "proved"),         # 2^8 + 1 = 257 is prime
])
def test_strict_lemma_bounds(claim, fmt, truth):
    """The product and sum lemmas decide a strict bound too (the tie attains u/(1+u) exactly); the
    verdict, and a counterexample's replay in the user's claim, match the known truth."""
    E = "a+b" if "a+b" in claim else "a*b"
    v = prove(claim, fmt, "rne", assume=[f"tiny <= abs({E}) <= huge"])
    assert v.status == truth, (v.status, v.engine, v.reason)


def test_strict_bound_read_as_non_strict_is_caught(monkeypatch):
    """A reduction that drops the strictness (violation only when the error exceeds the bound) proves
    the false strict sum claim on fp32."""
    import qbound.proofs.reductions as red
    for name in ("sum_query", "real_conversion_query"):   # the near gaps and the far ones
        orig = getattr(red, name)
        monkeypatch.setattr(red, name, lambda *a, _f=orig, **k: _f(*a, **{**k, "strict": False}))
    v = prove("abs(rnd(a+b) - (a+b)) < u/(1+u)*abs(a+b)", "fp32", "rne", assume=["tiny <= abs(a+b) <= huge"])
    assert v.status == "proved"
