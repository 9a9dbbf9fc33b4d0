"""Engines behind one interface (:class:`~proofs.engines.base.Engine`), one module per solver, with
a registry the planner (:mod:`proofs.planner`) chooses from by capability and predicted cost.

* ``exhaustive`` (:mod:`.exhaustive`): enumeration with the numeric rounding kernel (complete for
  small formats and for reduced domains);
* ``compiled`` (:mod:`.compiled`): the same enumeration as a numba kernel generated per claim,
  multithreaded with early exit (two variables of a 16-bit format: 2^32 assignments);
* ``z3`` (:mod:`.z3_engine`): any (exponent, significand) sort;
* ``bitwuzla`` (:mod:`.bitwuzla_engine`): standard sorts Float16/32/64/128 and bit-vectors;
* ``cvc5`` (:mod:`.cvc5_engine`): Float32/Float64, when the optional ``cvc5`` package is installed.

Each engine class declares ``name``, ``sorts`` (None = any), ``features`` and ``cost_factor``.

>>> sorted(ENGINES)
['bitwuzla', 'compiled', 'cvc5', 'exhaustive', 'z3']
>>> get_engine("bitwuzla").sorts[1]
(8, 24)
"""
from __future__ import annotations

from qbound.numeric.errors import InputError, did_you_mean

from qbound.proofs.engines.bitwuzla_engine import BitwuzlaEngine
from qbound.proofs.engines.compiled import CompiledEngine
from qbound.proofs.engines.cvc5_engine import Cvc5Engine
from qbound.proofs.engines.exhaustive import ExhaustiveEngine
from qbound.proofs.engines.z3_engine import Z3Engine

ENGINE_NAMES = ("auto", "exhaustive", "compiled", "z3", "bitwuzla", "cvc5")

#: name -> engine class (the registry)
ENGINES = {c.name: c for c in (ExhaustiveEngine, CompiledEngine, BitwuzlaEngine, Z3Engine, Cvc5Engine)}

#: SMT engines in the planner's order of preference (fastest first)
SMT_ORDER = ("bitwuzla", "z3", "cvc5")


def get_engine(name: str):
    if name in ENGINES:
        return ENGINES[name]()
    hint = did_you_mean(name, ENGINE_NAMES, n=2)
    raise InputError(f"unknown engine {name!r}.{hint} Accepted: {', '.join(ENGINE_NAMES)}.")


def available_engines() -> list[str]:
    out = ["exhaustive"]
    for n in SMT_ORDER:
        try:
            if get_engine(n).available():
                out.append(n)
        except Exception:
            pass
    return out
