"""Verdicts and lemma results: what an engine returns and what the suite records.

A :class:`Verdict` is one of three outcomes for a claim "for every assignment of the variables that
satisfies the hypotheses, the claim holds":

* ``proved``: the engine showed that no counterexample exists;
* ``falsified``: the engine produced a counterexample, which was replayed by the exact evaluator
  (:mod:`proofs.exact`) before being reported;
* ``unknown``: timeout, unsupported encoding, or engine error. Never counted as proved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("proved", "falsified", "unknown")

#: the same three outcomes in the vocabulary of :mod:`qbound.bounds` obligations
#: ("refuted" there is "falsified" here); the suite's JSON keeps "falsified"
TO_BOUNDS_STATUS = {"proved": "proved", "falsified": "refuted", "unknown": "unknown"}
FROM_BOUNDS_STATUS = {v: k for k, v in TO_BOUNDS_STATUS.items()}


@dataclass
class Verdict:
    """Outcome of deciding one claim.

    Attributes
    ----------
    status : "proved" | "falsified" | "unknown".
    engine : engine name ("exhaustive", "z3", "bitwuzla", "cvc5", or "name+reduction").
    engine_version : version string of the engine (or of numpy for exhaustive).
    seconds : wall time spent deciding.
    counterexample : None, or a dict ``{var: {"decimal", "hex"}, ..., "lhs": str, "rhs": str}``.
    reason : free text for unknown verdicts (timeout, unsupported construct...).
    details : extra engine data (number of cases enumerated, SMT-LIB2 file, reduction used...).
    vacuous : True for a proof where no assignment satisfies the hypotheses ("proved, vacuously").

    >>> Verdict("falsified", "z3").bounds_status
    'refuted'
    """

    status: str
    engine: str
    engine_version: str = ""
    seconds: float = 0.0
    counterexample: dict | None = None
    reason: str = ""
    details: dict = field(default_factory=dict)
    vacuous: bool = False

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    @property
    def falsified(self) -> bool:
        return self.status == "falsified"

    @property
    def bounds_status(self) -> str:
        """The status in the bounds layer's vocabulary: proved | refuted | unknown."""
        return TO_BOUNDS_STATUS[self.status]

    @property
    def label(self) -> str:
        """"proved, vacuously" for a vacuous proof, else the status."""
        return "proved, vacuously" if (self.vacuous and self.proved) else self.status

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "seconds": round(float(self.seconds), 6),
            "counterexample": self.counterexample,
            "reason": self.reason,
            "details": _jsonable(self.details),
            "vacuous": bool(self.vacuous),
        }


@dataclass
class LemmaResult:
    """One (lemma, format, rounding) record of a suite run.

    ``expected`` is the verdict status the lemma library predicts; ``surprise`` is True when the
    engine's status differs from it (an unknown is also a surprise: the suite promises decisions).
    """

    lemma_id: str
    title: str
    format: str
    rounding: str
    hypotheses: list
    statement: str
    expected: str
    verdict: Verdict
    data: dict = field(default_factory=dict)

    @property
    def surprise(self) -> bool:
        # a vacuous proof is a surprise too: a suite lemma must say something about some value
        return self.verdict.status != self.expected or bool(self.verdict.vacuous)

    def to_dict(self) -> dict:
        return {
            "lemma_id": self.lemma_id,
            "title": self.title,
            "format": self.format,
            "rounding": self.rounding,
            "hypotheses": list(self.hypotheses),
            "statement": self.statement,
            "expected": self.expected,
            "surprise": self.surprise,
            "verdict": self.verdict.to_dict(),
            "data": _jsonable(self.data),
        }


def _jsonable(obj: Any):
    """Make nested data JSON friendly: Fractions become exact strings, numpy scalars Python ones."""
    from fractions import Fraction
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Fraction):
        return str(obj.numerator) if obj.denominator == 1 else f"{obj.numerator}/{obj.denominator}"
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            return obj.item()
        except Exception:
            return str(obj)
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return str(obj)
    return obj
