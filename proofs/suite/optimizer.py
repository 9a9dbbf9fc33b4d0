"""Lemma family ``opt``: facts about the state of a quantized Adam-like optimizer.

The analyses behind them (exact thresholds from the rounding cells, each checked by an engine at
and past the threshold) are :mod:`qbound.proofs.optimizer_facts`; this family states them as suite
lemmas for the run's constants (beta1, beta2, lr, eps, as the float64 values an optimizer uses).

* ``opt.beta1``, ``opt.beta2`` (every mode): how the constant rounds into the format;
* ``opt.v_nonneg``: the quantized second moment stays >= 0 when nothing overflows;
  ``opt.v_overflow``: the same without the no-overflow hypothesis (IEEE formats overflow to +inf
  and "none" formats saturate, so it holds; OCP "fn" formats overflow to NaN under nearest
  rounding, so it fails; under rtz the overflow goes toward zero, to huge, and it holds);
* ``opt.stagnation``: whether the stored v can never decrease (expected from the analytic
  threshold 1 - beta2 <= 2^-(p+1) under rne, never under rtz);
* ``opt.swamping``: updates below the swamping threshold r* leave w unchanged;
  ``opt.lr_swamping``: an Adam step (|m/(sqrt(v)+eps)| <= ~1) of size lr is lost for every
  |w| >= lr / r* (enumerated, formats of at most 16 bits);
* ``opt.denominator``: v is 0 or >= minsub, so sqrt(v) + eps is bounded below.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import numpy as np

from qbound.proofs.exact import fmt_value, round_fraction
from qbound.proofs.suite.common import Unit, verdict_of
from qbound.proofs.verdict import LemmaResult


def stagnation_expected(fmt, mode, b2: Fraction) -> bool:
    """The library's prediction for ``opt.stagnation``, from the analytic threshold (not from the
    engine): under rne the stored v never decreases iff 1 - beta2 <= 2^-(p+1); under rtz it can
    always decrease.

    >>> from qbound.numeric.formats import get_format
    >>> stagnation_expected(get_format("bf16"), "rne", Fraction(999, 1000)), \\
    ...     stagnation_expected(get_format("fp16"), "rne", Fraction(999, 1000))
    (True, False)
    """
    if mode == "rne":
        return 1 - b2 <= Fraction(1, 1 << (fmt.p + 1))
    return False


def _constants(u: Unit) -> Iterator[LemmaResult]:
    from qbound.proofs.optimizer_facts import constant_rounding
    fmt, mode, consts = u.fmt, u.mode, u.consts
    for cname in ("beta1", "beta2"):
        d = constant_rounding(consts[cname], fmt, mode, smt2_dir=u.smt2_dir)
        yield LemmaResult(f"opt.{cname}", f"how {cname} = {consts[cname]} rounds into {fmt.name}", fmt.name, mode,
                          [], f"rnd({cname}) == {d['rounded']}", "proved", verdict_of(d["verdict"]),
                          {k: d[k] for k in d if k != "verdict"})


def _second_moment(u: Unit, b2: Fraction) -> Iterator[LemmaResult]:
    fmt, mode = u.fmt, u.mode
    c2 = 1 - b2
    if fmt.total_bits <= 6:
        yield u.lemma("opt.v_nonneg", "the quantized second moment stays non-negative (no overflow)",
                      "rnd(b2*v + c2*g*g) >= 0", ["v >= 0", "b2*v + c2*g*g <= huge"], "proved",
                      {"b2": b2, "c2": c2}, engine="exhaustive")
        yield u.lemma("opt.v_overflow", "v stays >= 0 even when b2*v + c2*g^2 overflows",
                      "rnd(b2*v + c2*g*g) >= 0", ["v >= 0"], "proved", {"b2": b2, "c2": c2}, engine="exhaustive")
        return
    # wider formats: Q is monotone with Q(0) = 0, so the claim is about one rounding of a float64
    yield u.lemma("opt.v_nonneg", "the quantized second moment stays non-negative "
                  "(Q monotone, Q(0) = 0: every non-negative float64 x <= huge rounds to >= 0; "
                  "without x <= huge an fn format overflows to NaN)",
                  "rnd(x) >= 0", ["0 <= x <= huge"], "proved", var_format="fp64")
    yield u.lemma("opt.v_overflow", "v stays >= 0 even on overflow (fn formats give NaN)",
                  "rnd(x) >= 0", ["x >= 0"], "falsified" if (fmt.policy == "fn" and mode != "rtz") else "proved",
                  var_format="fp64")


def _state(u: Unit) -> Iterator[LemmaResult]:
    from qbound.proofs.optimizer_facts import stagnation_threshold, swamping_threshold
    fmt, mode, consts = u.fmt, u.mode, u.consts
    b2 = Fraction(float(consts["beta2"]))
    yield from _second_moment(u, b2)
    st = stagnation_threshold(fmt, mode, consts["beta2"], smt2_dir=u.smt2_dir)
    yield u.fact("opt.stagnation", f"stored v can never decrease (beta2 = {consts['beta2']})",
                 "rnd(b2 * v) == v", ["v > 0"], st, "proved" if stagnation_expected(fmt, mode, b2) else "falsified")
    sw = swamping_threshold(fmt, mode, smt2_dir=u.smt2_dir)
    yield u.fact("opt.swamping", "weight updates below the swamping threshold leave w unchanged",
                 "rnd(w - r*w) == w and rnd(w + r*w) == w", ["tiny <= abs(w) <= huge", f"r = {sw['checked_at']}"],
                 sw, "proved")
    r_star = Fraction(sw["threshold"])
    lr = Fraction(float(consts["lr"]))
    if r_star > 0:
        W = round_fraction(lr / r_star, fmt, "rup")
        if not isinstance(W, float) and fmt.total_bits <= 16:
            yield u.lemma("opt.lr_swamping", f"a step of size lr = {consts['lr']} leaves every |w| >= "
                          f"{fmt_value(W)} unchanged", "rnd(w - lr) == w and rnd(w + lr) == w",
                          [f"{fmt_value(W)} <= abs(w) <= huge"], "proved", {"lr": lr}, engine="exhaustive",
                          data={"lr": lr, "w_threshold": W, "swamping_threshold": r_star})
    eps = Fraction(float(consts["eps"]))
    yield u.lemma("opt.denominator", "lower bound of sqrt(v) + eps: v is 0 or >= minsub",
                  "v == 0 or v >= minsub", ["v >= 0"], "proved",
                  data={"lower_bound_nonzero_v": float(np.sqrt(float(fmt.min_subnormal)) + float(eps)),
                        "lower_bound_v0": float(eps)})


def lemmas(u: Unit) -> Iterator[LemmaResult]:
    """``opt.beta1``, ``opt.beta2`` (every mode), then the state facts (directed and nearest modes)."""
    yield from _constants(u)
    if u.mode in ("rne", "rtz"):
        yield from _state(u)
