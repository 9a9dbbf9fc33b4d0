"""``qbound bench prove``: time the fp32 product and sum lemmas with the reduced (significand-only)
encodings on each solver, the direct floating-point encoding of the product lemma for comparison
(ratio = direct / reduced), and the whole default suite (unless quick). Only measured numbers are
returned; a timeout is reported as a status, not as a time. The ``claim_*`` entries time custom
claims through the planner (``qbound prove --claim``: wall time of the whole decision, with the
method that decided), the README's product claim also as a ratio against the direct bitwuzla query."""
from __future__ import annotations

import time


def direct_product_query(fmt, S=None, k=None):
    """The unreduced fp32 product lemma in standard sorts: a, b in Float32, exact a*b in Float64,
    scaled error comparison in Float128 (all exact), rounding by the solver's fp.mul. Built with
    our SMT-LIB2 generator (:mod:`proofs.engines.smtlib`, the default ``S``) so every solver reads
    the same text without z3 installed; ``S=z3`` builds the same query with z3's API. The lemma
    is (2^p + 1)|rnd(ab) - ab| <= |ab|; ``k`` replaces 2^p + 1 (a larger one makes it false).

    >>> from qbound.numeric.formats import get_format
    >>> from qbound.proofs.engines import smtlib
    >>> q = direct_product_query(get_format("fp32"))
    >>> len(q), smtlib.to_smt2(q).splitlines()[0]
    (7, '(set-logic QF_FP)')
    """
    if S is None:
        from qbound.proofs.engines import smtlib as S
    s32 = S.FPSort(fmt.exp_bits, fmt.p)
    s64, s128 = S.Float64(), S.Float128()
    a, b = S.FP("a", s32), S.FP("b", s32)
    r = S.fpMul(S.RNE(), a, b)
    ab = S.fpMul(S.RNE(), S.fpToFP(S.RNE(), a, s64), S.fpToFP(S.RNE(), b, s64))
    err = S.fpSub(S.RNE(), S.fpToFP(S.RNE(), r, s128), S.fpToFP(S.RNE(), ab, s128))
    k = S.FPVal((1 << fmt.p) + 1 if k is None else k, s128)
    lhs = S.fpMul(S.RNE(), k, S.fpAbs(err))
    rhs = S.fpToFP(S.RNE(), S.fpAbs(ab), s128)
    tiny = S.FPVal(float(fmt.min_normal), s64)
    huge = S.FPVal(float(fmt.max_finite), s64)
    return [S.Not(S.fpIsNaN(a)), S.Not(S.fpIsInf(a)), S.Not(S.fpIsNaN(b)), S.Not(S.fpIsInf(b)),
            S.fpGEQ(S.fpAbs(ab), tiny), S.fpLEQ(S.fpAbs(ab), huge), S.fpGT(lhs, rhs)]


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
        out.update(bench_enumeration16())
    return out


#: the slowest two-variable 16-bit claims for the compiled enumerator (three sr roundings, 2^32
#: assignments of fp16, with and without a sign symmetry; one fma under sr on bf16; a quotient); the
#: target is <= 60 s each on the bench machine
ENUMERATION_CLAIMS = [
    ("enum16_three_sr_fp16", "abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*(abs(a*b) + abs(rnd(a*b) + a)) + 2*minsub",
     "fp16", "sr", ["abs(a*b + a) <= huge/2", "abs(a*b) <= huge"]),
    ("enum16_three_sr_directed_fp16", "rnd(rnd(a*b) + a) >= (a*b + a) - u*(abs(a*b) + abs(rnd(a*b) + a)) - 2*minsub",
     "fp16", "sr", ["abs(a*b + a) <= huge/2", "abs(a*b) <= huge"]),   # no sign symmetry: all 2^32
    ("enum16_fma_sr_bf16", "abs(fma(a, b, a) - (a*b + a)) <= u*abs(a*b + a)", "bf16", "sr",
     ["tiny <= abs(a*b + a) <= huge"]),
    ("enum16_quotient_rtz_fp16", "abs(rnd(a/b) - a/b) <= u*abs(a/b)", "fp16", "rtz",
     ["b != 0", "tiny <= abs(a/b) <= huge"]),
]


def bench_enumeration16(timeout: float = 300.0) -> dict:
    """Wall time of the whole decision (``prove(..., engine="compiled")``, compile included) of each
    :data:`ENUMERATION_CLAIMS`, with the assignments evaluated (after the sign reduction)."""
    from qbound.proofs import prove
    out: dict = {}
    for key, c, f, m, hyps in ENUMERATION_CLAIMS:
        t0 = time.perf_counter()
        v = prove(c, f, m, assume=hyps, engine="compiled", timeout=timeout)
        dt = time.perf_counter() - t0
        out[f"{key}_status"] = v.status
        out[f"{key}_seconds"] = round(dt, 2)
        out[f"{key}_evaluated"] = v.details.get("evaluated")
        out[f"{key}_target_met"] = v.status == "proved" and dt <= 60.0
    return out
