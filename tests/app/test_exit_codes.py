"""The exit statuses the README's "Exit statuses" table documents, each produced by the real
command in a child process (SIGINT 130 and SIGTERM 143 are exercised with running sweeps and
verify runs in tests/app/test_faults.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

QB = [sys.executable, "-m", "qbound.app.cli"]
README = Path(__file__).resolve().parents[2] / "README.md"


def _rc(args, **kw):
    return subprocess.run(QB + args, capture_output=True, text=True, timeout=120, **kw)


def test_cli_module_runs():
    r = _rc(["formats"])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args,code", [
    (["formats"], 0),
    (["prove", "--claim", "rnd(a*b) == rnd(b*a)", "--format", "fp4"], 0),
    (["prove", "--claim", "rnd(a+b) == a+b", "--format", "fp4"], 1),   # falsified: a counterexample
    (["quantize", "--format", "bf61", "1"], 2),                         # bad input
    (["prove", "--claim", "rnd(a) == a", "--format", "fp4", "--timeout", "0"], 2),
])
def test_documented_status(args, code):
    r = _rc(args)
    assert r.returncode == code, (args, r.returncode, r.stderr)
    if code == 2:
        lines = r.stderr.strip().splitlines()  # argparse's refusals print the usage first
        assert ": error: " in lines[-1] and "Traceback" not in r.stderr


def test_a_reader_that_goes_away_gives_141():
    vals = [str(i * 0.001) for i in range(30000)]  # more than a pipe holds
    p = subprocess.Popen(QB + ["quantize", "--format", "bf16", "--", *vals], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141
    assert b"Traceback" not in err


def test_readme_lists_every_status_the_cli_returns():
    """The README table and qbound.app.cli agree (a status added to one must be added to the other)."""
    import re

    import qbound.app.cli as cli
    text = README.read_text()
    section = text[text.index("## Exit statuses"):]
    section = section[:section.index("\n## ", 4)] if "\n## " in section[4:] else section
    documented = {int(c) for c in re.findall(r"^\| (\d+) \|", section, flags=re.M)}
    returned = {int(c) for c in re.findall(r"return (\d+)\b", Path(cli.__file__).read_text())}
    assert documented == {0, 1, 2, 130, 141, 143}
    assert returned <= documented, returned - documented
