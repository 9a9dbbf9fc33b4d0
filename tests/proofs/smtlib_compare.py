"""Helpers for test_proofs_smtlib: decide one claim's query built by our SMT-LIB2 generator
(proofs.engines.smtlib) with every solver, and the same query built with z3's own API with z3."""
from __future__ import annotations

import time

from qbound.proofs.engines.base import Unsupported
from qbound.proofs.engines.fpenc import STANDARD, Encoder
from qbound.proofs.engines.smt import solve

#: solver -> the standard sorts its encoder prefers (None: any sort)
SOLVER_SORTS = {"bitwuzla": STANDARD, "cvc5": ((8, 24), (11, 53)), "z3": None}


def _fits(sorts, allowed):
    return allowed is None or all(tuple(s) in allowed for s in sorts)


def backend_verdicts(claim, timeout=10.0, solvers=("z3", "bitwuzla", "cvc5")) -> dict:
    """{"z3/z3-api": status, "<solver>/ours": status, ...} with status sat | unsat | unknown (a query
    a solver's sorts cannot take is left out; {} when the claim cannot be encoded at all)."""
    import z3
    out, secs = {}, {}
    try:
        ref = Encoder(claim, prefer_standard=True, standard=STANDARD, backend=z3).query()
    except Unsupported:
        ref = None
    if ref is not None:
        t0 = time.perf_counter()
        out["z3/z3-api"] = solve("z3", ref, timeout)[0]
        secs["z3/z3-api"] = time.perf_counter() - t0
    for s in solvers:
        std = SOLVER_SORTS[s] or STANDARD
        try:
            enc = Encoder(claim, prefer_standard=True, standard=std)
            q = enc.query()
        except Unsupported:
            if ref is not None and s == "z3":
                raise AssertionError("our generator refused a claim z3's API encodes")
            continue
        if not _fits(enc.sorts, SOLVER_SORTS[s]):
            continue
        t0 = time.perf_counter()
        out[f"{s}/ours"] = solve(s, q, timeout)[0]
        secs[f"{s}/ours"] = time.perf_counter() - t0
    out["_seconds"] = secs
    return out


def agree(verdicts: dict, truth: bool | None = None) -> bool:
    """Every decided verdict is the same (and, with ``truth``, sat exactly when the claim is false)."""
    decided = {v for k, v in verdicts.items() if not k.startswith("_") and v != "unknown"}
    if len(decided) > 1:
        return False
    if truth is not None and decided:
        return decided == {"unsat" if truth else "sat"}
    return True
