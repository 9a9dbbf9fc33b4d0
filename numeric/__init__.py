"""The ground layer: floating-point formats, bit-exact rounding, and quantized optimizers on real problems.

What a format does to a number, and what a quantized optimizer does on a real problem; nothing
here imports :mod:`qbound.proofs`, :mod:`qbound.bounds` or :mod:`qbound.app`.

Formats and rounding (``formats``, ``rounding``):

* :class:`FloatFormat`: a frozen description of a format (exponent and stored mantissa bits, bias,
  special-value policy, subnormals) with exact ``Fraction`` constants; :func:`get_format` looks one
  up by name (``"bf16"``, ``"fp8_e4m3fn"``, ``"e2m1fn"``, any IEEE-like ``"eXmY"``); :func:`registry`.
* :func:`quantize` ``(x, fmt, rounding="rne", *, rng=None, out=None, ...)``: round every value of an
  array to the format, bit-identical to ml_dtypes, in the modes ``ROUNDING_MODES`` (rne, rna, rtz,
  rup, rdn, sr; also as the str enum :class:`RoundingMode`), keeping float32 input in float32 when
  the format fits (:func:`result_dtype`); :func:`quantize_exact` rounds exact rationals (an
  independent oracle); :func:`floor_log2` of a rational, exactly.

Quantized training (``quantplan``, ``optimizers``, ``problems``, ``harness``, ``sweep``):

* :class:`QuantPlan`: a format and rounding mode per component W, G, M, V (the CLI's ``--quant``);
* :func:`make_optimizer` (Adam as the paper analyses it, PyTorch's Adam and AdamW, Muon, SGD with
  momentum), :func:`make_problem` (Rosenbrock, quadratic, digits logistic regression and MLP,
  matrix least squares), :func:`run` (one run, a :class:`Trajectory`), :func:`run_sweep`.

Errors: :class:`QboundError` is the root; bad input raises :class:`InputError` (exit status 2 in
the CLI) with close matches.

>>> from qbound.numeric import get_format, quantize
>>> bf16 = get_format("bf16")
>>> bf16.p, float(bf16.max_finite)
(8, 3.3895313892515355e+38)
>>> float(quantize(0.999, bf16, "rtz"))
0.99609375

Submodules load on first use, so ``import qbound.numeric`` stays cheap.
"""
from __future__ import annotations

from qbound._lazy import exports as _lazy_exports

#: public name -> the submodule that defines it
_EXPORTS = {
    "FloatFormat": "formats", "FormatError": "formats", "FormatSpellingWarning": "formats",
    "get_format": "formats", "registry": "formats", "ROUNDING_MODES": "formats",
    "quantize": "rounding", "quantize_exact": "rounding", "is_representable": "rounding",
    "result_dtype": "rounding", "floor_log2": "formats",
    "RoundingMode": "modes", "FormatPolicy": "modes",
    "QuantPlan": "quantplan", "COMPONENTS": "quantplan",
    "Optimizer": "optimizers", "make_optimizer": "optimizers", "OPTIMIZERS": "optimizers",
    "Problem": "problems", "make_problem": "problems", "PROBLEMS": "problems",
    "run": "harness", "Trajectory": "trajectory", "run_sweep": "sweep",
    "QboundError": "errors", "InputError": "errors",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = _lazy_exports(globals(), _EXPORTS, __all__)
