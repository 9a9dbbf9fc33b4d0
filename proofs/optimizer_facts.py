"""Optimizer-state facts for quantized Adam-like updates, with the constants actually used.

Constants are taken as the float64 values an optimizer computes with (``Fraction(float(x))``,
exactly dyadic), and their decimal meaning is reported alongside. Every function decides its
claims with :func:`qbound.proofs.prover.prove` (``engine``, default auto) and writes each SMT
query as SMT-LIB2 into ``smt2_dir`` when one is given (the suite's ``--smt2-dir``).

*Stagnation.* A stored second moment v (format F, mode R) is updated as
``v' = Q(beta2 * v + c * g^2)`` with ``c`` = 1 (Défossez form) or 1 - beta2 (PyTorch form). The
smallest possible new value (g = 0) is ``Q(beta2 * v)``, and Q is monotone with Q(v) = v, so
"the stored v can never decrease" is exactly the claim ``rnd(beta2 * v) == v`` for every positive
finite v. With t = 1 - beta2, the set {x : Q(x) = v} is an interval [L(v), U(v)] (ends open or
closed), so the claim holds iff t < t*(v) = (v - L(v))/v for all v (or t == t*(v) where L(v) is
closed). The threshold T = min_v t*(v) is computed exactly from the rounding cells (every positive
value for formats of at most 8 bits; for wider formats the binade-boundary, first/last
significand and subnormal candidates, which by scale invariance attain the minimum) and is then
*checked by an engine*: the claim is proved at 1 - beta2 = T (or just below T when T is not attained)
and falsified just past it, with a witness v.

*Swamping.* An update rnd(w - delta) leaves w unchanged for every w in the normal range when
|delta|/|w| < r* = min_w min((w - L(w))/w, (U(w) - w)/w) (both directions, both signs); by
monotonicity it suffices to check delta = +-r|w|, i.e. the claim ``rnd(w - r*w) == w and
rnd(w + r*w) == w`` for tiny <= |w| <= huge, proved at r* (or just below) and falsified just above.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable


from qbound.numeric.formats import check_rounding, get_format

from qbound.proofs.exact import fmt_value, round_fraction

_EPS_BITS = 24


def _as_used(value) -> Fraction:
    """The float64 value an optimizer computes with (exact)."""
    return Fraction(float(value))


def constant_rounding(value, fmt, rounding="rne", *, engine="auto", smt2_dir=None) -> dict:
    """How a constant (as its float64 value) rounds into ``fmt``.

    Returns dict: value (decimal of the float64), rounded (exact decimal), rounded_hex,
    representable (bool), rel_error (exact, as float and string), verdict (engine check of
    ``rnd(c) == rounded``).
    """
    from qbound.proofs.prover import prove
    fmt = get_format(fmt)
    check_rounding(rounding)
    c = _as_used(value)
    if rounding == "sr":
        lo = round_fraction(c, fmt, "sr", away=False)
        hi = round_fraction(c, fmt, "sr", away=True)
        v = prove("lo <= rnd(c) <= hi", fmt, "sr", consts={"c": c, "lo": lo, "hi": hi}, engine=engine, smt2_dir=smt2_dir)
        return {"value": fmt_value(c), "format": fmt.name, "rounding": rounding,
                "rounded": [fmt_value(lo), fmt_value(hi)], "representable": lo == hi,
                "rel_error": float(abs(hi - lo) / abs(c)) if c else 0.0, "verdict": v.to_dict()}
    r = round_fraction(c, fmt, rounding)
    if isinstance(r, float):
        v = prove("not (abs(rnd(c)) <= huge)", fmt, rounding, consts={"c": c}, engine=engine, smt2_dir=smt2_dir)
        return {"value": fmt_value(c), "format": fmt.name, "rounding": rounding, "rounded": repr(r),
                "representable": False, "rel_error": float("inf"), "verdict": v.to_dict()}
    v = prove("rnd(c) == r", fmt, rounding, consts={"c": c, "r": r}, engine=engine, smt2_dir=smt2_dir)
    rel = abs(r - c) / abs(c) if c else Fraction(0)
    return {"value": fmt_value(c), "format": fmt.name, "rounding": rounding, "rounded": fmt_value(r),
            "rounded_hex": fmt.hex(fmt.encode(float(r))), "representable": r == c,
            "rel_error": float(rel), "rel_error_exact": fmt_value(rel), "verdict": v.to_dict()}


def _positive_candidates(fmt, normal_only=False) -> list:
    """Positive finite values to scan for minimal cells (see module docstring)."""
    if fmt.total_bits <= 8:
        vals = fmt.finite_values(positive_only=True)
        out = [Fraction(float(x)) for x in vals]
    else:
        m = fmt.man_bits
        sigs = [Fraction(1), 1 + Fraction(1, 1 << m), 2 - Fraction(1, 1 << m), 2 - Fraction(2, 1 << m)]
        out = []
        for e in range(fmt.emin, fmt.emax + 1):
            out += [s * Fraction(2) ** e for s in sigs]
        ms = fmt.min_subnormal
        out += [ms, 2 * ms, 3 * ms, fmt.min_normal - ms, fmt.max_finite]
        out = sorted(x for x in set(out) if 0 < x <= fmt.max_finite)
    if normal_only:
        out = [x for x in out if x >= fmt.min_normal]
    return out


def _cell(v: Fraction, fmt, rounding, sign: int) -> tuple[Fraction, bool, Fraction, bool]:
    """The interval {x : every rounding outcome of x is v} for v = sign*|v|, as
    (L, L_closed, U, U_closed) in magnitudes."""
    ulp_below = fmt.ulp(v - v / (1 << (fmt.p + 2))) if v > fmt.min_subnormal else fmt.min_subnormal
    ulp_above = fmt.ulp(v)
    pred = v - ulp_below
    succ = v + ulp_above
    outs = [None] if rounding != "sr" else [False, True]

    def same(x):
        return all(round_fraction(sign * x, fmt, rounding, a) == sign * v for a in outs)
    L: Fraction | None = None
    Lc = Uc = True
    for c in (pred, (pred + v) / 2, v):
        if c < 0:
            continue
        if same(c):
            L, Lc = c, True
            break
        nxt = c + (v - pred) / (1 << _EPS_BITS)
        if nxt <= v and same(nxt):
            L, Lc = c, False
            break
    U: Fraction | None = None
    for c in (succ, (succ + v) / 2, v):
        if same(c):
            U, Uc = c, True
            break
        prv = c - (succ - v) / (1 << _EPS_BITS)
        if prv >= v and same(prv):
            U, Uc = c, False
            break
    # the last candidate is v itself, a value of the format, which rounds to itself
    assert L is not None and U is not None, f"no rounding cell found around {v}"
    return L, Lc, U, Uc


def _least(pairs: Iterable[tuple[Fraction, bool]]) -> tuple[Fraction, bool]:
    """The least value among (value, attained) pairs, and whether it is attained: it is when every
    pair at the least value is.

    >>> _least([(Fraction(1, 2), True), (Fraction(1, 4), True), (Fraction(1, 4), False)])
    (Fraction(1, 4), False)
    """
    least: Fraction | None = None
    att = True
    for t, closed in pairs:
        if least is None or t < least:
            least, att = t, closed
        elif t == least:
            att = att and closed
    if least is None:
        raise ValueError("no candidate values")
    return least, att


def _just_past(T: Fraction, att: bool, fmt) -> Fraction:
    """A point just past the threshold T: T itself when T is not attained, else T plus 2^-24 of
    max(T, 2^-p)."""
    return T + max(T, Fraction(1, 1 << fmt.p)) / (1 << _EPS_BITS) if att else T


def _signs(rounding):
    return (1, -1) if rounding in ("rup", "rdn") else (1,)


def stagnation_threshold(fmt, rounding="rne", beta2=0.999, *, engine="auto", smt2_dir=None) -> dict:
    """Whether the stored second moment can never decrease (see module docstring).

    Returns dict: beta2 (decimal of the float64), one_minus_beta2, threshold (exact T on 1 - beta2),
    threshold_attained (does t == T still stagnate?), condition (text), stagnates (engine verdict for
    the given beta2), verdict, witness (v that decreases past the threshold, with Q(beta2 v)),
    check_at_threshold and check_past_threshold (engine verdicts).
    """
    from qbound.proofs.prover import prove
    fmt = get_format(fmt)
    check_rounding(rounding)
    b2 = _as_used(beta2)
    if not (0 < b2 < 1):
        from qbound.numeric.errors import InputError
        raise InputError(f"beta2 must be in (0, 1), got {beta2}")
    # v >= 0: only the positive side of each cell matters
    T, att = _least(((v - L) / v, Lc) for v in _positive_candidates(fmt)
                    for L, Lc, _, _ in [_cell(v, fmt, rounding, 1)])
    claim = "rnd(b2 * v) == v"
    hyp = ["v > 0"]
    v_given = prove(claim, fmt, rounding, assume=hyp, consts={"b2": b2}, engine=engine, smt2_dir=smt2_dir)
    at = T if att else T - T / (1 << _EPS_BITS) if T > 0 else None
    past = _just_past(T, att, fmt)
    check_at = (prove(claim, fmt, rounding, assume=hyp, consts={"b2": 1 - at}, engine=engine, smt2_dir=smt2_dir)
                if at is not None else None)
    check_past = prove(claim, fmt, rounding, assume=hyp, consts={"b2": 1 - past}, engine=engine, smt2_dir=smt2_dir)
    wit_src = v_given if v_given.falsified else check_past
    witness = None
    if wit_src.falsified:
        cx = wit_src.counterexample
        assert cx is not None, "a falsified verdict carries its counterexample"
        witness = {"v": cx["v"], "Q(beta2*v)": cx["lhs"],
                   "one_minus_beta2": fmt_value(1 - b2) if wit_src is v_given else fmt_value(past)}
    return {
        "format": fmt.name, "rounding": rounding, "beta2": fmt_value(b2), "beta2_float": float(b2),
        "one_minus_beta2": fmt_value(1 - b2), "threshold": fmt_value(T), "threshold_float": float(T),
        "threshold_attained": bool(att),
        "condition": f"stored v never decreases iff 1 - beta2 {'<=' if att else '<'} {fmt_value(T)}",
        "stagnates": v_given.proved if v_given.status != "unknown" else None,
        "verdict": v_given.to_dict(), "witness": witness,
        "check_at_threshold": check_at.to_dict() if check_at else None,
        "check_past_threshold": check_past.to_dict(),
    }


def swamping_threshold(fmt, rounding="rne", *, engine="auto", smt2_dir=None) -> dict:
    """The exact relative update size below which rnd(w - delta) == w for all normal w.

    Returns dict: threshold (exact r*), threshold_attained, condition, verdict (engine check at r*
    or just below), witness (w and delta just above r* that change w), check_past_threshold.
    """
    from qbound.proofs.prover import prove
    fmt = get_format(fmt)
    check_rounding(rounding)
    R, att = _least(pair for w in _positive_candidates(fmt, normal_only=True) for s in _signs(rounding)
                    for L, Lc, U, Uc in [_cell(w, fmt, rounding, s)]
                    for pair in (((w - L) / w, Lc), ((U - w) / w, Uc)))
    # w - r*w = w*(1 - r): written as products with constants (smaller exact sorts for SMT)
    claim = "rnd(w*k1) == w and rnd(w*k2) == w"
    hyp = ["tiny <= abs(w) <= huge"]
    at = R if att else (R - R / (1 << _EPS_BITS) if R > 0 else Fraction(0))
    past = _just_past(R, att, fmt)
    v_at = prove(claim, fmt, rounding, assume=hyp, consts={"k1": 1 - at, "k2": 1 + at}, engine=engine, smt2_dir=smt2_dir)
    v_past = prove(claim, fmt, rounding, assume=hyp, consts={"k1": 1 - past, "k2": 1 + past}, engine=engine, smt2_dir=smt2_dir)
    witness = None
    if v_past.falsified:
        cx = v_past.counterexample
        assert cx is not None, "a falsified verdict carries its counterexample"
        witness = {"w": cx["w"], "relative_update": fmt_value(past), "rounded": cx["lhs"]}
    return {
        "format": fmt.name, "rounding": rounding, "threshold": fmt_value(R), "threshold_float": float(R),
        "threshold_attained": bool(att),
        "condition": f"rnd(w - delta) == w for all normal w iff |delta|/|w| {'<=' if att else '<'} {fmt_value(R)}",
        "checked_at": fmt_value(at), "verdict": v_at.to_dict(), "witness": witness,
        "check_past_threshold": v_past.to_dict(),
    }
