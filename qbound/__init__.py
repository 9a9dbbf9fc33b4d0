"""qbound: convergence of adaptive optimizers under floating-point quantization, checked three ways.

The package is one namespace with three layers of theory and an application on top; imports only
go downwards (``numeric <- proofs <- bounds <- app``), which import-linter checks in CI:

* :mod:`qbound.numeric`: floating-point formats, bit-exact rounding, quantized optimizers and the
  problems and harness they run on (the ground truth);
* :mod:`qbound.proofs`: per-operation rounding lemmas decided by z3, bitwuzla, cvc5 or exhaustive
  enumeration, with counterexamples;
* :mod:`qbound.bounds`: convergence bounds for quantized Adam and Muon derived step by step in SymPy;
* :mod:`qbound.app`: the ``qbound`` command, ``qbound verify`` with its report, and the benchmarks.

Importing ``qbound`` itself is cheap (it imports no layer, and ``__version__`` is read from the
installed metadata on first use); the layers load when imported:

>>> import qbound.numeric as n
>>> n.get_format("bf16").p
8
"""
from __future__ import annotations

import pkgutil

# A source checkout on sys.path (the repository root as the working directory) holds only this
# folder of the namespace: let the installed layers be found next to it.
__path__ = pkgutil.extend_path(__path__, __name__)

__all__ = ["__version__"]


def __getattr__(name: str):
    # __version__ on first use: importlib.metadata costs more than the rest of `import qbound`
    if name == "__version__":
        from qbound._version import version
        globals()[name] = value = version()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
