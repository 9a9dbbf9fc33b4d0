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

def sample_q(rng, n, hi=0.25):
    """n rounding rates q drawn from U[0, hi], with 10% set to 0 and 10% to hi (the ends, where the
    inequalities of a step are tightest, are always sampled).

    >>> import numpy as np
    >>> q = sample_q(np.random.default_rng(0), 1000)
    >>> bool(q.min() == 0.0 and q.max() == 0.25)
    True
    """
    q = rng.uniform(0, hi, n)
    q[rng.random(n) < 0.1] = 0.0
    q[rng.random(n) < 0.1] = hi
    return q


CHECK_KINDS = ("proof", "symbolic", "sampled", "trajectory")


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
    proof: list = field(default_factory=list)  # obligations / inductions / rule applications (bounds.obligation)
    discharges: list = field(default_factory=list)  # (item name, Discharge) in the order of ``proof``

    @property
    def proof_status(self) -> str:
        """"proved" iff the step carries a proof (kind "proof" check) and every item of it is proved by
        an engine (rule applications: a fixed rule applied to proved items); else "unproved"."""
        pc = [c for c in self.checks if c.kind == "proof"]
        return "proved" if pc and all(c.status == "passed" for c in pc) else "unproved"

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
                "uses": list(self.uses), "cited": self.cited, "proof_status": self.proof_status,
                "checks": [c.to_dict() for c in self.checks],
                "proof": [dict(it.to_dict(), **_discharge_summary(d)) for it, (_, d) in zip(self.proof, self.discharges)]}


def _discharge_summary(d) -> dict:
    import hashlib
    return {"status": d.status, "engine": d.engine, "seconds": round(d.seconds, 4), "cached": d.cached, "key": d.key,
            "detail": d.detail, "counterexample": d.counterexample, "recheck": d.recheck,
            "smt2_sha256": hashlib.sha256(d.smt2.encode()).hexdigest() if d.smt2 else ""}


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

    def proof_summary(self, mutants: dict | None = None) -> dict:
        """Steps proved / total, the unproved steps (and why), the rule applications, sampled-only steps."""
        unproved = []
        for s in self.steps:
            if s.proof_status != "proved":
                pc = [c for c in s.checks if c.kind == "proof"]
                unproved.append({"step": s.name, "why": (pc[0].detail if pc else "no proof: checked by " + (s.check or "nothing"))})
        rules = [dict(it.to_dict(), status=d.status) for s in self.steps for it, (_, d) in zip(s.proof, s.discharges)
                 if getattr(it, "kind", "") == "rule"]
        n_ob = sum(1 for s in self.steps for it in s.proof if getattr(it, "kind", "") != "rule")
        out = {"steps_total": len(self.steps), "steps_proved": len(self.steps) - len(unproved),
               "proof_status": "proved" if not unproved else "unproved", "unproved": unproved,
               "obligations": n_ob, "rule_applications": rules,
               "rules_conclusion_checked": sum(1 for r in rules if r.get("conclusion_checked")),
               "rules_conclusion_unchecked": [r["name"] for r in rules if not r.get("conclusion_checked")],
               "sampled_only": [s.name for s in self.steps if s.checks and all(c.kind in ("sampled", "trajectory") for c in s.checks)],
               "cited": [p.name for p in self.premises if getattr(p, "kind", "") == "cited"]}
        if mutants:
            out["mutants"] = mutants
        return out

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
            "extras": {k: str(v) for k, v in self.extras.items() if not k.startswith("_")},
            "premises": [p.to_dict() for p in self.premises],
            "steps": [s.to_dict() for s in self.steps],
            "proof": self.proof_summary(self.extras.get("_mutants") if isinstance(self.extras.get("_mutants"), dict) else None),
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


def certificate_covers(subs: dict, domain: dict | None = None, timeout_s: float = 10) -> tuple:
    """Does the substitution ``x -> phi(t)`` reach every point of x's stated domain?

    For each substituted symbol x the domain is its SymPy assumptions plus ``domain.get(x, ())`` (extra
    relations, e.g. ``(sp.Lt(q, 1),)``).  phi must have exactly one free symbol t (with its own
    assumptions); SymPy solves x = phi(t) for t, and an engine must prove, for one solution t = psi(x),
    that psi(x) satisfies t's assumptions at every x of the domain and phi(psi(x)) = x.  Returns
    (ok, reason).

    >>> import sympy as sp
    >>> q, t = sp.Symbol("q_V", nonnegative=True), sp.Symbol("t", positive=True)
    >>> certificate_covers({q: 1 / (2 + t)}, {q: (sp.Lt(q, 1),)})[0]   # misses q >= 1/2 (and q = 0)
    False
    >>> certificate_covers({q: 1 - t}, {q: (sp.Lt(q, 1),)})[0]
    True
    """
    from qbound.bounds.obligation import Obligation, discharge
    domain = domain or {}
    for x, phi in subs.items():
        phi = sp.sympify(phi)
        fs = [f for f in phi.free_symbols if f != x]
        if len(fs) != 1:
            return False, f"certificate for {x} must use exactly one new symbol, got {phi}"
        t = fs[0]
        conds = []
        try:
            sols = sp.solve(sp.Eq(phi, x), t, dict=False)
        except NotImplementedError:
            sols = []
        for sol in sols:
            need = []
            if t.is_positive:
                need.append(sp.Gt(sol, 0))
            elif t.is_nonnegative:
                need.append(sp.Ge(sol, 0))
            back = sp.simplify(phi.subs(t, sol) - x) == 0
            if not back:
                continue
            ob = Obligation(f"cover.{x}", tuple(domain.get(x, ())), sp.And(*need) if need else sp.true)
            d = discharge(ob, engines=("z3",), timeout_s=timeout_s)
            if d.proved:
                break
            conds.append(f"t = {sol}: {d.status}" + (f" at {d.counterexample}" if d.counterexample else ""))
        else:
            return False, (f"the substitution {x} -> {phi} does not cover the domain of {x} "
                           f"({', '.join(conds) or 'no inverse found'})")
    return True, "substitution covers the stated domain (inverse proved admissible by z3)"


def check_nonnegative(expr, subs: dict | None = None, detail: str = "", domain: dict | None = None) -> Check:
    """Passes iff SymPy proves ``expr >= 0`` after the (certificate) substitution ``subs``, and the
    substitution covers the whole stated domain of each symbol it replaces (:func:`certificate_covers`;
    ``domain`` maps a symbol to extra relations that state its domain beyond its assumptions).

    ``subs`` replaces constrained symbols by manifestly admissible forms, e.g. beta2 -> 1/(1+t)
    with t > 0 for 0 < beta2 < 1, or q -> 1 - s with 0 < s for q < 1.  A substitution reaching only
    part of the domain (q_V -> 1/(2+t) for 0 <= q_V < 1) is rejected.
    """
    t0 = time.perf_counter()
    if subs:
        ok_cover, why = certificate_covers(subs, domain)
        if not ok_cover:
            return Check("symbolic", "failed", None, 0, time.perf_counter() - t0,
                         (detail + "; " if detail else "") + "certificate rejected: " + why)
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


# --------------------------------------------------------------------------------------------
# derivations as proofs: a chain of obligations whose premises are earlier conclusions


class ProofChain:
    """The proof of a derivation: named steps, each a list of obligations / inductions / rule
    applications (:mod:`qbound.bounds.obligation`), in order.

    ``concl(name, rel)`` registers the conclusion of item ``name`` (or its override, for mutation
    testing); ``fact(name, subs)`` returns that conclusion (instantiated by ``xreplace(subs)``) for use as a
    premise of a later item, so a changed conclusion flows into every use; ``implication(name, inst)`` is
    the instance ``premises(inst) => conclusion(inst)`` of a proved universally quantified item.

    >>> import sympy as sp
    >>> from qbound.bounds.obligation import Obligation
    >>> x = sp.Symbol("x", positive=True)
    >>> ch = ProofChain("demo")
    >>> ch.add("s1", Obligation("s1", (sp.Le(x, 1),), ch.concl("s1", sp.Le(x**2, 1))))
    >>> ch.add("s2", Obligation("s2", (ch.fact("s1"),), ch.concl("s2", sp.Le(x**2, 2))))
    >>> [d.status for d in ch.prove(engines=("z3",)).values()]
    ['proved', 'proved']
    """

    def __init__(self, name: str, overrides: dict | None = None):
        self.name = name
        self.overrides = dict(overrides or {})
        self.conclusions: dict = {}
        self.by_name: dict = {}
        self.steps: dict = {}  # step name -> {"items": [...], "uses": (...), "statement": str}
        self.domain: dict = {}
        self.used_overrides: set = set()
        self.concl_names: set = set()
        self.goal = None  # (item name, relation): the stated result; the item must conclude exactly it
        self.stated: dict = {}  # item name -> relation: further stated results (e.g. a q = 0 reduction), pinned like the goal

    def concl(self, name: str, rel):
        if name in self.overrides:
            self.used_overrides.add(name)
            rel = self.overrides[name]
        self.conclusions[name] = rel
        self.concl_names.add(name)
        return rel

    def fact(self, name: str, subs: dict | None = None):
        rel = self.conclusions[name]
        return rel.xreplace(subs) if subs else rel

    def rule(self, rule: str, premises, conclusion=None, note: str = "", name: str = "", **spec):
        """A rule application whose conclusion is what the rule yields
        (:func:`~qbound.bounds.obligation.apply_rule`) from the premises' conclusions as they stand in
        this chain (so a changed premise flows through the rule); the stated conclusion (``conclusion``,
        or that derived one) is registered under ``name`` (an override in mutation testing replaces it)
        and checked against the rule when the item is proved."""
        from qbound.bounds.obligation import RuleApplication, apply_rule
        premises = tuple(premises)
        if conclusion is None:
            conclusion = apply_rule(rule, spec, {p: self.fact(p) for p in premises if p in self.conclusions}, premises)
        return RuleApplication(rule, premises, self.concl(name, conclusion), note=note, name=name, spec=tuple(spec.items()))

    def implication(self, name: str, inst: dict):
        ob = self.by_name[name]
        return sp.Implies(sp.And(*ob.premises).xreplace(inst), ob.conclusion.xreplace(inst))

    def add(self, step: str, item, uses: tuple = (), statement: str = ""):
        st = self.steps.setdefault(step, {"items": [], "uses": (), "statement": ""})
        st["items"].append(item)
        if uses:
            st["uses"] = tuple(uses)
        if statement:
            st["statement"] = statement
        self.by_name[item.name] = item
        conc = getattr(item, "claim", None) if getattr(item, "kind", "") == "induction" else getattr(item, "conclusion", None)
        if conc is not None and item.name not in self.conclusions:
            self.conclusions[item.name] = conc

    def items(self) -> list:
        return [it for st in self.steps.values() for it in st["items"]]

    def pin(self, name: str, rel):
        """State ``rel`` as a result of the derivation that item ``name`` must conclude exactly (a
        changed conclusion of that item no longer states the result, and is rejected like the goal)."""
        self.stated[name] = rel
        return rel

    def goal_errors(self) -> dict:
        """item name -> why it does not conclude its stated result (the goal and every pinned result)."""
        out = {}
        for name, rel in ([self.goal] if self.goal is not None else []) + list(self.stated.items()):
            got = self.conclusions.get(name)
            if got != rel:
                out[name] = f"item {name} concludes {got}, not the stated result {rel}"
        return out

    def goal_error(self) -> str:
        """Empty when the goal item (and every pinned item) concludes exactly the stated result, else why not."""
        return "; ".join(self.goal_errors().values())

    def prove(self, engines=("sympy", "z3", "cvc5"), timeout_s: float = 20, cache=None) -> dict:
        from qbound.bounds.obligation import Discharge, prove_all
        res = prove_all(self.items(), engines=engines, timeout_s=timeout_s, cache=cache)
        for name, err in self.goal_errors().items():
            res[name] = Discharge(name, "refuted", "goal", detail=err)
        return res

    def step_results(self, results: dict) -> dict:
        """step name -> (status "proved" | "unproved", list of (item name, Discharge))."""
        out = {}
        for sname, st in self.steps.items():
            ds = [(it.name, results[it.name]) for it in st["items"]]
            out[sname] = ("proved" if all(d.proved for _, d in ds) else "unproved", ds)
        return out


def proof_check(name: str, ds: list) -> Check:
    """A :class:`Check` of kind ``proof`` summarising the discharges of a step's items."""
    ok = all(d.proved for _, d in ds)
    secs = sum(d.seconds for _, d in ds)
    parts = []
    for n, d in ds:
        parts.append(f"{n}: {d.status} ({d.engine or '-'}{', cached' if d.cached else ''})")
    bad = [f"{n}: {d.status}: {d.detail}" for n, d in ds if not d.proved]
    return Check("proof", "passed" if ok else "failed", None, len(ds), secs,
                 ("; ".join(parts) if ok else "UNPROVED " + "; ".join(bad)))
