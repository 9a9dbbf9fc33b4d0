"""``qbound bench prove``: time the fp32 product and sum lemmas with the reduced (significand-only)
encodings on each solver, the direct floating-point encoding of the product lemma for comparison
(ratio = direct / reduced), and the whole default suite (unless quick). Only measured numbers are
returned; a timeout is reported as a status, not as a time. The ``claim_*`` entries time custom
claims through the planner (``qbound prove --claim``: wall time of the whole decision, with the
method that decided), the README's product claim also as a ratio against the direct bitwuzla query."""
from __future__ import annotations

import time


def direct_product_query(fmt):
    """The unreduced fp32 product lemma in standard sorts: a, b in Float32, exact a*b in Float64,
    scaled error comparison in Float128 (all exact), rounding by the solver's fp.mul."""
    import z3
    s32 = z3.FPSort(fmt.exp_bits, fmt.p)
    s64, s128 = z3.Float64(), z3.Float128()
    a, b = z3.FP("a", s32), z3.FP("b", s32)
    r = z3.fpMul(z3.RNE(), a, b)
    ab = z3.fpMul(z3.RNE(), z3.fpToFP(z3.RNE(), a, s64), z3.fpToFP(z3.RNE(), b, s64))
    err = z3.fpSub(z3.RNE(), z3.fpToFP(z3.RNE(), r, s128), z3.fpToFP(z3.RNE(), ab, s128))
    k = z3.FPVal((1 << fmt.p) + 1, s128)
    lhs = z3.fpMul(z3.RNE(), k, z3.fpAbs(err))
    rhs = z3.fpToFP(z3.RNE(), z3.fpAbs(ab), s128)
    tiny = z3.FPVal(float(fmt.min_normal), s64)
    huge = z3.FPVal(float(fmt.max_finite), s64)
    return [z3.Not(z3.fpIsNaN(a)), z3.Not(z3.fpIsInf(a)), z3.Not(z3.fpIsNaN(b)), z3.Not(z3.fpIsInf(b)),
            z3.fpGEQ(z3.fpAbs(ab), tiny), z3.fpLEQ(z3.fpAbs(ab), huge), z3.fpGT(lhs, rhs)]


def bench_prove(quick: bool = False) -> dict:
    from qbound.numeric.formats import get_format
    from qbound.proofs.reductions import decide_query, product_lemma, sum_lemma
    fp32 = get_format("fp32")
    out = {}
    for solver in ("bitwuzla", "z3"):
        for name, fn in (("product", product_lemma), ("sum", sum_lemma)):
            if quick and solver == "z3" and name == "sum":
                continue
            v = fn(fp32, "rne", solver=solver, timeout=20.0 if solver == "z3" else 60.0)
            out[f"fp32_{name}_rne_{solver}_status"] = v.status
            if v.status != "unknown":
                out[f"fp32_{name}_rne_{solver}_seconds"] = round(v.seconds, 4)
    # custom claims through the planner (prove --claim), wall time of the whole decision
    from qbound.proofs import prove
    claims = [
        ("claim_product_fp32", "abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "fp32", "rne", ["tiny <= abs(a*b) <= huge"], {}),
        ("claim_product_bf16", "abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "bf16", "rne", ["tiny <= abs(a*b) <= huge"], {}),
        ("claim_sum_fp32", "abs(rnd(a+b) - (a+b)) <= u/(1+u)*abs(a+b)", "fp32", "rne", ["tiny <= abs(a+b) <= huge"], {}),
        ("claim_rup_sum_fp32", "rnd(a+b) >= a+b", "fp32", "rup", [], {}),
        ("claim_quotient_bf16", "abs(rnd(a/b) - a/b) <= u*abs(a/b)", "bf16", "rne", ["b != 0", "tiny <= abs(a/b) <= huge"], {}),
        ("claim_stagnation_bf16", "rnd(b2*v) == v", "bf16", "rne", ["v > 0"], {"b2": "rnd(0.99)"}),
    ]
    for key, c, f, m, hyps, consts in claims:
        if quick and key not in ("claim_product_fp32", "claim_product_bf16"):
            continue
        t0 = time.perf_counter()
        v = prove(c, f, m, assume=hyps, consts=consts, timeout=60.0)
        out[f"{key}_status"] = v.status
        out[f"{key}_engine"] = v.engine
        out[f"{key}_seconds"] = round(time.perf_counter() - t0, 4)
    if not quick:
        st, _, secs, _ = decide_query(direct_product_query(fp32), "bitwuzla", 60.0)
        out["fp32_product_direct_bitwuzla_status"] = {"unsat": "proved", "sat": "falsified"}.get(st, "unknown")
        if st == "unsat":
            out["fp32_product_direct_bitwuzla_seconds"] = round(secs, 4)
            red = out.get("fp32_product_rne_bitwuzla_seconds")
            if red:
                out["fp32_product_direct_over_reduced_ratio"] = round(secs / red, 3)
            if out.get("claim_product_fp32_seconds"):
                out["claim_product_fp32_over_direct_ratio"] = round(out["claim_product_fp32_seconds"] / secs, 3)
        from qbound.proofs.suite import run_suite
        t0 = time.perf_counter()
        res = run_suite("default", progress=False, jobs=2)
        out["suite_default_wall_seconds"] = round(time.perf_counter() - t0, 2)
        out["suite_default_results"] = len(res)
        out["suite_default_unknown"] = sum(r.verdict.status == "unknown" for r in res)
        out["suite_default_surprises"] = sum(r.surprise for r in res)
    return out
