"""``qbound bench prove``: time the fp32 product and sum lemmas (reduced encodings) on each
available solver, and the default suite (unless quick). Only measured numbers are returned."""
from __future__ import annotations

import time


def bench_prove(quick: bool = False) -> dict:
    from numeric.formats import get_format
    from .reductions import product_lemma, sum_lemma
    fp32 = get_format("fp32")
    out = {}
    for solver in ("bitwuzla", "z3"):
        for name, fn in (("product", product_lemma), ("sum", sum_lemma)):
            if quick and solver == "z3" and name == "sum":
                continue
            v = fn(fp32, "rne", solver=solver, timeout=60.0)
            out[f"fp32_{name}_rne_{solver}_seconds"] = round(v.seconds, 4)
            out[f"fp32_{name}_rne_{solver}_status"] = v.status
    if not quick:
        from .suite import run_suite
        t0 = time.perf_counter()
        res = run_suite("default", progress=False)
        out["suite_default_wall_seconds"] = round(time.perf_counter() - t0, 2)
        out["suite_default_results"] = len(res)
        out["suite_default_unknown"] = sum(r.verdict.status == "unknown" for r in res)
        out["suite_default_surprises"] = sum(r.surprise for r in res)
    return out
