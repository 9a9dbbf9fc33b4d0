"""Engines behind one interface (:class:`~proofs.engines.base.Engine`).

* ``exhaustive``: enumeration with the numeric rounding kernel (complete for small formats);
* ``z3``: any (exponent, significand) sort; generic floating-point encoding of claims;
* ``bitwuzla``: the same SMT-LIB2 queries, standard sorts (Float16/32/64/128) and bit-vectors only;
* ``cvc5``: the same SMT-LIB2 queries when the optional ``cvc5`` package is installed.

``auto`` picks, per claim, the fastest engine that can decide it soundly (see :func:`proofs.prove`).
"""
from __future__ import annotations

from qbound.numeric.errors import InputError, did_you_mean

ENGINE_NAMES = ("auto", "exhaustive", "z3", "bitwuzla", "cvc5")


def get_engine(name: str):
    if name == "exhaustive":
        from qbound.proofs.engines.exhaustive import ExhaustiveEngine
        return ExhaustiveEngine()
    if name in ("z3", "bitwuzla", "cvc5"):
        from qbound.proofs.engines.smt import SmtEngine
        return SmtEngine(name)
    hint = did_you_mean(name, ENGINE_NAMES, n=2)
    raise InputError(f"unknown engine {name!r}.{hint} Accepted: {', '.join(ENGINE_NAMES)}.")


def available_engines() -> list[str]:
    out = ["exhaustive"]
    for n in ("z3", "bitwuzla", "cvc5"):
        try:
            if get_engine(n).available():
                out.append(n)
        except Exception:
            pass
    return out
