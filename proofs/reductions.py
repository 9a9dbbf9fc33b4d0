"""Reduced encodings (scale invariance): small bit-vector / integer queries equivalent to the
normal-range relative-error lemmas, and the conversion lemma over all reals.

Each reduction is a claim of its own, validated against the unreduced query on every format small
enough to enumerate (tests/proofs). Bounds are rationals N/D.

* Product: in the normal range rnd(a*b) = 2^(ea+eb) round_p(A*B) for significands A, B in
  [2^(p-1), 2^p) (subnormal operands renormalised), so the relative error depends only on A, B:
  the query is over two p-bit integers (MATH.md section 4).
* Sum: with |a| >= |b|, a = A, b = +-B 2^-g (A in [2^(p-1), 2^p), B in [0, 2^p), gap g >= 0), the
  rounding of a + b depends only on A, B, the sign and g, and every gap up to emax - emin is
  realisable. For formats with emax - emin <= 64 (fp16 and every 8-bit or smaller format) the query
  covers every gap g <= emax - emin: it is then exactly the format's lemma (the tests check it finds
  the same worst case as enumeration). For wide exponent ranges (bf16, fp32) the query covers g <= p + 3 and the remaining gaps (b below 1/8 ulp of a) are covered by the
  conversion lemma over reals, which holds for every real in the normal range: together a proof of
  "error <= bound" (not of the format's exact maximum, which depends on how small b can be).
* Quotient: rnd(a/b) = 2^(ea-eb) round_p(A/B) in the normal range, so with N = A 2^(p+1),
  N = Q0 B + R0 (integer division), the rounding of A/B is decided by Q0's low bits and whether
  R0 > 0; the error test |Q B - N| D <= Nb N is in integers.
* Square root: a = X 2^(2k) with X in [2^(p-1), 2^(p+1)) (the exponent parity folded into X); with
  Y = X 2^(2p+2) and the integer square root R (R^2 <= Y < (R+1)^2, a constrained free variable),
  sqrt(Y) has the same rounding as R with a sticky bit (Y > R^2); the error test compares squares
  exactly: (1-b)^2 Y <= Q^2 <= (1+b)^2 Y.
* Conversion over reals: x = X 2^(e-p+1) with X real in [2^(p-1), 2^p) (normal range) or
  x = X minsub with X in [0, 2^(p-1)) (subnormal range); rounding picks floor(X) or floor(X)+1 by the
  mode (sr: either). A linear integer/real query decided by z3. Every +, -, *, /, sqrt, fma result is
  rnd of an exact real, so the normal-range x(1+delta) model and the mixed model for all of them follow
  from this lemma.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

from qbound.proofs.engines import get_engine, smtlib
from qbound.proofs.engines.base import Unsupported, counterexample_record
from qbound.proofs.engines.smt import SmtEngine
from qbound.proofs.verdict import Verdict


def smt_engine(solver: str) -> SmtEngine:
    """The SMT engine ``solver`` from the engine registry (:func:`proofs.engines.get_engine`):
    the one path to a solver for reduced queries as for claims. An unknown name is an
    :class:`~qbound.numeric.errors.InputError` that lists the engines; an engine that does not
    decide SMT queries (exhaustive, compiled) is :class:`Unsupported`.

    >>> smt_engine("bitwuzla").name
    'bitwuzla'
    >>> smt_engine("exhaustive")
    Traceback (most recent call last):
    ...
    qbound.proofs.engines.base.Unsupported: engine 'exhaustive' does not decide SMT queries (use bitwuzla, z3 or cvc5)
    """
    eng = get_engine(solver)
    if not isinstance(eng, SmtEngine):
        raise Unsupported(f"engine {solver!r} does not decide SMT queries (use bitwuzla, z3 or cvc5)")
    return eng


def _versions(solver):
    return smt_engine(solver).version()


def _round_bv(S_, s, p, mode, W, choice, S=smtlib):
    """Round nonnegative BV S_ at shift s (quantum 2^s): returns (Q, up) as BVs of width W."""
    one = S.BitVecVal(1, W)
    K = S.LShR(S_, s)
    R = S_ - (K << s)
    half = S.If(s == 0, S.BitVecVal(0, W), one << (s - 1))
    if mode == "rne":
        up = S.And(s > 0, S.Or(S.UGT(R, half), S.And(R == half, (K & one) == one)))
    elif mode == "rna":
        up = S.And(s > 0, S.UGE(R, half))
    elif mode in ("rtz",):
        up = S.BoolVal(False)
    elif mode == "sr":
        up = S.And(S.UGT(R, 0), choice)
    elif mode == "rup":  # positive operands in the reduced queries
        up = S.UGT(R, 0)
    elif mode == "rdn":
        up = S.BoolVal(False)
    else:
        raise ValueError(mode)
    Q = (K + S.If(up, one, S.BitVecVal(0, W))) << s
    return Q


def _frac(bound: Fraction):
    return bound.numerator, bound.denominator


def product_query(p: int, mode: str, bound: Fraction, S=smtlib, strict: bool = False):
    """Assertions satisfiable iff some p-bit significands A, B violate |rnd(AB) - AB| <= bound AB."""
    N, D = _frac(bound)
    W = 3 * p + max(D.bit_length(), N.bit_length()) + 4
    A, B = S.BitVec("A", W), S.BitVec("B", W)
    lo, hi = S.BitVecVal(1 << (p - 1), W), S.BitVecVal(1 << p, W)
    c = S.Bool("sr_choice")
    P = A * B
    s = S.If(S.UGE(P, S.BitVecVal(1 << (2 * p - 1), W)), S.BitVecVal(p, W), S.BitVecVal(p - 1, W))
    Q = _round_bv(P, s, p, mode, W, c, S)
    E = S.If(S.UGE(Q, P), Q - P, P - Q)
    return [S.UGE(A, lo), S.ULT(A, hi), S.UGE(B, lo), S.ULT(B, hi), S.ULE(B, A),
            (S.UGE if strict else S.UGT)(E * S.BitVecVal(D, W), P * S.BitVecVal(N, W))]


def sum_query(p: int, mode: str, bound: Fraction, subtract: bool | None = None, G: int | None = None, S=smtlib,
              strict: bool = False):
    """Assertions satisfiable iff some (A, B, g, sign) violates the sum bound (see docstring);
    ``strict``: the bound is ``<`` (violated by equality too)."""
    G = p + 3 if G is None else G
    N, D = _frac(bound)
    W = G + p + 2 + max(D.bit_length(), N.bit_length()) + p + 2
    A, B, g = S.BitVec("A", W), S.BitVec("B", W), S.BitVec("g", W)
    neg = S.Bool("neg") if subtract is None else S.BoolVal(bool(subtract))
    c = S.Bool("sr_choice")
    Ax = A << G
    Bx = S.LShR(B << G, g)
    exact_b = (S.LShR(Bx, 0) << g) == (B << G)   # b has no bits below 2^-G after alignment
    Sum = S.If(neg, Ax - Bx, Ax + Bx)
    # leading-one position L of Sum, quantum shift s = max(L - (p - 1), 0)
    s = S.BitVecVal(0, W)
    for L in range(p, G + p + 2):
        s = S.If(S.UGE(Sum, S.BitVecVal(1 << L, W)), S.BitVecVal(L - (p - 1), W), s)
    Q = _round_bv(Sum, s, p, mode, W, c, S)
    E = S.If(S.UGE(Q, Sum), Q - Sum, Sum - Q)
    cons = [S.UGE(A, 1 << (p - 1)), S.ULT(A, 1 << p), S.ULT(B, 1 << p), S.ULE(g, G), exact_b,
            S.ULE(Bx, Ax), S.UGT(Sum, 0),
            (S.UGE if strict else S.UGT)(E * S.BitVecVal(D, W), Sum * S.BitVecVal(N, W))]
    return cons


def real_conversion_query(p: int, mode: str, bound: Fraction, region: str = "normal", eta: Fraction | None = None, S=smtlib,
                          strict: bool = False):
    """Satisfiable iff some real x in the region violates the bound.

    region "normal": |rnd(x) - x| <= bound |x| for x = X in [2^(p-1), 2^p) (units of the quantum);
    region "subnormal": |rnd(x) - x| <= eta for x = X in [0, 2^(p-1)), eta in units of minsub.
    """
    X = S.Real("X")
    K = S.Int("K")
    c = S.Bool("sr_choice")
    r = X - K
    if mode == "rne":
        up = S.Or(r > Fraction(1, 2), S.And(r == Fraction(1, 2), K % 2 == 1))
    elif mode == "rna":
        up = r >= Fraction(1, 2)
    elif mode == "rtz":
        up = S.BoolVal(False)
    elif mode == "sr":
        up = S.And(r > 0, c)
    elif mode == "rup":
        up = r > 0
    else:
        up = S.BoolVal(False)
    Q = S.ToReal(K) + S.If(up, S.RealVal(1), S.RealVal(0))
    E = S.If(Q >= X, Q - X, X - Q)
    base = [S.ToReal(K) <= X, X < S.ToReal(K) + 1]
    if region == "normal":
        return base + [K >= 1 << (p - 1), K < 1 << p, (E >= S.RealVal(bound) * X) if strict else (E > S.RealVal(bound) * X)]
    return base + [K >= 0, K < 1 << (p - 1), E > S.RealVal(eta)]


def quotient_query(p: int, mode: str, bound: Fraction, S=smtlib):
    """Satisfiable iff some significands A, B violate |rnd(A/B) - A/B| <= bound A/B."""
    Nb, D = _frac(bound)
    W = 4 * p + max(D.bit_length(), Nb.bit_length()) + 8
    A, B = S.BitVec("A", W), S.BitVec("B", W)
    c = S.Bool("sr_choice")
    one, zero = S.BitVecVal(1, W), S.BitVecVal(0, W)
    N = A << (p + 1)
    # integer division as constraints (multiplication is far easier for the solvers than bvudiv)
    Q0, R0 = S.BitVec("Q0", W), S.BitVec("R0", W)
    divc = [N == Q0 * B + R0, S.ULT(R0, B), S.ULT(Q0, 1 << (p + 3))]
    s = S.If(S.UGE(A, B), S.BitVecVal(2, W), one)       # quotient in [2^(p+1), 2^(p+2)) or below
    K = S.LShR(Q0, s)
    low = Q0 - (K << s)
    half = one << (s - 1)
    gt_half = S.Or(S.UGT(low, half), S.And(low == half, S.UGT(R0, 0)))
    eq_half = S.And(low == half, R0 == 0)
    inexact = S.Or(low != 0, S.UGT(R0, 0))
    if mode == "rne":
        up = S.Or(gt_half, S.And(eq_half, (K & one) == one))
    elif mode == "rna":
        up = S.Or(gt_half, eq_half)
    elif mode in ("rtz", "rdn"):
        up = S.BoolVal(False)
    elif mode == "rup":
        up = inexact
    else:
        up = S.And(inexact, c)
    Q = (K + S.If(up, one, zero)) << s
    QB = Q * B
    E = S.If(S.UGE(QB, N), QB - N, N - QB)
    lo, hi = S.BitVecVal(1 << (p - 1), W), S.BitVecVal(1 << p, W)
    return divc + [S.UGE(A, lo), S.ULT(A, hi), S.UGE(B, lo), S.ULT(B, hi),
                   S.UGT(E * S.BitVecVal(D, W), N * S.BitVecVal(Nb, W))]


def sqrt_query(p: int, mode: str, bound: Fraction, S=smtlib):
    """Satisfiable iff some significand A and exponent parity t violate the sqrt bound.

    X = A 2^(p-1+t) (so sqrt(X) = sqrt(a) 2^m has p integer bits), Y = 4X, R = isqrt(Y) (a free
    variable constrained by R^2 <= Y < (R+1)^2): R has p+1 bits, its last bit is the round bit and
    Y > R^2 the sticky bit."""
    Nb, D = _frac(bound)
    W = 2 * (p + 3) + 2 * max(D.bit_length(), Nb.bit_length()) + 2 * p + 8
    A, R = S.BitVec("A", W), S.BitVec("R", W)
    t = S.Bool("t")
    c = S.Bool("sr_choice")
    one, zero = S.BitVecVal(1, W), S.BitVecVal(0, W)
    X = S.If(t, A << p, A << (p - 1))
    Y = X << 2
    cons = [S.UGE(A, 1 << (p - 1)), S.ULT(A, 1 << p), S.ULT(R, 1 << (p + 2)),
            S.ULE(R * R, Y), S.UGT((R + 1) * (R + 1), Y)]
    K = S.LShR(R, 1)
    rbit = R & one
    sticky = S.UGT(Y, R * R)
    inexact = S.Or(rbit == one, sticky)
    if mode == "rne":
        up = S.And(rbit == one, S.Or(sticky, (K & one) == one))
    elif mode == "rna":
        up = rbit == one
    elif mode in ("rtz", "rdn"):
        up = S.BoolVal(False)
    elif mode == "rup":
        up = inexact
    else:
        up = S.And(inexact, c)
    Q = (K + S.If(up, one, zero)) << 1
    Q2 = Q * Q
    d2 = S.BitVecVal(D * D, W)
    lo_c, hi_c = S.BitVecVal((D - Nb) ** 2, W), S.BitVecVal((D + Nb) ** 2, W)
    cons.append(S.Or(S.ULT(d2 * Q2, lo_c * Y), S.UGT(d2 * Q2, hi_c * Y)))
    return cons


def decide_query(assertions, solver="z3", timeout=30.0, smt2_dir=None, stem="reduced"):
    """(status, model, seconds, smt2 path) for a reduced query: unsat = proved. The query goes
    through the solver's registered engine (:func:`smt_engine`, :meth:`SmtEngine.solve_query`:
    capabilities, timeout, smt2 writing); a solver error, or a query the engine lacks a feature
    or sort for, is ("unknown", {"error": reason}, ...), never proved.

    >>> x = smtlib.BitVec("x", 4)
    >>> decide_query([smtlib.UGT(x, 15)], "bitwuzla")[0]
    'unsat'
    >>> decide_query([smtlib.Real("r") > 0], "bitwuzla")[:2]
    ('unknown', {'error': 'unsupported: bitwuzla does not decide real arithmetic (query needs real)'})
    """
    eng = smt_engine(solver)
    try:
        st, model, secs, path, reason = eng.solve_query(
            assertions, timeout, smt2_dir, stem, f"qbound reduced query {stem}")
    except Unsupported as exc:
        return "unknown", {"error": f"unsupported: {exc}"}, 0.0, None
    if st == "unknown" and reason.startswith("solver error"):
        return "unknown", {"error": reason}, secs, path
    return st, model, secs, path


def _bv(model, name, default=0):
    v = model.get(name)
    return v[2] if v and v[0] == "bv" else default


def _decide_reduced(query, solver, timeout, smt2_dir, stem, engine, details):
    """Decide a reduced query. Returns (verdict, model, seconds): the verdict is "proved" for unsat,
    "unknown" for a timeout or engine error, and None for sat (the caller replays the model)."""
    st, model, secs, path = decide_query(query, solver, timeout, smt2_dir, stem)
    details["smt2"] = path
    if st == "unsat":
        return Verdict("proved", engine, _versions(solver), secs, details=details), model, secs
    if st == "unknown":
        return (Verdict("unknown", engine, _versions(solver), secs, reason=str(model) or "timeout",
                        details=details), model, secs)
    return None, model, secs


def product_lemma(fmt, mode, bound=None, solver="bitwuzla", timeout=30.0, smt2_dir=None, strict=False) -> Verdict:
    """Normal-range product lemma |rnd(a*b) - a*b| <= bound*|a*b| (``strict``: <) via the significand
    reduction. A counterexample is mapped back to format values and replayed through the unreduced claim."""
    from qbound.proofs.exact import build_claim
    bound = Fraction(bound if bound is not None else fmt.rel_error_bound(mode))
    eng = f"{solver}+significand-reduction"
    det: dict[str, Any] = {"reduction": "product: significands only"}
    verdict, model, secs = _decide_reduced(product_query(fmt.p, mode, bound, strict=strict), solver, timeout, smt2_dir,
                                           f"product-{fmt.name}-{mode}", eng, det)
    if verdict is not None:
        return verdict
    A, B = _bv(model, "A"), _bv(model, "B")
    m = fmt.man_bits
    claim = build_claim(f"abs(rnd(a*b) - a*b) {'<' if strict else '<='} bnd*abs(a*b)", fmt, mode,
                        assume=["tiny <= abs(a*b) <= huge"], consts={"bnd": bound})
    env = {"a": Fraction(A, 1 << m), "b": Fraction(B, 1 << m)}
    det["significands"] = {"A": A, "B": B}
    return counterexample_record(claim, env, eng, _versions(solver), time.perf_counter() - secs, det)


def sum_lemma(fmt, mode, bound=None, solver="bitwuzla", timeout=30.0, smt2_dir=None, full_gaps=None, strict=False) -> Verdict:
    """Normal-range sum lemma |rnd(a+b) - (a+b)| <= bound*|a+b| (``strict``: <) via the significand/gap reduction."""
    from qbound.proofs.exact import build_claim
    bound = Fraction(bound if bound is not None else fmt.rel_error_bound(mode))
    full = (fmt.emax - fmt.emin) <= 64 if full_gaps is None else full_gaps
    G = (fmt.emax - fmt.emin) if full else fmt.p + 3
    q = sum_query(fmt.p, mode, bound, G=G, strict=strict)
    st, model, secs, path = decide_query(q, solver, timeout, smt2_dir, f"sum-{fmt.name}-{mode}")
    eng = f"{solver}+significand-gap-reduction"
    det: dict[str, Any] = {"reduction": f"sum: significands and exponent gap <= {G}" +
           ("" if full else "; larger gaps by the conversion lemma over reals"), "smt2": path, "max_gap": G}
    if st == "unsat":
        if not full:
            far, _ = real_conversion(fmt, mode, bound=bound, timeout=timeout, strict=strict)
            det["far_gaps"] = far.to_dict()
            secs += far.seconds
            if far.status != "proved":
                return Verdict("unknown", eng, _versions(solver), secs,
                               reason=f"near gaps proved; far gaps: {far.status}", details=det)
        return Verdict("proved", eng, _versions(solver), secs, details=det)
    if st == "unknown":
        return Verdict("unknown", eng, _versions(solver), secs, reason=str(model) or "timeout", details=det)
    A, B, g = _bv(model, "A"), _bv(model, "B"), _bv(model, "g")
    neg = model.get("neg", ("bool", False))[1]
    m = fmt.man_bits
    claim = build_claim(f"abs(rnd(a+b) - (a+b)) {'<' if strict else '<='} bnd*abs(a+b)", fmt, mode,
                        assume=["tiny <= abs(a+b) <= huge"], consts={"bnd": bound})
    bval = Fraction(B, 1 << (m + g))
    env = {"a": Fraction(A, 1 << m), "b": -bval if neg else bval}
    det["significands"] = {"A": A, "B": B, "gap": g, "subtract": bool(neg)}
    return counterexample_record(claim, env, eng, _versions(solver), time.perf_counter() - secs, det)


def quotient_lemma(fmt, mode, bound=None, solver="bitwuzla", timeout=30.0, smt2_dir=None) -> Verdict:
    """Normal-range quotient lemma via the significand reduction (counterexamples replayed in the
    multiplied-out claim |rnd(a/b) b - a| <= bound |a|)."""
    from qbound.proofs.exact import build_claim
    bound = Fraction(bound if bound is not None else fmt.rel_error_bound(mode))
    eng = f"{solver}+significand-reduction"
    det: dict[str, Any] = {"reduction": "quotient: significands only"}
    verdict, model, secs = _decide_reduced(quotient_query(fmt.p, mode, bound), solver, timeout, smt2_dir,
                                           f"quotient-{fmt.name}-{mode}", eng, det)
    if verdict is not None:
        return verdict
    A, B = _bv(model, "A"), _bv(model, "B")
    m = fmt.man_bits
    claim = build_claim("abs(rnd(a/b)*b - a) <= bnd*abs(a)", fmt, mode,
                        assume=["b != 0", "tiny*abs(b) <= abs(a) <= huge*abs(b)"], consts={"bnd": bound})
    det["significands"] = {"A": A, "B": B}
    # a/b in [1, 2) when A >= B; otherwise scale a by 2 so the quotient is in [1, 2) (normal range)
    a = Fraction(A, 1 << m) * (1 if A >= B else 2)
    return counterexample_record(claim, {"a": a, "b": Fraction(B, 1 << m)}, eng,
                                 _versions(solver), time.perf_counter() - secs, det)


def sqrt_lemma(fmt, mode, bound=None, solver="bitwuzla", timeout=30.0, smt2_dir=None) -> Verdict:
    """Normal-range sqrt lemma via the significand/parity reduction."""
    from qbound.proofs.exact import build_claim
    bound = Fraction(bound if bound is not None else fmt.rel_error_bound(mode))
    eng = f"{solver}+significand-reduction"
    det: dict[str, Any] = {"reduction": "sqrt: significand and exponent parity"}
    verdict, model, secs = _decide_reduced(sqrt_query(fmt.p, mode, bound), solver, timeout, smt2_dir,
                                           f"sqrt-{fmt.name}-{mode}", eng, det)
    if verdict is not None:
        return verdict
    A = _bv(model, "A")
    par = bool(model.get("t", ("bool", False))[1])
    m = fmt.man_bits
    claim = build_claim("(1-bnd)**2*a <= rnd(sqrt(a))**2 <= (1+bnd)**2*a", fmt, mode,
                        assume=["tiny**2 <= a"], consts={"bnd": bound})
    det["significand"] = {"A": A, "odd_exponent": par}
    return counterexample_record(claim, {"a": Fraction(A << int(par), 1 << m)}, eng, _versions(solver),
                                 time.perf_counter() - secs, det)


def real_conversion(fmt, mode, bound=None, region="normal", eta=None, timeout=30.0, smt2_dir=None, strict=False):
    """Conversion lemma over all real x of the region (z3, linear integer/real arithmetic).

    Returns (Verdict, witness dict or None). The witness maximises how close the error comes to the
    bound: for attained bounds an x with error == bound; otherwise x with error >= (1 - 2^-20) bound.
    """
    p = fmt.p
    if region == "normal":
        bound = Fraction(bound if bound is not None else fmt.rel_error_bound(mode))
        q = real_conversion_query(p, mode, bound, "normal", strict=strict)
    else:
        q = real_conversion_query(p, mode, Fraction(0), "subnormal", eta=Fraction(eta))
    st, model, secs, path = decide_query(q, "z3", timeout, smt2_dir, f"conv-{region}-{fmt.name}-{mode}")
    det: dict[str, Any] = {"reduction": f"conversion over reals, {region} range, scale-invariant", "smt2": path}
    eng = "z3+real-conversion"
    if st == "unsat":
        v = Verdict("proved", eng, _versions("z3"), secs, details=det)
    elif st == "unknown":
        return Verdict("unknown", eng, _versions("z3"), secs, reason="timeout", details=det), None
    else:
        v = Verdict("falsified", eng, _versions("z3"), secs, details=det,
                    counterexample={"note": "real x (units of the quantum)"})
    return v, None


def conversion_witness(fmt, mode, bound=None, k=20):
    """A real x in [1, 2) whose rounding error comes closest to the bound: exact fraction, its
    relative error, and the ratio error/bound (1 when the bound is attained).

    Candidates are the points next to the rounding boundaries of the first and last significands
    (ties, and 2^-k above / below a grid point), rounded by the exact rational rounding function; the
    relative error is scale-invariant in the normal range, so [1, 2) is representative.
    """
    from qbound.proofs.exact import round_fraction
    p = fmt.p
    bound = Fraction(bound if bound is not None else fmt.rel_error_bound(mode))
    target = bound * (1 - Fraction(1, 1 << k))
    cands = []
    for Kv in (1 << (p - 1), (1 << (p - 1)) + 1, (1 << p) - 1):
        for frac in (Fraction(1, 2), Fraction(1, 1 << k), 1 - Fraction(1, 1 << k)):
            x = (Kv + frac) / Fraction(1 << (p - 1))
            for away in ((False, True) if mode == "sr" else (None,)):
                r = round_fraction(x, fmt, mode, away)
                if isinstance(r, float):
                    continue
                cands.append((abs(r - x) / x, x, r))
    err, x, r = max(cands)
    return {"x": x, "rounded": r, "rel_error": err, "ratio_to_bound": err / bound if bound else None,
            "attained": err == bound, "at_least_1_minus_2^-k": err >= target, "k": k}
