"""Leading orders and the rate tables."""
import sympy as sp

from qbound.bounds.asymptotics import KGRID, leading, rate_table

T = sp.Symbol("T", positive=True)


def test_leading_rules():
    a, b = sp.symbols("a b", positive=True)
    assert leading(3 * T ** 2 + T, T)[1:] == (2, 0)
    assert leading(sp.log(1 + a * T ** 3) / T, T)[1:] == (-1, 1)
    c, p, l = leading(-sp.log(1 - b / T), T)
    assert (p, l) == (-1, 0) and sp.simplify(c - b) == 0
    assert leading((1 + a / T ** 2) ** T, T)[1:] == (0, 0)
    assert leading((1 + a / T) ** T, T)[0] == sp.exp(a)
    assert leading((1 + a / sp.sqrt(T)) ** T, T)[1] == sp.oo
    c, p, l = leading(1 - (1 - b / sp.sqrt(T)) * (1 + a / sp.sqrt(T)), T)
    assert p == sp.Rational(-1, 2) and sp.simplify(c - (b - a)) == 0


def test_muon_table():
    t = rate_table("muon", limit_checks=False)
    ks = {X: c["k_min"] for X, c in t["comparison"].items()}
    assert ks == {"W": "1/2", "G": "1/2", "M": "1"}
    assert t["full_precision_rate"] == "T^(-1/4)"
    assert "cannot reach" in t["comparison"]["M"]["verdict"]


def test_adam_table_beta1_0():
    t = rate_table("adam", variant="beta1_0", limit_checks=False)
    ks = {X: c["k_min"] for X, c in t["comparison"].items()}
    assert ks == {"W": "2", "G": "1", "M": "1", "V": "1"}
    assert t["full_precision_rate"] == "T^(-1/2) log(T)"
    assert t["comparison"]["W"]["verdict"] == "agree"
    assert len(KGRID) == 13
