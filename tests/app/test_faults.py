"""Fault injection (issue 10): torn, corrupt, edited and non-UTF-8 stores, a full disk, a killed
worker, SIGTERM to a real process, unwritable paths, absurd sizes. Every test checks that nothing
already stored is lost and that the final results equal those of an uninterrupted run."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from qbound.app.cli import main
from qbound.app.verify.orchestrate import verify
from qbound.app.verify.store import ResultStore
from qbound.numeric import jsonlstore as J
from qbound.numeric.errors import InputError
from qbound.numeric.sweep import SweepSpec, load_results, run_sweep

SPEC = dict(problem="matrix-ls", problem_kw={"m": 6, "n": 4, "N": 40, "batch": 8},
            optimizers=("adam",), components=("V",), bits=(2, 5), seeds=(0, 1), steps=12)
SWEEP_ARGV = ["sweep", "--problem", "matrix-ls", "--problem-args", "m=6,n=4,N=40,batch=8", "--optimizers", "adam",
              "--components", "V", "--bits", "2,5", "--seeds", "0-1", "--steps", "12"]


def _strip(recs):
    return {r["key"]: {k: v for k, v in r.items() if k != "seconds"} for r in recs}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The records of an uninterrupted sweep."""
    return _strip(run_sweep(SweepSpec(**SPEC), tmp_path_factory.mktemp("ref") / "s.jsonl", progress=False))


def _lines(path):
    return path.read_bytes().split(b"\n")


# ----------------------------------------------------------------------------- the store format
def test_checksum_rejects_an_edited_record():
    line = J.seal({"key": "k", "result": {"v": 1.25}})
    assert J.check_record(json.loads(line))
    assert not J.check_record(json.loads(line.replace("1.25", "1.5")))      # the deliberately wrong variant
    assert not J.check_record({"key": "k", "result": {"v": 1.25}})           # no checksum at all


def test_legacy_store_without_header_or_checksums_is_read(tmp_path, reference):
    """Schema 1 (no header, no checksums) stays readable; new records are appended with checksums."""
    p = tmp_path / "old.jsonl"
    recs = list(reference.values())
    p.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in recs[:3]))
    assert len(run_sweep(SweepSpec(**SPEC), p, progress=False)) == len(reference)
    lines = p.read_text().splitlines()
    assert "checksum" not in json.loads(lines[0]) and "checksum" in json.loads(lines[-1])
    assert _strip(load_results(p)) == reference


def test_a_store_of_the_other_kind_is_refused(tmp_path):
    s = ResultStore(tmp_path / "v")
    s.put("run", {"k": 1}, {"v": 1})
    before = (tmp_path / "v" / "run.jsonl").read_bytes()
    with pytest.raises(InputError, match="is a qbound verify store"):
        run_sweep(SweepSpec(**SPEC), tmp_path / "v" / "run.jsonl", progress=False)
    assert (tmp_path / "v" / "run.jsonl").read_bytes() == before


# ----------------------------------------------------------------------------- sweep store faults
@pytest.mark.parametrize("fault", ["edit", "garbage", "non_utf8", "torn_middle"])
def test_sweep_recomputes_a_damaged_record_only(tmp_path, reference, fault, monkeypatch):
    out = tmp_path / "s.jsonl"
    run_sweep(SweepSpec(**SPEC), out, progress=False)
    lines = _lines(out)
    victim = json.loads(lines[2])
    if fault == "edit":      # a value edited by hand: used as-is before checksums
        lines[2] = lines[2].replace(b'"final_grad_norm2": ', b'"final_grad_norm2": 1')
    elif fault == "garbage":
        lines[2] = b"#$%^ not json"
    elif fault == "non_utf8":
        lines[2] = lines[2][:40] + b"\xff\xfe" + lines[2][42:]
    else:                    # a torn write in the middle of the file (a crash, then appends)
        lines[2] = lines[2][: len(lines[2]) // 2]
    out.write_bytes(b"\n".join(lines))
    import qbound.numeric.sweep as sw
    calls = []
    orig = sw.run_config
    monkeypatch.setattr(sw, "run_config", lambda c: calls.append(c["key"]) or orig(c))
    with pytest.warns(J.StoreWarning, match="line 3"):
        recs = run_sweep(SweepSpec(**SPEC), out, progress=False)
    assert calls == [victim["key"]]              # only the damaged record is recomputed
    assert _strip(recs) == reference
    with pytest.warns(J.StoreWarning):           # the damaged line stays (append-only) and is skipped
        assert _strip(load_results(out)) == reference


def test_plot_reads_a_store_with_a_non_utf8_byte(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    run_sweep(SweepSpec(**SPEC), out, progress=False)
    with open(out, "ab") as fh:
        fh.write(b'{"key": "\xff"}\n')
    assert main(["plot", str(out), "--out-dir", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "qbound: warning:" in err and "not UTF-8" in err


def test_enospc_during_sweep_keeps_every_record(tmp_path, reference, monkeypatch, capsys):
    out = tmp_path / "s.jsonl"
    real_write = os.write
    n = {"calls": 0}

    def full_disk(fd, data):
        n["calls"] += 1
        if n["calls"] == 4:  # the header and two records fit; half of the third, then the disk is full
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", full_disk)
    assert main(SWEEP_ARGV + ["--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on device" in err[0] and "kept" in err[0]
    assert out.read_bytes().endswith(b"\n")                    # the partial record was cut back
    assert len(load_results(out)) == 2
    monkeypatch.setattr(os, "write", real_write)
    assert main(SWEEP_ARGV + ["--out", str(out)]) == 0         # resume
    assert _strip(load_results(out)) == reference


_KILL = {}  # set by a test before the pool forks: what the worker-side wrappers below kill


def _sweep_run_that_dies(c):
    """In a forked worker: the OOM killer's SIGKILL for one grid point, else the real run."""
    import qbound.numeric.sweep as sw
    if c["key"] == _KILL.get("key"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _KILL["orig"](c) if "orig" in _KILL else sw.run_config(c)


def _execute_that_dies(stage, unit):
    """In a forked worker: SIGKILL the first run unit (a marker file makes it happen once)."""
    marker = _KILL["marker"]
    if stage == "run" and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return _KILL["orig_execute"](stage, unit)


def test_a_killed_sweep_worker_is_reported_and_resume_completes(tmp_path, reference, monkeypatch, capsys):
    import qbound.numeric.sweep as sw
    out = tmp_path / "s.jsonl"
    keys = list(reference)
    orig = sw.run_config
    monkeypatch.setitem(_KILL, "key", keys[3])
    monkeypatch.setitem(_KILL, "orig", orig)
    monkeypatch.setattr(sw, "run_config", _sweep_run_that_dies)
    assert main(SWEEP_ARGV + ["--workers", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "worker process died" in err[0]
    kept = _strip(load_results(out)) if out.exists() else {}
    assert all(reference[k] == v for k, v in kept.items())     # what was written is right
    monkeypatch.setattr(sw, "run_config", orig)
    assert main(SWEEP_ARGV + ["--workers", "2", "--out", str(out)]) == 0
    assert _strip(load_results(out)) == reference


# ----------------------------------------------------------------------------- verify store faults
def _tiny_cfg():
    from qbound.app.verify.config import default_config, validate
    q = default_config(quick=True)
    return validate({
        **q, "seeds": [0], "workers": 1,
        "lemmas": {"enabled": False, "suite": "default", "formats": [], "roundings": []},
        "derive": {"names": []},
        "grid": {"components": ["V"], "mantissa": [2, 3, 4], "exponent_bits": 8, "rounding": "rne", "steps": 20,
                 "compare_bits": [], "case": [{"optimizer": "adam", "problem": "quadratic",
                                               "problem_args": {"d": 4, "sigma": 0.5}, "hparams": {"lr": 0.01}}]},
        "trajectory": {"plans": [], "steps": 5},
        "thresholds": {**q["thresholds"], "formats": []},
        "scaling": {**q["scaling"], "components": [], "floor_plans": [], "compare_with": []},
    })


def _results(store_dir):
    s = ResultStore(store_dir)
    return {(st, r["key"]): r["result"] for st in ("run", "facts", "lemmas", "theory") for r in s.records(st)}


@pytest.fixture(scope="module")
def verify_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("vref") / "r"
    verify(_tiny_cfg(), out, show_progress=False)
    return _results(out / "store")


def test_verify_recomputes_an_edited_and_a_non_utf8_record(tmp_path, verify_reference):
    out = tmp_path / "r"
    verify(_tiny_cfg(), out, show_progress=False)
    p = out / "store" / "run.jsonl"
    lines = _lines(p)
    rec = json.loads(lines[1])
    edited = dict(rec, result={**rec["result"], "final": 123.0})   # by hand: the old checksum stays
    lines[1] = json.dumps(edited, sort_keys=True).encode()
    lines[2] = lines[2][:30] + b"\xff" + lines[2][31:]
    p.write_bytes(b"\n".join(lines))
    with pytest.warns(J.StoreWarning, match="checksum mismatch") as w:
        r = verify(_tiny_cfg(), out, show_progress=False)
    assert any("not UTF-8" in str(x.message) for x in w)
    assert r["run"]["units_computed"] == 2
    assert _results(out / "store") == verify_reference
    assert ResultStore(out / "store").get("run", rec["unit"])["result"] == verify_reference[("run", rec["key"])]


def test_enospc_during_verify_keeps_the_store(tmp_path, verify_reference, monkeypatch, capsys):
    out = tmp_path / "r"
    real_write = os.write
    n = {"calls": 0}

    def full_disk(fd, data):
        n["calls"] += 1
        if n["calls"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(_toml(_tiny_cfg()))
    monkeypatch.setattr(os, "write", full_disk)
    assert main(["verify", "--config", str(cfg_path), "--out", str(out), "--no-progress"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("qbound verify")]
    assert len(err) == 1 and "no space left on device" in err[0]
    kept = _results(out / "store")
    assert kept and all(verify_reference[k] == v for k, v in kept.items())
    monkeypatch.setattr(os, "write", real_write)
    verify(_tiny_cfg(), out, show_progress=False)
    assert _results(out / "store") == verify_reference


def test_a_killed_verify_worker_is_reported(tmp_path, verify_reference, monkeypatch):
    import qbound.app.verify.sched as S
    from concurrent.futures.process import BrokenProcessPool
    out = tmp_path / "r"
    orig = S.execute
    monkeypatch.setitem(_KILL, "marker", str(tmp_path / "killed"))
    monkeypatch.setitem(_KILL, "orig_execute", orig)
    monkeypatch.setattr(S, "execute", _execute_that_dies)
    with pytest.raises(BrokenProcessPool):
        verify(_tiny_cfg(), out, workers=2, show_progress=False)
    monkeypatch.setattr(S, "execute", orig)
    verify(_tiny_cfg(), out, workers=2, show_progress=False)
    assert _results(out / "store") == verify_reference


def _toml(cfg) -> str:
    """The tiny config as TOML (only what the CLI test needs)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        return repr(v)
    out = [f"seeds = {val(cfg['seeds'])}", f"workers = {cfg['workers']}"]
    for sec in ("lemmas", "derive", "grid", "trajectory", "thresholds", "scaling"):
        out.append(f"[{sec}]")
        for k, v in cfg[sec].items():
            if k != "case":
                out.append(f"{k} = {val(v)}")
    for case in cfg["grid"]["case"]:
        out.append("[[grid.case]]")
        out.extend(f"{k} = {val(v)}" for k, v in case.items())
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- signals, real processes
def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs /proc")
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143),
                                      pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)])
def test_signal_to_a_real_sweep_stops_workers_and_keeps_the_store(tmp_path, sig, code):
    out = tmp_path / "s.jsonl"
    argv = [sys.executable, "-m", "qbound.app.cli", "sweep", "--problem", "matrix-ls", "--optimizers", "adam",
            "--components", "V", "--bits", "1-52", "--seeds", "0-3", "--steps", "3000", "--workers", "2",
            "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    workers = []
    while time.monotonic() - t0 < 60:
        workers = [c for c in _children(proc.pid)]
        if out.exists() and len(_lines(out)) > 3 and len(workers) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    err = err.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not any(_alive(w) for w in workers)     # no worker outlives the parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = load_results(out)
    assert len(kept) >= 2                                      # finished runs are kept and readable


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs /proc")
def test_sigterm_to_a_real_verify_quick_stops_its_workers(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "qbound.app.cli", "verify", "--quick", "--out", str(out),
                             "--no-progress", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    workers = []
    while time.monotonic() - t0 < 60:
        workers = _children(proc.pid)
        if len(workers) >= 2:   # both workers busy with units: the moment issue 14 left them running
            break
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    err = err.decode()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "terminated" in err
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not any(_alive(w) for w in workers)
    with warnings.catch_warnings():   # what finished is stored and readable (a torn tail at most)
        warnings.simplefilter("ignore")
        for stage in ("lemmas", "theory", "run", "facts"):
            ResultStore(out / "store").records(stage)


# ----------------------------------------------------------------------------- paths and sizes
@pytest.mark.parametrize("argv,needle", [
    (["run", "adam", "--steps", "5", "--out", "/nonexistent/r.json"], "does not exist"),
    (["run", "adam", "--steps", "5", "--out", ""], "empty"),
    (["sweep", "--out", "{tmp}"], "is a directory"),
    (["verify", "--out", "{file}"], "is a file"),
    (["verify", "--out", ""], "empty"),
    (["plot", "{file}", "--out-dir", "{file}"], "is a file"),
    (["bench", "all", "--json", "{tmp}"], "is a directory"),
    (["derive", "adam", "--json", "{tmp}"], "is a directory"),
    (["prove", "--claim", "x < 1", "--format", "fp8", "--json", "{tmp}"], "is a directory"),
    (["prove", "--claim", "x < 1", "--format", "fp8", "--smt2-dir", "{file}"], "is a file"),
])
def test_unusable_output_paths_are_refused_before_any_work(tmp_path, capsys, argv, needle):
    f = tmp_path / "f.txt"
    f.write_text("keep me\n")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{file}", str(f)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert f.read_text() == "keep me\n"


def test_read_only_folder_is_refused(tmp_path, capsys, monkeypatch):
    import qbound.app.cli as cli
    real = os.access
    monkeypatch.setattr(cli.os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real(p, mode))
    assert main(["run", "adam", "--steps", "3", "--out", str(tmp_path / "r.json")]) == 2
    assert "not writable" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder_for_real(tmp_path, capsys):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        assert main(["sweep", "--out", str(d / "s.jsonl")]) == 2
        assert main(["verify", "--out", str(d / "r")]) == 2
    finally:
        d.chmod(0o700)


@pytest.mark.parametrize("argv,needle", [
    (["sweep", "--bits", "1-1000000000", "--steps", "5"], "mantissa bits"),
    (["sweep", "--bits", "1-52", "--seeds", "0-100000", "--steps", "5"], "at most"),
    (["sweep", "--seeds", "-1"], "seeds must be"),
    (["sweep", "--optimizers", "adam", "--steps", "100000000000"], "--steps"),
    (["run", "adam", "--steps", "100000000000000000000"], "--steps"),
    (["run", "adam", "--steps", "5", "--problem", "quadratic", "--problem-args", "d=100000000000"], "GiB"),
    (["run", "adam", "--steps", "5", "--problem", "matrix-ls", "--problem-args", "m=100000,n=100000"], "GiB"),
    (["run", "adam", "--steps", "5", "--problem-args", "d=1.5"], "positive integer"),
    (["run", "adam", "--steps", "5", "--hp", "lr=abc"], "lr=abc"),
    (["run", "adam", "--steps", "5", "--hp", "lr=nan"], "finite"),
    (["run", "adam", "--steps", "5", "--lr", "inf"], "finite"),
    (["run", "adam", "--steps", "5", "--quant", "V=bf16:sr\u00b2"], "plan"),
    (["run", "adam", "--steps", "5", "--seed", "-1"], "--seed"),
    (["quantize", "--format", "bf16", "--rounding", "sr", "--seed", "-1", "0.5"], "--seed"),
    (["quantize", "--format", "bf16", "0." + "1" * 30000], "characters"),
    (["prove", "--suite", "quick", "--jobs", "0"], "--jobs"),
    (["sweep", "--workers", "0"], "--workers"),
    (["sweep", "--rounding", "sr\u00b2"], "rounding mode"),
    (["mantissa", "adam", "--T", "10.5"], "whole number"),
])
def test_absurd_inputs_give_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    if argv[0] == "sweep":
        argv = argv + ["--out", str(tmp_path / "s.jsonl")]
    t0 = time.monotonic()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert time.monotonic() - t0 < 30   # refused at once, not after building the grid (not a timing claim)


def test_long_decimal_is_rounded_exactly(capsys):
    assert main(["quantize", "--exact", "--json", "--format", "bf16", "0." + "1" * 5000]) == 0
    rec = json.loads(capsys.readouterr().out)["results"][0]
    assert rec["value"] == "0.111328125" and rec["x"].startswith("0.1111111111")


def test_names_are_case_insensitive_everywhere(tmp_path, capsys):
    assert main(["quantize", "--format", "BF16", "--rounding", "RNE", "--json", "0.3"]) == 0
    assert json.loads(capsys.readouterr().out)["rounding"] == "rne"
    out = tmp_path / "s.jsonl"
    assert main(["sweep", "--optimizers", "Adam", "--components", "v", "--bits", "2", "--steps", "3",
                 "--rounding", "RNE", "--problem", "Rosenbrock", "--out", str(out)]) == 0
    assert {r["config"]["optimizer"] for r in load_results(out)} == {"adam"}
    assert main(["run", "ADAM", "--steps", "3", "--problem", "ROSENBROCK"]) == 0


# ----------------------------------------------------------------------------- configuration faults
@pytest.mark.parametrize("text,needle", [
    (b"seeds = [0]\n# \xff\xfe\n", "not UTF-8"),
    (b"[grid]\nsteps = 1000000000\n", "grid.steps"),
    (b"[scaling]\nT = {min = 64, max = 9000000000000000000, factor = 2}\n", "scaling.T"),
    (b'[[grid.case]]\noptimizer = "adam"\nproblem = "rosenbrock"\nhparams = {lr = "abc"}\n', "hparams"),
    (b'[[grid.case]]\noptimizer = "adam"\nproblem = "rosenbrock"\nhparams = {lrr = 0.1}\n', "hparams"),
    (b'[[grid.case]]\noptimizer = "adam"\nproblem = "quadratic"\nproblem_args = {d = 100000000}\n', "problem_args"),
    (b'[[grid.case]]\noptimizer = "adam"\nproblem = "quadratic"\nproblem_args = {dd = 3}\n', "problem_args"),
    (b'[lemmas]\nsuite = "defualt"\n', "lemmas.suite"),
    (b"[thresholds]\nbeta2 = [nan]\n", "finite"),
    (b"[scaling]\nhparams = {eps = inf}\n", "finite"),
])
def test_bad_config_is_refused_at_load_time(tmp_path, capsys, text, needle):
    p = tmp_path / "c.toml"
    p.write_bytes(text)
    assert main(["verify", "--config", str(p), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "r").exists()          # nothing ran


def test_config_suite_names_match_the_prover():
    from qbound.app.verify.config import SUITES
    from qbound.proofs.suite import SUITES as PROOF_SUITES
    assert tuple(SUITES) == tuple(PROOF_SUITES)


def test_legacy_verify_store_is_read_and_extended(tmp_path):
    """A schema-1 verify store (no header, no checksums) is read as it is; new records get checksums."""
    d = tmp_path / "store"
    d.mkdir()
    from qbound.app.verify.store import unit_key
    old = {"key": unit_key({"k": 1}), "stage": "run", "unit": {"k": 1}, "result": {"v": 1}, "seconds": 0.1,
           "version": "0.0"}
    (d / "run.jsonl").write_text(json.dumps(old) + "\n")
    s = ResultStore(d)
    assert s.get("run", {"k": 1})["result"] == {"v": 1}
    s.put("run", {"k": 2}, {"v": 2})
    s.close()
    lines = (d / "run.jsonl").read_text().splitlines()
    assert lines[0] == json.dumps(old) and J.check_record(json.loads(lines[1]))
    assert ResultStore(d).get("run", {"k": 2})["result"] == {"v": 2}


def test_verify_refuses_a_foreign_file_in_its_store(tmp_path, capsys):
    d = tmp_path / "r" / "store"
    d.mkdir(parents=True)
    (d / "run.jsonl").write_bytes(b"a,b\n1,2\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(_toml(_tiny_cfg()))
    assert main(["verify", "--config", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "not a qbound verify store" in capsys.readouterr().err
    assert (d / "run.jsonl").read_bytes() == b"a,b\n1,2\n"


# ----------------------------------------------------------------------------- real full disks
# The kernel itself refuses the write: a tmpfs of 512 KiB filled to the last byte gives ENOSPC (where
# mounting is permitted: root in a container or on a CI runner with sudo), and RLIMIT_FSIZE gives
# EFBIG for any file grown past the limit (everywhere on Linux, no privileges). Each command runs in
# its own process, as a user would run it: one line on stderr, exit 1, and the store (or an earlier
# report) intact: nothing already computed lost, the store reads without a warning and resumes.
import resource  # noqa: E402
import shutil  # noqa: E402

CLI = [sys.executable, "-m", "qbound.app.cli"]


class _Disk:
    """A mounted tmpfs whose free space the test controls."""

    def __init__(self, path):
        self.path = path
        self.filler = path / ".filler"

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Take every free byte but ``leave`` (rounded to pages by tmpfs); checks the disk is full."""
        spacer = self.path / ".spacer"
        if leave:
            spacer.write_bytes(b"s" * leave)
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for chunk in (1 << 16, 4096, 256, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        finally:
            os.close(fd)
        assert self.free_bytes() == 0
        if leave:
            spacer.unlink()

    def free(self) -> None:
        self.filler.unlink()


def _mount_tmpfs(path, kib) -> str | None:
    """Mount a tmpfs at ``path``; None on success, else why it cannot be done here."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        return "needs root on Linux"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip() or f"mount exit {r.returncode}")


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    why = _mount_tmpfs(d, 512)
    if why:
        pytest.skip(f"no tmpfs here ({why}); the RLIMIT_FSIZE variants cover the same writes")
    try:
        yield _Disk(d)
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _cli(args, fsize=None, timeout=300):
    """(exit status, non-empty stderr lines) of ``qbound ARGS`` in a new process, optionally with
    RLIMIT_FSIZE = ``fsize`` bytes (SIGXFSZ ignored, so a write past it fails with EFBIG)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    r = subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout,
                       preexec_fn=limit if fsize else None)
    return r.returncode, [ln for ln in r.stderr.splitlines() if ln.strip()]


def _one_line_failure(rc, err, why):
    assert rc == 1, (rc, err)
    assert len(err) == 1, err
    assert why in err[0] and "Traceback" not in err[0], err


def _sweep_store_intact(path, reference, must_hold=()):
    """The sweep store reads without a skipped line, ends with a newline, holds every key of
    ``must_hold`` and only records equal to the uninterrupted run's."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), "a partial record was left at the end"
    with warnings.catch_warnings():
        warnings.simplefilter("error", J.StoreWarning)
        recs = _strip(load_results(path))
    assert set(must_hold) <= set(recs), "records stored before the failure were lost"
    assert all(reference[k] == v for k, v in recs.items())
    return recs


def test_the_store_check_rejects_a_torn_or_edited_store(tmp_path, reference):
    """The deliberately wrong variants of what the disk-full tests accept."""
    out = tmp_path / "s.jsonl"
    run_sweep(SweepSpec(**SPEC), out, progress=False)
    good = out.read_bytes()
    assert _sweep_store_intact(out, reference) == reference
    out.write_bytes(good + good.split(b"\n")[1][:40])  # a torn tail
    with pytest.raises(AssertionError, match="partial record"):
        _sweep_store_intact(out, reference)
    out.write_bytes(good.replace(good.split(b"\n")[2], b""))  # a record gone
    with pytest.raises(AssertionError, match="lost"):
        _sweep_store_intact(out, reference, must_hold=reference)


def _sweep_full_disk(out, reference, make_full, undo, why):
    """Half the grid with room; the disk full; the whole grid: one line, exit 1, the first half
    kept; room again: the rerun completes it, equal to an uninterrupted run."""
    half = [a if a != "0-1" else "0" for a in SWEEP_ARGV]
    assert _cli(half + ["--out", str(out)]) == (0, [])
    before = _sweep_store_intact(out, reference)
    assert 0 < len(before) < len(reference)
    fsize = make_full()
    rc, err = _cli(SWEEP_ARGV + ["--out", str(out)], fsize=fsize)
    _one_line_failure(rc, err, why)
    assert "kept" in err[0] and "rerun" in err[0]
    during = _sweep_store_intact(out, reference, must_hold=before)
    assert len(during) < len(reference)
    undo()
    assert _cli(SWEEP_ARGV + ["--out", str(out)]) == (0, [])
    assert _sweep_store_intact(out, reference, must_hold=during) == reference


def test_sweep_on_a_full_tmpfs(small_disk, reference):
    _sweep_full_disk(small_disk.path / "s.jsonl", reference, lambda: small_disk.fill(), small_disk.free,
                     "no space left on device")


def test_sweep_past_the_file_size_limit(tmp_path, reference):
    out = tmp_path / "s.jsonl"
    _sweep_full_disk(out, reference, lambda: os.path.getsize(out) + 3000, lambda: None, "File too large")


def _verify_args(tmp_path, out):
    cfg = tmp_path / "c.toml"
    cfg.write_text(_toml(_tiny_cfg()))
    return ["verify", "--quick", "--config", str(cfg), "--out", str(out), "--no-progress"]


REPORT_FILES = ("results.json", "report.md", "bound_vs_measured.png")


def test_verify_on_a_full_tmpfs_keeps_the_store_and_resumes(small_disk, tmp_path, verify_reference):
    out = small_disk.path / "r"
    args = _verify_args(tmp_path, out)
    small_disk.fill(leave=4096)
    rc, err = _cli(args)
    _one_line_failure(rc, err, "no space left on device")
    with warnings.catch_warnings():
        warnings.simplefilter("error", J.StoreWarning)
        kept = _results(out / "store")
    assert kept and len(kept) < len(verify_reference)
    assert all(verify_reference[k] == v for k, v in kept.items())
    assert not any((out / f).exists() for f in REPORT_FILES)
    small_disk.free()
    rc, err = _cli(args)
    assert rc == 0, err
    assert _results(out / "store") == verify_reference


def _report_writer_full(tmp_path, out, verify_reference, make_full, undo, why):
    """A finished run's report, then a rerun (every unit reused) whose report cannot be written:
    one line, exit 1, the store and the earlier report and figure byte for byte as they were, no
    temporary file left; room again: the report is written."""
    args = _verify_args(tmp_path, out)
    rc, err = _cli(args)
    assert rc == 0, err
    before = {f: (out / f).read_bytes() for f in REPORT_FILES}
    store = {p.name: p.read_bytes() for p in (out / "store").iterdir()}
    fsize = make_full()
    rc, err = _cli(args, fsize=fsize)
    _one_line_failure(rc, err, why)
    assert {f: (out / f).read_bytes() for f in REPORT_FILES} == before
    assert {p.name: p.read_bytes() for p in (out / "store").iterdir()} == store
    assert sorted(p.name for p in out.iterdir()) == sorted([*REPORT_FILES, "store"])
    undo()
    (out / "report.md").unlink()
    rc, err = _cli(args)
    assert rc == 0 and (out / "report.md").exists(), err
    assert _results(out / "store") == verify_reference


def test_report_writer_past_the_file_size_limit(tmp_path, verify_reference):
    _report_writer_full(tmp_path, tmp_path / "r", verify_reference, lambda: 4096, lambda: None, "File too large")


def test_report_writer_on_a_full_tmpfs(small_disk, tmp_path, verify_reference):
    _report_writer_full(tmp_path, small_disk.path / "r", verify_reference, lambda: small_disk.fill(),
                        small_disk.free, "no space left on device")


PROVE = ["prove", "--suite", "quick", "--format", "fp8_e4m3fn", "--rounding", "rne", "--jobs", "1"]


def _prove_jsonl_full(path, make_full, why):
    fsize = make_full()
    rc, err = _cli(PROVE + ["--jsonl", str(path)], fsize=fsize)
    _one_line_failure(rc, err, why)
    lines = path.read_bytes().split(b"\n")
    assert len(lines) > 2
    for ln in lines[:-1]:  # every complete line is a whole record
        assert "lemma_id" in json.loads(ln)
    return lines[-1]


def test_prove_jsonl_on_a_full_tmpfs(small_disk):
    def room_for_a_few_lines():
        small_disk.fill(leave=8192)
    _prove_jsonl_full(small_disk.path / "p.jsonl", room_for_a_few_lines, "no space left on device")


def test_prove_jsonl_past_the_file_size_limit(tmp_path):
    _prove_jsonl_full(tmp_path / "p.jsonl", lambda: 5000, "File too large")


def test_prove_jsonl_leaves_no_partial_line_past_the_file_size_limit(tmp_path):
    assert _prove_jsonl_full(tmp_path / "p.jsonl", lambda: 5000, "File too large") == b""
