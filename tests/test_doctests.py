"""The examples in docstrings run, module by module, under the names users import (qbound.*)."""
import doctest
import importlib
import pkgutil

import pytest

import qbound

LAYERS = ("qbound", "qbound.numeric", "qbound.proofs", "qbound.bounds", "qbound.app")


def _modules():
    names = set(LAYERS)
    for layer in LAYERS[1:]:
        pkg = importlib.import_module(layer)
        names.update(m.name for m in pkgutil.walk_packages(pkg.__path__, layer + "."))
    return sorted(names)


MODULES = _modules()


def test_every_layer_is_found():
    assert {"qbound.numeric.rounding", "qbound.proofs.suite", "qbound.bounds.adam",
            "qbound.app.cli"} <= set(MODULES)
    assert qbound.__version__


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"
