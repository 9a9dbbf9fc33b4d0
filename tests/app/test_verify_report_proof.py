"""verify's report line per derivation (issue 15): steps proved / total, rule conclusions checked,
mutation kill rate (stored run, verify --full's run, or how to get one), tightness range."""
from qbound.app.verify.report import _proof_line


def _der(mutants=None):
    ps = {"steps_proved": 7, "steps_total": 8, "rule_applications": [{"name": "a"}, {"name": "b"}],
          "rules_conclusion_checked": 1}
    if mutants:
        ps["mutants"] = mutants
    return {"proof": ps}


def test_report_line_without_a_mutant_run_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("QBOUND_CACHE_DIR", str(tmp_path))  # no stored run here
    line = _proof_line("muon", _der(), {"bounds": [{"optimizer": "muon", "tightness": 1e-3}, {"optimizer": "muon", "tightness": 0.5}]})
    assert "steps proved 7/8" in line and "checked against their premises 1/2" in line
    assert "not run (use `qbound verify --full` or `qbound derive muon --mutants`)" in line
    assert "0.001 .. 0.5 over 2 cell(s)" in line


def test_report_line_with_verify_full_mutants():
    mut = {"total": 10, "killed": 9, "kill_rate": 0.9, "survivors": [{"name": "x"}]}
    line = _proof_line("muon", _der(), {"derivations": {"muon": {"mutants": mut}}})
    assert "9/10 (90.0%), 1 survivor(s)" in line
    assert "not run" not in _proof_line("muon", _der(mut), {})


def test_verify_full_mutants_part_reuses_a_stored_run_of_the_same_proof(tmp_path, monkeypatch):
    from qbound.app.verify.runs import theory_unit
    from qbound.bounds import mutants as MU
    monkeypatch.setenv("QBOUND_CACHE_DIR", str(tmp_path))
    MU.record("muon", {"total": 3, "killed": 3, "kill_rate": 1.0, "survivors": []})
    out = theory_unit({"name": "muon", "part": "mutants"})
    assert out["mutants"]["source"].startswith("stored run") and out["mutants"]["killed"] == 3
