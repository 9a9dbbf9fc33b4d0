"""Lemma family ``conv``: rounding one real into the format, in the normal range.

``conv.relerr``: for every real x with tiny <= |x| <= huge, |rnd(x) - x| <= u |x| with the sharp u of
the format and mode (:meth:`~qbound.numeric.formats.FloatFormat.rel_error_bound`), decided over
the reals (:func:`qbound.proofs.reductions.real_conversion`); the record carries a witness x that
attains (or approaches) u, replayed through :func:`qbound.numeric.rounding.quantize` where x is a
float64.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator

from qbound.numeric.rounding import quantize
from qbound.proofs.suite.common import NORMAL, Unit
from qbound.proofs.verdict import LemmaResult


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``conv.relerr`` (every mode)."""
    from qbound.proofs.reductions import conversion_witness, real_conversion
    fmt, mode = u.fmt, u.mode
    v, _ = real_conversion(fmt, mode, timeout=u.timeout, smt2_dir=u.smt2_dir)
    w = conversion_witness(fmt, mode)
    replay = None
    xf = float(w["x"])
    if Fraction(xf) == w["x"] and u.deterministic:
        replay = Fraction(quantize(xf, fmt, mode)) == w["rounded"]
    yield LemmaResult("conv.relerr", "conversion relative error in the normal range (sharp bound)", fmt.name, mode,
                      [NORMAL, "x real"], f"abs(rnd(x) - x) <= {u.bound_str} * abs(x)", "proved", v,
                      {"bound": u.bound, "bound_attained": fmt.rel_error_bound_attained(mode),
                       "witness_x": w["x"], "witness_rounded": w["rounded"], "witness_rel_error": w["rel_error"],
                       "witness_ratio_to_bound": float(w["ratio_to_bound"]), "witness_attains_bound": w["attained"],
                       "witness_replayed_by_quantize": replay})
