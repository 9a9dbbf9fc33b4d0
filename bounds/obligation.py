r"""Proof obligations: premises => conclusion over named real symbols, discharged by an engine.

An :class:`Obligation` states that for every assignment of real numbers to its symbols that satisfies
the symbols' SymPy assumptions (``positive=True`` means ``> 0``, ``nonnegative=True`` means ``>= 0``;
integrality is dropped, which only makes the statement stronger) and every premise, the conclusion
holds.  :func:`discharge` decides it:

* ``sympy``: an identity (``cancel``/``simplify`` of lhs - rhs is 0) for an equality conclusion, or a
  non-negativity that SymPy's assumption system shows from the symbols' assumptions alone (premises
  unused, so a proof without them is a proof with them);
* ``z3`` / ``cvc5``: unsatisfiability of *premises and not conclusion* in quantifier-free nonlinear real
  arithmetic (QF_NRA).  Denominators are cleared by naming every reciprocal ``r = 1/e`` with the
  constraint ``e != 0 -> r e = 1``; every square root ``s = sqrt(e)`` with ``e >= 0 -> (s >= 0, s^2 = e)``;
  every logarithm ``l = log(e)`` is a free real constrained only by the named lemmas the obligation lists
  (:data:`LEMMAS`, each proved by :func:`prove_lemma`).  Well-definedness is part of the query: the
  negated goal is ``not conclusion  or  some named denominator = 0  or  some square-root/log argument
  out of range``, so *unsat* also proves that every expression is defined wherever the premises hold.

``proved`` only ever comes from an engine (SymPy identity/non-negativity or an unsat answer);
``refuted`` comes with a counterexample (the solver's model); anything else is ``unknown``.  The status
vocabulary is ``proved | refuted | unknown`` (``refuted`` is what qbound.proofs.Verdict calls
``falsified``).

Statements over ``t`` are an :class:`Induction` (a base and an inductive-step obligation, both proved,
and, when ``claim``/``init``/``shift`` are given, checked to be the base and step *of that claim*).
Steps that are not pointwise (expectation, summation over t, Cauchy-Schwarz, Jensen) are a
:class:`RuleApplication` of one of the fixed :data:`RULES` to named, proved obligations; with a
``spec`` its conclusion is checked to be what the rule yields from the premises' conclusions
(:func:`apply_rule`), so a rule application with a wrong conclusion is refuted.

Example (the envelope of the quantized second moment, one inductive step):

>>> import sympy as sp
>>> v, g, b2, q = sp.symbols("v g beta2 q_V", real=True)
>>> nxt = (1 + q) * (b2 * v + g**2)
>>> ob = Obligation("demo.v.step", (sp.Ge(v, 0), sp.Le(v, (1 + q) / (1 - b2 * (1 + q))), sp.Le(g**2, 1),
...                 sp.Gt(b2, 0), sp.Ge(q, 0), sp.Lt(b2 * (1 + q), 1)),
...                 sp.Le(nxt, (1 + q) / (1 - b2 * (1 + q))))
>>> discharge(ob, engines=("z3",)).status
'proved'
>>> bad = Obligation("demo.v.step.wrong", ob.premises, sp.Le(nxt, 1 / (1 - b2 * (1 + q))))
>>> d = discharge(bad, engines=("z3",)); d.status, sorted(d.counterexample)[:2]
('refuted', ['beta2', 'g'])
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

RULES = ("expectation_monotone", "expectation_linear", "sum_over_t", "cauchy_schwarz", "jensen",
         "derivative_sign")
"""The fixed set of inference rules a :class:`RuleApplication` may use.

* ``expectation_monotone``: X <= Y pointwise (a proved obligation) implies E X <= E Y (also
  conditional expectations);
* ``expectation_linear``: E[a X + b Y] = a E X + b E Y for constants (F_{t-1}-measurable) a, b;
* ``sum_over_t``: a_t <= b_t for every t (a proved obligation in a free t) implies
  sum_t a_t <= sum_t b_t;
* ``cauchy_schwarz``: |<a, b>| <= ||a|| ||b|| (vectors, or E|XY| <= sqrt(E X^2 E Y^2));
* ``jensen``: phi(E X) <= E phi(X) for the stated convex phi;
* ``derivative_sign``: f(y0) = 0 and (y - y0) f'(y) >= 0 on an interval imply f >= 0 on it (f' is
  SymPy's exact derivative; used for the standard inequalities of :data:`LEMMAS`).
"""

ENGINES = ("sympy", "z3", "cvc5")
STATUSES = ("proved", "refuted", "unknown")


class Unsupported(Exception):
    """An expression the QF_NRA encoder cannot translate (name it with ``aux`` or split the step)."""


# ------------------------------------------------------------------------------------------------
# the objects


_TEXT_MEMO: dict = {}  # (name, premises, conclusion, aux, lemmas) -> text (SymPy hashes are cached)


@dataclass(frozen=True)
class Obligation:
    """premises (SymPy relations) => conclusion (a SymPy relation), over named real symbols.

    ``aux``: pairs ``(symbol, expression)``: the encoder replaces ``expression`` by ``symbol`` (square
    roots get their defining constraints; other atoms, e.g. ``beta2**T``, become free reals about
    which only the premises and lemmas speak, so state what you need as a premise *that is itself
    proved*, or as a lemma).  A triple ``(symbol, expression, "opaque")`` always makes a free real
    with the symbol's sign assumptions (prove that sign separately).  ``lemmas``: names from :data:`LEMMAS` the solver may use.
    """

    name: str
    premises: tuple
    conclusion: object
    aux: tuple = ()
    lemmas: tuple = ()
    note: str = ""

    kind = "obligation"

    def text(self) -> str:
        """Canonical text of the obligation (what the cache key hashes)."""
        memo_key = (self.name, self.premises, self.conclusion, self.aux, self.lemmas)
        got = _TEXT_MEMO.get(memo_key)
        if got is None:
            got = _TEXT_MEMO[memo_key] = self._text()
        return got

    def _text(self) -> str:
        syms = sorted(self.free_symbols(), key=lambda s: s.name)
        decl = [f"{s.name}:{'pos' if s.is_positive else 'nonneg' if s.is_nonnegative else 'real'}" for s in syms]
        return "\n".join(["name " + self.name, "symbols " + " ".join(decl)]
                         + ["premise " + sp.srepr(p) for p in self.premises]
                         + ["conclusion " + sp.srepr(self.conclusion)]
                         + ["aux " + sp.srepr(x[0]) + " := " + sp.srepr(x[1]) + (" opaque" if len(x) > 2 else "") for x in self.aux]
                         + ["lemma " + (lm if isinstance(lm, str) else lm[0] + " at " + sp.srepr(lm[1])) for lm in self.lemmas])

    def key(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()

    def free_symbols(self) -> set:
        out = set()
        for r in (*self.premises, self.conclusion):
            out |= getattr(r, "free_symbols", set())
        for x in self.aux:
            out |= x[1].free_symbols
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "premises": [str(p) for p in self.premises],
                "conclusion": str(self.conclusion), "aux": [[str(x[0]), str(x[1])] + list(x[2:]) for x in self.aux],
                "lemmas": [lm if isinstance(lm, str) else [lm[0], str(lm[1])] for lm in self.lemmas], "note": self.note}


@dataclass(frozen=True)
class Induction:
    """A statement over t: ``base`` (P at the start) and ``step`` (P(t) => P(t+1)), both proved.

    When ``claim`` (a relation P in the state symbols), ``init`` (substitution giving the start) and
    ``shift`` (substitution giving the successor state) are given, the shape is checked too:
    ``base.conclusion == claim.xreplace(init)``, ``claim`` is a premise of ``step`` and
    ``step.conclusion == claim.xreplace(shift)`` (structurally, after ``sp.simplify`` of both sides'
    differences).
    """

    name: str
    base: Obligation
    step: Obligation
    claim: object = None
    init: tuple = ()
    shift: tuple = ()
    note: str = ""

    kind = "induction"

    def shape_errors(self) -> list:
        if self.claim is None:
            return []
        errs = []
        if self.init and not _same_relation(self.base.conclusion, self.claim.xreplace(dict(self.init))):
            errs.append(f"base conclusion {self.base.conclusion} is not the claim at the start {self.claim.xreplace(dict(self.init))}")
        if not any(_same_relation(p, self.claim) for p in self.step.premises):
            errs.append(f"the induction hypothesis {self.claim} is not a premise of the step")
        if self.shift and not _same_relation(self.step.conclusion, self.claim.xreplace(dict(self.shift))):
            errs.append(f"step conclusion {self.step.conclusion} is not the claim at t+1 {self.claim.xreplace(dict(self.shift))}")
        return errs

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "claim": None if self.claim is None else str(self.claim),
                "base": self.base.to_dict(), "step": self.step.to_dict(), "note": self.note}


@dataclass(frozen=True)
class RuleApplication:
    """One application of a fixed inference rule (:data:`RULES`) to named, proved obligations.

    ``spec`` (pairs ``(key, value)``, see :func:`apply_rule`) says how the rule is applied; with it the
    stated ``conclusion`` is *checked* to be what the rule yields from the premises' conclusions (an
    overridden or altered conclusion is refuted).  Without ``spec`` the conclusion is not checked
    against the premises, and the discharge says so (``rule_conclusion_checked`` False).
    """

    rule: str
    premises: tuple
    conclusion: object
    note: str = ""
    name: str = ""
    valid: bool = True  # False when the rule does not apply to the premises' form (``why`` says why)
    why: str = ""
    spec: tuple = ()

    kind = "rule"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "rule": self.rule, "premises": list(self.premises),
                "conclusion": str(self.conclusion), "note": self.note,
                "spec": {k: (str(v) if not isinstance(v, tuple) else [[str(a) for a in x] if isinstance(x, tuple) else str(x) for x in v])
                         for k, v in self.spec},
                "conclusion_checked": bool(self.spec)}


@dataclass
class Discharge:
    """The outcome of discharging one obligation (or induction, or rule application)."""

    name: str
    status: str
    engine: str = ""
    seconds: float = 0.0
    smt2: str = ""
    counterexample: dict | None = None
    detail: str = ""
    key: str = ""
    cached: bool = False
    recheck: dict | None = None
    parts: list = field(default_factory=list)  # sub-discharges (induction base/step)
    obligation: object = None  # the obligation (cache hits: its SMT-LIB2 text is made by ensure_smt2)

    def ensure_smt2(self) -> str:
        """The SMT-LIB2 text of the obligation (encoded now if a cache hit skipped it)."""
        if not self.smt2 and self.obligation is not None:
            try:
                ob = self.obligation
                ident = self.engine == "sympy" and isinstance(getattr(ob, "conclusion", None), sp.Eq)
                self.smt2 = encode(ob, assume_defined=ident)[1]
            except Unsupported:
                self.smt2 = ""
        return self.smt2

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "engine": self.engine, "seconds": round(self.seconds, 4),
                "counterexample": self.counterexample, "detail": self.detail, "key": self.key, "cached": self.cached,
                "recheck": self.recheck, "parts": [p.to_dict() for p in self.parts]}


def _same_relation(a, b) -> bool:
    if a == b:
        return True
    if type(a) is not type(b) or not isinstance(a, sp.core.relational.Relational):
        return False
    try:
        return sp.simplify(a.lhs - b.lhs) == 0 and sp.simplify(a.rhs - b.rhs) == 0
    except Exception:  # pragma: no cover - SymPy internals
        return False


# ------------------------------------------------------------------------------------------------
# the inference rules: the conclusion a rule yields from its premises (checked against the stated one)


class RuleError(Exception):
    """The rule does not apply to the premises as stated (the message says why)."""


def _sides(rel):
    """(func, lhs, rhs) of an (in)equality, else RuleError."""
    if isinstance(rel, (sp.Le, sp.Lt, sp.Ge, sp.Gt, sp.Eq)):
        return rel.func, rel.lhs, rel.rhs
    raise RuleError(f"not an (in)equality: {rel}")


def _affine(e, syms):
    """(c0, {s: c_s}) with e = c0 + sum_s c_s s and every c free of ``syms``; RuleError if e is not
    affine in ``syms`` (a partial derivative still depends on them)."""
    coeffs = {}
    for s in syms:
        c = sp.diff(e, s)
        if c.free_symbols & set(syms):
            raise RuleError(f"{e} is not affine in {sorted(map(str, syms))} (d/d{s} = {c})")
        if c != 0:
            coeffs[s] = c
    return e.xreplace({s: 0 for s in syms}), coeffs


def _name_keys(sides, mapping):
    """Sides with every non-symbol key of ``mapping`` (an expression such as g**2/s**2) replaced by a
    fresh symbol (SymPy ``subs``: a key that is part of a product is found too), and the mapping on
    those symbols; symbol keys are kept as they are."""
    out, m = list(sides), {}
    for k, v in mapping.items():
        if isinstance(k, sp.Symbol):
            m[k] = v
            continue
        z = sp.Dummy("key")
        out = [sp.sympify(e).subs(k, z) for e in out]
        m[z] = v
    return out, m


def _make(func, lhs, rhs):
    try:
        return func(lhs, rhs, evaluate=False)
    except TypeError:  # pragma: no cover - older SymPy relations
        return func(lhs, rhs)


def _premise_relation(app, spec, rels):
    """The one relation the rule is applied to: spec["pointwise"] (an instance of a derivation premise,
    e.g. a matrix-norm fact; the named premises are the proved facts it is instantiated at) or the
    conclusion of the single named premise."""
    if "pointwise" in spec:
        return spec["pointwise"]
    if len(app.premises) != 1:
        raise RuleError(f"{app.rule} needs exactly one premise (or a stated pointwise instance), got {list(app.premises)}")
    name = app.premises[0]
    if name not in rels:
        raise RuleError(f"premise {name!r} has no stated conclusion")
    return rels[name]


def apply_rule(rule: str, spec: dict, premise_rels: dict | None = None, premises: tuple = ()) -> object:
    """The conclusion ``rule`` yields (a SymPy relation), applied as ``spec`` says to the premises'
    conclusions ``premise_rels`` (name -> relation).  Raises :class:`RuleError` when it does not apply.

    * ``expectation_monotone`` / ``expectation_linear`` (spec ``rename``: pairs (X, EX)): the premise is
      affine in the random quantities X on each side (coefficients deterministic), and the conclusion
      is the premise with every X replaced by its (conditional) expectation EX (0 for a zero-mean
      term, e.g. E<N_{t-1}, xi_t> = 0);
    * ``sum_over_t`` (spec ``sums``: pairs (x, S) with S the sum of x over the index, ``count``: the
      number of terms): each side c0 + sum_k c_k x_k (affine in the x, coefficients independent of the
      index) becomes count c0 + sum_k c_k S_k;
    * ``jensen`` (spec ``phi``: a Lambda, ``at``: E X, ``value``: E phi(X), ``concave``): phi(E X) <= E phi(X)
      (reversed for concave phi); phi'' >= 0 (<= 0) on phi's variable domain is proved by an engine;
    * ``cauchy_schwarz`` (spec ``inner``, ``norm_a``, ``norm_b``): inner <= norm_a norm_b.

    >>> import sympy as sp
    >>> x, y, S_x, S_y, n = sp.symbols("x y S_x S_y n", positive=True)
    >>> apply_rule("sum_over_t", {"sums": ((x, S_x), (y, S_y)), "count": n}, {"p": sp.Le(x, 2 * y + 1)}, ("p",))
    S_x <= 2*S_y + n
    >>> E_x, E_y = sp.symbols("E_x E_y", positive=True)
    >>> apply_rule("expectation_monotone", {"rename": ((x, E_x), (y, E_y))}, {"p": sp.Le(x, 2 * y + 1)}, ("p",))
    E_x <= 2*E_y + 1
    >>> g, s, U = sp.symbols("g s U", positive=True)
    >>> apply_rule("sum_over_t", {"sums": ((g**2 / s**2, U),), "count": n}, {"p": sp.Le(3 * g**2 / s**2, 1)}, ("p",))
    3*U <= n
    >>> apply_rule("expectation_monotone", {"rename": ((x, E_x),)}, {"p": sp.Le(x**2, 1)}, ("p",))
    Traceback (most recent call last):
    ...
    qbound.bounds.obligation.RuleError: x**2 is not affine in ['x'] (d/dx = 2*x)
    """
    app = RuleApplication(rule, tuple(premises), sp.true, name="")
    rels = premise_rels or {}
    if rule in ("expectation_monotone", "expectation_linear"):
        rename = dict(spec.get("rename", ()))
        if not rename:
            raise RuleError(f"{rule}: no random quantity named (spec rename)")
        func, lhs, rhs = _sides(_premise_relation(app, spec, rels))
        (lhs, rhs), rename = _name_keys((lhs, rhs), rename)
        keys = set(rename)
        if not ((lhs.free_symbols | rhs.free_symbols) & keys):
            raise RuleError(f"{rule}: none of {sorted(map(str, keys))} occurs in the premise")
        for side in (lhs, rhs):
            _affine(side, keys)
        return _make(func, lhs.xreplace(rename), rhs.xreplace(rename))
    if rule == "sum_over_t":
        sums = dict(spec.get("sums", ()))
        n = spec.get("count", 1)
        func, lhs, rhs = _sides(_premise_relation(app, spec, rels))
        (lhs, rhs), sums = _name_keys((lhs, rhs), sums)
        keys = set(sums)
        if not ((lhs.free_symbols | rhs.free_symbols) & keys):
            raise RuleError(f"sum_over_t: none of the summed quantities {sorted(map(str, keys))} occurs in the premise")
        out = []
        for side in (lhs, rhs):
            c0, cs = _affine(side, keys)
            out.append(n * c0 + sp.Add(*[c * sums[k] for k, c in cs.items()]))
        return _make(func, *out)
    if rule == "jensen":
        phi, at, value = spec.get("phi"), spec.get("at"), spec.get("value")
        if not isinstance(phi, sp.Lambda) or at is None or value is None:
            raise RuleError("jensen needs phi (a Lambda), at (E X) and value (E phi(X))")
        x = phi.variables[0]
        d2 = sp.diff(phi.expr, x, 2)
        conc = bool(spec.get("concave", False))
        ob = Obligation(f"jensen.{'concave' if conc else 'convex'}", (), sp.Le(d2, 0) if conc else sp.Ge(d2, 0))
        d = discharge(ob, engines=("sympy", "z3"), timeout_s=10)
        if not d.proved:
            raise RuleError(f"jensen: phi = {phi} is not proved {'concave' if conc else 'convex'} (phi'' = {d2}: {d.status})")
        return _make(sp.Le, value, phi(at)) if conc else _make(sp.Le, phi(at), value)
    if rule == "cauchy_schwarz":
        inner, na, nb = spec.get("inner"), spec.get("norm_a"), spec.get("norm_b")
        if inner is None or na is None or nb is None:
            raise RuleError("cauchy_schwarz needs inner, norm_a, norm_b")
        return _make(sp.Le, inner, na * nb)
    raise RuleError(f"rule {rule!r} has no checked form (accepted: expectation_monotone, expectation_linear, sum_over_t, "
                    "jensen, cauchy_schwarz)")


def _le_form(rel):
    """(kind, big - small) with kind 'le', 'lt' or 'eq' (Ge/Gt flipped)."""
    if isinstance(rel, sp.Eq):
        return "eq", rel.rhs - rel.lhs
    if isinstance(rel, (sp.Le, sp.Lt)):
        return ("le" if isinstance(rel, sp.Le) else "lt"), rel.rhs - rel.lhs
    if isinstance(rel, (sp.Ge, sp.Gt)):
        return ("le" if isinstance(rel, sp.Ge) else "lt"), rel.lhs - rel.rhs
    return None, None


def relations_agree(a, b) -> bool:
    """True iff the relations state the same thing: the same kind (<=, <, =; >= read as flipped <=) and
    the same difference big - small (an equality also with the sides swapped), by SymPy.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> relations_agree(sp.Le(x, 2), sp.Ge(2, x)), relations_agree(sp.Le(x, 2), sp.Le(x, 3))
    (True, False)
    """
    if a == b:
        return True
    ka, da = _le_form(a)
    kb, db = _le_form(b)
    if ka is None or ka != kb:
        return False
    for diff in ((da - db,) if ka != "eq" else (da - db, da + db)):
        if _numeric_probe(diff) is not None:
            continue
        try:
            z = sp.cancel(sp.together(diff))
            if z != 0 and sp.count_ops(z) < 400:
                z = sp.simplify(z)
        except Exception:  # pragma: no cover - SymPy internals
            continue
        if z == 0:
            return True
    return False


def item_relation(it):
    """The stated relation of a proof item (an induction: its claim, or its step's conclusion)."""
    if isinstance(it, Induction):
        return it.claim if it.claim is not None else it.step.conclusion
    return getattr(it, "conclusion", None)


def check_rule(app: RuleApplication, rels: dict) -> tuple:
    """(ok, why): ``ok`` True when the stated conclusion is what the rule yields from the premises'
    conclusions ``rels`` (name -> relation), False when not (``why`` says why), None when the
    application carries no ``spec`` (its conclusion is not checked)."""
    if not app.spec:
        return None, "conclusion not checked against the premises (no rule spec)"
    spec = dict(app.spec)
    try:
        got = apply_rule(app.rule, spec, rels, app.premises)
    except RuleError as exc:
        return False, str(exc)
    except Exception as exc:  # pragma: no cover - SymPy internals
        return False, f"{type(exc).__name__}: {exc}"
    if relations_agree(app.conclusion, got):
        return True, f"conclusion = {app.rule} applied to the premises ({got})"
    return False, f"stated conclusion {app.conclusion} is not what {app.rule} yields from the premises: {got}"


# ------------------------------------------------------------------------------------------------
# standard inequalities as named lemmas (each with its own proof, see prove_lemma)

_y = sp.Symbol("y", positive=True)

LEMMAS = {
    "ln_lower": "log(y) >= 1 - 1/y for y > 0",
    "ln_upper": "log(y) <= y - 1 for y > 0",
    "ln_monotone": "0 < a <= b implies log(a) <= log(b) (strict if a < b)",
    "ln_product": "log(a b) = log(a) + log(b) for a, b > 0 (applied by SymPy's expand_log before encoding)",
}


def prove_lemma(name: str, timeout_s: float = 20) -> list:
    """Prove a named lemma; returns the discharges of its proof (all must be proved).

    ln_lower / ln_upper by the ``derivative_sign`` rule: f(1) = 0 (SymPy) and (y - 1) f'(y) >= 0 (z3, with
    f' SymPy's exact derivative, free of log).  ln_monotone: log is increasing since its derivative 1/y > 0
    (same rule, SymPy).  ln_product: SymPy's ``expand_log`` identity with positive symbols.

    >>> all(d.proved for d in prove_lemma("ln_lower"))
    True
    """
    y = _y
    if name in ("ln_lower", "ln_upper"):
        f = sp.log(y) - 1 + 1 / y if name == "ln_lower" else y - 1 - sp.log(y)
        fp = sp.diff(f, y)
        if fp.has(sp.log):  # pragma: no cover - would be a wrong lemma set-up
            return [Discharge(name, "unknown", detail="derivative still contains log")]
        base = Obligation(f"lemma.{name}.at_1", (), sp.Eq(f.subs(y, 1), 0))
        sign = Obligation(f"lemma.{name}.derivative_sign", (), sp.Ge((y - 1) * fp, 0))
        return [discharge(base, timeout_s=timeout_s), discharge(sign, engines=("z3", "cvc5"), timeout_s=timeout_s)]
    if name == "ln_monotone":
        return [discharge(Obligation("lemma.ln_monotone.derivative", (), sp.Gt(sp.diff(sp.log(y), y), 0)), timeout_s=timeout_s)]
    if name == "ln_product":
        a, b = sp.symbols("a b", positive=True)
        return [discharge(Obligation("lemma.ln_product", (), sp.Eq(sp.expand_log(sp.log(a * b)), sp.log(a) + sp.log(b))),
                          timeout_s=timeout_s)]
    raise KeyError(name)


# ------------------------------------------------------------------------------------------------
# SymPy -> z3 (QF_NRA) encoding


def _z3():
    import z3
    return z3


class _Encoder:
    def __init__(self, ob: Obligation):
        self.z3 = _z3()
        self.ob = ob
        self.vars: dict = {}
        self.side: list = []  # defining constraints (guarded)
        self.undefined: list = []  # conditions under which some subterm is undefined
        self.path: list = []  # conditions of the enclosing If branches
        self.recips: dict = {}
        self.sqrts: dict = {}
        self.logs: dict = {}
        self.aux = {x[1]: x[0] for x in ob.aux}
        self.opaque = {x[1] for x in ob.aux if len(x) > 2 and x[2] == "opaque"}
        self.aux_sqrt = {}
        self.counter = 0

    def fresh(self, stem: str):
        self.counter += 1
        return self.z3.Real(f"{stem}!{self.counter}")

    def var(self, s: sp.Symbol):
        if s not in self.vars:
            v = self.z3.Real(s.name)
            self.vars[s] = v
            if s.is_positive:
                self.side.append(v > 0)
            elif s.is_nonnegative:
                self.side.append(v >= 0)
            elif s.is_negative:
                self.side.append(v < 0)
            elif s.is_nonpositive:
                self.side.append(v <= 0)
        return self.vars[s]

    def const(self, x):
        fr = Fraction(str(sp.Rational(x))) if not isinstance(x, sp.Float) else Fraction(float(x))
        return self.z3.RealVal(f"{fr.numerator}/{fr.denominator}") if fr.denominator != 1 else self.z3.RealVal(fr.numerator)

    def undef(self, cond):
        """Record that the expression being encoded is undefined when ``cond`` holds, on the current
        path (inside an If branch or the consequent of an implication, only under its condition)."""
        self.undefined.append(self.z3.And(*self.path, cond) if self.path else cond)

    def recip(self, e_sym, e_z3):
        key = sp.srepr(e_sym)
        if key not in self.recips:
            r = self.fresh("recip")
            self.side.append(self.z3.Implies(e_z3 != 0, r * e_z3 == 1))
            self.recips[key] = r
        self.undef(e_z3 == 0)
        return self.recips[key]

    def sqrt(self, e_sym, e_z3=None, named=None):
        key = sp.srepr(e_sym)
        if key not in self.sqrts:
            e_z3 = self.expr(e_sym) if e_z3 is None else e_z3
            s = self.var(named) if named is not None else self.fresh("sqrt")
            self.side.append(self.z3.Implies(e_z3 >= 0, self.z3.And(s >= 0, s * s == e_z3)))
            self.sqrts[key] = (s, e_z3)
        self.undef(self.sqrts[key][1] < 0)
        return self.sqrts[key][0]

    def root(self, base):
        """sqrt(base): an aux-named square root (opaque or defined) if the obligation names one."""
        named = self.aux.get(sp.sqrt(base))
        if named is not None and sp.sqrt(base) in self.opaque:
            return self.var(named)
        return self.sqrt(base, named=named)

    def log(self, e_sym, e_z3, named=None):
        key = sp.srepr(e_sym)
        if key not in self.logs:
            lv = self.var(named) if named is not None else self.fresh("log")
            self.logs[key] = (lv, e_sym, e_z3)
        self.undef(self.logs[key][2] <= 0)
        return self.logs[key][0]

    def log_expanded(self, arg):
        """log of a product/quotient = sum of k log(factor); every factor must be positive (its
        non-positivity joins the undefined cases), so the expansion is exact where defined."""
        z3 = self.z3
        num, den = sp.fraction(sp.together(arg))
        parts = []
        for sign, side in ((1, num), (-1, den)):
            for m in sp.Mul.make_args(side):
                f, k = m.as_base_exp()
                if f == 1:
                    continue
                if f.is_Number:
                    raise Unsupported(f"log of the constant {f}: state a rational bound on it as a premise")
                if not k.is_Rational:
                    raise Unsupported(f"log of {f}**{k}")
                parts.append((sign * k, self.log(f, self.expr(f))))
        if not parts:
            return z3.RealVal(0)
        return z3.Sum([self.const(c) * lv for c, lv in parts])

    def power(self, b, n: int):
        out = None
        x, k = b, n
        while k:  # square and multiply
            if k & 1:
                out = x if out is None else out * x
            k >>= 1
            if k:
                x = x * x
        return out

    def expr(self, e):
        z3 = self.z3
        if e in self.aux:
            a = self.aux[e]
            if e in self.opaque:  # a free real with the symbol's sign assumptions (proved separately)
                return self.var(a)
            if isinstance(e, sp.Pow) and e.exp == sp.Rational(1, 2):
                return self.sqrt(e.base, named=a)
            if isinstance(e, sp.log):
                return self.log(e.args[0], self.expr(e.args[0]), named=a)
            return self.var(a)
        if isinstance(e, sp.Symbol):
            return self.var(e)
        if e.is_Number:
            if e in (sp.oo, -sp.oo, sp.zoo, sp.nan):
                raise Unsupported(f"non-finite number {e}")
            return self.const(e)
        if isinstance(e, sp.NumberSymbol):
            raise Unsupported(f"transcendental constant {e}: bound it by rationals in a premise")
        if isinstance(e, sp.Add):
            return z3.Sum([self.expr(a) for a in e.args])
        if isinstance(e, sp.Mul):
            coeff, rest = e.as_coeff_Mul()
            if coeff != 1 and rest in self.aux:  # -x for an aux-named x
                return self.const(coeff) * self.expr(rest)
            out = None
            for a in e.args:
                x = self.expr(a)
                out = x if out is None else out * x
            return out
        if isinstance(e, sp.Pow):
            b, p = e.base, e.exp
            if p.is_Integer:
                n = int(p)
                if n == 0:
                    return z3.RealVal(1)
                bz = self.expr(b)
                if n > 0:
                    return self.power(bz, n)
                return self.recip(b ** (-n), self.power(bz, -n)) if -n > 1 else self.recip(b, bz)
            if p.is_Rational and p.q == 2:
                s = self.root(b)
                n = int(p.p)
                if n > 0:
                    return self.power(s, n)
                return self.recip(sp.sqrt(b) ** (-n), self.power(s, -n))
            raise Unsupported(f"power {e}: name it with aux")
        if isinstance(e, sp.log):
            return self.log_expanded(e.args[0])
        if isinstance(e, sp.Abs):
            x = self.expr(e.args[0])
            return z3.If(x >= 0, x, -x)
        if isinstance(e, (sp.Min, sp.Max)):
            # an argument Piecewise((x, c), (oo, True)) of a Min is "x if c, else no constraint"
            fin, cond = [], []
            for a in e.args:
                if (isinstance(e, sp.Min) and isinstance(a, sp.Piecewise) and len(a.args) == 2
                        and a.args[1][0] == sp.oo and a.args[1][1] == sp.true):
                    cz = self.boolean(a.args[0][1])
                    cond.append((cz, self.guarded(cz, a.args[0][0])))
                else:
                    fin.append(self.expr(a))
            if not fin:
                raise Unsupported(f"Min with no finite argument: {e}")
            out = fin[0]
            for a in fin[1:]:
                out = z3.If(a < out, a, out) if isinstance(e, sp.Min) else z3.If(a > out, a, out)
            for c, a in cond:
                out = z3.If(z3.And(c, a < out), a, out)
            return out
        if isinstance(e, sp.Piecewise):
            pieces = list(e.args)
            out = None
            for val, cond in reversed(pieces):
                if cond == sp.true:
                    out = self.expr(val)
                    continue
                if out is None:
                    raise Unsupported("Piecewise without a default branch")
                cz = self.boolean(cond)
                out = z3.If(cz, self.guarded(cz, val), out)
            return out
        raise Unsupported(f"{type(e).__name__}: {e}")

    def guarded(self, cz, e, boolean=False):
        self.path.append(cz)
        try:
            return self.boolean(e) if boolean else self.expr(e)
        finally:
            self.path.pop()

    def boolean(self, r):
        z3 = self.z3
        if r is sp.true or r is True:
            return z3.BoolVal(True)
        if r is sp.false or r is False:
            return z3.BoolVal(False)
        if isinstance(r, sp.And):
            return z3.And(*[self.boolean(a) for a in r.args])
        if isinstance(r, sp.Or):
            return z3.Or(*[self.boolean(a) for a in r.args])
        if isinstance(r, sp.Not):
            return z3.Not(self.boolean(r.args[0]))
        if isinstance(r, sp.Implies):
            cz = self.boolean(r.args[0])
            return z3.Implies(cz, self.guarded(cz, r.args[1], boolean=True))
        ops = {sp.Le: lambda a, b: a <= b, sp.Lt: lambda a, b: a < b, sp.Ge: lambda a, b: a >= b,
               sp.Gt: lambda a, b: a > b, sp.Eq: lambda a, b: a == b, sp.Ne: lambda a, b: a != b}
        for cls, op in ops.items():
            if isinstance(r, cls):
                return op(self.expr(r.lhs), self.expr(r.rhs))
        raise Unsupported(f"relation {type(r).__name__}: {r}")

    def lemma_constraints(self):
        z3 = self.z3
        out = []
        for item in self.ob.lemmas:  # instances ("ln_lower"|"ln_upper", y) of a lemma at a given y > 0
            if isinstance(item, tuple):
                lname, y = item
                yz = self.expr(y)
                ly = self.log_expanded(y)
                self.undefined.append(yz <= 0)
                out.append(z3.Implies(yz > 0, yz * ly >= yz - 1) if lname == "ln_lower" else z3.Implies(yz > 0, ly <= yz - 1))
        logs = list(self.logs.values())
        for lv, _es, ez in logs:
            pos = ez > 0
            if "ln_lower" in self.ob.lemmas:  # log y >= 1 - 1/y  <=>  y log y >= y - 1 (y > 0)
                out.append(z3.Implies(pos, ez * lv >= ez - 1))
            if "ln_upper" in self.ob.lemmas:
                out.append(z3.Implies(pos, lv <= ez - 1))
        if "ln_monotone" in self.ob.lemmas:
            for i, (la, _, a) in enumerate(logs):
                for lb, _, b in logs[i + 1:]:
                    out.append(z3.Implies(z3.And(a > 0, b > 0, a <= b), la <= lb))
                    out.append(z3.Implies(z3.And(a > 0, b > 0, a < b), la < lb))
                    out.append(z3.Implies(z3.And(a > 0, b > 0, b <= a), lb <= la))
                    out.append(z3.Implies(z3.And(a > 0, b > 0, b < a), lb < la))
                    out.append(z3.Implies(a == b, la == lb))
        return out

    def query(self, assume_defined: bool = False):
        """(assertions, description) of: symbols' domains, premises, definitions, lemmas, and the
        negated goal (not conclusion, or something undefined).  ``assume_defined``: every denominator
        nonzero and every logarithm's argument positive is *assumed* instead (the meaning of a SymPy
        identity of rational functions: lhs = rhs wherever both sides are defined)."""
        z3 = self.z3
        prem = [self.boolean(_prep(p)) for p in self.ob.premises]
        goal = self.boolean(_prep(self.ob.conclusion))
        lem = self.lemma_constraints()
        if assume_defined:
            return list(self.side) + prem + lem + [z3.Not(u) for u in self.undefined] + [z3.Not(goal)]
        neg = z3.Or(z3.Not(goal), *self.undefined) if self.undefined else z3.Not(goal)
        return list(self.side) + prem + lem + [neg]


def _prep(r):
    return r


def encode(ob: Obligation, assume_defined: bool = False) -> tuple:
    """(list of z3 assertions of premises and not conclusion, SMT-LIB2 text of it); ``assume_defined``
    as in the encoder's query (the certificate of an identity SymPy proved)."""
    enc = _Encoder(ob)
    asserts = enc.query(assume_defined=assume_defined)
    return asserts, smt2_text(ob, asserts, assume_defined=assume_defined)


_UNARY = re.compile(r"\((\+|\*) ((?:[^()\s]+)|(?:\((?:[^()]|\([^()]*\))*\)))\)")


def _no_unary(text: str) -> str:
    """SMT-LIB's ``+`` and ``*`` take at least two arguments; z3 prints ``(+ x)`` for a one-term sum, which
    cvc5 rejects: ``(+ x)`` and ``(* x)`` become ``x`` (a no-op on the meaning).

    >>> _no_unary("(assert (<= (+ x) (* (+ y z))))")
    '(assert (<= x (+ y z)))'
    """
    prev = None
    while prev != text:
        prev, text = text, _UNARY.sub(lambda m: m.group(2), text)
    return text


def smt2_text(ob: Obligation, asserts, assume_defined: bool = False) -> str:
    z3 = _z3()
    s = z3.Solver()
    s.add(*asserts)
    body = _no_unary(s.to_smt2())
    body = body.replace("(check-sat)", "").rstrip() + "\n(check-sat)\n"
    header = [f"; qbound obligation {ob.name}", "; premises and NOT conclusion: expected unsat",
              f"; key sha256 {ob.key()}", "(set-logic QF_NRA)"]
    if assume_defined:
        header.insert(2, "; an identity of rational functions (SymPy): denominators nonzero, log arguments positive assumed")
    lines = [ln for ln in body.splitlines() if not ln.startswith("(set-info") and not ln.startswith("(set-logic")]
    return "\n".join(header + lines) + "\n"


# ------------------------------------------------------------------------------------------------
# engines


def _opaque_subs(ob: Obligation) -> dict:
    """expression -> symbol for the opaque aux atoms (an identity in fresh symbols implies the identity)."""
    out = {}
    for x in ob.aux:
        if len(x) > 2 and x[2] == "opaque":
            a, e = x[0], x[1]
            if isinstance(e, sp.Pow) and e.exp == sp.Rational(1, 2):
                out[e.base] = a ** 2
            else:
                out[e] = a
    return out


def _numeric_probe(diff, tries: int = 3, seed: int = 0):
    """A point (dict name -> decimal string) of the symbols' sign domains where ``diff`` is a finite real
    number that is clearly nonzero (50-digit evaluation), or None."""
    import random
    rng = random.Random(seed)
    syms = sorted(diff.free_symbols, key=lambda x: x.name)
    for _ in range(tries):
        pt = {}
        for x in syms:
            lo = 0 if (x.is_positive or x.is_nonnegative) else -1
            pt[x] = sp.Rational(rng.randint(1, 999), 1000) * (1 - lo) + lo
            if x.is_positive and pt[x] == 0:
                pt[x] = sp.Rational(1, 1000)
        try:
            val = diff.xreplace(pt).evalf(50)
        except Exception:  # pragma: no cover - SymPy evaluation errors
            continue
        if val.is_real and val.is_finite and val.is_Number and abs(val) > sp.Float("1e-20"):
            return {x.name: str(v) for x, v in pt.items()}
    return None


def _sympy_engine(ob: Obligation):
    c = ob.conclusion
    subs = _opaque_subs(ob)
    if subs and isinstance(c, sp.core.relational.Relational):
        c = c.func(c.lhs.xreplace(subs), c.rhs.xreplace(subs))
    if c is sp.true or c is True:
        return "proved", "SymPy: the conclusion evaluates to True"
    if isinstance(c, sp.And):
        for part in c.args:
            st, msg = _sympy_engine(Obligation(ob.name, ob.premises, part, ob.aux, ob.lemmas))
            if st != "proved":
                return None, msg
        return "proved", "SymPy: every conjunct proved"
    if isinstance(c, sp.Eq):
        probe = _numeric_probe(c.lhs - c.rhs)
        if probe is not None:
            if not ob.premises:  # no premises: a point of the symbols' domains where lhs != rhs refutes it
                return "refuted", probe
            return None, f"lhs - rhs is nonzero at {probe} (50 digits); not an identity"
        diff = sp.cancel(sp.together(c.lhs - c.rhs))
        if diff != 0 and sp.count_ops(diff) < 400:
            diff = sp.simplify(diff)
        return ("proved", "SymPy: lhs - rhs simplifies to 0") if diff == 0 else (None, f"lhs - rhs = {diff}")
    if isinstance(c, (sp.Le, sp.Lt, sp.Ge, sp.Gt)):
        big, small = (c.rhs, c.lhs) if isinstance(c, (sp.Le, sp.Lt)) else (c.lhs, c.rhs)
        e = big - small
        strict = isinstance(c, (sp.Lt, sp.Gt))
        forms = [e] + ([sp.expand(e)] if sp.count_ops(e) < 200 else [])
        for form in forms:
            if (form.is_positive if strict else form.is_nonnegative) is True:
                return "proved", "SymPy: difference is a sum/product of terms of known sign (symbol assumptions)"
        return None, "SymPy: sign of the difference not determined"
    return None, "SymPy: not an (in)equality"


def _z3_solve(asserts, timeout_s: float):
    z3 = _z3()
    s = z3.SolverFor("QF_NRA")
    s.set("timeout", int(timeout_s * 1000))
    s.add(*asserts)
    r = s.check()
    if r == z3.unsat:
        return "unsat", None, ""
    if r == z3.sat:
        m = s.model()
        ce = {}
        for dcl in m.decls():
            if "!" in dcl.name():
                continue
            v = m[dcl]
            try:
                ce[dcl.name()] = v.as_decimal(20) if z3.is_algebraic_value(v) else str(v.as_fraction())
            except Exception:
                ce[dcl.name()] = str(v)
        return "sat", ce, ""
    return "unknown", None, s.reason_unknown()


#: cvc5 configurations tried in turn by the re-check: its default nonlinear solver (incremental
#: linearisation and cylindrical algebraic coverings), then with interval constraint propagation
#: (``nl-icp``), which decides several bounds with many variables that the default does not, then
#: with relevancy filtering of the nonlinear lemmas always on (``nl-rlv=always``: momentum.lag_lemma.young_B
#: in 0.1 s and momentum.bias_q.cap_B in 0.9 s, which the others do not decide in 15 s)
CVC5_CONFIGS = ((), (("nl-icp", "true"),), (("nl-rlv", "always"),))


def run_cvc5(text: str, timeout_s: float, options=()):
    """Decide an SMT-LIB2 text with cvc5 (its own parser: a check of the standalone file); ``options``:
    (name, value) pairs of cvc5 options (e.g. one of :data:`CVC5_CONFIGS`)."""
    import cvc5
    tm = cvc5.TermManager()
    slv = cvc5.Solver(tm)
    slv.setOption("tlimit-per", str(int(timeout_s * 1000)))
    slv.setOption("produce-models", "true")
    for k, v in options:
        slv.setOption(k, v)
    from qbound.proofs.engines.cvc5_engine import read_script
    sm = read_script(slv, tm, text, "obligation")
    r = slv.checkSat()
    if r.isUnsat():
        return "unsat", None, ""
    if r.isSat():
        ce = {}
        for t in sm.getDeclaredTerms():
            if "!" not in str(t):
                ce[str(t)] = str(slv.getValue(t))
        return "sat", ce, ""
    return "unknown", None, f"cvc5: {r} {r.getUnknownExplanation() if hasattr(r, 'getUnknownExplanation') else ''}".strip()


def run_z3_text(text: str, timeout_s: float):
    """Decide an SMT-LIB2 text with z3 (parsed from the text, not from the Python objects)."""
    z3 = _z3()
    asserts = z3.parse_smt2_string(text)
    return _z3_solve(list(asserts), timeout_s)


def solver_versions() -> dict:
    out = {}
    try:
        out["z3"] = _z3().get_version_string()
    except Exception:  # pragma: no cover
        pass
    try:
        import cvc5
        out["cvc5"] = str(getattr(cvc5, "__version__", "cvc5"))
    except Exception:  # pragma: no cover
        pass
    return out


# ------------------------------------------------------------------------------------------------
# cache


class ObligationCache:
    """Proved discharges keyed by the SHA-256 of the obligation text.

    A hit is re-validated: the stored record must carry the same key *and* the SHA-256 of the stored
    obligation text must equal the key (so an edited record or a changed obligation misses).  Only
    ``proved`` results are stored.  ``path=None`` keeps the cache in memory only.
    """

    def __init__(self, path: str | None = None):
        self.path = path
        self.mem: dict = {}
        self.hits = 0
        self.misses = 0

    def _file(self, key):
        return os.path.join(self.path, key[:2], key + ".json")

    def get(self, ob: Obligation, engines: tuple):
        key = ob.key()
        rec = self.mem.get(key)
        if rec is None and self.path:
            try:
                with open(self._file(key)) as fh:
                    rec = json.load(fh)
            except (OSError, ValueError):
                rec = None
        text = ob.text()
        if (rec is None or rec.get("key") != key or hashlib.sha256(rec.get("text", "").encode()).hexdigest() != key
                or rec.get("text") != text or rec.get("engine") not in engines or rec.get("status") != "proved"):
            self.misses += 1
            return None
        self.hits += 1
        return rec

    def put(self, ob: Obligation, d: Discharge):
        if d.status != "proved":
            return
        rec = {"key": ob.key(), "text": ob.text(), "status": d.status, "engine": d.engine, "seconds": d.seconds,
               "detail": d.detail, "smt2_sha256": hashlib.sha256(d.smt2.encode()).hexdigest() if d.smt2 else ""}
        self.mem[rec["key"]] = rec
        if self.path:
            f = self._file(rec["key"])
            os.makedirs(os.path.dirname(f), exist_ok=True)
            tmp = f + f".{os.getpid()}.tmp"
            with open(tmp, "w") as fh:
                json.dump(rec, fh)
            os.replace(tmp, f)


DEFAULT_CACHE = ObligationCache(os.environ.get("QBOUND_CACHE_DIR") or None)
"""The process-wide cache: in memory, and on disk when ``QBOUND_CACHE_DIR`` is set (the CLI sets a
default directory, see :func:`use_disk_cache`)."""


def use_disk_cache(path: str | None) -> ObligationCache:
    """Point the process-wide cache at ``path`` (None: memory only)."""
    DEFAULT_CACHE.path = path
    return DEFAULT_CACHE


def default_cache_dir() -> str:
    return os.environ.get("QBOUND_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "qbound", "obligations")


# ------------------------------------------------------------------------------------------------
# discharge


def discharge(ob: Obligation, engines=ENGINES, timeout_s: float = 20, cache: ObligationCache | None = None) -> Discharge:
    """Decide one obligation with the first engine (in order) that settles it.

    SymPy can only prove; z3/cvc5 prove (unsat) or refute (sat, with the model as counterexample).  The
    SMT-LIB2 text of the query is always attached when the encoding succeeds (the certificate).
    """
    if isinstance(ob, Induction):
        return discharge_induction(ob, engines=engines, timeout_s=timeout_s, cache=cache)
    t0 = time.perf_counter()
    key = ob.key()
    cache = DEFAULT_CACHE if cache is None else cache
    hit = cache.get(ob, tuple(engines))
    if hit is not None:  # re-validated by the hash of the obligation text; the SMT-LIB2 text is made on demand
        return Discharge(ob.name, "proved", hit["engine"], time.perf_counter() - t0, "", None,
                         "cache hit (re-validated by hash): " + hit.get("detail", ""), key, cached=True, obligation=ob)
    smt2 = ""
    asserts = None
    enc_err = ""
    try:
        asserts, smt2 = encode(ob)
    except Unsupported as exc:
        enc_err = f"encoder: {exc}"
    notes = []
    for eng in engines:
        if eng == "sympy":
            try:
                st, msg = _sympy_engine(ob)
            except Exception as exc:  # pragma: no cover - SymPy internals
                st, msg = None, f"SymPy error {exc}"
            if st == "proved":
                if isinstance(ob.conclusion, sp.Eq) and asserts is not None:
                    # the certificate says what SymPy proved: lhs = rhs wherever both sides are defined
                    asserts, smt2 = encode(ob, assume_defined=True)
                d = Discharge(ob.name, "proved", "sympy", time.perf_counter() - t0, smt2, None, msg, key)
                cache.put(ob, d)
                return d
            if st == "refuted":
                return Discharge(ob.name, "refuted", "sympy", time.perf_counter() - t0, smt2, msg,
                                 "SymPy: lhs != rhs at this point (50-digit evaluation): not an identity", key)
            notes.append(msg)
            continue
        if asserts is None:
            notes.append(enc_err)
            continue
        t1 = time.perf_counter()
        if eng == "z3":
            r, ce, why = _z3_solve(asserts, timeout_s)
        elif eng == "cvc5":
            try:
                r, ce, why = run_cvc5(smt2, timeout_s)
            except Exception as exc:
                r, ce, why = "unknown", None, f"cvc5 error: {exc}"
        else:
            raise ValueError(f"unknown engine {eng!r}; accepted: {ENGINES}")
        dt = time.perf_counter() - t1
        if r == "unsat":
            d = Discharge(ob.name, "proved", eng, time.perf_counter() - t0, smt2, None,
                          f"{eng}: premises and not conclusion is unsat ({dt:.2f} s)", key)
            cache.put(ob, d)
            return d
        if r == "sat":
            return Discharge(ob.name, "refuted", eng, time.perf_counter() - t0, smt2, ce,
                             f"{eng}: counterexample to the conclusion (or a point where it is undefined)", key)
        notes.append(f"{eng}: unknown ({why or 'timeout'}, {dt:.1f} s)")
    return Discharge(ob.name, "unknown", "", time.perf_counter() - t0, smt2, None, "; ".join(n for n in notes if n), key)


def discharge_induction(ind: Induction, engines=ENGINES, timeout_s: float = 20, cache=None) -> Discharge:
    t0 = time.perf_counter()
    errs = ind.shape_errors()
    b = discharge(ind.base, engines=engines, timeout_s=timeout_s, cache=cache)
    s = discharge(ind.step, engines=engines, timeout_s=timeout_s, cache=cache)
    parts = [b, s]
    if errs:
        return Discharge(ind.name, "refuted", "induction", time.perf_counter() - t0, detail="; ".join(errs), parts=parts)
    if b.proved and s.proved:
        st = "proved"
    elif "refuted" in (b.status, s.status):
        st = "refuted"
    else:
        st = "unknown"
    return Discharge(ind.name, st, "induction", time.perf_counter() - t0,
                     detail=f"base: {b.status} ({b.engine}), step: {s.status} ({s.engine})", parts=parts)


def discharge_rule(it: RuleApplication, done: dict, rels: dict) -> Discharge:
    """A rule application is proved iff its rule is one of :data:`RULES`, every premise it names is
    proved (``done``: name -> Discharge) and, when it carries a ``spec``, its stated conclusion is what
    the rule yields from the premises' conclusions (``rels``: name -> relation; :func:`check_rule`;
    a mismatch is ``refuted``)."""
    name = it.name
    missing = [p for p in it.premises if not (p in done and done[p].proved)]
    if not it.valid:
        return Discharge(name, "unknown", "rule", detail=f"{it.rule} does not apply: {it.why}")
    if it.rule not in RULES:
        return Discharge(name, "unknown", "rule", detail=f"rule {it.rule!r} is not one of {RULES}")
    if missing:
        return Discharge(name, "unknown", "rule", detail=f"{it.rule}: premises not proved: {missing}")
    t0 = time.perf_counter()
    ok, why = check_rule(it, rels)
    if ok is False:
        return Discharge(name, "refuted", "rule:" + it.rule, time.perf_counter() - t0, detail=f"{it.rule}: {why}")
    return Discharge(name, "proved", "rule:" + it.rule, time.perf_counter() - t0,
                     detail=f"{it.rule} applied to {list(it.premises)}; " + why)


def prove_all(items, engines=ENGINES, timeout_s: float = 20, cache: ObligationCache | None = None) -> dict:
    """Discharge obligations, inductions and rule applications in order; returns name -> Discharge.

    A :class:`RuleApplication` is proved as :func:`discharge_rule` says (premises proved earlier in
    ``items``, conclusion checked against them when it carries a spec); lemmas an obligation lists are
    proved once (:func:`prove_lemma`) and an obligation using an unproved lemma is not proved.
    """
    out: dict = {}
    lemma_ok: dict = {}
    items = list(items)
    rels = {it.name: item_relation(it) for it in items}
    for it in items:
        name = it.name
        if isinstance(it, RuleApplication):
            out[name] = discharge_rule(it, out, rels)
            continue
        obs = [it.base, it.step] if isinstance(it, Induction) else [it]
        bad = []
        for o in obs:
            for lm in (x if isinstance(x, str) else x[0] for x in o.lemmas):
                if lm not in lemma_ok:
                    lemma_ok[lm] = all(d.proved for d in prove_lemma(lm, timeout_s=timeout_s))
                if not lemma_ok[lm]:
                    bad.append(lm)
        d = discharge(it, engines=engines, timeout_s=timeout_s, cache=cache)
        if bad and d.proved:
            d = Discharge(name, "unknown", d.engine, d.seconds, d.smt2, None, f"uses unproved lemma(s) {bad}", d.key)
        out[name] = d
    return out


def iter_obligations(items):
    """Every plain :class:`Obligation` inside ``items`` (inductions expanded into base and step)."""
    for it in items:
        if isinstance(it, Induction):
            yield it.base
            yield it.step
        elif isinstance(it, Obligation):
            yield it


__all__ = ["Obligation", "Induction", "RuleApplication", "Discharge", "discharge", "prove_all", "prove_lemma",
           "apply_rule", "check_rule", "discharge_rule", "relations_agree", "item_relation", "RuleError",
           "RULES", "LEMMAS", "ENGINES", "ObligationCache", "encode", "run_cvc5", "run_z3_text", "iter_obligations",
           "Unsupported", "solver_versions", "DEFAULT_CACHE", "use_disk_cache", "default_cache_dir"]
