"""Lemma family ``overflow``: where rounding leaves the finite range, and what it gives there.

``overflow.threshold`` (rne, rtz): a point t0 at or just below the overflow threshold T rounds to
huge, and a point t1 past it saturates (policy ``none``, or toward zero under rtz), gives NaN (OCP
``fn`` formats) or +inf (IEEE). Under nearest rounding T is the midpoint huge + ulp(huge)/2; when
the tie itself does not overflow, t0 = T and t1 = T + ulp(huge)/32 (fp8_e4m3fn: 464 -> 448,
465 -> NaN), otherwise t0 = T - ulp(huge)/32 and t1 = T. Under rtz, T = huge + ulp(huge) and
finite values past huge round toward zero, to huge (t0 = huge + 3/4 ulp(huge), t1 = 2 huge).
"""
from __future__ import annotations

from typing import Iterator

from qbound.proofs.exact import fmt_value, round_fraction
from qbound.proofs.prover import prove
from qbound.proofs.suite.common import Unit
from qbound.proofs.verdict import LemmaResult


def probe_points(fmt, mode):
    """(T, t0, t1): the threshold, a point that still rounds to huge and one that overflows.

    >>> from qbound.numeric.formats import get_format
    >>> [str(t) for t in probe_points(get_format("fp8_e4m3fn"), "rne")]
    ['464', '464', '465']
    """
    huge = fmt.max_finite
    if mode == "rne":
        T = fmt.overflow_threshold(mode)
        tie_over = fmt.overflows_at_tie(mode)
        below = T if not tie_over else T - fmt.ulp(huge) / 32
        above = T + fmt.ulp(huge) / 32 if not tie_over else T
    else:
        T = huge + fmt.ulp(huge)
        below, above = T - fmt.ulp(huge) / 4, 2 * huge
    return T, below, above


def overflow_claim(fmt, mode) -> tuple[str, str]:
    """(claim on t1, what it says) for the format's overflow policy under ``mode``."""
    if fmt.policy == "none":
        return "rnd(t1) == huge", "saturates to huge"
    if mode == "rtz":
        return "rnd(t1) == huge", "rounds toward zero to huge"
    if fmt.policy == "fn":
        return "not (rnd(t1) == rnd(t1))", "gives NaN"
    return "rnd(t1) > huge", "gives +inf"


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``overflow.threshold`` (directed and nearest modes only)."""
    fmt, mode = u.fmt, u.mode
    if mode not in ("rne", "rtz"):
        return
    T, below, above = probe_points(fmt, mode)
    over_claim, what = overflow_claim(fmt, mode)
    pol = fmt.policy
    claim = f"rnd(t0) == huge and {over_claim}"
    v = prove(claim, fmt, mode, consts={"t0": below, "t1": above}, timeout=u.timeout, smt2_dir=u.smt2_dir)
    yield LemmaResult("overflow.threshold", f"overflow threshold ({pol} policy): {fmt_value(below)} -> huge, "
                      f"{fmt_value(above)} {what}", fmt.name, mode, [], claim, "proved", v,
                      {"huge": fmt.max_finite, "threshold": T,
                       "overflows_at_tie": fmt.overflows_at_tie(mode) if mode == "rne" else None,
                       "below": below, "above": above, "policy": pol,
                       "rnd_below": fmt_value(round_fraction(below, fmt, mode)),
                       "rnd_above": str(round_fraction(above, fmt, mode))})
