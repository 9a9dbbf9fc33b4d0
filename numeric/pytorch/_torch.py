"""The one place that imports torch for :mod:`qbound.numeric.pytorch`.

torch is an optional dependency (``pip install "qbound[torch]"``). Every module of the backend
imports without it (so the import-order tests and doctests of an install without torch still run);
using a function or class of the backend then raises :class:`TorchMissing` with the install line.
"""
from __future__ import annotations

try:  # pragma: no cover - depends on the environment
    import torch  # noqa: F401
except ImportError:  # pragma: no cover
    torch = None

INSTALL = 'pip install "qbound[torch]"'


class TorchMissing(ImportError):
    """torch is not installed; the message says how to install it."""


def require_torch():
    """Return the torch module, or raise :class:`TorchMissing` saying how to install it."""
    if torch is None:
        raise TorchMissing(f"qbound.numeric.pytorch needs PyTorch: {INSTALL} (CPU wheels ~200 MB)")
    return torch


def strip_examples_without_torch(doc: str | None) -> str | None:
    """Without torch, drop the ``>>>`` examples of a docstring (they need torch to run)."""
    if torch is not None or not doc:
        return doc
    return "\n".join(line for line in doc.splitlines() if not line.lstrip().startswith((">>>", "...")))
