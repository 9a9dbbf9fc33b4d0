r"""Fixed-precision error floors: what the worst-case bound still guarantees as T -> oo.

For constant q's (a given plan), the floor is  lim_{T -> oo} inf_{step size, beta2 (Adam) / beta (Muon)} bound.

Derivation.  The only step-size schedules that keep the bound finite as T -> oo are alpha = s/T
(Adam) and eta = s/T (Muon) with s > 0 fixed (a larger step makes the gradient-at-Q_W(x) term grow with
||x_T|| ~ T alpha, a smaller one leaves Delta/(alpha T) finite only if s stays bounded away from 0).
With q_V > 0 the branch Gamma^2 = 1/(1 - beta2(1+q_V)) of the Min is the finite one (it needs
beta2 < 1/(1+q_V)) and ln(1 + Vmax/eps)/T -> 0.  SymPy takes lim_{T->oo} of every term after these
substitutions; the result is exactly of the form  A/s + B s + C  (A, B, C >= 0 depending on beta2),
so the infimum over s is closed form:  2 sqrt(A B) + C  (C when B = 0, i.e. q_W = 0, approached as
s -> oo).  What remains is a one-dimensional minimisation over 1 - beta2 (or 1 - beta), done
numerically on a log grid refined by golden section, and reported with the minimiser.

"No finite floor" is reported when no admissible beta2 exists: Adam with momentum when the coupling
conditions beta1^2 (1+q_M)^2 < beta2 (1 - q_V) and beta1 < beta2 (1 - q_V) cannot hold for any
beta2 < 1/(1 + q_V) (e.g. beta1 = 0.9 with an fp8 first or second moment).  For Muon some beta is
always admissible (beta -> 0), and for Adam with beta1 = 0 some beta2 always is, so their floors are
finite for every q < 1 - but they can be far above anything a run shows (worst-case analysis).
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from qbound.bounds.evaluate import with_defaults
from qbound.numeric.errors import InputError

S_ = sp.Symbol("s", positive=True)

DEFAULT_CONSTANTS = {
    "adam": {"R": 1.0, "L": 1.0, "d": 1.0, "Delta": 1.0, "eps": 1e-8, "X0": 1.0, "Bx": math.inf},
    "muon": {"L": 1.0, "sigma": 1.0, "B": 1.0, "r": 1.0, "Delta": 1.0, "W0": 1.0},
}


def plan_qs(name: str, plan) -> dict:
    """{component: Fraction q} from a QuantPlan, a plan string, or a dict {X: q}."""
    comps = ("W", "G", "M", "V") if name == "adam" else ("W", "G", "M")
    if plan is None:
        return {X: Fraction(0) for X in comps}
    if isinstance(plan, dict):
        out = {X: Fraction(0) for X in comps}
        for X, q in plan.items():
            if X not in comps:
                raise InputError(f"component {X!r} is not part of the {name} bound; accepted: {', '.join(comps)}")
            out[X] = Fraction(q)
        return out
    from qbound.bounds.check_config import parse_plan
    p = parse_plan(plan) if isinstance(plan, str) else plan
    out = {}
    for X in comps:
        cq = getattr(p, X, None) if not isinstance(p, dict) else p.get(X)
        out[X] = Fraction(0) if cq is None else cq.fmt.rel_error_bound(cq.rounding)
    ignored = []
    if name == "muon":
        cv = getattr(p, "V", None) if not isinstance(p, dict) else p.get("V")
        if cv is not None:
            ignored.append("V")
    if ignored:
        raise InputError("Muon has no second moment: drop V from the plan")
    return out


def _mod(name):
    from qbound.bounds.registry import _module
    return _module(name)


@lru_cache(maxsize=64)
def _limit_form_cached(name: str, key: tuple, beta1_val):
    """(A, B, C, bsym, feasible upper bound for the decay) with lim_T bound = A/s + B s + C."""
    m = _mod(name)
    vals = dict(key)
    T = m.T
    if name == "adam":
        bsym = m.beta2
        qv = vals["q_V"]
        zero_b1 = beta1_val == 0
        terms = m.TERMS0 if zero_b1 else m.TERMS1
        expr = with_defaults(sp.Add(*terms.values()))   # no box: X is the drift bound, as T -> oo
        if qv == 0:
            G2 = sp.Integer(1)
            pick = lambda mn: mn.args[0]  # noqa: E731  (1+q_V)^T/(1-beta2) with q_V = 0
        else:  # the finite branch of each Min, valid for beta2 < 1/(1+q_V)
            G2 = 1 / (1 - m.beta2 * (1 + m.q_V))
            pick = lambda mn: [a for a in mn.args if isinstance(a, sp.Piecewise)][0].args[0].expr  # noqa: E731
        expr = expr.replace(lambda x: isinstance(x, sp.Min), pick)
        sub = {m.alpha: S_ / T, m.beta1: sp.Rational(beta1_val)}
        pref = sp.sqrt(G2)
    else:
        bsym = m.beta
        expr = m.BOUND
        sub = {m.eta: S_ / T}
        pref = sp.Integer(1)
    numsub = {m.SYMBOLS[k]: (sp.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) else sp.Rational(v))
              for k, v in vals.items()}  # exact binary values
    lim = 0
    for t in sp.Add.make_args(expr.subs(sub)):
        lt = sp.limit(t.subs(numsub), T, sp.oo)
        lim += lt
    lim = sp.expand(lim * S_)
    poly = sp.Poly(lim, S_)
    coeffs = {mon[0]: c for mon, c in zip(poly.monoms(), poly.coeffs())}
    A = coeffs.get(0, sp.Integer(0))
    C = coeffs.get(1, sp.Integer(0))
    Bc = coeffs.get(2, sp.Integer(0))
    if poly.degree() > 2:
        raise RuntimeError("limit is not of the form A/s + B s + C")
    pref = pref.subs(numsub)
    return A, Bc, C, pref, bsym


def _feasible_hi(name, qs, beta1_val):
    """Upper end of the admissible decay (beta2 for Adam, beta for Muon), exclusive; None if empty."""
    if name == "adam":
        hi = 1.0 / (1.0 + float(qs["V"])) if qs["V"] > 0 else 1.0
        lo = 0.0
        if beta1_val > 0:  # the conditions of the derived momentum bound (bounds.adam_momentum.CONDITIONS_MQ)
            qm, qv = float(qs["M"]), float(qs["V"])
            lo = max(beta1_val * (1 + qv) / (1 - qv), beta1_val * (1 + qm) / (1 - qv), (beta1_val * (1 + qv) / (1 - qv)) ** 2)
        return (lo, hi) if lo < hi else None
    hi = 1.0 / (1.0 + float(qs["M"]))
    return (0.0, hi)


def error_floor(name: str, plan=None, *, constants: dict | None = None, beta1: float = 0.0,
                per_component: bool = True) -> dict:
    """Floor of the worst-case bound for a fixed plan (T -> oo, inf over step size and beta2/beta).

    ``plan``: QuantPlan, plan string ("W=bf16,V=fp8_e4m3fn:rtz") or {X: q}.  ``beta1``: Adam's
    momentum (0 = the beta1 = 0 bound; > 0 the derived quantized momentum bound).  Returns a dict with
    the plan's floor, the minimising 1 - beta2 (or 1 - beta) and step constant s, and per-component
    floors (that component alone quantized)."""
    from qbound.bounds.evaluate import _check_name
    name = _check_name(name)
    qs = plan_qs(name, plan)
    consts = dict(DEFAULT_CONSTANTS[name])
    if constants:
        for k, v in constants.items():
            if v is not None and k in consts:
                consts[k] = float(v)
    if name == "muon":
        beta1 = 0.0
    res: dict = {"derivation": name, "plan": {X: str(q) for X, q in qs.items()}, "q": {X: float(q) for X, q in qs.items()},
           "constants": consts, "beta1": beta1,
           "method": "lim T->oo with step = s/T; inf over s in closed form (2 sqrt(AB) + C); inf over 1-decay numerically",
           "floor": _floor_for(name, qs, consts, beta1)}
    if per_component:
        res["per_component"] = {}
        for X, q in qs.items():
            if q == 0:
                continue
            only = {Y: (q if Y == X else Fraction(0)) for Y in qs}
            res["per_component"][X] = _floor_for(name, only, consts, beta1)
    return res


def _floor_for(name, qs, consts, beta1_val) -> dict:
    key = [(f"q_{X}", q) for X, q in qs.items()] + list(consts.items())
    rng = _feasible_hi(name, qs, beta1_val)
    if rng is None:
        return {"value": math.inf, "finite": False,
                "why": (f"no admissible beta2: the coupling conditions beta1(1+q_V) < beta2(1-q_V), beta1(1+q_M) < beta2(1-q_V) "
                        f"and beta1(1+q_V) < sqrt(beta2)(1-q_V) cannot hold with beta2 < 1/(1+q_V) for beta1 = {beta1_val}")}
    A, Bc, C, pref, bsym = _limit_form_cached(name, tuple(key), beta1_val)
    f = sp.lambdify([bsym], (pref * (2 * sp.sqrt(A * Bc) + C)), modules="mpmath")
    lo, hi = rng

    import mpmath

    def F(logd):
        b = 1 - mpmath.e ** logd
        if not (lo < b < hi):
            return mpmath.inf
        try:
            v = f(b)
        except (ZeroDivisionError, ValueError):
            return mpmath.inf
        if isinstance(v, mpmath.mpc):
            v = v.real if abs(v.imag) < 1e-25 else mpmath.inf
        return v if mpmath.isfinite(v) and v >= 0 else mpmath.inf

    with mpmath.workdps(30):
        # 1 - decay ranges over (1 - hi, 1 - lo); search log(1 - decay)
        dmin = max(1 - hi, 1e-300)
        lo_log = math.log(dmin) if 1 - hi > 0 else math.log(1e-16)
        hi_log = math.log(1 - lo) if lo > 0 else 0.0
        if hi_log <= lo_log:
            return {"value": math.inf, "finite": False, "why": "empty admissible range"}
        grid = np.linspace(lo_log, hi_log, 400)[1:-1]
        vals = [F(x) for x in grid]
        i = int(np.argmin([float(v) for v in vals]))
        if not mpmath.isfinite(vals[i]):
            return {"value": math.inf, "finite": False, "why": "the bound is infinite for every admissible decay"}
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        gr = (math.sqrt(5) - 1) / 2
        c, d_ = b - gr * (b - a), a + gr * (b - a)
        for _ in range(80):
            if F(c) < F(d_):
                b = d_
            else:
                a = c
            c, d_ = b - gr * (b - a), a + gr * (b - a)
        x = (a + b) / 2
        val = F(x)
        bval = 1 - math.exp(x)
        Av, Bv = A.subs(bsym, bval), Bc.subs(bsym, bval)
        s_opt = math.inf if float(Bv) == 0 else float(sp.sqrt(Av / Bv))
    decay = "beta2" if name == "adam" else "beta"
    out = {"value": float(val), "finite": True, f"one_minus_{decay}": math.exp(x), "s": s_opt,
           "step": ("alpha" if name == "adam" else "eta") + " = s/T"}
    if i == 0 and x - grid[0] < 1.0:
        # the minimum sits at the small-(1 - decay) edge: take SymPy's one-sided limit there
        edge = min(hi, 1.0)
        try:
            lim = sp.limit(pref * (2 * sp.sqrt(A * Bc) + C), bsym, sp.nsimplify(edge), dir="-")
            if lim.is_finite and float(lim) <= float(val):
                out["value"] = float(lim)
                out[f"one_minus_{decay}"] = float(1 - edge)
                out["note"] = (f"infimum approached as {decay} -> {edge:g} (not attained); value = SymPy's "
                               f"one-sided limit {lim}")
        except Exception as exc:  # keep the numeric value, say so
            out["note"] = f"minimum at the grid edge; SymPy limit failed ({type(exc).__name__})"
    return out
