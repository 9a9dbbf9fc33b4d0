r"""Rates: the leading order of every term of a bound as T -> oo under the schedule scalings.

Scalings.  Adam: alpha = a T^(-1/2), 1 - beta2 = b/T, beta1 fixed, q_X = c_X T^(-k_X).
Muon (the anchor's choice): eta = a T^(-3/4), 1 - beta = b T^(-1/2), q_X = c_X T^(-k_X).

Method.  :func:`leading` computes, by structural recursion on the SymPy expression, a triple
(coef, p, l) with expr ~ coef * T^p * (ln T)^l as T -> oo (products add exponents, sums keep the
largest (p, l) after ``expand`` removes cancellations, ln(1 + x) ~ x for x -> 0, ln(c T^p) ~ p ln T,
(1 + x)^T -> exp(lim T x), and p = +oo marks super-polynomial growth).  Every Min(A, B) in the bounds
is replaced by its first argument A before the analysis (Min(A, B) <= A, so the rates are those of an
upper bound; A is the binding branch as T -> oo whenever the rate is preserved).  Each (p, l) used in
a verdict is cross-checked with ``sympy.limit(term / (T^p (ln T)^l), T, oo)`` being finite and non-zero
where SymPy can decide it ("limit_check").

The smallest k_X that keeps the full-precision rate is searched on the grid k = 0, 1/4, ..., 3 with
every other q = 0; the mantissa length then follows as M_X >= k_X log2 T + const
(q = 2^-M for truncation, u/(1+u) with u = 2^-(M+1) for round-to-nearest).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from qbound.bounds.evaluate import with_defaults

INF = sp.oo
KGRID = [sp.Rational(i, 4) for i in range(0, 13)]
PAPER_K = {"adam": {"W": sp.Integer(2), "G": sp.Integer(1), "M": sp.Integer(1), "V": sp.Integer(2)},
           "muon": {"W": sp.Rational(1, 2), "G": sp.Rational(1, 2), "M": sp.Rational(1, 2)}}

a_, b_ = sp.symbols("a b", positive=True)
C_SYMS = {X: sp.Symbol(f"c_{X}", positive=True) for X in "WGMV"}


def _module(name):
    if name == "adam":
        from qbound.bounds import adam as m
    else:
        from qbound.bounds import muon as m
    return m


def scalings(name: str, ks: dict) -> dict:
    """Substitution dict for the schedule and q_X = c_X T^-k_X (k None or absent: q_X = 0)."""
    m = _module(name)
    T = m.T
    if name == "adam":
        sub = {m.alpha: a_ * T ** sp.Rational(-1, 2), m.beta2: 1 - b_ / T}
    else:
        sub = {m.eta: a_ * T ** sp.Rational(-3, 4), m.beta: 1 - b_ / sp.sqrt(T)}
    for X, q in m.QSYMS.items():
        k = ks.get(X)
        sub[q] = 0 if k is None else C_SYMS[X] * T ** (-k)
    return sub


def _drop_min(expr):
    """The first branch of every Min, after the evaluation defaults (bounds.evaluate.DEFAULTS: Bx = oo, no box,
    so X is the drift bound, which grows with T) are substituted: a Min's argument order is SymPy's, so the
    box branch must be gone first."""
    expr = with_defaults(expr)
    return expr.replace(lambda x: isinstance(x, sp.Min), lambda x: x.args[0]) if expr.has(sp.Min) else expr


def _key(pl):
    return (pl[0], pl[1])


def _gt(p1, l1, p2, l2):
    if p1 == INF or p2 == INF:
        return p1 == INF and p2 != INF
    return bool(p1 > p2) or (p1 == p2 and bool(l1 > l2))


def leading(e, T):
    """(coef, p, l): e ~ coef T^p (ln T)^l as T -> oo; p = oo for super-polynomial growth."""
    return _leading(sp.sympify(e), T)


@lru_cache(maxsize=20000)
def _leading(e, T):
    if not e.has(T):
        return (e, sp.Integer(0), sp.Integer(0))
    if e == T:
        return (sp.Integer(1), sp.Integer(1), sp.Integer(0))
    if e.is_Mul:
        c, p, l = sp.Integer(1), sp.Integer(0), sp.Integer(0)
        for f in e.args:
            cf, pf, lf = _leading(f, T)
            if pf == INF:
                return (sp.Integer(1), INF, sp.Integer(0))
            c, p, l = c * cf, p + pf, l + lf
        return (c, p, l)
    if e.is_Pow:
        base, ex = e.args
        if not ex.has(T):
            cb, pb, lb = _leading(base, T)
            if pb == INF:
                return (sp.Integer(1), INF, sp.Integer(0)) if ex > 0 else (sp.Integer(0), -INF, sp.Integer(0))
            return (cb ** ex, pb * ex, lb * ex)
        return _exp_leading(ex * sp.log(base), T)
    if isinstance(e, sp.exp):
        return _exp_leading(e.args[0], T)
    if isinstance(e, sp.log):
        arg = e.args[0]
        ca, pa, la = _leading(arg, T)
        if pa == INF:
            return (sp.Integer(1), INF, sp.Integer(0))  # conservative: super-polynomial inside a log
        if pa != 0:
            return (pa, sp.Integer(0), sp.Integer(1))
        if la != 0:
            raise ValueError(f"log of a pure log factor (log log T) is not handled: {e}")
        if sp.simplify(ca - 1) != 0:
            return (sp.log(ca), sp.Integer(0), sp.Integer(0))
        return _leading(sp.expand(arg - 1), T)  # ln(1 + x) ~ x
    if e.is_Add:
        parts = [_leading(t, T) for t in e.args]
        top = None
        for c, p, l in parts:
            if top is None or _gt(p, l, top[1], top[2]):
                top = (c, p, l)
        if top[1] == INF:
            return top
        coef = sp.Add(*[c for c, p, l in parts if p == top[1] and l == top[2]])
        if not _is_zero(coef):
            return (coef, top[1], top[2])
        ex = sp.expand(e)
        if ex != e:
            return _leading(ex, T)
        tg = sp.together(e)
        if not tg.is_Add:
            num, den = sp.fraction(tg)
            cn, pn, ln_ = _leading(sp.expand(num), T)
            cd, pd, ld = _leading(den, T)
            return (cn / cd, pn - pd, ln_ - ld)
        # a - t with t a square root (e.g. T^(3/2) - sqrt(T^3 - c)): multiply by the conjugate,
        # a + t = (a^2 - t^2)/(a - t), where t collects the terms with a root in T and t^2 has none
        t = sp.Add(*[x for x in e.args if _has_root_in(x, T)])
        a = e - t
        t2 = sp.expand(t ** 2)
        if t != 0 and not _has_root_in(a, T) and not _has_root_in(t2, T):
            cd, pd, ld = _leading(a - t, T)
            if not _is_zero(cd):
                cn, pn, ln_ = _leading(sp.expand(a ** 2 - t2), T)
                return (cn / cd, pn - pd, ln_ - ld)
        raise ValueError(f"cannot resolve cancellation in {e}")
    if isinstance(e, sp.Piecewise):
        for ex, cond in e.args:
            if cond == sp.true:
                return _leading(ex, T)
            if isinstance(cond, (sp.StrictLessThan, sp.LessThan)):
                c, p, l = _leading(sp.expand(cond.rhs - cond.lhs), T)
                if c.is_positive:
                    return _leading(ex, T)
                if c.is_negative:
                    continue
            raise ValueError(f"cannot decide {cond} asymptotically")
    if isinstance(e, sp.Min):
        parts = [_leading(t, T) for t in e.args]
        best = parts[0]
        for q in parts[1:]:
            if _gt(best[1], best[2], q[1], q[2]):
                best = q
        return best
    raise ValueError(f"no leading-order rule for {type(e).__name__}: {e}")


def _has_root_in(e, T) -> bool:
    """True if e contains a fractional power of an expression in T (a root that a conjugate can remove)."""
    return any(isinstance(x, sp.Pow) and x.exp.is_Rational and not x.exp.is_Integer and x.base.has(T) and x.base != T
               for x in sp.preorder_traversal(e))


def _is_zero(c) -> bool:
    """Zero test for a leading coefficient (an expression in positive constants).

    SymPy's assumptions first; otherwise evaluate at three random positive rational points with 40
    digits (a non-zero value proves non-zero; zero at all three is taken as identically zero, the
    Schwartz-Zippel argument for these rational-function-with-radicals coefficients)."""
    if c.is_zero is not None:
        return bool(c.is_zero)
    syms = sorted(c.free_symbols, key=lambda s: s.name)
    import random
    rnd = random.Random(12345)
    for _ in range(3):
        # beta1 must stay in (0, 1) for the coefficients to be real; the others are any positive value
        pt = {s: (sp.Rational(rnd.randint(1, 99), 100) if s.name == "beta1"
                  else sp.Rational(rnd.randint(1, 997), rnd.randint(1, 997))) for s in syms}
        v = sp.N(c.subs(pt), 40)
        if abs(v) > sp.Float(10) ** -30:
            return False
    return True


def _exp_leading(z, T):
    cz, pz, lz = _leading(sp.expand(z) if z.is_Add else z, T)
    if pz == INF:
        return (sp.Integer(1), INF, sp.Integer(0))
    if pz < 0 or (pz == 0 and lz < 0):
        return (sp.Integer(1), sp.Integer(0), sp.Integer(0))
    if pz == 0 and lz == 0:
        return (sp.exp(cz), sp.Integer(0), sp.Integer(0))
    if cz.is_positive:
        return (sp.Integer(1), INF, sp.Integer(0))
    return (sp.Integer(0), -INF, sp.Integer(0))


def order_str(p, l) -> str:
    if p == INF:
        return "super-polynomial (exp)"
    if p == -INF:
        return "super-polynomially small"
    s = "1" if p == 0 else f"T^({p})"
    if l != 0:
        s += " log(T)" if l == 1 else f" log(T)^{l}"
    return s


def _terms(name, variant):
    m = _module(name)
    if name == "adam":
        if variant == "beta1_0":
            return {k: m.Gamma * v for k, v in m.TERMS0.items()}
        return {k: m.Gamma * v for k, v in m.TERMS1.items()}
    return dict(m.TERMS)


def bound_order(name: str, ks: dict, variant: str = "momentum", only=None):
    """Leading (p, l) of the whole bound (max over terms) under the scalings.

    ``only``: a q symbol; if given, only the terms that contain it are analysed."""
    m = _module(name)
    sub = scalings(name, ks)
    best = None
    for t in _terms(name, variant).values():
        if only is not None and not t.has(only):
            continue
        e = _drop_min(t).subs(m.beta1, 0) if (name == "adam" and variant == "beta1_0") else _drop_min(t)
        c, p, l = leading(e.subs(sub), m.T)
        if c == 0:
            continue
        if best is None or _gt(p, l, best[0], best[1]):
            best = (p, l)
    return best


def min_k(name: str, X: str, variant: str = "momentum"):
    """Smallest k on KGRID such that q_X = c T^-k (others 0) keeps the full-precision rate."""
    p0, l0 = bound_order(name, {}, variant)
    q = _module(name).QSYMS[X]

    def keeps(k):
        o = bound_order(name, {X: k}, variant, only=q)
        return o is None or not _gt(o[0], o[1], p0, l0)

    # the order is non-increasing in k (q_X = c T^-k shrinks), so bisect on the grid
    lo, hi = 0, len(KGRID) - 1
    if not keeps(KGRID[hi]):
        return None
    if keeps(KGRID[lo]):
        return KGRID[lo]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if keeps(KGRID[mid]):
            hi = mid
        else:
            lo = mid
    return KGRID[hi]


def _limit_check(term, T, p, l):
    if p in (INF, -INF):
        return None
    try:
        lim = sp.limit(term / (T ** p * sp.log(T) ** l), T, sp.oo)
    except Exception:  # SymPy could not decide: report, do not guess
        return "undecided"
    if lim == 0 or lim.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or isinstance(lim, sp.Limit):
        return f"limit = {lim}"
    return "finite, non-zero" if lim.is_finite else f"finite, non-zero for admissible constants: {lim}"


@lru_cache(maxsize=8)
def _rate_table_cached(name: str, variant: str, limit_checks: bool) -> dict:
    m = _module(name)
    comps = list(m.QSYMS)
    p0, l0 = bound_order(name, {}, variant)
    kmin = {X: min_k(name, X, variant) for X in comps}
    paper = PAPER_K[name]
    rows = []
    for tname, t in _terms(name, variant).items():
        e = _drop_min(t)
        if name == "adam" and variant == "beta1_0":
            e = e.subs(m.beta1, 0)
        row = {"term": tname}
        for label, ks in (("q=0", {}), ("paper k", paper), ("our k_min", {X: kmin[X] for X in comps if kmin[X] is not None})):
            sub = scalings(name, ks)
            c, p, l = leading(e.subs(sub), m.T)
            row[label] = "0" if c == 0 else order_str(p, l)
            if limit_checks and label == "q=0" and c != 0:
                row["limit_check"] = _limit_check(e.subs(sub), m.T, p, l)
        rows.append(row)
    comparison = {}
    for X in comps:
        k, kp = kmin[X], paper[X]
        if k is None:
            verdict = "no k <= 3 on the grid keeps the rate"
        elif k == kp:
            verdict = "agree"
        elif k < kp:
            verdict = f"tighter: our bound needs only k = {k} (the paper asks for {kp})"
        else:
            verdict = f"cannot reach theirs: our bound needs k = {k}, the paper states {kp}"
        comparison[X] = {"k_min": str(k), "paper_k": str(kp), "verdict": verdict,
                         "bits": f"M_{X} >= {k} log2 T + const" if k is not None else None}
    sc = ("alpha = a T^-1/2, 1 - beta2 = b/T, beta1 fixed" if name == "adam"
          else "eta = a T^-3/4, 1 - beta = b T^-1/2")
    out = {"derivation": name, "variant": variant if name == "adam" else "nuclear",
           "scalings": sc + ", q_X = c_X T^-k_X", "full_precision_rate": order_str(p0, l0),
           "terms": rows, "k_grid": "0, 1/4, ..., 3", "comparison": comparison,
           "note": "Min(A, B) replaced by A (an upper bound) before the analysis."}
    if name == "muon":
        out["reviewer"] = m.reviewer_limit()
    return out


def rate_table(name: str, derivation=None, variant: str | None = None, limit_checks: bool = True) -> dict:
    """The asymptotic table for ``name``; for Adam both the beta1 = 0 (fully derived) and the
    momentum (cited skeleton) variants when ``variant`` is None."""
    from qbound.bounds.evaluate import _check_name
    name = _check_name(name)
    if name == "adam" and variant is None:
        return {"beta1_0": _rate_table_cached(name, "beta1_0", limit_checks),
                "momentum": _rate_table_cached(name, "momentum", limit_checks)}
    return _rate_table_cached(name, variant or "momentum", limit_checks)
