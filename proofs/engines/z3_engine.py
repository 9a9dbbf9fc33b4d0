"""The z3 engine: any (exponent, significand) floating-point sort, bit-vectors, reals.

z3 is the only solver here that accepts non-standard sorts (bf16's (8, 8), the wide exact sorts of
a claim), so ``auto`` uses it where bitwuzla and cvc5 cannot encode a query; it is also the slowest on
floating-point multiplication, so the planner predicts a higher cost for it.
"""
from __future__ import annotations

from qbound.proofs.engines.smt import SmtEngine


class Z3Engine(SmtEngine):
    name = "z3"
    module = "z3"
    sorts = None
    features = frozenset({"fp", "bv", "real", "any_sort"})
    cost_factor = 4.0
    replay = "python -c \"import z3,sys; s=z3.Solver(); s.from_file(sys.argv[1]); print(s.check())\" {path}"
