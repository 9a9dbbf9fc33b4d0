"""`qbound derive` proof options: bad input is one line and exit 2, before any work."""
from qbound.app.cli import main


def test_recheck_needs_certificates(capsys):
    assert main(["derive", "adam", "--recheck"]) == 2
    assert "--certificates" in capsys.readouterr().err


def test_bad_mutant_options(capsys):
    assert main(["derive", "adam", "--mutants", "--mutant-timeout", "0"]) == 2
    assert main(["derive", "adam", "--mutants", "--mutant-limit", "x"]) == 2
    assert main(["derive", "muon", "--certificates", "/tmp/x", "--recheck", "--recheck-timeout", "-1"]) == 2
