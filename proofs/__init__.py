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

``engine="auto"``: the planner (:mod:`proofs.planner`) orders the sound methods by predicted cost
(known significand lemmas, numpy or compiled enumeration, the scale-invariance reduction of
:mod:`proofs.scaling`, SMT with bitwuzla, z3 or cvc5 by capability), shares ``timeout`` among them
and reports the wall time of the whole decision; ``explain=True`` records the plan and
``cross_check=True`` decides again with a second method (a disagreement raises
:class:`proofs.planner.Disagreement`). A proof whose hypotheses no value satisfies has
``Verdict.vacuous``. An engine that cannot encode the claim faithfully is skipped; if none can,
the verdict is unknown with the reasons. ``Verdict.bounds_status`` maps "falsified" to the bounds
layer's "refuted".
"""
from __future__ import annotations

from qbound.proofs.prover import AUTO_EXHAUSTIVE_LIMIT, build_claim, decide_auto, prove  # noqa: F401  (public API)
from qbound.proofs.verdict import LemmaResult, Verdict

__all__ = ["prove", "Verdict", "LemmaResult", "run_suite", "build_claim"]


def run_suite(name="default", formats=None, roundings=None, progress=True, consts=None, **kw):
    """Run a named lemma suite; see :mod:`proofs.suite` (extra keywords: timeout, on_result,
    smt2_dir, jobs)."""
    from qbound.proofs.suite import run_suite as _run
    return _run(name, formats=formats, roundings=roundings, progress=progress, consts=consts, **kw)
