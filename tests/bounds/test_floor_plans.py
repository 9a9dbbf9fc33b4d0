"""Error floors and required bits."""
import math

import pytest

from qbound.bounds.floor import error_floor
from qbound.bounds.mantissa import q_for_bits, required_bits
from qbound.numeric.errors import InputError


def test_full_precision_floor_is_zero():
    assert error_floor("adam", "")["floor"]["value"] == 0.0
    assert error_floor("muon", "", per_component=False)["floor"]["value"] == 0.0


def test_bf16_floors_finite_and_plan_dominates_components():
    r = error_floor("adam", "G=bf16,M=bf16")
    f = r["floor"]
    assert f["finite"] and f["value"] > 0
    assert f["value"] >= max(c["value"] for c in r["per_component"].values())


def test_no_finite_floor_when_coupling_impossible():
    r = error_floor("adam", {"M": 0.2}, beta1=0.9, per_component=False)
    assert not r["floor"]["finite"] and "no admissible beta2" in r["floor"]["why"]


def test_muon_rejects_V():
    with pytest.raises(InputError):
        error_floor("muon", "V=bf16")


def test_required_bits_grow_like_k_log2_T():
    r1 = required_bits("muon", 1e4)
    r2 = required_bits("muon", 1e6)
    for X, k in (("W", 0.5), ("M", 1.0)):
        grow = r2["bits"][X] - r1["bits"][X]
        assert abs(grow - k * math.log2(100)) <= 1.5
    assert q_for_bits(7, "rne") == pytest.approx(1 / 257)


def test_required_bits_never_succeed_on_a_non_finite_bound():
    # in float64 1 - 1/3e16 rounds to 1: the bound is inf and inf <= 2 * inf used to pass at 1 bit
    with pytest.raises(InputError, match="not finite"):
        required_bits("adam", 3e16)


@pytest.mark.parametrize("beta1", [1.0, 1.5, -1.0])
def test_required_bits_refuse_beta1_outside_0_1(beta1):
    with pytest.raises(InputError, match="beta1"):
        required_bits("adam", 1e4, constants={"beta1": beta1})


def test_required_bits_refuse_beta1_not_below_beta2():
    with pytest.raises(InputError, match="beta1 < beta2"):
        required_bits("adam", 5, constants={"beta1": 0.9})  # beta2 = 1 - 1/5 = 0.8
    with pytest.raises(InputError, match="beta2"):
        required_bits("adam", 1e4, constants={"b": 2e4})  # beta2 = -1


@pytest.mark.parametrize("argv", [["--T", "3e16"], ["--T", "1e4", "--beta1", "1"], ["--T", "1e4", "--beta1", "1.5"],
                                  ["--T", "1e4", "--beta1", "-1"], ["--T", "5", "--beta1", "0.9"]])
def test_cli_mantissa_refuses_bad_settings(argv, capsys):
    from qbound.app.cli import main
    assert main(["mantissa", "adam", *argv]) == 2
    assert "error" in capsys.readouterr().err


def test_floor_with_quantized_weights_and_second_moment_uses_the_drift_bound(monkeypatch):
    """The plan qbound verify uses (every component e8m4): the W term holds X = Min(drift, sqrt(d) Bx);
    the floor assumes no box (Bx = oo, bounds.evaluate.DEFAULTS), so X is the drift bound. Wrong variant:
    without substituting the defaults the Min keeps its box branch and the floor cannot be formed (the
    IndexError that verify reported as 'derivation unavailable')."""
    import qbound.bounds.floor as F
    F._limit_form_cached.cache_clear()
    r = error_floor("adam", "W=e8m4,G=e8m4,M=e8m4,V=e8m4")
    assert r["floor"]["finite"] and r["floor"]["value"] > 0
    assert r["per_component"]["W"]["value"] > 0 and math.isfinite(r["per_component"]["W"]["value"])
    monkeypatch.setattr(F, "with_defaults", lambda e: e)
    F._limit_form_cached.cache_clear()
    with pytest.raises(IndexError):
        error_floor("adam", "W=e8m4,G=e8m4,M=e8m4,V=e8m4")
    F._limit_form_cached.cache_clear()
