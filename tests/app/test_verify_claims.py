"""Claims logic: verdicts follow from evidence, and flip when the synthetic data flip."""
import math

import pytest

from qbound.app.verify import stats as st
from qbound.app.verify.claims import Evidence, verdict
from qbound.app.verify.evidence import (ev_bits_vs_theory, ev_bound_holds, ev_lemma_suite, ev_more_bits,
                                     ev_muon_vs_adam, ev_sensitivity, ev_stagnation)


def E(outcome, layer="experiment"):
    return Evidence(layer, f"x.{outcome}", "s", outcome)


def test_verdict_rule():
    assert verdict([E("supports"), E("supports", "lemmas")])[0] == "supported"
    assert verdict([E("supports"), E("contradicts")])[0] == "contradicted"
    assert verdict([E("missing"), E("contradicts")])[0] == "contradicted"   # contradiction stands alone
    assert verdict([E("supports"), E("missing")])[0] == "inconclusive"
    assert verdict([E("supports"), E("inconclusive")])[0] == "inconclusive"
    assert verdict([E("info")])[0] == "inconclusive"
    assert verdict([E("supports"), E("info")])[0] == "supported"
    assert verdict([])[0] == "inconclusive"
    with pytest.raises(ValueError):
        Evidence("x", "y", "z", "maybe")


def _grid_row(case, comp, M, finals, opt="adam", problem="p"):
    return {"case": case, "optimizer": opt, "problem": problem, "component": comp, "mantissa": M,
            "plan": f"{comp}=e8m{M}", "per_seed_final": finals, "final_log10": st.log_mean_ci(finals),
            "commands": [f"qbound run {opt} {comp} {M}"]}


def test_more_bits_flips_with_data():
    down = [_grid_row(0, "all", M, [10.0 ** -M, 1.1 * 10.0 ** -M, 0.9 * 10.0 ** -M]) for M in (2, 4, 6, 8)]
    up = [_grid_row(0, "all", M, [10.0 ** M, 1.1 * 10.0 ** M, 0.9 * 10.0 ** M]) for M in (2, 4, 6, 8)]
    flat = [_grid_row(0, "all", M, [1.0, 2.0, 0.5]) for M in (2, 4, 6, 8)]
    assert ev_more_bits(down, 0).outcome == "supports"
    assert ev_more_bits(up, 0).outcome == "contradicts"
    assert ev_more_bits(flat, 0).outcome == "inconclusive"
    assert ev_more_bits(down[:2], 0).outcome == "missing"


def test_sensitivity_flips_with_data():
    def rows(big, small):
        out = [_grid_row(0, c, 3, [100.0, 110.0, 90.0]) for c in big]
        out += [_grid_row(0, c, 3, [1.0, 1.1, 0.9]) for c in small]
        return out
    assert ev_sensitivity(rows("WV", "GM"), 0, 3).outcome == "supports"
    assert ev_sensitivity(rows("GM", "WV"), 0, 3).outcome == "contradicts"
    assert ev_sensitivity(rows("WVG", "M"), 0, 3).outcome == "inconclusive"


def test_muon_vs_adam_rule():
    def rows(adam_q, muon_q):
        return [_grid_row(0, "none", None, [1.0, 1.0, 1.0], "adam"), _grid_row(0, "all", 3, adam_q, "adam"),
                _grid_row(1, "none", None, [1.0, 1.0, 1.0], "muon"), _grid_row(1, "all", 3, muon_q, "muon")]
    assert ev_muon_vs_adam(rows([100.0, 120.0, 90.0], [1.0, 1.1, 0.95]), "p", 3).outcome == "supports"
    assert ev_muon_vs_adam(rows([1.0, 1.1, 0.95], [100.0, 120.0, 90.0]), "p", 3).outcome == "contradicts"
    # Muon changes more but is not degraded (Adam improved): not a contradiction
    assert ev_muon_vs_adam(rows([0.01, 0.012, 0.009], [1.0, 1.01, 0.99]), "p", 3).outcome == "inconclusive"


def _bound_row(status, exact=True, tight=0.5):
    return {"case": 0, "optimizer": "adam", "problem": "p", "plan": "V=e8m3", "status": status,
            "bound": 10.0, "tightness": tight, "measured": st.mean_ci([5.0, 6.0]),
            "constants_exact": exact, "constants_how": {"R": "exact" if exact else "estimated: max"},
            "commands": ["qbound run adam"]}


def test_bound_holds_flips_with_data():
    assert ev_bound_holds([_bound_row("holds")] * 3, 0)[0].outcome == "supports"
    assert ev_bound_holds([_bound_row("holds"), _bound_row("FALSIFIED", tight=3.0)], 0)[0].outcome == "contradicts"
    # exceeding only with an estimated constant is not a falsification
    assert ev_bound_holds([_bound_row("FALSIFIED", exact=False, tight=3.0)], 0)[0].outcome == "inconclusive"
    assert ev_bound_holds([_bound_row("exceeds-within-noise", tight=1.1)], 0)[0].outcome == "inconclusive"
    # a vacuous bound is shown as info, never decides
    ev = ev_bound_holds([_bound_row("holds", tight=1e-6)], 0)
    assert ev[1].outcome == "info" and "vacuous" in ev[1].summary


def test_lemma_suite_evidence():
    ok = {"status": "ok", "rows": [{"lemma_id": "a", "verdict": {"status": "proved"}, "surprise": False}]}
    bad = {"status": "ok", "rows": [{"lemma_id": "a", "format": "bf16", "rounding": "rne",
                                     "verdict": {"status": "falsified"}, "surprise": True}]}
    unk = {"status": "ok", "rows": [{"lemma_id": "a", "verdict": {"status": "unknown"}, "surprise": False}]}
    assert ev_lemma_suite(ok).outcome == "supports"
    assert ev_lemma_suite(bad).outcome == "contradicts"
    assert ev_lemma_suite(unk).outcome == "inconclusive"
    assert ev_lemma_suite({"status": "missing", "reason": "no module"}).outcome == "missing"


def test_stagnation_evidence():
    row = {"kind": "stagnation", "format": "bf16", "rounding": "rne", "beta2": 0.999, "command": "c",
           "fact": {"stagnates": True, "threshold_float": 0.002}, "v_decrease_opportunities": 50,
           "v_decreases": 0, "v_lost_frac": 0.9}
    assert ev_stagnation([row])[0].outcome == "supports"
    assert ev_stagnation([dict(row, v_decreases=3)])[0].outcome == "contradicts"
    assert ev_stagnation([dict(row, v_decrease_opportunities=0)])[0].outcome == "info"   # nothing to test
    assert ev_stagnation([dict(row, fact={"stagnates": False})])[0].outcome == "info"
    assert ev_stagnation([dict(row, fact=None, fact_error="ModuleNotFoundError: x")])[0].outcome == "missing"


def test_bits_vs_theory():
    def sc(mstars, theory):
        pts = [{"T": T, "M_star": m, "status": "found", "command": "c"} for T, m in mstars.items()]
        return {"mantissa_range": [1, 14], "components": {"W": {
            "points": pts, "fit": st.linfit([math.log2(T) for T in mstars], list(mstars.values())),
            "theory_points": [{"T": T, "bits": b} for T, b in theory.items()], "theory_fit": None}}}
    assert ev_bits_vs_theory(sc({64: 3, 256: 5}, {64: 6, 256: 8}), "W")[0].outcome == "supports"
    assert ev_bits_vs_theory(sc({64: 3, 256: 9}, {64: 6, 256: 8}), "W")[0].outcome == "contradicts"
    assert ev_bits_vs_theory(sc({64: 3, 256: 5}, {}), "W")[0].outcome == "missing"


def test_stats():
    s = st.mean_ci([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["n"] == 3
    # t_{0.975,2} = 4.302652729911275; s = 1; half-width = t/sqrt(3)
    assert s["hi"] - 2.0 == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)
    assert st.falsified(st.mean_ci([5.0, 5.1, 4.9]), 1.0) == "FALSIFIED"
    assert st.falsified(st.mean_ci([0.1, 3.0, 0.2]), 1.0) == "exceeds-within-noise"
    assert st.falsified(st.mean_ci([0.5, 0.6]), 1.0) == "holds"
    assert st.falsified(st.mean_ci([5.0]), 1.0) == "exceeds-within-noise"   # one seed never falsifies
    assert st.mean_ci([1.0, math.inf])["mean"] == math.inf               # divergence is not averaged away
    f = st.linfit([1, 2, 3, 4], [3, 5, 7, 9])
    assert f["slope"] == pytest.approx(2.0) and f["intercept"] == pytest.approx(1.0)


def test_scaling_search_finds_smallest_mantissa(tmp_path):
    """M* = the smallest M whose run is within factor x full precision, searched upwards; the
    search submits only what it needs, and the analysis reads the same answer back."""
    from qbound.app.verify import falsify as F
    from qbound.app.verify.config import default_config
    from qbound.app.verify.store import ResultStore
    cfg = default_config(quick=True)
    cfg["seeds"] = [0, 1]
    cfg["scaling"].update(T=[32], components=["W"], mantissa_min=1, mantissa_max=4, factor=2.0)
    store = ResultStore(tmp_path)
    final = {"": 1.0, "W=e8m1": 10.0, "W=e8m2": 3.0, "W=e8m3": 1.5, "W=e8m4": 1.1}   # within 2x from M = 3
    submitted = []

    def submit(stage, unit, group, cb):      # a synchronous fake scheduler
        submitted.append(unit["plan"])
        if store.get(stage, unit) is None:
            store.put(stage, unit, {"final": final[unit["plan"]]})
        if cb:
            cb(store.get(stage, unit)["result"])
    F.ScalingSearch(cfg, store, submit).start()
    assert "W=e8m4" not in submitted                 # stopped at the first M within the factor
    res = F.analyze_scaling(cfg, store, theory={})
    p = res["components"]["W"]["points"][0]
    assert (p["M_star"], p["status"]) == (3, "found")
    final["W=e8m1"] = 1.2                           # a different store: within at once
    store2 = ResultStore(tmp_path / "b")
    store = store2
    F.ScalingSearch(cfg, store2, submit).start()
    p = F.analyze_scaling(cfg, store2, theory={})["components"]["W"]["points"][0]
    assert (p["M_star"], p["status"]) == (1, "censored-low")
