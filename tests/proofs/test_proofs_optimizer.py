"""Optimizer-state facts: thresholds are exact and engine-checked; witnesses replay through quantize."""
from fractions import Fraction

import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import quantize
from qbound.proofs.optimizer_facts import constant_rounding, stagnation_threshold, swamping_threshold


@pytest.mark.parametrize("name", ["bf16", "fp16", "fp8_e4m3fn", "fp8_e5m2", "fp6_e2m3"])
def test_stagnation_rne(name):
    fmt = get_format(name)
    d = stagnation_threshold(fmt, "rne", 0.999)
    T = Fraction(1, 1 << (fmt.p + 1))           # binade boundaries v = 2^e are the tightest cells
    assert Fraction(d["threshold"]) == T and d["threshold_attained"]
    assert d["check_at_threshold"]["status"] == "proved"
    assert d["check_past_threshold"]["status"] == "falsified"
    assert d["stagnates"] == (Fraction(float(0.999)) >= 1 - T)
    w = d["witness"]
    v = float(Fraction(w["v"]["decimal"]))
    b2 = 1 - float(Fraction(w["one_minus_beta2"]))
    assert quantize(v, fmt) == v
    # replay with the numeric oracle: the stored value decreases (b2*v exact here or rounding decides)
    assert Fraction(round_exact(b2, v, fmt)) < Fraction(v)


def round_exact(b2, v, fmt):
    from qbound.proofs.exact import round_fraction
    return round_fraction(Fraction(b2) * Fraction(v), fmt, "rne")


def test_stagnation_rtz_never():
    d = stagnation_threshold("bf16", "rtz", 0.999)
    assert d["threshold"] == "0" and d["stagnates"] is False
    assert d["verdict"]["status"] == "falsified"


@pytest.mark.parametrize("name,mode", [("bf16", "rne"), ("fp8_e4m3fn", "rne"), ("fp16", "rtz")])
def test_swamping(name, mode):
    fmt = get_format(name)
    d = swamping_threshold(fmt, mode)
    assert d["verdict"]["status"] == "proved"
    assert d["check_past_threshold"]["status"] == "falsified"
    if mode == "rne":
        assert Fraction(d["threshold"]) == Fraction(1, 1 << (fmt.p + 1))
    else:
        assert d["threshold"] == "0"
    w = float(Fraction(d["witness"]["w"]["decimal"]))
    r = Fraction(d["witness"]["relative_update"])
    lo = quantize(float(Fraction(w) * (1 - r)), fmt, mode) if Fraction(float(Fraction(w) * (1 - r))) == Fraction(w) * (1 - r) else None
    hi = quantize(float(Fraction(w) * (1 + r)), fmt, mode) if Fraction(float(Fraction(w) * (1 + r))) == Fraction(w) * (1 + r) else None
    assert (lo is not None and lo != w) or (hi is not None and hi != w) or lo is None or hi is None


def test_constant_rounding():
    d = constant_rounding(0.999, "bf16")
    assert d["rounded"] == "1" and not d["representable"] and d["verdict"]["status"] == "proved"
    d = constant_rounding(0.9, "fp8_e4m3fn")
    assert d["rounded"] == "0.875"
    d = constant_rounding(0.5, "fp4_e2m1")
    assert d["representable"] and d["rel_error"] == 0
    d = constant_rounding(0.9, "bf16", "sr")
    assert d["verdict"]["status"] == "proved" and len(d["rounded"]) == 2
