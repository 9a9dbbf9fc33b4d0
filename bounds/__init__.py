"""qbound's theory layer: convergence bounds for quantized Adam and Muon, derived and checked in SymPy.

Public API (this docstring is the layer's contract; MATH.md means docs/MATH.md in the repository):

* ``derive(name) -> Derivation`` for ``"adam"`` | ``"muon"``: ``.bound`` (SymPy), ``.conditions``
  (SymPy relations), ``.steps`` (named :class:`~bounds.derivation.Step` objects with their checks,
  status "passed"/"failed" and worst margin), ``.premises``, ``.to_dict()``, ``.latex()``.
  Adam: ``.bound`` holds for 0 <= beta1: for beta1 > 0 it is the fully derived quantized momentum bound
  (bounds.adam_momentum.BOUND_MQ, no cited premise); ``.extras["bound_beta1_0"]`` is the fully derived
  beta1 = 0 bound (Thm 2 form).
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

from qbound.bounds.evaluate import (NAMES, _MP_CACHE, _as_float, _check_name, _mp_function,  # noqa: F401
                                    _numeric_relation, _sorted_syms, _to_sympy_number)
from qbound.bounds.registry import (_module, _subs_values, bound_and_conditions, derive,  # noqa: F401
                                    evaluate_bound, q_of, symbols)


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
