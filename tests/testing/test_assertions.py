"""qbound.testing.assertions: each helper passes a right input and rejects a deliberately wrong one
with a readable counterexample (decimal, hex, exact error)."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import qbound.numeric as qn  # noqa: E402
from qbound.numeric.errors import InputError  # noqa: E402
from qbound.testing import (CounterexampleError, assert_bound_holds, assert_lemma, assert_no_stagnation,  # noqa: E402
                            assert_rounds_like, describe_value)

FAST = settings(deadline=None, database=None)


# ----------------------------------------------------------------------------- assert_lemma
def test_assert_lemma_passes_a_true_lemma():
    v = assert_lemma("abs(rnd(x) - x) <= u/(1+u) * abs(x)", "fp8_e4m3fn", "rne", assume=["tiny <= abs(x) <= huge"])
    assert v.status == "proved"


def test_assert_lemma_rejects_a_wrong_lemma_with_a_replayable_counterexample():
    fmt = qn.get_format("fp8_e4m3fn")
    with pytest.raises(CounterexampleError) as info:
        assert_lemma("abs(rnd(x*y) - x*y) <= u/2 * abs(x*y)", fmt, "rne", assume="tiny <= abs(x*y) <= huge")
    exc = info.value
    assert exc.kind == "lemma"
    text = str(exc)
    assert "counterexample" in text and "in fp8_e4m3fn" in text and "left - right" in text
    # the counterexample really breaks the claim: replay it with the bit-exact kernel
    x = Fraction(exc.counterexample["x"]["decimal"])
    y = Fraction(exc.counterexample["y"]["decimal"])
    assert fmt.hex(fmt.encode(float(x))) == exc.counterexample["x"]["hex"]
    p = x * y
    err = abs(Fraction(qn.quantize_exact(p, fmt, "rne")) - p)
    assert err > Fraction(1, 2) * fmt.unit_roundoff("rne") * abs(p)


def test_assert_lemma_fails_on_unknown_unless_allowed():
    claim, assume = "abs(rnd(x*y) - x*y) <= u/(1+u)*abs(x*y)", ["tiny <= abs(x*y) <= huge"]
    with pytest.raises(CounterexampleError, match="undecided") as info:
        assert_lemma(claim, "bf16", assume=assume, engine="z3", timeout=0.5)
    assert info.value.kind == "unknown" and "z3" in str(info.value) and info.value.counterexample is None
    assert assert_lemma(claim, "bf16", assume=assume, engine="z3", timeout=0.5, allow_unknown=True).status == "unknown"


def test_assert_lemma_refuses_bad_input():
    with pytest.raises(InputError):
        assert_lemma("rnd(x) ==", "bf16")
    with pytest.raises(InputError):
        assert_lemma("rnd(x) == x", "bf16", "round-half-up")


# ----------------------------------------------------------------------------- assert_rounds_like
def bf16_rne(x):
    """Round-to-nearest-even into bf16 on the bits of a float32 (right)."""
    b = np.array(x, dtype=np.float32).view(np.uint32)
    b = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return float(b.view(np.float32))


def bf16_half_away(x):
    """Round half away from zero (the usual mistake: wrong on ties)."""
    b = np.array(x, dtype=np.float32).view(np.uint32)
    b = (b + np.uint32(0x8000)) & np.uint32(0xFFFF0000)
    return float(b.view(np.float32))


def bf16_truncate(x):
    return float((np.array(x, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32))


def test_assert_rounds_like_passes_a_right_quantizer():
    assert_rounds_like(bf16_rne, "bf16", "rne", source="fp32", settings=settings(deadline=None, database=None,
                                                                                max_examples=300))
    assert_rounds_like(bf16_truncate, "bf16", "rtz", source="fp32", settings=FAST)


def test_assert_rounds_like_passes_ml_dtypes_casts():
    import ml_dtypes

    def cast(x):
        with np.errstate(over="ignore"):
            return float(np.float64(x).astype(ml_dtypes.float8_e4m3fn))
    assert_rounds_like(cast, "fp8_e4m3fn", "rne", settings=FAST)


def test_assert_rounds_like_rejects_round_half_away_with_the_tie():
    with pytest.raises(CounterexampleError) as info:
        assert_rounds_like(bf16_half_away, "bf16", "rne", source="fp32", settings=FAST)
    exc = info.value
    assert exc.kind == "rounding"
    x = float(exc.counterexample["x"]["decimal"])
    lo, hi = qn.quantize(x, "bf16", "rdn"), qn.quantize(x, "bf16", "rup")
    assert Fraction(x) * 2 == Fraction(lo) + Fraction(hi)    # the input shown is an exact tie
    assert "error" in str(exc) and "in bf16" in str(exc)


def test_assert_rounds_like_rejects_a_wrong_mode_and_a_lost_sign_of_zero():
    with pytest.raises(CounterexampleError):
        assert_rounds_like(bf16_truncate, "bf16", "rne", source="fp32", settings=FAST)

    def no_negative_zero(x):
        return abs(bf16_rne(x)) if bf16_rne(x) == 0 else bf16_rne(x)
    with pytest.raises(CounterexampleError) as info:
        assert_rounds_like(no_negative_zero, "bf16", "rne", source="fp32", settings=FAST)
    assert info.value.counterexample["expected"] == ["-0"]


def test_assert_rounds_like_stochastic_accepts_either_neighbour_only():
    assert_rounds_like(bf16_truncate, "bf16", "sr", source="fp32", settings=FAST)     # always down: allowed
    with pytest.raises(CounterexampleError, match="one of"):
        assert_rounds_like(lambda x: 2 * bf16_rne(x), "bf16", "sr", source="fp32", settings=FAST)


def test_assert_rounds_like_with_a_user_strategy():
    assert_rounds_like(lambda x: x, "fp16", "rne", inputs=st.sampled_from([0.5, 1.0, 2.0]), settings=FAST)
    with pytest.raises(InputError):
        assert_rounds_like("not callable", "fp16")


# ----------------------------------------------------------------------------- assert_bound_holds
def test_assert_bound_holds_applies_the_verify_rule():
    assert assert_bound_holds([1.0, 2.0, 3.0], 4.0)["status"] == "holds"
    assert assert_bound_holds([1.0, 2.0, 3.0], 1.5)["status"] == "exceeds-within-noise"   # not broken
    with pytest.raises(CounterexampleError, match="lower end") as info:
        assert_bound_holds([2.0, 2.1, 1.9], 1.5)
    assert info.value.kind == "bound" and info.value.counterexample["lo"] > 1.5
    with pytest.raises(InputError, match="at least 2"):
        assert_bound_holds([5.0], 1.0)


def test_assert_bound_holds_sympy_and_vacuous_bounds():
    import sympy as sp
    T, c = sp.symbols("T c", positive=True)
    assert assert_bound_holds([0.1, 0.11], c / sp.sqrt(T), {"T": 100, "c": 10})["bound"] == pytest.approx(1.0)
    with pytest.raises(CounterexampleError):
        assert_bound_holds([0.1, 0.11], c / sp.sqrt(T), {"T": 100, "c": 0.1})
    with pytest.raises(InputError, match="missing"):
        assert_bound_holds([0.1, 0.11], c / sp.sqrt(T), {"T": 100})
    with pytest.raises(CounterexampleError, match="nothing is tested"):
        assert_bound_holds([0.1, 0.11], math.inf)
    assert assert_bound_holds([0.1, 0.11], math.inf, allow_vacuous=True)["status"] == "vacuous"


@pytest.fixture(scope="module")
def adam_runs():
    """Adam (beta1 = 0, the fully derived bound) with V in bf16 on the quadratic, three seeds."""
    plan = qn.QuantPlan.parse("V=bf16")
    hp = {"lr": 1e-2, "beta1": 0.0, "beta2": 0.999, "eps": 1e-8}
    runs = [qn.run("quadratic", "adam", plan, steps=150, seed=s, hparams=hp) for s in range(3)]
    c = qn.make_problem("quadratic").constants()
    x0 = float(np.linalg.norm(np.concatenate([np.ravel(p) for p in qn.make_problem("quadratic").x0()])))
    consts = {"T": 150, "alpha": hp["lr"], "beta1": 0.0, "beta2": hp["beta2"], "eps": hp["eps"], "R": c["R"],
              "L": c["L"], "d": c["d"], "Delta": c["Delta"], "X0": x0,
              **{f"q_{k}": float(v) for k, v in plan.q_values().items()}}
    from qbound.bounds import symbols
    return runs, {k: v for k, v in consts.items() if k in symbols("adam")}


def test_assert_bound_holds_on_real_runs_and_the_derived_adam_bound(adam_runs):
    runs, consts = adam_runs
    out = assert_bound_holds(runs, "adam", consts)
    assert out["status"] == "holds" and out["n"] == 3 and out["mean"] < out["bound"]
    # beta1 = 0: verify's E_tau measure is the plain mean of the squared gradient norms
    assert out["per_run"] == pytest.approx([r.summary()["mean_grad_norm2"] for r in runs])
    # a wrong (too small) bound: the measured mean lies far above it
    with pytest.raises(CounterexampleError, match="bound broken"):
        assert_bound_holds(runs, out["mean"] / 10)
    with pytest.raises(InputError, match="unknown measure"):
        assert_bound_holds(runs, "adam", consts, measure="nope")


# ----------------------------------------------------------------------------- assert_no_stagnation
def test_assert_no_stagnation_on_real_runs():
    hp = {"lr": 1e-4}
    ok = qn.run("quadratic", "adam", None, steps=60, seed=0, hparams=hp)
    assert assert_no_stagnation(ok)["longest"] == 0
    # weights stored in bf16 with a learning rate far below half an ulp: every update is lost
    stuck = qn.run("quadratic", "adam", "W=bf16,master=stored", steps=60, seed=0, hparams=hp)
    with pytest.raises(CounterexampleError, match="stagnates") as info:
        assert_no_stagnation(stuck)
    exc = info.value
    assert exc.kind == "stagnation" and exc.counterexample["at"] == 1 and exc.counterexample["longest"] == 60
    assert "W=bf16" in str(exc)


def test_assert_no_stagnation_window_and_threshold():
    fr = [0.0] * 10 + [0.6] * 20 + [0.0] * 10
    assert assert_no_stagnation(fr)["longest"] == 0                       # nobody lost everything
    with pytest.raises(CounterexampleError):
        assert_no_stagnation(fr, max_lost_frac=0.5)
    assert assert_no_stagnation(fr, max_lost_frac=0.5, window=21)["longest"] == 20
    assert assert_no_stagnation(fr, max_lost_frac=0.5, start=15, window=16)["longest"] == 15
    with pytest.raises(InputError):
        assert_no_stagnation(fr, which="nope")


def test_describe_value_names_decimal_and_hex():
    assert describe_value(-0.0, "bf16") == "-0 (0x8000 in bf16)"
    assert describe_value(float("inf"), "fp8_e4m3fn") == "inf (not a fp8_e4m3fn value)"
    assert describe_value(2.0 ** -134, "fp32") == "4.591774807899561e-41 (= 2^-134) (0x00008000 in fp32)"
