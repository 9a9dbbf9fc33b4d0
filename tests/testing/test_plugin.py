"""The pytest plugin and the README example, in a fresh project (pytester, a pytest subprocess):
a wrong lemma fails with its counterexample, a wrong bf16 quantizer (round half away) fails with the
tie that shows it within Hypothesis' default budget, a right bound passes; the marker and the
options parametrize; the plugin works without hypothesis installed (that it imports neither
hypothesis nor numpy is checked in tests/test_imports.py)."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

# pytester takes a snapshot of sys.modules when a test starts and drops every module first imported
# during the test when it ends. numpy and numba keep process-wide state that outlives their modules,
# so a later test of the same process that imports them again fails ("cannot load module more than
# once per process"; numba: "cannot augment Function(<built-in function tan>)", "duplicate
# registration for PolynomialType", numba loading parts of itself lazily on first compilation).
# So: numpy and the numeric layer are imported here, before any pytester test, and the in-process
# checks below use only the exact (pure Python) rounding, never the numba kernel.
import qbound.numeric as qn
from qbound.numeric.formats import registry


pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    """The first code block of the README section on qbound.testing."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Falsify bounds in your own tests", 1)[1]
    lines, block, started = section.splitlines(), [], False
    for line in lines[1:]:
        if line.startswith("    ") or (started and not line.strip()):
            started = True
            block.append(line)
        elif started:
            break
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def test_readme_example_fails_and_passes_as_it_says(pytester):
    pytester.makepyfile(test_user=readme_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "test_rounding_error_bound[bf16] PASSED" in out or "2 passed" in out
    # the wrong lemma: its counterexample, in decimal and hex, in the plugin's report section
    assert "qbound counterexample" in out
    assert "lemma falsified in fp8_e4m3fn (rne): abs(rnd(x*y) - x*y) <= u/2*abs(x*y)" in out
    assert re.search(r"x = [0-9.]+ \(0x[0-9a-f]{2} in fp8_e4m3fn\)", out)
    assert "left - right" in out
    # the wrong quantizer: the input that shows it is an exact bf16 tie, with both results
    assert "to_bf16 does not round like qbound into bf16 (rne)" in out
    m = re.search(r"input\s+x = ([0-9.e+-]+) \((0x[0-9a-f]{8}) in fp32\)", out)
    assert m, out
    from fractions import Fraction

    x = float(m.group(1))
    lo, hi = qn.quantize_exact(x, "bf16", "rdn"), qn.quantize_exact(x, "bf16", "rup")
    assert Fraction(x) * 2 == Fraction(lo) + Fraction(hi)


def test_marker_ids_options_and_rounding_fixture(pytester):
    pytester.makepyfile(test_opts="""
        import pytest

        @pytest.mark.qbound_formats("bf16", "fp8_e4m3fn", roundings=("rne", "rtz"))
        def test_grid(qbound_format, qbound_rounding):
            assert qbound_format.name in ("bf16", "fp8_e4m3fn", "fp16", "e5m7")
            assert qbound_rounding in ("rne", "rtz", "rna")

        @pytest.mark.qbound_formats("fp4_e2m1")
        @pytest.mark.qbound_roundings("rup")
        def test_separate_marker(qbound_format, qbound_rounding):
            assert (qbound_format.name, qbound_rounding) in (("fp4_e2m1", "rup"), ("fp16", "rna"), ("e5m7", "rna"))

        @pytest.mark.qbound_formats("all")
        def test_every_registry_format(qbound_format):
            assert qbound_format.total_bits <= 64
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=5 + len(registry()))
    out = result.stdout.str()
    for node in ("test_grid[bf16-rne]", "test_grid[fp8_e4m3fn-rtz]", "test_separate_marker[fp4_e2m1-rup]"):
        assert node in out
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--qbound-formats", "fp16,e5m7",
                                           "--qbound-roundings", "rna")
    result.assert_outcomes(passed=6)
    assert "test_grid[e5m7-rna]" in result.stdout.str() and "test_every_registry_format[e5m7]" in result.stdout.str()


def test_misuse_is_a_one_line_collection_error(pytester):
    pytester.makepyfile(
        test_a="def test_needs_formats(qbound_format):\n    pass\n",
        test_b="import pytest\n@pytest.mark.qbound_formats('bf16')\ndef test_marker_without_fixture():\n    pass\n",
        test_c="import pytest\n@pytest.mark.qbound_formats('bf17')\ndef test_typo(qbound_format):\n    pass\n",
        test_d="import pytest\n@pytest.mark.qbound_formats('bf16', roundings='rnx')\n"
               "def test_mode(qbound_format, qbound_rounding):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=4)
    out = result.stdout.str()
    assert "name the formats with @pytest.mark.qbound_formats" in out
    assert "needs the test to take the fixture qbound_format" in out
    assert "unknown format 'bf17'" in out and "did you mean" in out.lower()
    assert "rounding mode" in out
    assert "Traceback" not in out and "plugin.py" not in out


# that the plugin imports no hypothesis, numpy or numeric layer is checked with the other light
# imports in tests/test_imports.py (test_light_imports)


def test_plugin_works_without_hypothesis(tmp_path):
    (tmp_path / "test_nohyp.py").write_text(textwrap.dedent("""
        import pytest
        from qbound.testing import assert_lemma

        @pytest.mark.qbound_formats("fp8_e4m3fn")
        def test_lemma(qbound_format):
            assert_lemma("rnd(-x) == -rnd(x)", qbound_format)

        def test_no_hypothesis():
            with pytest.raises(ImportError):
                import hypothesis  # noqa: F401
    """))
    driver = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "hypothesis" or name.startswith("hypothesis.") or name == "_hypothesis_pytestplugin":
                    raise ImportError(f"{name} is blocked (simulating an install without hypothesis)")
        sys.meta_path.insert(0, Block())
        import pytest
        sys.exit(pytest.main(["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", sys.argv[1]]))
    """)
    run = subprocess.run([sys.executable, "-c", driver, str(tmp_path / "test_nohyp.py")], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
