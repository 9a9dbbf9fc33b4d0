"""The decision procedure behind :func:`qbound.proofs.prove` (re-exported there).

It lives in its own module so that :mod:`qbound.proofs.suite` and :mod:`qbound.proofs.optimizer_facts`
can use it without importing the package ``__init__`` (which loads the suite): no import cycle.
"""
from __future__ import annotations

import time

from qbound.proofs.verdict import Verdict

#: auto uses enumeration up to this many assignments
AUTO_EXHAUSTIVE_LIMIT = 1 << 17


def build_claim(claim, fmt, rounding="rne", *, assume=(), consts=None, var_format=None):
    from qbound.proofs.exact import build_claim as _b
    return _b(claim, fmt, rounding, assume=assume, consts=consts, var_format=var_format)


def check_timeout(timeout) -> float:
    """A timeout must be a positive finite number of seconds (0 or inf would mean "no limit" to
    some solvers, NaN is no number).

    >>> check_timeout(2)
    2.0
    """
    import math
    from qbound.numeric.errors import InputError
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise InputError(f"timeout must be a positive finite number of seconds, got {timeout!r}")
    return t


def prove(claim, fmt, rounding="rne", *, assume=(), consts=None, engine="auto", timeout=30.0,
          smt2_dir=None, var_format=None, explain=False, cross_check=False) -> Verdict:
    """Decide a claim (see module docstring). Bad input raises numeric.errors.InputError.

    ``explain``: put the plan and what was tried in ``details["explain"]``; ``cross_check``: decide
    again with a second method (raises :class:`~proofs.planner.Disagreement` if they differ)."""
    from qbound.proofs.engines import get_engine
    from qbound.proofs.engines.base import Unsupported
    timeout = check_timeout(timeout)
    c = build_claim(claim, fmt, rounding, assume=assume, consts=consts, var_format=var_format)
    if engine != "auto":
        eng = get_engine(engine)
        t0 = time.perf_counter()
        if not eng.available():
            return Verdict("unknown", engine, "", 0.0, reason=f"engine {engine} is not installed")
        try:
            return eng.decide(c, timeout=timeout, smt2_dir=smt2_dir)
        except Unsupported as exc:
            return Verdict("unknown", engine, eng.version(), time.perf_counter() - t0,
                           reason=f"unsupported: {exc}")
    from qbound.proofs.planner import decide
    return decide(c, timeout=timeout, smt2_dir=smt2_dir, explain=explain, cross_check=cross_check)


def decide_auto(c, timeout=30.0, smt2_dir=None) -> Verdict:
    """The auto strategy on a built claim (the planner, :mod:`proofs.planner`)."""
    from qbound.proofs.planner import decide
    return decide(c, timeout=timeout, smt2_dir=smt2_dir)


def _decide_auto_legacy(c, timeout=30.0, smt2_dir=None) -> Verdict:
    """The former fixed order (exhaustive, bitwuzla, z3), kept for comparison in benchmarks."""
    from qbound.proofs.engines import get_engine
    from qbound.proofs.engines.base import Unsupported
    from qbound.proofs.engines.exhaustive import ExhaustiveEngine
    reasons = []
    order = []
    ex = ExhaustiveEngine()
    try:
        n = ex.cases(c)
    except Unsupported as exc:
        n = None
        reasons.append(f"exhaustive: {exc}")
    if n is not None and n <= AUTO_EXHAUSTIVE_LIMIT:
        order = ["exhaustive", "bitwuzla", "z3"]
    else:
        order = ["bitwuzla", "z3"] + (["exhaustive"] if n is not None else [])
    t0 = time.perf_counter()
    for name in order:
        eng = get_engine(name)
        if not eng.available():
            continue
        try:
            v = eng.decide(c, timeout=timeout, smt2_dir=smt2_dir)
        except Unsupported as exc:
            reasons.append(f"{name}: {exc}")
            continue
        if v.status != "unknown":
            if reasons:
                v.details.setdefault("skipped", reasons)
            return v
        reasons.append(f"{name}: {v.reason}")
    return Verdict("unknown", "auto", "", time.perf_counter() - t0, reason="; ".join(reasons) or "no engine")
