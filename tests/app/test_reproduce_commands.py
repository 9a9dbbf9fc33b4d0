"""The reproduce commands that verify's report prints for bounds numbers run as written."""
import shlex
import subprocess
import sys

from qbound.app.verify import evidence as E


def _run(cmd: str, cwd) -> subprocess.CompletedProcess:
    # run outside the repository: its folders bounds/, proofs/ would import under their bare names
    argv = shlex.split(cmd)
    assert argv[:2] == ["python", "-c"], cmd
    return subprocess.run([sys.executable, "-c", argv[2]], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def test_required_bits_command_runs(tmp_path):
    d = {"setting": {"constants": {"B": 32.0, "Delta": 183.4, "L": 51.6, "W0": 0.0, "a": 0.5, "b": 1.0,
                                   "r": 16.0, "sigma": 1.73}}, "tol": 1.0, "rounding": "rne"}
    r = _run(E._rb_cmd(d, "muon", 64), tmp_path)
    assert r.returncode == 0, r.stderr[-500:]
    assert "'bits'" in r.stdout


def test_a_command_with_the_old_import_path_would_fail(tmp_path):
    # the check above can fail: the pre-namespace spelling does not import
    r = _run("python -c \"import bounds; print(bounds.required_bits)\"", tmp_path)
    assert r.returncode != 0 and "No module named 'bounds'" in r.stderr
