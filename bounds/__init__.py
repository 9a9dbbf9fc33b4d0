"""qbound's theory layer: convergence bounds for quantized Adam and Muon, derived and checked in SymPy.

Public API (the "bounds" contract in CONTRACTS.md):

* ``derive(name) -> Derivation`` for ``"adam"`` | ``"muon"``: ``.bound`` (SymPy), ``.conditions``
  (SymPy relations), ``.steps`` (named :class:`~bounds.derivation.Step` objects with their checks,
  status "passed"/"failed" and worst margin), ``.premises``, ``.to_dict()``, ``.latex()``.
  Adam: ``.bound`` holds for 0 <= beta1; for beta1 > 0 and q > 0 it still rests on the premise
  ``cited.momentum_quantized`` (Défossez Thm 4's momentum summation with the quantized pieces
  substituted). ``.extras["bound_beta1_0"]`` is the fully derived beta1 = 0 bound (Thm 2 form);
  ``.extras["bound_momentum_quantized_derived"]`` is a fully derived beta1 > 0 bound
  (bounds.adam_momentum), a different closed form that does not imply ``.bound`` everywhere.
  Muon: nuclear-norm bound under spectral smoothness, exact polar factor of the quantized momentum.
* ``evaluate_bound(name, values) -> float``: the bound at concrete values (a dict keyed by symbol
  name, e.g. ``{"T": 1e4, "alpha": 1e-2, ...}``); raises InputError naming missing symbols; returns
  ``inf`` when a condition of the bound fails (the bound says nothing there).  For Adam with
  beta1 == 0 the (smaller, fully derived) beta1 = 0 bound is used.
* ``q_of(fmt, rounding="rne") -> Fraction``: the sharp relative error bound of a format (0 for None).
* ``symbols(name) -> dict``: name -> SymPy Symbol, for ``sympy.parse_expr(text, local_dict=...)``.
* ``rate_table(name)``, ``required_bits(name, T, ...)``, ``error_floor(name, plan, ...)``,
  ``check_config(name, plan, hparams, T, problem=None)``: see bounds.asymptotics, bounds.mantissa,
  bounds.floor, bounds.check_config.
"""
from __future__ import annotations

import math
from fractions import Fraction

from qbound.numeric.errors import InputError, did_you_mean

NAMES = ("adam", "muon")


def _check_name(name: str) -> str:
    if name in NAMES:
        return name
    hint = did_you_mean(name, NAMES, n=2, cutoff=0.3)
    raise InputError(f"unknown derivation {name!r}.{hint} Accepted: {', '.join(NAMES)}.")


def _module(name: str):
    _check_name(name)
    if name == "adam":
        from qbound.bounds import adam as mod
    else:
        from qbound.bounds import muon as mod
    return mod


def derive(name: str, **kw):
    """Regenerate (or return the cached) derivation ``name`` ("adam" | "muon")."""
    return _module(name).derive(**kw)


def symbols(name: str) -> dict:
    """Symbol-name -> SymPy Symbol (with the assumptions used in the derivation)."""
    return dict(_module(name).SYMBOLS)


def q_of(fmt, rounding: str = "rne") -> Fraction:
    """Sharp relative error bound q = fmt.rel_error_bound(rounding) (Fraction); 0 for fmt None."""
    if fmt is None:
        return Fraction(0)
    from qbound.numeric.formats import get_format
    return get_format(fmt).rel_error_bound(rounding)


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


def _subs_values(name: str, values: dict, expr_symbols) -> dict:
    syms = symbols(name)
    unknown = [k for k in values if k not in syms]
    if unknown:
        import difflib
        hints = []
        for u in unknown:
            c = difflib.get_close_matches(u, syms, n=1)
            hints.append(f"{u!r}" + (f" (did you mean {c[0]!r}?)" if c else ""))
        raise InputError(f"unknown symbol(s) {', '.join(hints)} for {name}. Accepted: {', '.join(sorted(syms))}.")
    missing = sorted(s.name for s in expr_symbols if s.name not in values)
    if missing:
        raise InputError(f"missing value(s) for symbol(s) {', '.join(missing)} of the {name} bound.")
    return {syms[k]: _to_sympy_number(v) for k, v in values.items()}


def bound_and_conditions(name: str, values: dict | None = None):
    """(bound expression, list of conditions) used for these values (no checks are run)."""
    mod = _module(name)
    if name == "adam" and values and "beta1" in values and float(values["beta1"]) == 0:
        return mod.BOUND0, list(mod.CONDITIONS0)
    return mod.BOUND, list(mod.CONDITIONS)


def evaluate_bound(name: str, values: dict) -> float:
    """Numeric value of the bound at concrete symbol values (dict keyed by symbol name).

    Raises InputError naming missing or unknown symbols.  Returns ``inf`` if a condition of the
    bound fails at these values (the bound is vacuous there).
    """
    name = _check_name(name)
    expr, conds = bound_and_conditions(name, values)
    _subs_values(name, values, expr.free_symbols)  # validates names, raises on missing ones
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


def rate_table(name: str, **kw):
    from qbound.bounds.asymptotics import rate_table as _rt
    return _rt(name, **kw)


def required_bits(name: str, T, **kw):
    from qbound.bounds.mantissa import required_bits as _rb
    return _rb(name, T, **kw)


def error_floor(name: str, plan, **kw):
    from qbound.bounds.floor import error_floor as _ef
    return _ef(name, plan, **kw)


def check_config(name: str, plan, hparams: dict, T, problem=None, **kw):
    from qbound.bounds.check_config import check_config as _cc
    return _cc(name, plan, hparams, T, problem=problem, **kw)


__all__ = ["derive", "evaluate_bound", "q_of", "symbols", "rate_table", "required_bits", "error_floor",
           "check_config", "bound_and_conditions", "NAMES"]
