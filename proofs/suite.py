"""The default lemma suite: for each format and rounding mode, the per-operation facts that
convergence proofs assume, each with hypotheses and the verdict the library expects.

Lemma ids (stable): conv.relerr, op.{add,sub,mul,div,sqrt,fma}.relerr, sub.relfail, sub.mixed,
overflow.threshold, exact.sterbenz, exact.pow2, opt.beta1, opt.beta2, opt.v_nonneg, opt.v_overflow,
opt.stagnation,
opt.swamping, opt.lr_swamping, opt.denominator, sr.unbiased, sr.bias.

Engine choice per lemma (each choice is a reduction validated in tests/proofs against enumeration):
formats of at most 8 bits are enumerated; wider formats use the significand reductions
(:mod:`proofs.reductions`) for * and +/-, the conversion lemma over reals for /, sqrt and fma (one
rounding of an exact real), 16-bit unary facts are enumerated, and the remaining facts go to the
generic SMT encoding. Results are yielded as they arrive (``iter_suite``) so callers can write JSON
progressively.
"""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from qbound.numeric.formats import FloatFormat, get_format


from qbound.numeric.formats import floor_log2
from qbound.numeric.rounding import quantize

from qbound.proofs.prover import prove
from qbound.proofs.exact import fmt_value, round_fraction
from qbound.proofs.verdict import LemmaResult, Verdict

DEFAULT_FORMATS = ("fp32", "fp16", "bf16", "fp8_e4m3fn", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1")
DEFAULT_ROUNDINGS = ("rne", "rtz", "sr")
DEFAULT_CONSTS = {"beta1": 0.9, "beta2": 0.999, "lr": 1e-3, "eps": 1e-8}
SUITES = ("default", "quick")


def _small(fmt) -> bool:
    return fmt.total_bits <= 8


_SMT2_DIR = [None]   # set by iter_suite for the duration of a run (--smt2-dir)


def _claim_lemma(lid, title, fmt, mode, claim, hyps, expected, consts=None, var_format=None, data=None,
                 timeout=30.0, engine="auto"):
    v = prove(claim, fmt, mode, assume=hyps, consts=consts, var_format=var_format, timeout=timeout, engine=engine,
              smt2_dir=_SMT2_DIR[0])
    d = dict(data or {})
    if var_format is not None:
        d["var_format"] = get_format(var_format).name
    return LemmaResult(lid, title, fmt.name, mode, list(hyps), claim, expected, v, d)


def _bound_str(fmt, mode):
    return fmt_value(fmt.rel_error_bound(mode))


def lemmas_for(fmt: FloatFormat, mode: str, consts: dict, timeout=30.0):
    """Yield LemmaResults for one (format, rounding)."""
    from qbound.proofs.optimizer_facts import constant_rounding, stagnation_threshold, swamping_threshold
    from qbound.proofs.reductions import conversion_witness, product_lemma, real_conversion, sum_lemma
    bnd = fmt.rel_error_bound(mode)
    bconst = {"bnd": bnd}
    normal = "tiny <= abs(x) <= huge"
    det = mode != "sr"

    # 1. conversion over reals, sharp bound and witness
    v, _ = real_conversion(fmt, mode, timeout=timeout, smt2_dir=_SMT2_DIR[0])
    w = conversion_witness(fmt, mode)
    replay = None
    xf = float(w["x"])
    if Fraction(xf) == w["x"] and det:
        replay = Fraction(quantize(xf, fmt, mode)) == w["rounded"]
    yield LemmaResult("conv.relerr", "conversion relative error in the normal range (sharp bound)", fmt.name, mode,
                      [normal, "x real"], f"abs(rnd(x) - x) <= {_bound_str(fmt, mode)} * abs(x)", "proved", v,
                      {"bound": bnd, "bound_attained": fmt.rel_error_bound_attained(mode),
                       "witness_x": w["x"], "witness_rounded": w["rounded"], "witness_rel_error": w["rel_error"],
                       "witness_ratio_to_bound": float(w["ratio_to_bound"]), "witness_attains_bound": w["attained"],
                       "witness_replayed_by_quantize": replay})
    if mode in ("rne", "rtz"):
        # 2. operations in the normal range
        ops = {
            "mul": ("abs(rnd(a*b) - a*b) <= bnd*abs(a*b)", ["tiny <= abs(a*b) <= huge"]),
            "add": ("abs(rnd(a+b) - (a+b)) <= bnd*abs(a+b)", ["tiny <= abs(a+b) <= huge"]),
            "sub": ("abs(rnd(a-b) - (a-b)) <= bnd*abs(a-b)", ["tiny <= abs(a-b) <= huge"]),
            "div": ("abs(rnd(a/b)*b - a) <= bnd*abs(a)", ["b != 0", "tiny*abs(b) <= abs(a) <= huge*abs(b)"]),
            "sqrt": ("(1-bnd)**2*a <= rnd(sqrt(a))**2 <= (1+bnd)**2*a", ["tiny**2 <= a"]),
            "fma": ("abs(rnd(a*b+c) - (a*b+c)) <= bnd*abs(a*b+c)", ["tiny <= abs(a*b+c) <= huge"]),
        }
        for op, (claim, hyps) in ops.items():
            lid = f"op.{op}.relerr"
            title = f"x(1+delta) model for {op} in the normal range, |delta| <= {_bound_str(fmt, mode)}"
            if _small(fmt) and not (op == "fma" and fmt.total_bits > 6):
                yield _claim_lemma(lid, title, fmt, mode, claim, hyps, "proved", bconst, timeout=timeout,
                                   engine="exhaustive")
                continue
            if op == "sqrt" and fmt.total_bits <= 16:
                yield _claim_lemma(lid, title, fmt, mode, claim, hyps, "proved", bconst, timeout=timeout)
                continue
            if op == "mul":
                v = product_lemma(fmt, mode, timeout=timeout, smt2_dir=_SMT2_DIR[0])
            elif op == "add":
                v = sum_lemma(fmt, mode, timeout=timeout, smt2_dir=_SMT2_DIR[0])
                v.details["note"] = "the reduced query covers a+b and a-b (free sign)"
                sum_verdict = v
            elif op == "sub":
                # a - b = a + (-b) and the format is symmetric: the same reduced query (free sign)
                v = Verdict(**{k: getattr(sum_verdict, k) for k in ("status", "engine", "engine_version", "seconds",
                                                                    "counterexample", "reason")},
                            details={**sum_verdict.details, "shared_with": "op.add.relerr"})
            else:
                v, _ = real_conversion(fmt, mode, timeout=timeout, smt2_dir=_SMT2_DIR[0])
                v.details["note"] = (f"{op} is one rounding of an exact real in the normal range "
                                     "(IEEE 754), so it is the conversion lemma over reals")
            yield LemmaResult(lid, title, fmt.name, mode, hyps, claim.replace("bnd", _bound_str(fmt, mode)),
                              "proved", v, {"bound": bnd})
        # 3. where the relative model fails, and the mixed model
        if fmt.total_bits <= 16:
            yield _claim_lemma("sub.relfail", "the relative model fails below the normal range", fmt, mode,
                               "abs(rnd(a*c) - a*c) <= bnd*abs(a*c)", ["0 < abs(a*c) < tiny"], "falsified",
                               {**bconst, "c": Fraction(3, 4)}, timeout=timeout, engine="exhaustive")
        else:
            # wide formats: the witness a = minsub, c = 3/4 (what enumeration finds on every 16-bit
            # format), decided by exact evaluation through the rounding oracle
            v = prove("not (abs(rnd(a*c) - a*c) <= bnd*abs(a*c))", fmt, mode,
                      consts={**bconst, "c": Fraction(3, 4), "a": fmt.min_subnormal}, engine="exhaustive")
            st = {"proved": "falsified", "falsified": "proved"}.get(v.status, "unknown")
            v = Verdict(st, v.engine, v.engine_version, v.seconds,
                        {"a": {"decimal": fmt_value(fmt.min_subnormal), "hex": fmt.hex(fmt.encode(float(fmt.min_subnormal)))},
                         "lhs": "|rnd(3/4 minsub) - 3/4 minsub|", "rhs": "bound * 3/4 minsub"} if st == "falsified" else None,
                        details={"note": "witness point a = minsub, c = 3/4 checked exactly"})
            yield LemmaResult("sub.relfail", "the relative model fails below the normal range", fmt.name, mode,
                              ["0 < abs(a*c) < tiny", "c = 3/4"], "abs(rnd(a*c) - a*c) <= bnd*abs(a*c)", "falsified", v,
                              {"bound": bnd})
        eta = fmt.min_subnormal / 2 if mode == "rne" else fmt.min_subnormal
        v, _ = real_conversion(fmt, mode, region="subnormal", eta=Fraction(1, 2) if mode == "rne" else 1,
                               timeout=timeout, smt2_dir=_SMT2_DIR[0])
        yield LemmaResult("sub.mixed", "mixed model below the normal range: |rnd(x) - x| <= eta", fmt.name, mode,
                          ["0 <= abs(x) < tiny", "x real"],
                          f"abs(rnd(x) - x) <= 2**({eta.numerator.bit_length() - eta.denominator.bit_length()})"
                          if eta.numerator == 1 or eta.denominator == 1 else f"abs(rnd(x) - x) <= {fmt_value(eta)}",
                          "proved", v,
                          {"eta": eta, "delta": bnd, "model": "rnd(x) = x(1+delta) + eta', |delta| <= bound, "
                           "|eta'| <= eta, delta*eta' = 0"})
        # 4. overflow thresholds
        yield from _overflow(fmt, mode, timeout)
        # 5. exactness
        yield from _exactness(fmt, mode, timeout)
    # 6. optimizer-state facts
    for cname in ("beta1", "beta2"):
        d = constant_rounding(consts[cname], fmt, mode)
        vv = Verdict(**{k: d["verdict"][k] for k in ("status", "engine", "engine_version", "seconds",
                                                    "counterexample", "reason", "details")})
        yield LemmaResult(f"opt.{cname}", f"how {cname} = {consts[cname]} rounds into {fmt.name}", fmt.name, mode,
                          [], f"rnd({cname}) == {d['rounded']}", "proved", vv,
                          {k: d[k] for k in d if k != "verdict"})
    if mode in ("rne", "rtz"):
        b2 = Fraction(float(consts["beta2"]))
        c2 = 1 - b2
        if fmt.total_bits <= 6:
            yield _claim_lemma("opt.v_nonneg", "the quantized second moment stays non-negative (no overflow)",
                               fmt, mode, "rnd(b2*v + c2*g*g) >= 0", ["v >= 0", "b2*v + c2*g*g <= huge"], "proved",
                               {"b2": b2, "c2": c2}, timeout=timeout, engine="exhaustive")
        else:
            yield _claim_lemma("opt.v_nonneg", "the quantized second moment stays non-negative "
                               "(Q monotone, Q(0) = 0: every non-negative float64 x <= huge rounds to >= 0; "
                               "without x <= huge an fn format overflows to NaN)", fmt, mode,
                               "rnd(x) >= 0", ["0 <= x <= huge"], "proved", var_format="fp64", timeout=timeout)
        # without a no-overflow hypothesis: IEEE formats overflow to +inf (>= 0 holds), "none" formats
        # saturate, but OCP "fn" formats (E4M3FN) overflow to NaN under nearest rounding, so v >= 0
        # fails (under rtz the overflow goes toward zero, to huge, and it holds)
        if fmt.total_bits <= 6:
            yield _claim_lemma("opt.v_overflow", "v stays >= 0 even when b2*v + c2*g^2 overflows", fmt, mode,
                               "rnd(b2*v + c2*g*g) >= 0", ["v >= 0"], "proved", {"b2": b2, "c2": c2},
                               timeout=timeout, engine="exhaustive")
        else:
            yield _claim_lemma("opt.v_overflow", "v stays >= 0 even on overflow (fn formats give NaN)", fmt, mode,
                               "rnd(x) >= 0", ["x >= 0"],
                               "falsified" if (fmt.policy == "fn" and mode != "rtz") else "proved",
                               var_format="fp64", timeout=timeout)
        st = stagnation_threshold(fmt, mode, consts["beta2"])
        yield _fact("opt.stagnation", f"stored v can never decrease (beta2 = {consts['beta2']})", fmt, mode,
                    "rnd(b2 * v) == v", ["v > 0"], st,
                    "proved" if _stag_expected(fmt, mode, b2, st) else "falsified")
        sw = swamping_threshold(fmt, mode)
        yield _fact("opt.swamping", "weight updates below the swamping threshold leave w unchanged", fmt, mode,
                    "rnd(w - r*w) == w and rnd(w + r*w) == w", ["tiny <= abs(w) <= huge", f"r = {sw['checked_at']}"],
                    sw, "proved")
        # the learning rate against the swamping threshold: an Adam step has |m/(sqrt(v)+eps)| <= ~1, so
        # a step of size lr is lost for every |w| >= lr / r* (checked by enumeration on <= 16-bit formats)
        r_star = Fraction(sw["threshold"])
        lr = Fraction(float(consts["lr"]))
        if r_star > 0:
            W = round_fraction(lr / r_star, fmt, "rup")
            if not isinstance(W, float) and fmt.total_bits <= 16:
                yield _claim_lemma("opt.lr_swamping", f"a step of size lr = {consts['lr']} leaves every |w| >= "
                                   f"{fmt_value(W)} unchanged", fmt, mode, "rnd(w - lr) == w and rnd(w + lr) == w",
                                   [f"{fmt_value(W)} <= abs(w) <= huge"], "proved", {"lr": lr},
                                   timeout=timeout, engine="exhaustive",
                                   data={"lr": lr, "w_threshold": W, "swamping_threshold": r_star})
        eps = Fraction(float(consts["eps"]))
        yield _claim_lemma("opt.denominator", "lower bound of sqrt(v) + eps: v is 0 or >= minsub", fmt, mode,
                           "v == 0 or v >= minsub", ["v >= 0"], "proved", timeout=timeout,
                           data={"lower_bound_nonzero_v": float(np.sqrt(float(fmt.min_subnormal)) + float(eps)),
                                 "lower_bound_v0": float(eps)})
    # 7. stochastic rounding
    if mode == "sr" and fmt.total_bits <= 16:
        yield from _sr(fmt)


def _stag_expected(fmt, mode, b2, st) -> bool:
    """The library's prediction, from the analytic threshold (not from the engine)."""
    if mode == "rne":
        return 1 - b2 <= Fraction(1, 1 << (fmt.p + 1))
    return False


def _fact(lid, title, fmt, mode, claim, hyps, d, expected):
    vd = d["verdict"]
    v = Verdict(vd["status"], vd["engine"], vd["engine_version"], vd["seconds"], vd["counterexample"],
                vd["reason"], vd["details"])
    return LemmaResult(lid, title, fmt.name, mode, hyps, claim, expected, v,
                       {k: val for k, val in d.items() if k != "verdict"})


def _overflow(fmt, mode, timeout):
    huge = fmt.max_finite
    if mode == "rne":
        T = fmt.overflow_threshold(mode)
        tie_over = fmt.overflows_at_tie(mode)
        # the tie itself, and 1/32 ulp(huge) past it (fp8_e4m3fn: 464 -> 448, 465 -> NaN)
        below = T if not tie_over else T - fmt.ulp(huge) / 32
        above = T + fmt.ulp(huge) / 32 if not tie_over else T
    else:
        T = huge + fmt.ulp(huge)
        below, above = T - fmt.ulp(huge) / 4, 2 * huge
    pol = fmt.policy
    if pol == "none":
        over_claim, what = "rnd(t1) == huge", "saturates to huge"
    elif mode == "rtz":
        over_claim, what = "rnd(t1) == huge", "rounds toward zero to huge"
    elif pol == "fn":
        over_claim, what = "not (rnd(t1) == rnd(t1))", "gives NaN"
    else:
        over_claim, what = "rnd(t1) > huge", "gives +inf"
    claim = f"rnd(t0) == huge and {over_claim}"
    v = prove(claim, fmt, mode, consts={"t0": below, "t1": above}, timeout=timeout)
    yield LemmaResult("overflow.threshold", f"overflow threshold ({pol} policy): {fmt_value(below)} -> huge, "
                      f"{fmt_value(above)} {what}", fmt.name, mode, [], claim, "proved", v,
                      {"huge": huge, "threshold": T, "overflows_at_tie": fmt.overflows_at_tie(mode) if mode == "rne" else None,
                       "below": below, "above": above, "policy": pol,
                       "rnd_below": fmt_value(round_fraction(below, fmt, mode)),
                       "rnd_above": str(round_fraction(above, fmt, mode))})


def _exactness(fmt, mode, timeout):
    hyps = ["b <= 2*a", "a <= 2*b"]
    # fp16/fp32: exactness is encoded as "rounding down equals rounding up" (no wide sort)
    yield _claim_lemma("exact.sterbenz", "Sterbenz: a - b is exact when b/2 <= a <= 2b", fmt, mode,
                       "rnd(a - b) == a - b", hyps, "proved", timeout=timeout,
                       engine="exhaustive" if fmt.total_bits <= 8 else "auto")
    # c = 2^k with k = 3 where the format has room, else the largest k for which some a has
    # tiny <= |a| and tiny <= |a c| <= huge (fp6_e2m3, fp4_e2m1: huge/tiny < 8, so c = 8 would make
    # the lemma vacuous; a suite lemma must not be)
    k = min(3, floor_log2(fmt.max_finite / fmt.min_normal))
    for c in (Fraction(2) ** k, Fraction(1, 2 ** k)):
        yield _claim_lemma("exact.pow2", f"scaling by {fmt_value(c)} is exact inside the normal range", fmt, mode,
                           "rnd(a*c) == a*c", ["tiny <= abs(a*c) <= huge", "tiny <= abs(a) <= huge"], "proved",
                           {"c": c}, timeout=timeout, data={"c": c})


def sr_expectation(x: np.ndarray, fmt, k: int) -> np.ndarray:
    """Exact E[Q_sr(x)] with k random bits, by enumerating every R in [0, 2^k) through quantize."""
    acc = np.zeros_like(x)
    R = np.arange(1 << k, dtype=np.uint64)
    X = np.repeat(x[:, None], 1 << k, axis=1)
    q = quantize(X, fmt, "sr", sr_bits=k, sr_random=np.broadcast_to(R, X.shape))
    # sums of <= 2^k values with p bits at one or two exponents: exact in float64
    acc = q.sum(axis=1)
    return acc / (1 << k)


def _sr(fmt):
    d = 3
    m = fmt.man_bits
    j = np.arange(1 << (m + d), dtype=np.float64)
    x = (1.0 + j / (1 << (m + d)))  # [1, 2) with d extra bits (normal for every default format)
    t0 = time.perf_counter()
    for k, lid, expected in ((d, "sr.unbiased", "proved"), (d - 1, "sr.bias", "falsified")):
        e = sr_expectation(x, fmt, k)
        bad = np.nonzero(e != x)[0]
        secs = time.perf_counter() - t0
        quantum = float(fmt.ulp(1))
        data = {"random_bits": k, "discarded_bits": d, "cases": int(len(x) * (1 << k)),
                "max_abs_bias_in_quanta": float(np.max(np.abs(e - x)) / quantum),
                "predicted_max_bias_in_quanta": float(1 - 2.0 ** -(d - k)) / 2 ** k if k < d else 0.0}
        if len(bad) == 0:
            v = Verdict("proved", "exhaustive", f"numpy {np.__version__}", secs, details={"cases": data["cases"]})
        else:
            i = int(bad[np.argmax(np.abs(e[bad] - x[bad]))])
            v = Verdict("falsified", "exhaustive", f"numpy {np.__version__}", secs, counterexample={
                "x": {"decimal": fmt_value(Fraction(float(x[i]))), "hex": "n/a (x has more bits than the format)"},
                "lhs": fmt_value(Fraction(float(e[i]))), "rhs": fmt_value(Fraction(float(x[i])))})
        yield LemmaResult(lid, f"SR with {k} random bits is {'exactly unbiased' if k >= d else 'biased'} for inputs "
                          f"with {d} discarded bits", fmt.name, "sr", [f"x in [1,2) with {m + d} fraction bits"],
                          f"E_R[rnd_sr(x; {k} bits)] == x", expected, v, data)


def _units(name, formats, roundings, consts):
    from qbound.numeric.errors import InputError
    if name not in SUITES:
        import difflib
        close = difflib.get_close_matches(str(name), SUITES, n=1)
        raise InputError(f"unknown suite {name!r}.{' Did you mean ' + close[0] + '?' if close else ''} "
                         f"Accepted: {', '.join(SUITES)}.")
    fmts = [get_format(f) for f in (formats or (DEFAULT_FORMATS if name == "default" else ("fp8_e4m3fn", "bf16")))]
    from qbound.numeric.formats import check_rounding
    rnds = [check_rounding(r) for r in (roundings or DEFAULT_ROUNDINGS)]
    cs = dict(DEFAULT_CONSTS)
    for k, v in (consts or {}).items():
        if k not in DEFAULT_CONSTS:
            raise InputError(f"unknown optimizer constant {k!r}; accepted: {', '.join(DEFAULT_CONSTS)}")
        cs[k] = float(v)
    return [(f, r) for f in fmts for r in rnds], cs


def _run_unit(args):
    fmt, mode, cs, timeout, smt2_dir = args
    _SMT2_DIR[0] = smt2_dir
    try:
        return list(lemmas_for(fmt, mode, cs, timeout))
    finally:
        _SMT2_DIR[0] = None


def iter_suite(name="default", formats=None, roundings=None, consts=None, timeout=30.0, smt2_dir=None, jobs=1):
    """Yield LemmaResults of a suite one by one, in canonical order (see module docstring).

    ``jobs`` > 1 decides the (format, rounding) units in that many forked worker processes; the
    results and their order are the same as with ``jobs=1``.
    """
    units, cs = _units(name, formats, roundings, consts)
    if jobs > 1 and len(units) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        quantize(np.array([1.0]), units[0][0], "rne")  # compile/warm the rounding kernel before forking
        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
            futs = [ex.submit(_run_unit, (f, r, cs, timeout, smt2_dir)) for f, r in units]
            for fu in futs:
                yield from fu.result()
        return
    _SMT2_DIR[0] = smt2_dir
    try:
        for f, r in units:
            yield from lemmas_for(f, r, cs, timeout)
    finally:
        _SMT2_DIR[0] = None


def run_suite(name="default", formats=None, roundings=None, progress=True, consts=None, timeout=30.0,
              on_result=None, smt2_dir=None, jobs=1) -> list:
    """Run a suite and return the list of LemmaResults; ``on_result(r)`` is called as each arrives.
    ``smt2_dir``: write every SMT query the suite issues as SMT-LIB2 there; ``jobs``: worker processes."""
    out = []
    gen = iter_suite(name, formats, roundings, consts, timeout, smt2_dir, jobs)
    if progress:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as pg:
            task = pg.add_task("proving", total=None)
            for r in gen:
                out.append(r)
                pg.update(task, description=f"[{len(out)}] {r.lemma_id} {r.format} {r.rounding}: {r.verdict.status}")
                if on_result:
                    on_result(r)
    else:
        for r in gen:
            out.append(r)
            if on_result:
                on_result(r)
    return out
