"""Falsify bounds in your own tests: Hypothesis strategies, assertion helpers and a pytest plugin.

``qbound.testing`` sits with the theory layers (it may import :mod:`qbound.numeric`,
:mod:`qbound.proofs` and :mod:`qbound.bounds`, never :mod:`qbound.app`), so a test suite can use it
without the command line. Hypothesis and pytest are optional: ``pip install "qbound[testing]"``.

Strategies (:mod:`qbound.testing.strategies`, need hypothesis):

* :func:`values` ``(fmt, *, allow_nan, allow_infinity, allow_subnormal, min_value, max_value, dtype,
  as_fraction)``: the values of any registry or ``eXmY`` format, drawn from its bit fields (sign,
  exponent, mantissa) so that failures shrink towards 0, 1 and small exponents, with extra weight
  on binade edges, tie-shaped mantissas, the largest finite value and the subnormal boundary;
* :func:`rounding_inputs` ``(fmt, source="fp64")``: float64 inputs that sit where rounding into
  ``fmt`` bites (exact ties, one ulp either side of them, the overflow threshold, below tiny);
* :func:`formats`, :func:`rounding_modes`, :func:`plans` (:class:`~qbound.numeric.QuantPlan`).

Assertions (:mod:`qbound.testing.assertions`; each raises :class:`CounterexampleError`, an
``AssertionError`` that carries the counterexample, shown by the pytest plugin in the report):

* :func:`assert_lemma` ``(claim, fmt, rounding, assume=..., allow_unknown=False)``: the prover;
* :func:`assert_rounds_like` ``(fn, fmt, rounding)``: your quantizer against qbound's bit-exact one;
* :func:`assert_bound_holds` ``(runs, bound, constants)``: the verify statistic (broken only when the
  lower end of the 95% interval lies above the bound);
* :func:`assert_no_stagnation` ``(run, ...)``: no long stretch of steps whose updates were all lost.

The pytest plugin (:mod:`qbound.testing.plugin`, registered as the ``pytest11`` entry point
``qbound``): ``@pytest.mark.qbound_formats("bf16", "fp8_e4m3fn", roundings=("rne", "rtz"))`` runs
a test once per format (fixture ``qbound_format``) and rounding mode (``qbound_rounding``);
``--qbound-formats`` and ``--qbound-roundings`` replace the marker's lists from the command line.

>>> from qbound.testing import assert_lemma
>>> assert_lemma("abs(rnd(x) - x) <= u * abs(x)", "fp8_e4m3fn", "rne", assume=["tiny <= abs(x) <= huge"]).status
'proved'
>>> from qbound.testing import CounterexampleError
>>> try:
...     assert_lemma("rnd(x + y) == x + y", "fp8_e4m3fn", "rne")
... except CounterexampleError as exc:
...     print(sorted(k for k, v in exc.counterexample.items() if isinstance(v, dict) and "hex" in v))
['x', 'y']
"""
from __future__ import annotations

from qbound._lazy import exports as _lazy_exports

#: public name -> the submodule that defines it (loaded on first use: no hypothesis at import)
_EXPORTS = {
    "values": "strategies", "rounding_inputs": "strategies", "formats": "strategies",
    "rounding_modes": "strategies", "plans": "strategies",
    "assert_lemma": "assertions", "assert_rounds_like": "assertions", "assert_bound_holds": "assertions",
    "assert_no_stagnation": "assertions", "CounterexampleError": "assertions",
    "describe_value": "assertions", "adam_tau_measure": "assertions",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = _lazy_exports(globals(), _EXPORTS, __all__)
