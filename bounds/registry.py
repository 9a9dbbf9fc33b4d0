"""Name -> derivation module, and the functions of the public API that need the derivation modules
(re-exported by :mod:`qbound.bounds`). Other modules of the layer import from here, never from the
package ``__init__``, so that no import cycle runs through it.
"""
from __future__ import annotations

from fractions import Fraction

from qbound.bounds.evaluate import NAMES, _check_name, evaluate_expr, subs_values  # noqa: F401


def _module(name: str):
    _check_name(name)
    if name == "adam":
        from qbound.bounds import adam
        return adam
    from qbound.bounds import muon
    return muon


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


def _subs_values(name: str, values: dict, expr_symbols) -> dict:
    return subs_values(name, symbols(name), values, expr_symbols)


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
    return evaluate_expr(name, symbols(name), expr, conds, values)
