"""Lazy package attributes (PEP 562), shared by the ``__init__`` of qbound.numeric,
qbound.numeric.pytorch and qbound.testing.

It lives at the root of the namespace, not in :mod:`qbound.numeric`, because importing anything
from ``qbound.numeric`` runs that package's ``__init__``; ``import qbound.testing.plugin`` (which
pytest loads for every run through the entry point) must not load the numeric layer. This module
imports nothing at module level, and ``qbound/__init__`` does not import it, so ``import qbound``
stays as light as it was.

>>> ns = {"__name__": "json"}
>>> getattr_, dir_ = exports(ns, {"dumps": ""}, ["dumps"])
>>> getattr_("dumps") is __import__("json").dumps and "dumps" in ns
True
>>> getattr_("nope")
Traceback (most recent call last):
  ...
AttributeError: module 'json' has no attribute 'nope'
"""
from __future__ import annotations


def exports(namespace: dict, where: dict[str, str], public: list[str]):
    """``(__getattr__, __dir__)`` for a package whose public name ``n`` is defined in its submodule
    ``where[n]`` (``""``: the package itself). The first access imports the submodule and stores the
    value in ``namespace`` (the package's ``globals()``), so later accesses are plain lookups.

    Use in a package ``__init__``::

        from qbound._lazy import exports as _lazy_exports
        __getattr__, __dir__ = _lazy_exports(globals(), _EXPORTS, __all__)
    """
    package = namespace["__name__"]

    def __getattr__(name: str):
        if name in where:
            from importlib import import_module
            sub = where[name]
            value = getattr(import_module(f"{package}.{sub}" if sub else package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__
