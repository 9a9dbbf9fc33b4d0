"""Resumable results store for ``qbound verify``: one JSON Lines file per stage.

A *unit* of work is a JSON-serialisable dict that fully determines its result (stage, optimizer,
problem, plan, hyperparameters, steps, seed, ...). Its key is the SHA-256 of the canonical JSON of
that dict (sorted keys, no whitespace), so

* a finished unit is found again on resume and never recomputed,
* changing any field of a unit (a seed, a step count, a format), or the code version
  :data:`RESULTS_VERSION`, gives a different key, and the old record is simply ignored,
* the order in which workers finish does not matter: readers look records up by key.

Each line is ``{"key", "stage", "unit", "result", "seconds", "version"}``; a line that is cut off by
an interruption (invalid JSON) is skipped on load, so a killed run resumes cleanly.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


#: salted into every key; bump it when qbound/app/verify/runs.py changes what a unit returns, so
#: results stored by older code are recomputed instead of being read back with missing fields
RESULTS_VERSION = 3


def unit_key(unit: dict) -> str:
    """SHA-256 (hex, first 20 chars) of the canonical JSON of ``unit`` (and RESULTS_VERSION)."""
    blob = json.dumps({"unit": unit, "results_version": RESULTS_VERSION}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultStore:
    """Append-only JSON Lines store under ``root`` (one file per stage)."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, dict[str, dict]] = {}

    def path(self, stage: str) -> Path:
        return self.root / f"{stage}.jsonl"

    def _load(self, stage: str) -> dict[str, dict]:
        if stage in self._cache:
            return self._cache[stage]
        recs: dict[str, dict] = {}
        p = self.path(stage)
        if p.exists():
            with open(p, encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut off by an interruption
                    if isinstance(rec, dict) and "key" in rec:
                        recs[rec["key"]] = rec
        self._cache[stage] = recs
        return recs

    def has(self, stage: str, unit: dict) -> bool:
        return unit_key(unit) in self._load(stage)

    def get(self, stage: str, unit: dict):
        """The stored record (dict with "result") for ``unit``, or None."""
        return self._load(stage).get(unit_key(unit))

    def put(self, stage: str, unit: dict, result, seconds: float = 0.0, version: str = "") -> dict:
        """Append one record and flush it to disk immediately."""
        rec = {"key": unit_key(unit), "stage": stage, "unit": unit, "result": result,
               "seconds": round(float(seconds), 4), "version": version}
        line = json.dumps(rec, sort_keys=True, default=_json_default)
        with open(self.path(stage), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._load(stage)[rec["key"]] = json.loads(line)
        return rec

    def records(self, stage: str) -> list[dict]:
        return list(self._load(stage).values())


def _json_default(obj):
    """JSON for numpy scalars/arrays, Fractions and sets (anything else: its str)."""
    try:
        import numpy as np
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    from fractions import Fraction
    if isinstance(obj, Fraction):
        return float(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)
