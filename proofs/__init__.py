"""Bit-precise rounding lemmas: decide claims over every value of a floating-point format.

Public API (the "proofs" contract):

* :func:`prove` ``(claim, fmt, rounding="rne", *, assume=(), consts=None, engine="auto",
  timeout=30.0, smt2_dir=None, var_format=None) -> Verdict``: decide "for every assignment of the
  variables (finite values of ``var_format``, default ``fmt``) satisfying every ``assume``, the claim
  holds". The claim language is documented in :mod:`proofs.claims`.
* :class:`Verdict`: ``status`` proved | falsified | unknown, ``engine``, ``engine_version``,
  ``seconds``, ``counterexample`` (None or ``{var: {"decimal", "hex"}, "lhs", "rhs"}``),
  ``to_dict()``.
* :func:`run_suite` ``(name="default", formats=None, roundings=None, progress=True, consts=None)
  -> list[LemmaResult]``; :class:`LemmaResult` (lemma_id, title, format, rounding, hypotheses,
  expected, verdict, data, surprise, to_dict()).
* :mod:`proofs.optimizer_facts`: ``constant_rounding``, ``stagnation_threshold``,
  ``swamping_threshold``.

``engine="auto"``: enumeration when the claim's assignments can be enumerated quickly (formats of
at most 8 bits, or one variable of a 16-bit format), else the SMT engines (bitwuzla when every sort
is standard, else z3). An engine that cannot encode the claim faithfully is skipped; if none can,
the verdict is unknown with the reasons.
"""
from __future__ import annotations

import time

from qbound.proofs.verdict import LemmaResult, Verdict

__all__ = ["prove", "Verdict", "LemmaResult", "run_suite", "build_claim"]

#: auto uses enumeration up to this many assignments
AUTO_EXHAUSTIVE_LIMIT = 1 << 17


def build_claim(claim, fmt, rounding="rne", *, assume=(), consts=None, var_format=None):
    from qbound.proofs.exact import build_claim as _b
    return _b(claim, fmt, rounding, assume=assume, consts=consts, var_format=var_format)


def prove(claim, fmt, rounding="rne", *, assume=(), consts=None, engine="auto", timeout=30.0,
          smt2_dir=None, var_format=None) -> Verdict:
    """Decide a claim (see module docstring). Bad input raises numeric.errors.InputError."""
    from qbound.proofs.engines import get_engine
    from qbound.proofs.engines.base import Unsupported
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
    return decide_auto(c, timeout=timeout, smt2_dir=smt2_dir)


def decide_auto(c, timeout=30.0, smt2_dir=None) -> Verdict:
    """The auto strategy on a built claim."""
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


def run_suite(name="default", formats=None, roundings=None, progress=True, consts=None, **kw):
    """Run a named lemma suite; see :mod:`proofs.suite` (extra keywords: timeout, on_result,
    smt2_dir, jobs)."""
    from qbound.proofs.suite import run_suite as _run
    return _run(name, formats=formats, roundings=roundings, progress=progress, consts=consts, **kw)
