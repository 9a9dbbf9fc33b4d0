"""Mantissa bits each component needs for a given horizon T.

Two answers, side by side:

* asymptotic: from :mod:`bounds.asymptotics`, q_X = c T^-k_X keeps the full-precision rate, so
  M_X >= k_X log2 T + const (q = 2^-M for truncation, the paper's model; u/(1+u), u = 2^-(M+1), for
  round-to-nearest);
* concrete: the smallest stored-mantissa length M_X such that, with only component X quantized, the
  bound at this T under the schedule (Adam: alpha = a T^-1/2, 1 - beta2 = b/T, beta1 given;
  Muon: eta = a T^-3/4, 1 - beta = b T^-1/2) is at most (1 + tol) times the full-precision bound,
  with the problem constants given (defaults 1, eps = 1e-8).  The constant in M_X = k_X log2 T +
  const is then reported as M_X - k_X log2 T.
"""
from __future__ import annotations

import math
from fractions import Fraction

from qbound.numeric.errors import InputError

DEFAULTS = {
    "adam": {"R": 1.0, "L": 1.0, "d": 1.0, "Delta": 1.0, "eps": 1e-8, "X0": 1.0, "Bx": math.inf, "beta1": 0.0, "a": 1.0, "b": 1.0},
    "muon": {"L": 1.0, "sigma": 1.0, "B": 1.0, "r": 1.0, "Delta": 1.0, "W0": 1.0, "a": 1.0, "b": 1.0},
}


def q_for_bits(M: int, rounding: str = "rtz") -> Fraction:
    """Relative error bound of a format with M stored mantissa bits (p = M + 1), normal range."""
    p = M + 1
    if rounding in ("rne", "rna"):
        u = Fraction(1, 2 ** p)
        return u / (1 + u)
    if rounding == "rtz":
        w = Fraction(2, 2 ** p)
        return w / (1 + w)
    if rounding in ("rup", "rdn", "sr"):
        return Fraction(2, 2 ** p)
    raise InputError(f"unknown rounding mode {rounding!r}")


def _values(name, T, consts, qs):
    v = {k: x for k, x in consts.items() if k not in ("a", "b")}
    v["T"] = float(T)
    if name == "adam":
        v["alpha"] = consts["a"] / math.sqrt(T)
        v["beta2"] = 1 - consts["b"] / T
        comps = ("W", "G", "M", "V")
    else:
        v["eta"] = consts["a"] * T ** -0.75
        v["beta"] = 1 - consts["b"] / math.sqrt(T)
        comps = ("W", "G", "M")
    for X in comps:
        v[f"q_{X}"] = float(qs.get(X, 0))
    return v


def _check_schedule(name: str, T: float, consts: dict) -> None:
    """Refuse momentum parameters outside the range the bound is derived for (exactly, not in float64)."""
    b = Fraction(consts["b"])
    if name == "adam":
        b1 = Fraction(consts["beta1"])
        if not 0 <= b1 < 1:
            raise InputError(f"--beta1 must be in [0, 1), got {consts['beta1']:g}")
        beta2 = 1 - b / Fraction(T)
        if not 0 < beta2 < 1:
            raise InputError(f"beta2 = 1 - b/T = {float(beta2):g} must be in (0, 1) (b = {consts['b']:g}, T = {T:g})")
        if b1 > 0 and not b1 < beta2:
            raise InputError(f"the bound needs beta1 < beta2, got beta1 = {consts['beta1']:g} >= "
                             f"beta2 = 1 - b/T = {float(beta2):g}: use a larger T or a smaller --beta1")
        if not 1 - consts["b"] / T < 1:
            raise InputError(f"T = {T:g} is too large: 1 - b/T rounds to 1 in float64, so the bound is not finite; "
                             f"use T < {2 ** 53 * float(b):g}")
    else:
        if not 0 < consts["b"] <= math.sqrt(T):
            raise InputError(f"beta = 1 - b/sqrt(T) must be in [0, 1), got b = {consts['b']:g}, T = {T:g}")
        if not 1 - consts["b"] / math.sqrt(T) < 1:
            raise InputError(f"T = {T:g} is too large: 1 - b/sqrt(T) rounds to 1 in float64")


def required_bits(name: str, T, *, tol: float = 1.0, rounding: str = "rtz", constants: dict | None = None,
                  max_bits: int = 60) -> dict:
    """Bits per component for horizon T (see module docstring)."""
    from qbound.bounds.registry import _check_name, evaluate_bound
    from qbound.bounds.asymptotics import rate_table
    name = _check_name(name)
    T = float(T)
    if not (T >= 2 and math.isfinite(T)):
        raise InputError(f"T must be a number of steps >= 2, got {T}")
    if not tol > 0:
        raise InputError("tol must be > 0")
    consts = dict(DEFAULTS[name])
    for k, v in (constants or {}).items():
        if k not in consts:
            raise InputError(f"unknown constant {k!r}; accepted: {', '.join(consts)}")
        consts[k] = float(v)
    _check_schedule(name, T, consts)
    base = evaluate_bound(name, _values(name, T, consts, {}))
    if not math.isfinite(base):
        raise InputError(f"the full-precision bound of {name} is not finite at T = {T:g} with these constants "
                         f"(in float64 the schedule degenerates, e.g. 1 - b/T rounds to 1); no bit count can be "
                         f"derived from it: use a smaller T or other constants")
    table = rate_table(name, limit_checks=False)
    if name == "adam":
        table = table["beta1_0" if consts["beta1"] == 0 else "momentum"]
    comps = ("W", "G", "M", "V") if name == "adam" else ("W", "G", "M")
    out = {"derivation": name, "T": T, "tol": tol, "rounding": rounding, "constants": consts,
           "full_precision_bound": base, "criterion": f"bound(q_X) <= (1 + {tol}) * bound(q = 0) at this T",
           "components": {}}
    for X in comps:
        kX = table["comparison"][X]["k_min"]
        need = None
        lo, hi = 0, max_bits
        def ok(M):
            val = evaluate_bound(name, _values(name, T, consts, {X: q_for_bits(M, rounding)}))
            return math.isfinite(val) and val <= (1 + tol) * base  # a non-finite bound is never a success

        if ok(hi):
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if ok(mid):
                    hi = mid
                else:
                    lo = mid
            need = hi
        k = float(Fraction(kX)) if kX not in (None, "None") else None
        out["components"][X] = {
            "bits": need, "k": kX,
            "asymptotic": f"M_{X} >= {kX} log2 T + const" if k is not None else None,
            "k_log2_T": None if k is None else k * math.log2(T),
            "const": None if (need is None or k is None) else need - k * math.log2(T),
            "q_at_bits": None if need is None else float(q_for_bits(need, rounding)),
        }
    out["bits"] = {X: c["bits"] for X, c in out["components"].items()}
    return out
