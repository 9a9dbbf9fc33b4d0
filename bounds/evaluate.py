"""Numeric evaluation of SymPy bounds and conditions (mpmath), shared by every module of the theory layer.

It imports no derivation, so the derivations (:mod:`qbound.bounds.adam`, :mod:`qbound.bounds.muon`) and
the modules that use them can all build on it without an import cycle.
"""
from __future__ import annotations

import math
from fractions import Fraction

from qbound.numeric.errors import InputError, close_matches, did_you_mean

NAMES = ("adam", "muon")


def check_name(name: str) -> str:
    if name in NAMES:
        return name
    hint = did_you_mean(name, NAMES, n=2, cutoff=0.3)
    raise InputError(f"unknown derivation {name!r}.{hint} Accepted: {', '.join(NAMES)}.")


_check_name = check_name


def _to_sympy_number(v):
    import sympy as sp
    if isinstance(v, Fraction):
        return sp.Rational(v.numerator, v.denominator)
    if isinstance(v, bool):
        raise InputError("boolean is not a number")
    if isinstance(v, int):
        return sp.Integer(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(f"values must be finite numbers, got {v}")
        return sp.Rational(v)  # exact binary value
    if hasattr(v, "is_Number") and v.is_Number:
        return v
    import numbers
    if isinstance(v, numbers.Integral):
        return sp.Integer(int(v))
    if isinstance(v, numbers.Real):
        return _to_sympy_number(float(v))
    raise InputError(f"values must be numbers (int, float, Fraction), got {type(v).__name__}")


# values a caller may leave out: Bx = oo is "no box assumed" (then X = Min(drift, sqrt(d) Bx) is the drift bound)
DEFAULTS = {"Bx": math.inf}


def with_defaults(expr):
    """``expr`` with the :data:`DEFAULTS` substituted for its symbols of those names (Bx = oo: no box,
    and SymPy reduces Min(drift, sqrt(d) oo) to the drift branch).

    >>> import sympy as sp
    >>> D, Bx, d = sp.symbols("D Bx d", positive=True)
    >>> with_defaults(sp.Min(D, sp.sqrt(d) * Bx))
    D
    """
    import sympy as sp
    return expr.subs({s: (sp.oo if DEFAULTS[s.name] == math.inf else DEFAULTS[s.name])
                      for s in expr.free_symbols if s.name in DEFAULTS})


def subs_values(name: str, syms: dict, values: dict, expr_symbols) -> dict:
    """Validate ``values`` against the symbols ``syms`` of derivation ``name``; SymPy substitutions."""
    unknown = [k for k in values if k not in syms]
    if unknown:
        hints = []
        for u in unknown:
            c = close_matches(u, syms, n=1, cutoff=0.6)
            hints.append(f"{u!r}" + (f" (did you mean {c[0]!r}?)" if c else ""))
        raise InputError(f"unknown symbol(s) {', '.join(hints)} for {name}. Accepted: {', '.join(sorted(syms))}.")
    missing = sorted(s.name for s in expr_symbols if s.name not in values)
    if missing:
        raise InputError(f"missing value(s) for symbol(s) {', '.join(missing)} of the {name} bound.")
    import sympy as sp
    return {syms[k]: (sp.oo if k in DEFAULTS and v == math.inf else _to_sympy_number(v)) for k, v in values.items()}


def evaluate_expr(name: str, syms: dict, expr, conds, values: dict) -> float:
    """Numeric value of the bound expression ``expr`` of derivation ``name`` (symbols ``syms``) at
    concrete values; ``inf`` if one of ``conds`` fails there (see :func:`qbound.bounds.evaluate_bound`)."""
    values = {**{k: v for k, v in DEFAULTS.items() if k in syms}, **values}
    subs_values(name, syms, values, expr.free_symbols)  # validates names, raises on missing ones
    import mpmath
    with mpmath.workdps(30):
        for c in conds:
            if not _numeric_relation(c, values):
                return math.inf
        f = _mp_function(expr)
        args = [mpmath.mpf(_as_float(values[s.name])) for s in _sorted_syms(expr)]
        try:
            val = f(*args)
        except (ZeroDivisionError, ValueError, OverflowError):
            return math.inf
        if isinstance(val, mpmath.mpc) or not mpmath.isfinite(val):
            return math.inf
    val = float(val)
    return val if math.isfinite(val) and val >= 0 else math.inf


def _as_float(v) -> float:
    if v == math.inf:   # only reachable for a DEFAULTS symbol (Bx = oo): subs_values refused it elsewhere
        return v
    _to_sympy_number(v)  # type validation
    return float(v)


def _sorted_syms(expr):
    return sorted(expr.free_symbols, key=lambda s: s.name)


_MP_CACHE: dict = {}


def _mp_function(expr):
    """mpmath-evaluating function of the expression's free symbols (sorted by name), cached."""
    import sympy as sp
    key = sp.srepr(expr)
    if key not in _MP_CACHE:
        _MP_CACHE[key] = sp.lambdify(_sorted_syms(expr), expr, modules="mpmath")
    return _MP_CACHE[key]


def _numeric_relation(rel, values: dict) -> bool:
    """Evaluate a SymPy relation numerically (mpmath) at the given values."""
    import mpmath
    lhs = _mp_function(rel.lhs)(*[mpmath.mpf(_as_float(values[s.name])) for s in _sorted_syms(rel.lhs)])
    rhs = _mp_function(rel.rhs)(*[mpmath.mpf(_as_float(values[s.name])) for s in _sorted_syms(rel.rhs)])
    op = rel.rel_op
    return bool({"<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs, ">=": lhs >= rhs}[op])


