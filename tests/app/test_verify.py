"""`qbound verify`: the --quick run end to end, the results schema, resume, and config errors."""
import json
import re

import pytest

from qbound.app.cli import main
from qbound.app.verify.config import DEFAULT_TOML, default_config, load_config, validate
from qbound.app.verify.store import ResultStore, unit_key
from qbound.app.verify.orchestrate import RESULT_KEYS, SCHEMA, verify
from qbound.numeric.errors import InputError


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "report"
    rc = main(["verify", "--quick", "--out", str(out), "--no-progress"])
    data = json.loads((out / "results.json").read_text())
    return out, rc, data


def test_quick_writes_report(quick):
    out, rc, data = quick
    assert rc in (0, 1)          # 1 = a lower layer raised; the report must exist either way
    assert rc == (1 if any(e["status"] == "error" for e in data["errors"]) else 0)
    md = (out / "report.md").read_text()
    assert "## Claims" in md and "| claim | source | statement | verdict |" in md
    for c in data["claims"]:
        assert c["id"] in md
    for f in data["figures"]:
        png = out / f["file"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({f['file']})" in md


def test_results_schema_stable(quick):
    _, _, data = quick
    assert list(data) == list(RESULT_KEYS)
    assert data["schema"] == SCHEMA == "qbound.verify/1"
    assert re.match(r"\d+\.\d+", data["qbound_version"]) or data["qbound_version"] == "0+unknown"
    ids = {c["id"] for c in data["claims"]}
    for must in ("paper.log_bits", "paper.adam_WV", "paper.muon_robust", "paper.more_bits",
                 "qbound.adam_bound_holds", "qbound.muon_bound_holds", "qbound.intermediate_steps",
                 "qbound.stagnation_threshold", "qbound.swamping_threshold", "qbound.floor", "qbound.lemmas"):
        assert must in ids
    for c in data["claims"]:
        assert set(c) == {"id", "source", "statement", "verdict", "why", "evidence"}
        assert c["verdict"] in ("supported", "contradicted", "inconclusive")
        assert c["evidence"], c["id"]
        for e in c["evidence"]:
            assert set(e) == {"layer", "id", "summary", "outcome", "numbers", "commands", "reason"}
    row = data["bounds"][0]
    for k in ("case", "optimizer", "problem", "component", "mantissa", "plan", "measured", "bound", "status",
              "tightness", "constants", "constants_how", "commands"):
        assert k in row


def test_verdicts_recomputed_from_stored_evidence(quick):
    """The verdict in results.json is exactly what the rule gives on the stored evidence."""
    from qbound.app.verify.claims import Evidence, verdict
    _, _, data = quick
    for c in data["claims"]:
        ev = [Evidence(**e) for e in c["evidence"]]
        assert verdict(ev)[0] == c["verdict"]


def test_experiment_numbers_present(quick):
    _, _, data = quick
    measured = [r for r in data["bounds"] if r["measured"]["mean"] is not None]
    assert measured, "no grid run produced a measurement"
    assert all(r["commands"] and r["commands"][0].startswith("qbound run") for r in measured)


def test_rerun_reuses_store_and_reproduces(quick, tmp_path):
    out, _, data = quick
    res = verify(default_config(quick=True), out, show_progress=False, command="qbound verify --quick")
    assert res["run"]["units_computed"] == 0 and res["run"]["units_reused"] > 0
    again = json.loads((out / "results.json").read_text())
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(again["bounds"]) == strip(data["bounds"])
    assert [c["verdict"] for c in again["claims"]] == [c["verdict"] for c in data["claims"]]


def _tiny_cfg(seeds):
    return validate({
        **default_config(quick=True),
        "seeds": seeds, "workers": 1,
        "lemmas": {"enabled": False, "suite": "default", "formats": [], "roundings": []},
        "derive": {"names": []},
        "grid": {"components": ["V"], "mantissa": [3], "exponent_bits": 8, "rounding": "rne", "steps": 20,
                 "compare_bits": [], "case": [{"optimizer": "adam", "problem": "quadratic",
                                               "problem_args": {"d": 4, "sigma": 0.5}, "hparams": {"lr": 0.01}}]},
        "trajectory": {"plans": [], "steps": 5},
        "thresholds": {**default_config(quick=True)["thresholds"], "formats": []},
        "scaling": {**default_config(quick=True)["scaling"], "components": [], "floor_plans": []},
    })


def test_resume_after_partial_run(tmp_path):
    """A store holding part of the work (seed 0 only) is completed without redoing it."""
    out = tmp_path / "r"
    r1 = verify(_tiny_cfg([0]), out, show_progress=False)
    n1 = r1["run"]["units_computed"]
    lines1 = (out / "store" / "run.jsonl").read_text().splitlines()
    r2 = verify(_tiny_cfg([0, 1]), out, show_progress=False)
    assert r2["run"]["units_reused"] == n1 and r2["run"]["units_computed"] == n1
    lines2 = (out / "store" / "run.jsonl").read_text().splitlines()
    assert lines2[:len(lines1)] == lines1          # nothing rewritten, only appended
    # a line cut off by an interruption is skipped, and its unit recomputed
    with open(out / "store" / "run.jsonl", "a") as fh:
        fh.write('{"key": "trunc')
    r3 = verify(_tiny_cfg([0, 1]), out, show_progress=False)
    assert r3["run"]["units_computed"] == 0


def test_worker_count_does_not_change_numbers(tmp_path):
    a = verify(_tiny_cfg([0, 1]), tmp_path / "a", workers=1, show_progress=False)
    b = verify(_tiny_cfg([0, 1]), tmp_path / "b", workers=2, show_progress=False)
    assert [r["per_seed"] for r in a["bounds"]] == [r["per_seed"] for r in b["bounds"]]


def test_store_keys():
    u = {"a": 1, "b": [1, 2]}
    assert unit_key(u) == unit_key({"b": [1, 2], "a": 1})
    assert unit_key(u) != unit_key({"a": 1, "b": [1, 3]})


def test_store_roundtrip(tmp_path):
    s = ResultStore(tmp_path)
    s.put("x", {"k": 1}, {"v": 2.5})
    assert ResultStore(tmp_path).get("x", {"k": 1})["result"] == {"v": 2.5}
    assert ResultStore(tmp_path).get("x", {"k": 2}) is None


@pytest.mark.parametrize("text,needle", [
    ("sedes = [1]\n", "Did you mean seeds"),
    ("[grid]\nmantisa = [1]\n", "Accepted keys in [grid]"),
    ("[grid]\nmantissa = 'x'\n", "expected a list"),
    ("[[grid.case]]\noptimizer = 'adma'\nproblem = 'rosenbrock'\n", "Did you mean adam"),
    ("[thresholds]\nformats = ['bf17']\n", "unknown format"),
    ("[trajectory]\nplans = ['X=bf16']\n", "plan"),
    ("seeds = [\n", "not valid TOML"),
])
def test_bad_config_exits_2(tmp_path, capsys, text, needle):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    rc = main(["verify", "--config", str(f), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err
    assert not (tmp_path / "o").exists()       # refused before any work


def test_config_file_replaces_defaults(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("seeds = [7]\n[scaling]\nT = {min = 16, max = 64, factor = 2}\n")
    cfg = load_config(f)
    assert cfg["seeds"] == [7] and cfg["scaling"]["T"] == [16, 32, 64]
    assert cfg["grid"] == default_config()["grid"]
    with pytest.raises(InputError):
        load_config(tmp_path / "missing.toml")


def test_print_config_roundtrips(capsys):
    assert main(["verify", "--print-config"]) == 0
    assert capsys.readouterr().out == DEFAULT_TOML


def _cfg_with_lemmas():
    cfg = _tiny_cfg([0])
    cfg["lemmas"] = {"enabled": True, "suite": "default", "formats": ["fp8_e4m3fn"], "roundings": ["rne"]}
    return cfg


@pytest.mark.parametrize("exc,status", [(ModuleNotFoundError("No module named 'qbound.proofs.suite'"), "missing"),
                                        (RuntimeError("engine crashed"), "error")])
def test_lower_layer_failure_is_reported_not_hidden(tmp_path, monkeypatch, exc, status):
    import qbound.app.verify.runs as R

    def boom(unit):
        raise exc
    monkeypatch.setattr(R, "lemmas_unit", boom)
    res = verify(_cfg_with_lemmas(), tmp_path / "x", workers=1, show_progress=False)
    errs = [e for e in res["errors"] if e["layer"] == "lemmas"]
    assert errs and errs[0]["status"] == status and type(exc).__name__ in errs[0]["error"]
    claim = next(c for c in res["claims"] if c["id"] == "qbound.lemmas")
    assert claim["verdict"] == "inconclusive" and type(exc).__name__ in claim["why"]
    md = (tmp_path / "x" / "report.md").read_text()
    assert "## Errors and missing layers" in md and type(exc).__name__ in md


def test_reproduce_command_gives_the_same_number(tmp_path):
    """The `qbound run` command stored with a grid number reproduces it exactly."""
    import shlex
    res = verify(_tiny_cfg([0]), tmp_path / "r", workers=1, show_progress=False)
    row = next(r for r in res["bounds"] if r["plan"] != "none")
    args = shlex.split(row["commands"][0])
    assert args[:2] == ["qbound", "run"]
    assert main(args[1:] + ["--out", str(tmp_path / "run.json")]) == 0
    g = json.loads((tmp_path / "run.json").read_text())["grad_norm2"]
    tail = g[-max(1, len(g) // 10):]
    assert sum(tail) / len(tail) == row["per_seed_final"][0]


def test_failed_units_are_recomputed_on_resume(tmp_path, monkeypatch):
    """A unit that raised (e.g. a transient MemoryError) stays recorded but is not reused."""
    import qbound.app.verify.runs as R
    out = tmp_path / "r"
    orig = R.run_unit

    def oom(unit):
        raise MemoryError("transient")
    monkeypatch.setattr(R, "run_unit", oom)
    r1 = verify(_tiny_cfg([0]), out, show_progress=False)
    failed = sum(1 for ln in (out / "store" / "run.jsonl").read_text().splitlines()[1:]  # after the header
                 if json.loads(ln)["result"].get("error", "").startswith("MemoryError"))
    assert failed > 0
    monkeypatch.setattr(R, "run_unit", orig)
    r2 = verify(_tiny_cfg([0]), out, show_progress=False)
    assert r2["run"]["units_computed"] >= failed
    assert not any("MemoryError" in str(e.get("error")) for e in r2["errors"])
    r3 = verify(_tiny_cfg([0]), out, show_progress=False)
    assert r3["run"]["units_computed"] == 0 and r3["run"]["units_reused"] == r1["run"]["units_computed"]


def test_scheduler_reruns_a_stored_failure_once(tmp_path, monkeypatch):
    import qbound.app.verify.sched as S
    store = ResultStore(tmp_path)
    store.put("run", {"k": 1}, {"error": "MemoryError: transient"})
    calls = []
    monkeypatch.setattr(S, "execute", lambda stage, unit: calls.append(unit) or {"v": 1})
    sched = S.Scheduler(store)
    got = []
    sched.submit("run", {"k": 1}, callback=got.append)
    sched.run()
    sched.submit("run", {"k": 1}, callback=got.append)  # computed in this run: reused now
    assert len(calls) == 1 and sched.computed == 1 and sched.reused == 1 and got == [{"v": 1}, {"v": 1}]
    assert ResultStore(tmp_path).get("run", {"k": 1})["result"] == {"v": 1}


def test_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    s = ResultStore(tmp_path)
    s.put("x", {"k": 1}, {"v": 1})
    with open(tmp_path / "x.jsonl", "a") as fh:  # an interrupted write
        fh.write('{"key": "trunc')
    ResultStore(tmp_path).put("x", {"k": 2}, {"v": 2})
    s3 = ResultStore(tmp_path)
    assert s3.get("x", {"k": 1})["result"] == {"v": 1}
    assert s3.get("x", {"k": 2})["result"] == {"v": 2}
    assert all(json.loads(ln) for ln in (tmp_path / "x.jsonl").read_text().splitlines())


def test_fresh_refuses_a_directory_that_is_not_a_store(tmp_path):
    out = tmp_path / "r"
    (out / "store").mkdir(parents=True)
    (out / "store" / "notes.txt").write_text("mine\n")
    (out / "store" / "data.jsonl").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a qbound verify store"):
        verify(_tiny_cfg([0]), out, fresh=True, show_progress=False)
    assert (out / "store" / "notes.txt").read_text() == "mine\n"
    assert (out / "store" / "data.jsonl").read_text() == "a,b\n1,2\n"
    assert main(["verify", "--quick", "--fresh", "--out", str(out), "--no-progress"]) == 2
    assert (out / "store" / "notes.txt").exists()


def test_fresh_clears_a_real_store(tmp_path):
    out = tmp_path / "r"
    verify(_tiny_cfg([0]), out, show_progress=False)
    r = verify(_tiny_cfg([0]), out, fresh=True, show_progress=False)
    assert r["run"]["units_reused"] == 0 and r["run"]["units_computed"] > 0
