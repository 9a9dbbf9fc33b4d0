"""The engine interface: anything that can decide a :class:`~proofs.exact.Claim`.

``decide(claim, timeout, smt2_dir)`` returns a :class:`~proofs.verdict.Verdict`. An engine that
cannot encode a claim raises :class:`Unsupported` (the caller turns it into *unknown* or tries
another engine); a timeout or a solver error is *unknown*, never *proved*. Counterexamples are
built with :func:`counterexample_record`, which replays them through the exact evaluator.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

from qbound.proofs.exact import Undecided, fmt_value, holds_at
from qbound.proofs.verdict import Verdict


class Unsupported(Exception):
    """The engine cannot encode this claim (or this format) faithfully."""


class Engine:
    name = "engine"

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return ""

    def decide(self, claim, timeout: float = 30.0, smt2_dir=None) -> Verdict:
        raise NotImplementedError


def counterexample_record(claim, env: dict, engine: str, version: str, t0: float, details=None) -> Verdict:
    """Replay a candidate counterexample exactly; return a falsified verdict, or unknown if it
    does not replay (an engine bug must never be reported as a counterexample).

    The record, for a person and for a program: every variable in the order the claim names it,
    ``{"sci": shortest scientific notation that is exact in the format (it rounds back to the value),
    "decimal": the exact decimal, "hex": the bit pattern}``; ``rounded``: every ``rnd(...)`` result
    with its value and hex; ``lhs``/``rhs`` of the failing comparison (scientific, ``lhs_exact``,
    ``rhs_exact``) and ``excess`` = lhs - rhs exactly; ``sr_outcomes``: which neighbour each rnd took.
    """
    env = {k: v if (isinstance(v, Fraction) or (isinstance(v, float) and v == 0.0)) else Fraction(v)
           for k, v in env.items()}   # a float zero keeps its sign (the pattern -0)
    details = dict(details or {})
    try:
        hyp, ok, choice = holds_at(claim, env)
    except Undecided as exc:
        return Verdict("unknown", engine, version, time.perf_counter() - t0,
                       reason=f"counterexample could not be replayed exactly: {exc}", details=details)
    if not hyp or ok:
        return Verdict("unknown", engine, version, time.perf_counter() - t0,
                       reason="engine reported a counterexample that does not replay through the exact "
                              "evaluator (encoding bug?)", details={**details, "bad_model": {k: str(v) for k, v in env.items()}})
    cex: dict[str, Any] = {}
    order = list(getattr(claim, "var_order", None) or claim.vars)
    for k in order + [k for k in env if k not in order]:
        if k in env:
            v = env[k]
            cex[k] = {"sci": sci(v, claim.var_fmt), "decimal": exact_text(v), "hex": _hex(claim.var_fmt, v)}
    try:
        lhs, rhs = first_failing_values(claim, env, choice)
    except Undecided:
        lhs = rhs = None
    cex["lhs"], cex["rhs"] = sci(lhs), sci(rhs)
    cex["lhs_exact"], cex["rhs_exact"] = exact_text(lhs), exact_text(rhs)
    if isinstance(lhs, Fraction) and isinstance(rhs, Fraction):
        cex["excess"] = sci(lhs - rhs)
    cex["rounded"] = rounded_results(claim, env, choice)
    if claim.rounding == "sr" and choice:
        cex["sr_outcomes"] = ["away" if v else "toward_zero" for v in choice.values()]
    return Verdict("falsified", engine, version, time.perf_counter() - t0, counterexample=cex, details=details)


def exact_text(v) -> str | None:
    """Exact text of a value (terminating decimal, or n/d when that is shorter or too long)."""
    if v is None:
        return None
    if isinstance(v, tuple):
        return f"[{exact_text(v[0])}, {exact_text(v[1])}]"
    if isinstance(v, float):
        return repr(v)
    v = Fraction(v)
    if max(v.numerator.bit_length(), v.denominator.bit_length()) > 3000:
        return f"{sci(v, digits=40)} (approx.; exact value too long)"
    return fmt_value(v)


def sci(v, fmt=None, digits: int | None = None) -> str | None:
    """Scientific notation. With ``fmt``: the fewest significant digits that round back (rne) to
    the same value of ``fmt``, so the text identifies the value exactly; without: 17 digits, or the
    exact value when it has fewer.

    >>> from qbound.numeric.formats import get_format
    >>> sci(Fraction(1, 3) * 0 + Fraction(2) ** -149, get_format("fp32"))
    '1e-45'
    >>> sci(Fraction(1, 10))
    '0.1'
    """
    if v is None:
        return None
    if isinstance(v, tuple):
        return f"[{sci(v[0], fmt)}, {sci(v[1], fmt)}]"
    if isinstance(v, float):
        return repr(v)
    v = Fraction(v)
    if v == 0:
        return "0"
    if fmt is not None:
        from qbound.proofs.exact import round_fraction
        for n in range(1, 45):
            t = _sci_digits(v, n)
            if round_fraction(Fraction(t), fmt, "rne") == v:
                return _tidy(t)
    n = digits or 17
    for k in range(1, n + 1):
        t = _sci_digits(v, k)
        if Fraction(t) == v:
            return _tidy(t)
    return _tidy(_sci_digits(v, n))


def _sci_digits(v: Fraction, n: int) -> str:
    """v rounded to n significant decimal digits, as d.ddde[+-]X (exact integer arithmetic)."""
    neg = v < 0
    a = -v if neg else v
    e = len(str(a.numerator // a.denominator)) - 1 if a >= 1 else -len(str(a.denominator // a.numerator))
    # adjust e so that 10^e <= a < 10^(e+1)
    while Fraction(10) ** e > a:
        e -= 1
    while Fraction(10) ** (e + 1) <= a:
        e += 1
    scaled = a / Fraction(10) ** (e - n + 1)
    m = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)  # round half up
    if len(str(m)) > n:
        m //= 10
        e += 1
    ds = str(m)
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return ("-" if neg else "") + f"{mant}e{e:+d}"


def _tidy(t: str) -> str:
    """Plain notation for moderate exponents: 0.1 rather than 1e-01."""
    mant, exp = t.split("e")
    e = int(exp)
    if -5 <= e <= 6:
        return str(Fraction(t)) if Fraction(t).denominator == 1 else _plain(Fraction(t))
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant}e{e:+03d}"


def _plain(f: Fraction) -> str:
    from qbound.proofs.exact import fmt_value
    return fmt_value(f) if f.denominator & (f.denominator - 1) == 0 else f"{float(f)!r}"


def first_failing_values(claim, env, choice):
    """(lhs, rhs) values of the claim's first failing comparison at env, or (None, None)."""
    from qbound.proofs.exact import first_failing_pair
    return first_failing_pair(claim, env, choice) or (None, None)


def _map_choice(claim, top, choice):
    from qbound.proofs.exact import report_choice
    return report_choice(claim, top, choice)


def rounded_results(claim, env, choice) -> dict:
    """{text of rnd(...): {"value", "hex"[, "sr"]}} for every rounded operation of the claim."""
    from qbound.proofs.exact import evaluate, rnd_nodes
    from qbound.proofs.claims import to_text
    top = claim.report_expr if claim.report_expr is not None else claim.expr
    ch = _map_choice(claim, top, choice)
    out = {}
    for node in rnd_nodes(top):
        key = to_text(node)
        if key in out:
            continue
        try:
            v = evaluate(node, env, claim.fmt, claim.rounding, ch)
        except Exception:
            continue
        rec = {"value": sci(v, claim.fmt) if isinstance(v, Fraction) else repr(v),
               "hex": _hex(claim.fmt, v) if isinstance(v, Fraction) else "n/a"}
        if claim.rounding == "sr":
            rec["sr"] = "away from zero" if ch.get(id(node)) else "toward zero"
        out[key] = rec
    return out


def _hex(fmt, v) -> str:
    try:
        return fmt.hex(fmt.encode(float(v)))
    except Exception:
        return "n/a"
