"""Each reduction is a claim: validate it against the unreduced query on small formats."""
from fractions import Fraction

import numpy as np
import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import quantize
from qbound.proofs.exact import round_fraction
from qbound.proofs.reductions import conversion_witness, product_lemma, real_conversion, sum_lemma

FMTS = ["fp8_e4m3fn", "fp8_e5m2", "fp6_e3m2"]


def _max_rel_error(fmt, mode, op):
    """Exact maximum relative error of op over all pairs with a normal-range exact result."""
    v = fmt.finite_values()
    a, b = np.meshgrid(v, v)
    a, b = a.ravel(), b.ravel()
    x = a * b if op == "mul" else a + b          # exact in float64 for these formats
    ok = (np.abs(x) >= float(fmt.min_normal)) & (np.abs(x) <= float(fmt.max_finite))
    x = x[ok]
    r = quantize(x, fmt, mode)
    err = np.abs(r - x) / np.abs(x)
    cand = np.unique(x[err >= err.max() * (1 - 1e-9)])
    return max(abs(round_fraction(Fraction(float(t)), fmt, mode) - Fraction(float(t))) / abs(Fraction(float(t)))
               for t in cand)


@pytest.mark.parametrize("name", FMTS)
@pytest.mark.parametrize("mode", ["rne", "rtz"])
@pytest.mark.parametrize("op", ["mul", "add"])
def test_reduction_matches_enumeration(name, mode, op):
    fmt = get_format(name)
    worst = _max_rel_error(fmt, mode, op)
    lemma = product_lemma if op == "mul" else sum_lemma
    assert worst <= fmt.rel_error_bound(mode)
    # the exact worst case found by enumeration: reduced query proves it, and falsifies anything smaller
    assert lemma(fmt, mode, bound=worst, solver="z3").status == "proved"
    smaller = lemma(fmt, mode, bound=worst * (1 - Fraction(1, 1 << 20)), solver="bitwuzla")
    assert smaller.status == "falsified"
    assert smaller.counterexample is not None          # replayed through the unreduced claim


@pytest.mark.parametrize("mode", ["rne", "rtz", "sr"])
def test_reduced_fp32_lemmas_and_solvers_agree(mode):
    fp32 = get_format("fp32")
    assert product_lemma(fp32, mode, solver="bitwuzla").status == "proved"
    assert product_lemma(fp32, mode, solver="z3").status == "proved"
    # a too-small bound is refuted with a counterexample that replays
    v = product_lemma(fp32, mode, bound=fp32.rel_error_bound(mode) / 2, solver="bitwuzla")
    assert v.status == "falsified" and v.counterexample["a"]["hex"].startswith("0x")


@pytest.mark.parametrize("name", ["fp8_e4m3fn", "bf16", "fp32"])
@pytest.mark.parametrize("mode", ["rne", "rtz", "sr"])
def test_real_conversion_sharp(name, mode):
    fmt = get_format(name)
    assert real_conversion(fmt, mode)[0].status == "proved"
    b = fmt.rel_error_bound(mode)
    assert real_conversion(fmt, mode, bound=b * (1 - Fraction(1, 1 << 30)))[0].status == "falsified"
    w = conversion_witness(fmt, mode)
    assert w["rel_error"] <= b and w["ratio_to_bound"] > 1 - 2 ** -15
    assert w["attained"] == fmt.rel_error_bound_attained(mode)
    if mode != "sr":
        assert Fraction(quantize(float(w["x"]), fmt, mode)) == w["rounded"]


@pytest.mark.parametrize("mode", ["rne", "rtz"])
def test_near_far_sum_split(mode):
    """The wide-format variant (near gaps by bit-vectors, far gaps by the real conversion lemma)
    proves the sharp bound and refutes half of it, like enumeration does."""
    fmt = get_format("fp8_e5m2")
    b = fmt.rel_error_bound(mode)
    assert sum_lemma(fmt, mode, bound=b, full_gaps=False).status == "proved"
    v = sum_lemma(fmt, mode, bound=b / 2, full_gaps=False)
    assert v.status == "falsified" and v.counterexample["b"]["hex"].startswith("0x")


def _max_quotient_error(fmt, mode):
    v = [Fraction(float(x)) for x in fmt.finite_values() if x != 0]
    worst = Fraction(0)
    for a in v:
        for b in v:
            q = a / b
            if fmt.min_normal <= abs(q) <= fmt.max_finite:
                r = round_fraction(q, fmt, mode)
                worst = max(worst, abs(r - q) / abs(q))
    return worst


@pytest.mark.parametrize("name", ["fp6_e3m2", "fp6_e2m3"])
@pytest.mark.parametrize("mode", ["rne", "rtz"])
def test_quotient_reduction_matches_enumeration(name, mode):
    from qbound.proofs.reductions import quotient_lemma
    fmt = get_format(name)
    worst = _max_quotient_error(fmt, mode)
    assert quotient_lemma(fmt, mode, bound=worst).status == "proved"
    v = quotient_lemma(fmt, mode, bound=worst * (1 - Fraction(1, 1 << 20)))
    assert v.status == "falsified" and v.counterexample is not None


@pytest.mark.parametrize("name", ["fp6_e3m2", "fp8_e4m3fn", "fp8_e5m2"])
@pytest.mark.parametrize("mode", ["rne", "rtz"])
def test_sqrt_reduction_matches_enumeration(name, mode):
    from qbound.proofs import prove
    from qbound.proofs.reductions import sqrt_lemma
    fmt = get_format(name)
    b = fmt.rel_error_bound(mode)
    for bound in (b, b * Fraction(3, 4), b / 2, b / 8):
        red = sqrt_lemma(fmt, mode, bound=bound)
        ex = prove("(1-bnd)**2*a <= rnd(sqrt(a))**2 <= (1+bnd)**2*a", fmt, mode, assume=["tiny**2 <= a"],
                   consts={"bnd": bound}, engine="exhaustive")
        assert red.status == ex.status != "unknown", (bound, red.reason)
