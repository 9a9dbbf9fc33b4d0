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
            _cut_torn_tail(p)
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

    def reusable(self, stage: str, unit: dict):
        """The stored record for ``unit`` if it holds a result, None if absent or the unit failed
        (a failure, e.g. a MemoryError, stays recorded but is recomputed on the next run)."""
        rec = self.get(stage, unit)
        return None if rec is None or is_failure(rec) else rec

    def has(self, stage: str, unit: dict) -> bool:
        return unit_key(unit) in self._load(stage)

    def get(self, stage: str, unit: dict):
        """The stored record (dict with "result") for ``unit``, or None."""
        return self._load(stage).get(unit_key(unit))

    def put(self, stage: str, unit: dict, result, seconds: float = 0.0, version: str = "") -> dict:
        """Append one record and flush it to disk immediately."""
        self._load(stage)  # cuts a torn last line off first, so this record starts on a line of its own
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


def is_failure(rec: dict) -> bool:
    """Whether a stored record is a unit that raised (``execute`` returned {"error": ...})."""
    res = rec.get("result")
    return isinstance(res, dict) and bool(res.get("error"))


#: the files a store directory holds (besides temp files of an atomic repair)
STORE_FILE_SUFFIX = ".jsonl"


def foreign_files(root) -> list[str]:
    """Names in ``root`` that are not the store's own (stage .jsonl files and repair temp files)."""
    root = Path(root)
    out = []
    for p in sorted(root.iterdir()):
        own = p.is_file() and (p.suffix == STORE_FILE_SUFFIX or (p.name.startswith(".") and p.name.endswith(".tmp")))
        if own and p.suffix == STORE_FILE_SUFFIX:
            own = _looks_like_store_file(p)
        if not own:
            out.append(p.name)
    return out


def _looks_like_store_file(p: Path) -> bool:
    """Every complete line is a keyed store record (a torn last line is allowed)."""
    try:
        with open(p, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return False
    lines = text.split("\n")
    lines.pop()
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            return False
        if not (isinstance(rec, dict) and "key" in rec and "stage" in rec and "result" in rec):
            return False
    return True


def _cut_torn_tail(p: Path) -> None:
    """Cut a torn last line (text after the last newline, left by an interrupted write) off ``p``,
    atomically (temp file in the same directory, fsync, os.replace), so the next append starts on a
    line of its own instead of being glued onto the fragment."""
    with open(p, "rb") as fh:
        data = fh.read()
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    try:  # a complete record whose newline is missing: keep it, add the newline
        json.loads(tail.decode("utf-8"))
        keep = data + b"\n"
    except (UnicodeDecodeError, json.JSONDecodeError):
        keep = data[:cut]
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix="." + p.name + ".", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(keep)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
