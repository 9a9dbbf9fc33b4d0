"""The claims table: verdicts computed from evidence records, never written by hand.

An :class:`Evidence` record comes from one layer ("lemmas", "derivation", "experiment") and has an
``outcome``:

* ``"supports"`` / ``"contradicts"``: the data decide, in the direction named;
* ``"inconclusive"``: the data exist but do not decide (overlapping intervals, too few points);
* ``"missing"``: the layer that should produce it is unavailable or raised (``reason`` says which);
* ``"info"``: context only (e.g. a tightness ratio); never affects the verdict.

The verdict of a claim (:func:`verdict`) is, in this order:

1. **contradicted** if any evidence contradicts it (a contradiction stands on its own, even when other
   layers are missing);
2. **supported** if there is at least one deciding item and every non-"info" item supports it;
3. **inconclusive** otherwise, with the reasons of the items that did not support it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

OUTCOMES = ("supports", "contradicts", "inconclusive", "missing", "info")
VERDICTS = ("supported", "contradicted", "inconclusive")


@dataclass
class Evidence:
    layer: str                 # "lemmas" | "derivation" | "experiment"
    id: str                    # stable id, e.g. "exp.bits_monotone.adam.rosenbrock.V"
    summary: str               # one line for the table
    outcome: str               # one of OUTCOMES
    numbers: dict = field(default_factory=dict)
    commands: list = field(default_factory=list)   # exact commands reproducing the numbers
    reason: str = ""           # why inconclusive/missing (or the error text)

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} not in {OUTCOMES}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Claim:
    id: str                    # stable, e.g. "paper.log_bits"
    source: str                # "paper" | "qbound"
    statement: str
    evidence: list = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdict(self.evidence)[0]

    @property
    def why(self) -> str:
        return verdict(self.evidence)[1]

    def to_dict(self) -> dict:
        v, why = verdict(self.evidence)
        return {"id": self.id, "source": self.source, "statement": self.statement, "verdict": v,
                "why": why, "evidence": [e.to_dict() for e in self.evidence]}


def verdict(evidence) -> tuple[str, str]:
    """(verdict, one-line reason) from a list of Evidence (see the module docstring)."""
    contra = [e for e in evidence if e.outcome == "contradicts"]
    if contra:
        return "contradicted", "; ".join(f"{e.id}: {e.summary}" for e in contra)
    deciding = [e for e in evidence if e.outcome != "info"]
    if deciding and all(e.outcome == "supports" for e in deciding):
        return "supported", f"all {len(deciding)} deciding items support it"
    if not deciding:
        return "inconclusive", "no deciding evidence"
    bad = [e for e in deciding if e.outcome != "supports"]
    return "inconclusive", "; ".join(f"{e.id} {e.outcome}: {e.reason or e.summary}" for e in bad)


def missing(layer: str, id: str, reason: str, summary: str = "") -> Evidence:
    """Evidence standing for a layer that could not be consulted."""
    return Evidence(layer=layer, id=id, summary=summary or f"{layer} unavailable", outcome="missing",
                    reason=reason)
