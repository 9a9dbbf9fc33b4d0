"""Sweeps: worker-count independence, resumption without redoing runs, torn lines, plots."""
import json

import pytest

from qbound.app.cli import main
from qbound.numeric.errors import InputError
from qbound.numeric.sweep import SweepSpec, config_key, load_results, parse_int_list, parse_kv, run_sweep

SPEC = dict(problem="matrix-ls", problem_kw={"m": 6, "n": 4, "N": 40, "batch": 8},
            optimizers=("adam", "muon"), components=("V", "M"), bits=(2, 5), seeds=(0, 1), steps=15)


def _strip(recs):
    return {r["key"]: {k: v for k, v in r.items() if k != "seconds"} for r in recs}


def test_workers_do_not_change_results(tmp_path):
    a = run_sweep(SweepSpec(**SPEC), tmp_path / "a.jsonl", workers=1, progress=False)
    b = run_sweep(SweepSpec(**SPEC), tmp_path / "b.jsonl", workers=2, progress=False)
    assert len(a) == 2 * 2 * (1 + 2 * 2)
    assert _strip(a) == _strip(b)
    assert [r["key"] for r in a] == [r["key"] for r in b]  # returned in grid order


def test_resume_skips_finished_and_repairs_torn_line(tmp_path):
    out = tmp_path / "s.jsonl"
    spec = SweepSpec(**SPEC)
    configs = spec.configs()
    first = run_sweep(configs[:7], out, progress=False)
    with open(out, "a") as fh:  # an interrupted write
        fh.write('{"key": "abc", "summ')
    calls = []
    import qbound.numeric.sweep as sw
    orig = sw.run_config
    sw.run_config = lambda c: calls.append(c["key"]) or orig(c)
    try:
        allr = run_sweep(spec, out, progress=False)
    finally:
        sw.run_config = orig
    assert len(calls) == len(configs) - 7
    assert not set(calls) & {r["key"] for r in first}
    assert len(allr) == len(configs)
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["qbound_store"] == "sweep"  # the header
    assert len(lines) == 1 + len(configs) and all(json.loads(ln)["key"] for ln in lines[1:])


def test_keys_cover_the_full_config():
    c = SweepSpec(**SPEC).configs()
    assert len({x["key"] for x in c}) == len(c)
    c2 = SweepSpec(**{**SPEC, "hparams": {"adam": {"lr": 0.5}}}).configs()
    assert c[0]["key"] != c2[0]["key"]  # a changed hyperparameter is a new run
    assert config_key(c[0]) == c[0]["key"]
    assert c[1]["plan"] == "V=e8m2" and c[0]["component"] == "none"


def test_cli_sweep_and_plot(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    argv = ["sweep", "--problem", "matrix-ls", "--problem-args", "m=6,n=4,N=40,batch=8", "--optimizers", "adam,muon",
            "--components", "W,V", "--bits", "1-3", "--steps", "10", "--workers", "2", "--out", str(out)]
    assert main(argv) == 0
    n = len(load_results(out))
    assert n == 2 * (1 + 2 * 3)
    assert main(argv) == 0 and len(load_results(out)) == n
    assert main(["plot", str(out), "--out-dir", str(tmp_path / "p")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert "final_grad_norm2_vs_bits.png" in pngs and "grad_vs_step_muon_W.png" in pngs
    assert all((tmp_path / "p" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert main(["sweep", "--optimizers", "adamm", "--out", str(out)]) == 2
    assert main(["sweep", "--components", "X", "--out", str(out)]) == 2
    assert main(["plot", str(tmp_path / "missing.jsonl")]) == 2


def test_parsers():
    assert parse_int_list("1-3,7") == [1, 2, 3, 7]
    assert parse_kv("lr=1e-3,nesterov=true,polar=ns") == {"lr": 1e-3, "nesterov": True, "polar": "ns"}
    with pytest.raises(InputError):
        parse_int_list("a-b")
    with pytest.raises(InputError):
        parse_kv("lr")


@pytest.mark.parametrize("content", [
    b'{\n  "claims": [],\n  "ok": true\n}\n',          # a pretty-printed results.json report
    b'{"ok": true, "n": 3}\n',                        # one JSON object without a sweep key
    b'a,b,c\n1,2,3\n',                                # a CSV
    b'a,b,c\n1,2,3',                                  # a CSV without its last newline
    b'{"key": "k1", "other": 1}\n',                   # keyed JSON lines that are not sweep records
])
def test_cli_sweep_refuses_a_file_that_is_not_a_sweep_store(tmp_path, capsys, content):
    out = tmp_path / "results.json"
    out.write_bytes(content)
    argv = ["sweep", "--problem", "matrix-ls", "--problem-args", "m=6,n=4,N=40,batch=8", "--components", "V",
            "--bits", "2", "--steps", "5", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "not a qbound sweep store" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == content


def test_torn_line_repair_only_cuts_the_fragment(tmp_path, monkeypatch):
    out = tmp_path / "s.jsonl"
    run_sweep(SweepSpec(**SPEC).configs()[:3], out, progress=False)
    complete = out.read_bytes()
    with open(out, "a") as fh:
        fh.write('{"key": "abc", "summ')
    import os

    import qbound.numeric.sweep as sw

    def interrupted(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.warns(UserWarning, match="cut off by an interrupted write"), pytest.raises(KeyboardInterrupt):
        sw._read_done(out)
    assert out.read_bytes().startswith(complete)  # an interrupt mid-repair loses no complete record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]
    monkeypatch.undo()
    assert len(sw._read_done(out)) == 3
    assert out.read_bytes() == complete
