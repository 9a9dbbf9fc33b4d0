"""What every lemma family of the suite shares: the unit of work (one format, one rounding mode)
and the two ways a family turns a decision into a :class:`~qbound.proofs.verdict.LemmaResult`.

A :class:`Unit` carries everything a family needs (format, mode, optimizer constants, the per-query
timeout and the folder for SMT-LIB2 queries), so the families hold no module-level state and a
unit can be decided in any process.

>>> from qbound.numeric.formats import get_format
>>> u = Unit(get_format("fp8_e4m3fn"), "rne", {})
>>> u.small, u.deterministic, u.bound_str
(True, True, '1/17')
>>> r = u.lemma("demo", "negation is exact", "rnd(-x) == -rnd(x)", [], "proved", engine="exhaustive")
>>> (r.lemma_id, r.format, r.verdict.status, r.surprise)
('demo', 'fp8_e4m3fn', 'proved', False)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from qbound.numeric.formats import FloatFormat, get_format
from qbound.proofs.exact import fmt_value
from qbound.proofs.prover import prove
from qbound.proofs.verdict import LemmaResult, Verdict

#: the hypothesis "x is in the normal range", as the claim language writes it
NORMAL = "tiny <= abs(x) <= huge"


@dataclass(frozen=True)
class Unit:
    """One (format, rounding mode) of a suite run, with the run's settings.

    ``consts``: the optimizer constants (beta1, beta2, lr, eps); ``timeout``: seconds per query;
    ``smt2_dir``: where every SMT query is written as SMT-LIB2 (None: nowhere).
    """

    fmt: FloatFormat
    mode: str
    consts: dict = field(default_factory=dict)
    timeout: float = 30.0
    smt2_dir: Any = None

    @property
    def small(self) -> bool:
        """Formats of at most 8 bits, which the suite decides by enumeration."""
        return self.fmt.total_bits <= 8

    @property
    def deterministic(self) -> bool:
        return self.mode != "sr"

    @property
    def bound(self) -> Fraction:
        """The sharp relative error bound u of the format under this mode."""
        return self.fmt.rel_error_bound(self.mode)

    @property
    def bound_str(self) -> str:
        return fmt_value(self.bound)

    def lemma(self, lid, title, claim, hyps, expected, consts=None, var_format=None, data=None,
              engine="auto") -> LemmaResult:
        """Decide ``claim`` under ``hyps`` with :func:`~qbound.proofs.prover.prove` and record it."""
        v = prove(claim, self.fmt, self.mode, assume=hyps, consts=consts, var_format=var_format,
                  timeout=self.timeout, engine=engine, smt2_dir=self.smt2_dir)
        d = dict(data or {})
        if var_format is not None:
            d["var_format"] = get_format(var_format).name
        return LemmaResult(lid, title, self.fmt.name, self.mode, list(hyps), claim, expected, v, d)

    def fact(self, lid, title, claim, hyps, d, expected) -> LemmaResult:
        """Record a fact an analysis (:mod:`qbound.proofs.optimizer_facts`) decided: ``d`` holds
        its data and, under ``"verdict"``, the verdict as a dict."""
        return LemmaResult(lid, title, self.fmt.name, self.mode, hyps, claim, expected, verdict_of(d["verdict"]),
                           {k: val for k, val in d.items() if k != "verdict"})


def verdict_of(vd: dict) -> Verdict:
    """The :class:`Verdict` back from its ``to_dict()`` form (the fields the suite reports).

    >>> verdict_of(Verdict("proved", "z3", "4.12", 0.5).to_dict()).status
    'proved'
    """
    return Verdict(**{k: vd[k] for k in ("status", "engine", "engine_version", "seconds", "counterexample",
                                         "reason", "details")})
