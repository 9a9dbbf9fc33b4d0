"""Trajectory.save writes atomically: a write that fails part way (a file-size limit here, which
fails like a full disk) leaves the earlier file at the path byte for byte, and no temporary file.
The same check run on the old, truncating save (``open(path, "w")``) sees the damage."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from qbound.numeric.harness import run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")

_OLD_SAVE = '''
import json
from qbound.numeric.trajectory import Trajectory
def _old(self, path, **kw):
    with open(path, "w") as fh:
        json.dump(self.to_dict(**kw), fh, sort_keys=True, indent=1)
Trajectory.save = _old
'''


def _save_under_a_limit(tmp_path, old: bool):
    path = tmp_path / "t.json"
    run("quadratic", "adam", "W=bf16", steps=5, seed=0).save(path)
    before = path.read_bytes()
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from qbound.numeric.harness import run
        t = run("quadratic", "adam", "W=bf16", steps=400, seed=1, record_states=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before)} + 64, {len(before)} + 64))
        try:
            t.save({str(path)!r})
        except OSError as e:
            print("failed", e.errno)
            sys.exit(0)
        sys.exit(3)
    """)
    if old:
        code = textwrap.dedent(_OLD_SAVE) + code
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("failed")
    return before, path.read_bytes(), sorted(os.listdir(tmp_path))


def test_a_failed_save_keeps_the_earlier_file(tmp_path):
    before, after, names = _save_under_a_limit(tmp_path, old=False)
    assert after == before
    assert names == ["t.json"]


def test_the_check_sees_a_truncating_save(tmp_path):
    before, after, _ = _save_under_a_limit(tmp_path, old=True)
    assert after != before
