"""The suite (a reduced run here; the full default suite is marked slow), SR enumeration, CLI."""
import json

import numpy as np
import pytest

from qbound.app.cli import main
from qbound.numeric.formats import get_format
from qbound.proofs import run_suite
from qbound.proofs.suite import sr_expectation


@pytest.fixture(scope="module")
def quick_results():
    return run_suite("default", formats=["fp8_e4m3fn", "fp6_e2m3", "fp16"], roundings=["rne", "rtz", "sr"],
                     progress=False)


def test_suite_no_surprise(quick_results):
    assert quick_results
    bad = [(r.lemma_id, r.format, r.rounding, r.verdict.status, r.verdict.reason) for r in quick_results if r.surprise]
    assert not bad
    ids = {r.lemma_id for r in quick_results}
    for lid in ("conv.relerr", "op.mul.relerr", "op.add.relerr", "op.div.relerr", "op.sqrt.relerr", "op.fma.relerr",
                "sub.relfail", "sub.mixed", "overflow.threshold", "exact.sterbenz", "exact.pow2", "opt.beta1",
                "opt.beta2", "opt.v_nonneg", "opt.stagnation", "opt.swamping", "opt.denominator", "sr.unbiased",
                "sr.bias"):
        assert lid in ids, lid
    for r in quick_results:
        json.dumps(r.to_dict())
        if r.verdict.status == "falsified":
            assert r.verdict.counterexample


def test_overflow_e4m3fn(quick_results):
    r = [r for r in quick_results if r.lemma_id == "overflow.threshold" and r.format == "fp8_e4m3fn"
         and r.rounding == "rne"][0]
    assert r.data["below"] == 464 and r.data["rnd_below"] == "448" and r.data["rnd_above"] == "nan"
    assert r.verdict.status == "proved"


def test_sr_enumeration_exact():
    fmt = get_format("fp8_e4m3fn")
    x = 1.0 + np.arange(64) / 64.0       # 6 fraction bits: 3 discarded bits
    assert np.all(sr_expectation(x, fmt, 3) == x)
    e2 = sr_expectation(x, fmt, 2)
    assert np.any(e2 != x) and np.all(e2 <= x)


def test_cli_claim(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    rc = main(["prove", "--claim", "abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "--format", "fp6_e3m2",
               "--assume", "tiny <= abs(a*b) <= huge", "--json", str(out)])
    assert rc == 0
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["verdict"]["status"] == "proved" and rec["qbound_version"]
    rc = main(["prove", "--claim", "abs(rnd(a*b) - a*b) <= u*abs(a*b)", "--format", "fp6_e3m2",
               "--assume", "0 < abs(a*b) < tiny"])
    assert rc == 1
    assert "counterexample" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["prove", "--claim", "__import__('os').system('touch /tmp/qbound_pwned')", "--format", "bf16"],
    ["prove", "--claim", "x <= 1", "--format", "bf17"],
    ["prove", "--claim", "x <= 1", "--format", "bf16", "--rounding", "rnz"],
    ["prove", "--claim", "x <= 1", "--format", "bf16", "--engine", "z4"],
    ["prove", "--suite", "defualt"],
    ["prove"],
])
def test_cli_bad_input_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err


def test_cli_suite_json_latex(tmp_path):
    j, d, t = tmp_path / "s.jsonl", tmp_path / "s.json", tmp_path / "s.tex"
    rc = main(["prove", "--suite", "default", "--format", "fp4_e2m1", "--rounding", "rne", "--jsonl", str(j),
               "--json", str(d), "--latex", str(t)])
    assert rc == 0
    recs = [json.loads(x) for x in j.read_text().splitlines()]
    doc = json.loads(d.read_text())  # one document, not lines
    assert doc["schema"] == "qbound.prove/1" and doc["results"] == recs
    assert recs and all({"lemma_id", "format", "rounding", "verdict", "qbound_version", "command"} <= set(r) for r in recs)
    assert "\\begin{tabular}" in t.read_text()


@pytest.mark.slow
def test_default_suite_full():
    res = run_suite("default", progress=False)
    assert not [r for r in res if r.surprise]
    assert not [r for r in res if r.verdict.status == "unknown"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["fp8_e4m3fn", "fp8_e5m2"])
def test_fma_triples_exhaustive(fmt):
    """The suite decides 8-bit fma via the conversion lemma over reals; enumerate every triple too."""
    from qbound.proofs import prove
    v = prove("abs(rnd(a*b+c) - (a*b+c)) <= u/(1+u)*abs(a*b+c)", fmt, "rne", assume=["tiny <= abs(a*b+c) <= huge"],
              engine="exhaustive", timeout=600)
    assert v.status == "proved"


def test_jobs_do_not_change_results():
    kw = dict(formats=["fp6_e2m3", "fp4_e2m1"], roundings=["rne", "sr"], progress=False)
    a = run_suite("default", jobs=1, **kw)
    b = run_suite("default", jobs=2, **kw)
    key = lambda r: (r.lemma_id, r.format, r.rounding, r.verdict.status, json.dumps(r.verdict.counterexample, sort_keys=True))
    assert [key(r) for r in a] == [key(r) for r in b]
