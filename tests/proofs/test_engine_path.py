"""One path to a solver: reduced queries (proofs.reductions) go through the registered Engine
objects, which check the query's features and sorts, write the SMT-LIB2 text the solver reads,
and turn a refusal into unknown, never proved."""
from __future__ import annotations

from fractions import Fraction

import pytest

from qbound.numeric.errors import InputError
from qbound.numeric.formats import get_format
from qbound.proofs.engines import smtlib
from qbound.proofs.engines.base import Unsupported
from qbound.proofs.engines.bitwuzla_engine import BitwuzlaEngine
from qbound.proofs.reductions import decide_query, product_lemma, product_query, smt_engine

BF16 = get_format("bf16")


def test_reduced_query_is_decided_by_the_registered_engine(monkeypatch):
    seen = []
    real = BitwuzlaEngine.check_sat

    def spy(self, text, timeout):
        seen.append(text)
        return real(self, text, timeout)

    monkeypatch.setattr(BitwuzlaEngine, "check_sat", spy)
    assert product_lemma(BF16, "rne").status == "proved"
    assert len(seen) == 1 and "(declare-fun A () (_ BitVec" in seen[0]


def test_a_lying_engine_is_what_the_lemma_reports(monkeypatch):
    """The verdict comes from the engine object: one that answers sat on a true lemma gives a
    model that does not replay, so the lemma is unknown (not proved, not falsified)."""
    monkeypatch.setattr(BitwuzlaEngine, "check_sat", lambda self, text, t: ("sat", {}, ""))
    v = product_lemma(BF16, "rne")
    assert v.status == "unknown" and "does not replay" in v.reason


def test_missing_feature_is_unknown_not_proved(monkeypatch):
    assert product_lemma(BF16, "rne").status == "proved"
    monkeypatch.setattr(BitwuzlaEngine, "features", frozenset({"fp"}))
    st, model, _, _ = decide_query(product_query(BF16.p, "rne", BF16.rel_error_bound("rne")), "bitwuzla")
    assert st == "unknown" and "bit-vectors" in model["error"]
    v = product_lemma(BF16, "rne")
    assert v.status == "unknown"


def test_engine_sorts_are_checked():
    q = [smtlib.fpIsNaN(smtlib.FP("x", smtlib.FPSort(8, 8)))]    # bf16's sort: not in bitwuzla's wheel
    with pytest.raises(Unsupported):
        BitwuzlaEngine().check_query(q)
    assert decide_query(q, "z3")[0] == "sat"
    assert decide_query(q, "bitwuzla")[0] == "unknown"


def test_written_smt2_is_what_the_solver_read(tmp_path, monkeypatch):
    seen = []
    real = BitwuzlaEngine.check_sat
    monkeypatch.setattr(BitwuzlaEngine, "check_sat", lambda self, text, t: seen.append(text) or real(self, text, t))
    st, _, _, path = decide_query(product_query(BF16.p, "rne", Fraction(1, 256)), "bitwuzla",
                                  smt2_dir=str(tmp_path), stem="p")
    body = "".join(ln for ln in open(path).read().splitlines(True) if not ln.startswith(";"))
    assert st == "unsat" and body == seen[0]


def test_registry_names():
    with pytest.raises(InputError, match="bitwuzla"):
        smt_engine("bitwuzl")
    with pytest.raises(Unsupported):
        smt_engine("compiled")
