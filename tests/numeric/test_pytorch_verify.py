"""The transformer evidence of qbound verify (qbound/app/verify/transformer.py): the grid, and the
checkers on synthetic results, including results that must be read as contradicting the paper."""
from __future__ import annotations

import pytest

from qbound.app.verify import transformer as T
from qbound.app.verify.claims import Claim


def _results(val, v_stats=None, grid="default"):
    g = T.grid({"transformer": {"grid": grid}})
    rows = []
    for u in T.units(g):
        res = {"val_loss": val(u), "v_stats": v_stats if u["plan"] == "V=bf16" else None}
        rows.append({**u, "result": res})
    return {"transformer": {"grid": g, "rows": rows, "errors": []}}


def _bits(plan):
    return min((int(p.split("e8m")[1]) for p in plan.split(",") if "e8m" in p), default=None)


def paperlike(u):
    """Lower loss with more bits, W and V hurt most, Muon degrades less (small seed noise)."""
    b = _bits(u["plan"])
    noise = 0.01 * u["seed"]
    if b is None:
        return 2.0 + noise
    comps = [p.split("=")[0] for p in u["plan"].split(",")]
    hurt = {"W": 1.0, "V": 1.0, "G": 0.2, "M": 0.2}
    pen = sum(hurt[c] for c in comps) / (b + 1) * (0.5 if u["optimizer"] == "muon" else 1.0)
    return 2.0 + pen + noise


def opposite(u):
    b = _bits(u["plan"])
    if b is None:
        return 2.0 + 0.01 * u["seed"]
    comps = [p.split("=")[0] for p in u["plan"].split(",")]
    hurt = {"W": 0.2, "V": 0.2, "G": 1.0, "M": 1.0}
    pen = sum(hurt[c] for c in comps) * b * (2.0 if u["optimizer"] == "muon" else 1.0)
    return 2.0 + pen + 0.01 * u["seed"]


def test_grids():
    assert T.grid({"transformer": {"grid": "off"}}) is None and T.grid({}) is None
    g = T.grid({"transformer": {"grid": "default"}})
    us = T.units(g)
    assert len(us) == len({T.command(u) for u in us})  # no unit twice
    assert g["preset"] == "tiny" and T.grid({"transformer": {"grid": "full"}})["preset"] == "cpu"
    assert all("--backend torch" in T.command(u) for u in us)


def test_evidence_supports_paperlike_results():
    ev = T.evidence(_results(paperlike, {"decrease_opportunities": 50, "decreases": 0, "never_decreased_coords": 9,
                                        "coords_with_decrease_opportunity": 9}))
    assert {k: v[0].outcome for k, v in ev.items()} == {
        "paper.more_bits": "supports", "paper.adam_WV": "supports", "paper.muon_robust": "supports",
        "qbound.stagnation_threshold": "supports"}


def test_evidence_contradicts_the_opposite():
    """The deliberately wrong world (fewer bits better, G/M worst, Muon worse, v decreasing) is caught."""
    ev = T.evidence(_results(opposite, {"decrease_opportunities": 50, "decreases": 3, "never_decreased_coords": 2,
                                       "coords_with_decrease_opportunity": 9}))
    assert all(v[0].outcome == "contradicts" for v in ev.values()), {k: v[0].summary for k, v in ev.items()}


def test_missing_runs_and_hook():
    res = _results(lambda u: None)
    for r in res["transformer"]["rows"]:
        r["result"] = {"error": "ModuleNotFoundError: No module named 'torch'"}
    ev = T.evidence(res)
    assert all(v[0].outcome == "missing" for v in ev.values())
    claims = [Claim("paper.more_bits", "paper", "x", [])]
    T.add_evidence(claims, _results(paperlike))
    assert [e.id for e in claims[0].evidence] == ["exp.transformer.more_bits"]


@pytest.mark.slow
def test_one_real_unit():
    pytest.importorskip("torch")
    u = T.unit(dict(T.GRIDS["default"], steps=3), "adamw", "V=bf16", 0, {"beta2": 0.999})
    r = T.run_unit(u)
    assert r["val_loss"] > 0 and r["v_stats"]["decreases"] == 0
