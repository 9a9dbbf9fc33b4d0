"""Lemma family ``sr``: stochastic rounding with k random bits, decided by enumerating every draw.

Inputs x in [1, 2) with d = 3 more fraction bits than the format (normal for every default format):
with k >= d random bits SR is exactly unbiased, E_R[rnd_sr(x)] = x (``sr.unbiased``); with k < d it
is biased, by up to (1 - 2^-(d-k)) / 2^k quanta (``sr.bias``, expected falsified). The expectation
is exact: :func:`sr_expectation` sums the 2^k outcomes of :func:`qbound.numeric.rounding.quantize`
in float64, which holds such sums without rounding. Formats of at most 16 bits, mode ``sr`` only.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Iterator

import numpy as np

from qbound.numeric.rounding import quantize
from qbound.proofs.exact import fmt_value
from qbound.proofs.suite.common import Unit
from qbound.proofs.verdict import LemmaResult, Verdict

#: discarded bits of the inputs (x has man_bits + DISCARDED fraction bits)
DISCARDED = 3


def sr_expectation(x: np.ndarray, fmt, k: int) -> np.ndarray:
    """Exact E[Q_sr(x)] with k random bits, by enumerating every R in [0, 2^k) through quantize.

    >>> from qbound.numeric.formats import get_format
    >>> x = np.array([1.0 + 1 / 64])      # 1 + 1/8 ulp of fp8_e4m3fn (ulp(1) = 1/8)
    >>> float(sr_expectation(x, get_format("fp8_e4m3fn"), 3)[0]) == float(x[0])
    True
    """
    R = np.arange(1 << k, dtype=np.uint64)
    X = np.repeat(x[:, None], 1 << k, axis=1)
    q = quantize(X, fmt, "sr", sr_bits=k, sr_random=np.broadcast_to(R, X.shape))
    # sums of <= 2^k values with p bits at one or two exponents: exact in float64
    return q.sum(axis=1) / (1 << k)


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``sr.unbiased`` (k = d) then ``sr.bias`` (k = d - 1)."""
    fmt = u.fmt
    if u.mode != "sr" or fmt.total_bits > 16:
        return
    d = DISCARDED
    m = fmt.man_bits
    j = np.arange(1 << (m + d), dtype=np.float64)
    x = (1.0 + j / (1 << (m + d)))  # [1, 2) with d extra bits
    t0 = time.perf_counter()
    for k, lid, expected in ((d, "sr.unbiased", "proved"), (d - 1, "sr.bias", "falsified")):
        e = sr_expectation(x, fmt, k)
        bad = np.nonzero(e != x)[0]
        secs = time.perf_counter() - t0
        quantum = float(fmt.ulp(1))
        data = {"random_bits": k, "discarded_bits": d, "cases": int(len(x) * (1 << k)),
                "max_abs_bias_in_quanta": float(np.max(np.abs(e - x)) / quantum),
                "predicted_max_bias_in_quanta": float(1 - 2.0 ** -(d - k)) / 2 ** k if k < d else 0.0}
        if len(bad) == 0:
            v = Verdict("proved", "exhaustive", f"numpy {np.__version__}", secs, details={"cases": data["cases"]})
        else:
            i = int(bad[np.argmax(np.abs(e[bad] - x[bad]))])
            v = Verdict("falsified", "exhaustive", f"numpy {np.__version__}", secs, counterexample={
                "x": {"decimal": fmt_value(Fraction(float(x[i]))), "hex": "n/a (x has more bits than the format)"},
                "lhs": fmt_value(Fraction(float(e[i]))), "rhs": fmt_value(Fraction(float(x[i])))})
        yield LemmaResult(lid, f"SR with {k} random bits is {'exactly unbiased' if k >= d else 'biased'} for inputs "
                          f"with {d} discarded bits", fmt.name, "sr", [f"x in [1,2) with {m + d} fraction bits"],
                          f"E_R[rnd_sr(x; {k} bits)] == x", expected, v, data)
