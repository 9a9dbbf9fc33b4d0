"""The cvc5 engine (optional ``cvc5`` extra): Float32/Float64 sorts from SMT-LIB2 text."""
from __future__ import annotations

from qbound.proofs.engines.smt import SmtEngine


class Cvc5Engine(SmtEngine):
    name = "cvc5"
    module = "cvc5"
    sorts = ((8, 24), (11, 53))
    features = frozenset({"fp", "bv"})
    cost_factor = 3.0
    replay = "python -c \"import cvc5,sys\"  # or: cvc5 {path}"
