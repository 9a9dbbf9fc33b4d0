"""The engine interface: anything that can decide a :class:`~proofs.exact.Claim`.

``decide(claim, timeout, smt2_dir)`` returns a :class:`~proofs.verdict.Verdict`. An engine that
cannot encode a claim raises :class:`Unsupported` (the caller turns it into *unknown* or tries
another engine); a timeout or a solver error is *unknown*, never *proved*. Counterexamples are
built with :func:`counterexample_record`, which replays them through the exact evaluator.
"""
from __future__ import annotations

import time
from fractions import Fraction

from qbound.proofs.exact import Undecided, first_failing_sides, fmt_value, holds_at
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
    does not replay (an engine bug must never be reported as a counterexample)."""
    env = {k: Fraction(v) if not isinstance(v, Fraction) else v for k, v in env.items()}
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
    cex = {}
    for k, v in env.items():
        cex[k] = {"decimal": fmt_value(v), "hex": _hex(claim.var_fmt, v)}
    lhs, rhs = first_failing_sides(claim, env, choice)
    cex["lhs"], cex["rhs"] = lhs, rhs
    if claim.rounding == "sr" and choice:
        cex["sr_outcomes"] = ["away" if v else "toward_zero" for v in choice.values()]
    return Verdict("falsified", engine, version, time.perf_counter() - t0, counterexample=cex, details=details)


def _hex(fmt, v) -> str:
    try:
        return fmt.hex(fmt.encode(float(v)))
    except Exception:
        return "n/a"
