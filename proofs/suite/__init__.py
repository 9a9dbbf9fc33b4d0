"""The default lemma suite: for each format and rounding mode, the per-operation facts that
convergence proofs assume, each with hypotheses and the verdict the library expects.

One module per lemma family (each module's docstring states its lemmas and how they are decided):

=====================================  =========================================================
:mod:`~qbound.proofs.suite.conversion`  ``conv.relerr``: rounding a real in the normal range
:mod:`~qbound.proofs.suite.arith`       ``op.{mul,add,sub,div,sqrt,fma}.relerr``: the x(1+delta) model
:mod:`~qbound.proofs.suite.subnormal`   ``sub.relfail``, ``sub.mixed``: below the normal range
:mod:`~qbound.proofs.suite.overflow`    ``overflow.threshold``
:mod:`~qbound.proofs.suite.exactness`   ``exact.sterbenz``, ``exact.pow2``
:mod:`~qbound.proofs.suite.optimizer`   ``opt.beta1``, ``opt.beta2``, ``opt.v_nonneg``, ``opt.v_overflow``,
                                        ``opt.stagnation``, ``opt.swamping``, ``opt.lr_swamping``,
                                        ``opt.denominator`` (analyses in :mod:`qbound.proofs.optimizer_facts`)
:mod:`~qbound.proofs.suite.stochastic`  ``sr.unbiased``, ``sr.bias``
=====================================  =========================================================

:mod:`~qbound.proofs.suite.common` holds the unit of work (one format and mode, with the run's
settings; no module-level state) and :mod:`~qbound.proofs.suite.runner` the suites, the canonical
order (families in the order above) and the serial or forked run. The lemma ids are stable.

Engine choice per lemma (each choice is a reduction validated in tests/proofs against enumeration):
formats of at most 8 bits are enumerated; wider formats use the significand reductions
(:mod:`qbound.proofs.reductions`) for * and +/-, the conversion lemma over reals for /, sqrt and fma
(one rounding of an exact real), 16-bit unary facts are enumerated, and the remaining facts go to
the generic SMT encoding. Results are yielded as they arrive (``iter_suite``) so callers can write
JSON progressively.

>>> from qbound.proofs.suite import run_suite
>>> rs = run_suite("quick", formats=["fp4_e2m1"], roundings=["rne"], progress=False)
>>> len(rs), sum(r.surprise for r in rs)
(21, 0)
"""
from __future__ import annotations

from qbound.proofs.suite.runner import (DEFAULT_CONSTS, DEFAULT_FORMATS, DEFAULT_ROUNDINGS, FAMILIES, QUICK_FORMATS,
                                        SUITES, iter_suite, lemmas_for, run_suite)
from qbound.proofs.suite.stochastic import sr_expectation

__all__ = ["DEFAULT_CONSTS", "DEFAULT_FORMATS", "DEFAULT_ROUNDINGS", "FAMILIES", "QUICK_FORMATS", "SUITES",
           "iter_suite", "lemmas_for", "run_suite", "sr_expectation"]
