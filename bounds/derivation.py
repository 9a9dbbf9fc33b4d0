"""Derivation objects and the check machinery behind every step of a bound.

A :class:`Derivation` is a named chain of :class:`Step` objects that lead from explicit
:class:`Premise` objects (smoothness, gradient bound or variance, lower bound, unbiasedness, one
rounding premise ``|Q_X(x) - x| <= q_X |x|`` per quantized component, and, where we lean on a
published proof skeleton, a *cited* premise that says so) to a closed-form bound.

Every step carries one or more :class:`Check` results:

* ``symbolic``   SymPy proves the relation: an identity (``simplify(lhs - rhs) == 0``) or a
  non-negativity (the difference, after the substitution that the step names, is a sum of
  non-negative terms, i.e. SymPy's assumption system returns ``is_nonnegative is True``).
* ``sampled``    the relation is evaluated at ``n >= 10^4`` random parameter points.  All points are
  screened in float64 (vectorized); the ``n_exact`` points with the smallest float margins (and any
  point whose float margin is below ``-1e-9`` or not finite, up to 2000) are re-evaluated in
  mpmath at 50 significant digits from the *same* (exactly representable) inputs.  The reported
  ``worst_margin`` is the smallest exact margin (normalised by the scale the step names); any
  exact margin below ``-1e-30`` fails the check (the tolerance only absorbs the 50-digit rounding
  of mpmath at points where the inequality holds with equality, e.g. q = 0).  ``exact_all=True`` evaluates every point in mpmath.
* ``trajectory`` the inequality is checked on real quantized sequences produced by
  :func:`numeric.rounding.quantize` (every step, every coordinate).

A failed check fails the step, and a failed step fails the derivation (``Derivation.status``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy as sp

from qbound._version import version

CHECK_KINDS = ("symbolic", "sampled", "trajectory")


@dataclass
class Premise:
    """An assumption the derivation rests on.

    kind: ``"assumption"`` (problem class: smoothness, bounds, unbiasedness), ``"rounding"`` (one per
    quantized component), or ``"cited"`` (a published proof step we rely on without re-deriving it;
    results that depend on a cited premise say so).
    """

    name: str
    statement: str
    kind: str = "assumption"
    source: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "kind": self.kind, "source": self.source}


@dataclass
class Check:
    """The outcome of one check of one step."""

    kind: str
    status: str  # "passed" | "failed"
    worst_margin: float | None = None
    points: int = 0
    seconds: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "status": self.status, "worst_margin": self.worst_margin,
                "points": self.points, "seconds": round(self.seconds, 4), "detail": self.detail}


@dataclass
class Step:
    """One named step: a statement (text), optionally its SymPy relation, and its checks."""

    name: str
    statement: str
    checks: list = field(default_factory=list)
    relation: object = None  # a SymPy expression/relation the step establishes, if any
    uses: tuple = ()  # names of premises/steps it uses
    cited: bool = False  # True if the step leans on a cited premise

    @property
    def status(self) -> str:
        if not self.checks:
            return "failed"
        return "passed" if all(c.status == "passed" for c in self.checks) else "failed"

    @property
    def check(self) -> str:
        """The kinds of check this step carries, joined by '+' (e.g. 'sampled+trajectory')."""
        return "+".join(dict.fromkeys(c.kind for c in self.checks))

    @property
    def worst_margin(self):
        ms = [c.worst_margin for c in self.checks if c.worst_margin is not None]
        return min(ms) if ms else None

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "check": self.check,
                "status": self.status, "worst_margin": self.worst_margin,
                "relation": None if self.relation is None else str(self.relation),
                "uses": list(self.uses), "cited": self.cited,
                "checks": [c.to_dict() for c in self.checks]}


@dataclass
class Derivation:
    """A derivation: premises, steps, the final bound (SymPy) and its conditions."""

    name: str
    symbols: dict
    premises: list
    steps: list
    bound: sp.Expr
    conditions: list
    terms: dict = field(default_factory=dict)  # bound = prefactor * sum(terms)
    prefactor: sp.Expr = sp.Integer(1)
    extras: dict = field(default_factory=dict)  # further named expressions (variants, anchors)
    notes: list = field(default_factory=list)
    reductions: dict = field(default_factory=dict)  # q = 0 comparisons with the full-precision anchors
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "passed" if all(s.status == "passed" for s in self.steps) else "failed"

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self, asymptotics: dict | None = None) -> dict:
        """The derivation as JSON-ready data; ``asymptotics``, when given, is the derivation's rate
        table (``qbound.bounds.rate_table(name, derivation=self)``) and is included as is."""
        d = {
            "derivation": self.name,
            "status": self.status,
            "symbols": sorted(self.symbols),
            "bound": str(self.bound),
            "prefactor": str(self.prefactor),
            "terms": {k: str(v) for k, v in self.terms.items()},
            "conditions": [str(c) for c in self.conditions],
            "extras": {k: str(v) for k, v in self.extras.items()},
            "premises": [p.to_dict() for p in self.premises],
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
            "reductions": dict(self.reductions),
            "seconds": round(self.seconds, 3),
            "version": version(),
            "rerun": f"qbound derive {self.name} --json FILE",
        }
        if asymptotics:
            d["asymptotics"] = asymptotics
        return d

    def latex(self) -> str:
        lines = [f"% qbound derivation: {self.name} (status: {self.status})"]
        for s in self.steps:
            lines.append(f"% step {s.name} [{s.check}: {s.status}]: {s.statement}")
        lines.append(r"\begin{align*}")
        lines.append(r"\text{bound} &\le " + sp.latex(self.bound) + r"\\")
        for c in self.conditions:
            lines.append(r"\text{condition} &: " + sp.latex(c) + r"\\")
        lines.append(r"\end{align*}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# symbolic checks


def check_identity(lhs, rhs, detail: str = "", atoms: dict | None = None) -> Check:
    """Passes iff SymPy reduces lhs - rhs to 0 (cancel, then simplify).

    ``atoms`` maps sub-expressions to fresh symbols (xreplace) before comparing: a pure speed device,
    sound because an identity in the fresh symbols implies the identity for any values of them.
    """
    t0 = time.perf_counter()
    if atoms:
        lhs, rhs = lhs.xreplace(atoms), rhs.xreplace(atoms)
    diff = sp.cancel(sp.together(lhs - rhs))
    if diff != 0:
        diff = sp.simplify(diff)
    ok = diff == 0
    return Check("symbolic", "passed" if ok else "failed", 0.0 if ok else None, 0,
                 time.perf_counter() - t0,
                 (detail + "; " if detail else "") + ("lhs - rhs simplifies to 0" if ok else f"lhs - rhs = {diff}"))


def proves_nonnegative(expr) -> bool:
    """True iff SymPy can show expr >= 0 from the symbols' assumptions (after factor/together)."""
    for form in (expr, sp.expand(expr), sp.factor(sp.together(expr))):
        if form.is_nonnegative is True:
            return True
    num, den = sp.fraction(sp.factor(sp.together(expr)))
    if (sp.expand(num).is_nonnegative is True or sp.factor(num).is_nonnegative is True) and den.is_positive is True:
        return True
    return False


def check_nonnegative(expr, subs: dict | None = None, detail: str = "") -> Check:
    """Passes iff SymPy proves ``expr >= 0`` after the (certificate) substitution ``subs``.

    ``subs`` replaces constrained symbols by manifestly admissible forms, e.g. beta2 -> 1/(1+t)
    with t > 0 for 0 < beta2 < 1, or q -> 1 - s with 0 < s for q < 1.
    """
    t0 = time.perf_counter()
    e = expr.subs(subs) if subs else expr
    ok = proves_nonnegative(e)
    return Check("symbolic", "passed" if ok else "failed", None, 0, time.perf_counter() - t0,
                 (detail + "; " if detail else "") + ("difference is a sum/product of non-negative terms"
                                                     if ok else f"SymPy could not show {sp.simplify(e)} >= 0"))


# --------------------------------------------------------------------------------------------
# sampled checks

def check_sampled(
    sampler: Callable[[np.random.Generator, int], dict],
    margin_float: Callable[[dict], np.ndarray],
    margin_exact: Callable[[dict], object],
    *,
    n: int = 10_000,
    seed: int = 0,
    n_exact: int = 24,
    exact_all: bool = False,
    exact_tol: float = 1e-30,
    detail: str = "",
) -> Check:
    """Sample n parameter points, screen the margin in float64, re-check the worst in mpmath.

    ``sampler(rng, n)`` returns a dict of float64 arrays (first axis = point).  ``margin_float``
    returns the normalised margin (>= 0 means the step holds) for all points at once;
    ``margin_exact(point)`` returns it for one point (a dict of Python floats, i.e. exact binary
    rationals) as an mpmath number computed at 50 digits.
    """
    import mpmath

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    params = sampler(rng, n)
    with np.errstate(all="ignore"):
        mf = np.asarray(margin_float(params), dtype=float)
    bad_float = ~np.isfinite(mf)
    order = np.argsort(np.where(bad_float, -np.inf, mf))
    if exact_all:
        idx = np.arange(n)
    else:
        neg = np.flatnonzero((mf < -1e-9) | bad_float)
        idx = np.unique(np.concatenate([order[:n_exact], neg[:2000]]))
        idx = idx[np.argsort(np.where(bad_float[idx], -np.inf, mf[idx]))]  # most suspicious first
    worst = None
    failed = []
    with mpmath.workdps(50):
        for i in idx:
            point = {k: (v[i].tolist() if np.ndim(v) > 1 else float(v[i])) for k, v in params.items()}
            m = margin_exact(point)
            if worst is None or m < worst:
                worst = m
            if m < -exact_tol:
                failed.append(int(i))
                break  # one exact counterexample fails the check
    ok = not failed
    msg = (f"{n} points (float64 screen), {len(idx) if not failed else 'stopped at the first of ' + str(len(idx))} re-checked in mpmath at 50 digits"
           + (f"; FAILED at {len(failed)} point(s), e.g. index {failed[0]}" if failed else ""))
    return Check("sampled", "passed" if ok else "failed", float(worst) if worst is not None else None, n,
                 time.perf_counter() - t0, (detail + "; " if detail else "") + msg)


def log_uniform(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def lambdify(expr, names):
    """numpy function of the named symbols in ``expr`` (names: list of Symbol)."""
    return sp.lambdify(names, expr, modules=["numpy"])
