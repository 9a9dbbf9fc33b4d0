"""Certificates: standalone SMT-LIB2 files that a second solver re-checks; a wrong one is not confirmed."""
import json

import pytest
import sympy as sp

from qbound.bounds import adam as A
from qbound.bounds.certificates import recheck_one, write_certificates
from qbound.bounds.obligation import Obligation, discharge, run_cvc5, run_z3_text


@pytest.mark.slow
def test_adam_certificates_recheck(tmp_path):
    ch, res = A.prove_beta1_0()
    pairs = [("envelope.gradient", res["envelope.gradient"]), ("envelope.v", res["envelope.v.A"]),
             ("lemma.descent_direction_q", res["dd.kappa_core"])]
    idx = write_certificates(pairs, str(tmp_path), recheck=True, derivation="adam", timeout_s=5)
    files = {f["obligation"]: f for f in idx["files"]}
    assert {"envelope.gradient", "envelope.v.A.base", "envelope.v.A.step", "dd.kappa_core"} <= set(files)
    for f in idx["files"]:
        text = (tmp_path / f["file"]).read_text()
        assert "(set-logic QF_NRA)" in text and text.rstrip().endswith("(check-sat)")
        assert f["prover"] in ("sympy", "z3", "cvc5") and f["seconds"] >= 0
        rc = f["recheck"]
        assert rc["solver"] != f["prover"]
        # never refuted; where cvc5 gives up, z3 re-reading the file confirms unsat
        assert rc["agrees"] or (rc["status"] == "unknown" and rc["file_z3"]["status"] == "unsat"), f
    on_disk = json.loads((tmp_path / "index.json").read_text())
    assert on_disk["recheck_summary"]["refuted_by_second_solver"] == []
    # the recheck is recorded on the discharge too (so derive's JSON carries it)
    assert res["envelope.gradient"].recheck["solver"] == "cvc5"


def test_a_wrong_certificate_is_not_confirmed(tmp_path):
    x = sp.Symbol("x", positive=True)
    d = discharge(Obligation("wrong", (sp.Le(x, 2),), sp.Le(x ** 2, x)), engines=("z3",))
    assert d.status == "refuted"
    rec = recheck_one(d, timeout_s=5)
    assert rec["status"] == "sat" and not rec["agrees"]
    assert run_cvc5(d.smt2, 10)[0] == "sat" and run_z3_text(d.smt2, 10)[0] == "sat"
