"""Every module of qbound imports on its own in a fresh interpreter, so that an import cycle that
only bites in one import order (the module first imported being the one half-initialised) shows up."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
_ig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ig)

# qbound.__main__ runs the command line when imported; it is covered by the CLI tests
MODULES = sorted(m for m in _ig.module_files(ROOT) if not m.endswith(".__main__"))

# Each module is imported first, alone, in its own `python -c`; one driver process runs them all
# (fewer pytest items, same isolation).
DRIVER = r"""
import subprocess, sys
failed = []
for name in sys.argv[1:]:
    r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
    if r.returncode:
        failed.append(f"{name}:\n{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_module_list_covers_every_layer():
    for pkg in ("qbound.numeric", "qbound.proofs", "qbound.bounds", "qbound.app"):
        assert pkg in MODULES
    assert len(MODULES) > 40


@pytest.mark.parametrize("part", range(4))
def test_each_module_imports_first_in_a_fresh_interpreter(part):
    names = MODULES[part::4]
    run = subprocess.run([sys.executable, "-c", DRIVER, *names], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"modules that fail to import first:\n{run.stdout}{run.stderr}"


LIGHT = {
    # import qbound loads no layer, and not importlib.metadata (__version__ is read on first use)
    "import qbound": ("qbound.numeric", "qbound.proofs", "qbound.bounds", "qbound.app", "qbound._lazy", "numpy",
                      "importlib.metadata"),
    # pytest loads the plugin for every run (entry point): no hypothesis, numpy or numeric layer
    "import qbound.testing.plugin, qbound.testing": ("hypothesis", "numpy", "sympy", "z3", "qbound.numeric"),
}


def _loaded(statement: str, modules) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after ``statement``."""
    code = f"import sys; {statement}; print(' '.join(m for m in {tuple(modules)!r} if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


@pytest.mark.parametrize("statement", sorted(LIGHT))
def test_light_imports(statement):
    assert _loaded(statement, LIGHT[statement]) == []


def test_light_import_check_can_fail():
    assert _loaded("import qbound; qbound.__version__", ["importlib.metadata", "qbound._version"]) == [
        "importlib.metadata", "qbound._version"]
    assert _loaded("import qbound.testing.assertions", ["qbound.numeric"]) == ["qbound.numeric"]


@pytest.mark.parametrize("pkg", ["qbound.numeric", "qbound.numeric.pytorch", "qbound.testing"])
def test_lazy_exports_share_one_helper_and_resolve(pkg):
    mod = importlib.import_module(pkg)
    assert mod.__getattr__.__module__ == "qbound._lazy"
    assert set(mod.__all__) <= set(dir(mod))
    for name in mod.__all__:
        assert getattr(mod, name) is getattr(importlib.import_module(f"{pkg}.{mod._EXPORTS[name]}"), name)
    with pytest.raises(AttributeError, match=f"module '{pkg}' has no attribute 'no_such_name'"):
        mod.no_such_name


def test_lazy_exports_report_a_wrong_map():
    """The helper does not hide a map entry that names the wrong submodule."""
    from qbound._lazy import exports
    getattr_, _ = exports({"__name__": "qbound.numeric"}, {"quantize": "formats"}, ["quantize"])
    with pytest.raises(AttributeError, match="quantize"):
        getattr_("quantize")


def test_lazy_helper_docstring_example():
    import doctest

    import qbound._lazy
    assert doctest.testmod(qbound._lazy, optionflags=doctest.ELLIPSIS).failed == 0
