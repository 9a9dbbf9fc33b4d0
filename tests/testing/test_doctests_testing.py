"""The docstring examples of qbound.testing run (tests/test_doctests.py covers the other layers)."""
import doctest
import importlib

import pytest

pytest.importorskip("hypothesis")

MODULES = ["qbound.testing", "qbound.testing.strategies", "qbound.testing.assertions", "qbound.testing.plugin",
           "qbound.numeric.stats"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"
