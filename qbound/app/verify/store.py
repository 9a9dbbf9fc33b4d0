"""Resumable results store for ``qbound verify``: one JSON Lines file per stage.

A *unit* of work is a JSON-serialisable dict that fully determines its result (stage, optimizer,
problem, plan, hyperparameters, steps, seed, ...). Its key is the SHA-256 of the canonical JSON of
that dict (sorted keys, no whitespace), so

* a finished unit is found again on resume and never recomputed,
* changing any field of a unit (a seed, a step count, a format), or the code version
  :data:`RESULTS_VERSION`, gives a different key, and the old record is simply ignored,
* the order in which workers finish does not matter: readers look records up by key.

Each file starts with a header line ``{"qbound_store": "verify", "schema": 2, "stage": ...}``; every
other line is ``{"key", "stage", "unit", "result", "seconds", "version", "checksum"}``. A line cut
off by an interruption, not UTF-8, or whose checksum does not match (edited by hand) is skipped with
a warning and its unit recomputed; a torn last line is cut off before the next append. Stores written
before the header and checksums (schema 1) are still read as they are.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from qbound.numeric.jsonlstore import Appender, NotAStore, read_store, repair_tail


#: salted into every key; bump it when qbound/app/verify/runs.py changes what a unit returns, so
#: results stored by older code are recomputed instead of being read back with missing fields
RESULTS_VERSION = 3


def unit_key(unit: dict) -> str:
    """SHA-256 (hex, first 20 chars) of the canonical JSON of ``unit`` (and RESULTS_VERSION)."""
    blob = json.dumps({"unit": unit, "results_version": RESULTS_VERSION}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultStore:
    """Append-only JSON Lines store under ``root`` (one file per stage, header + checksummed records;
    see :mod:`qbound.numeric.jsonlstore`)."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, dict[str, dict]] = {}
        self._appenders: dict = {}

    def path(self, stage: str) -> Path:
        return self.root / f"{stage}.jsonl"

    def _load(self, stage: str) -> dict[str, dict]:
        if stage in self._cache:
            return self._cache[stage]
        recs: dict[str, dict] = {}
        p = self.path(stage)
        if p.exists():
            got = read_store(p, STORE_KIND, _is_record,
                             hint="Move it away or pick another output directory.")
            for rec in got.records:
                recs[rec["key"]] = rec
            if got.torn_tail:
                repair_tail(p)
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
        """Append one record (with its checksum) and fsync it to disk before returning."""
        self._load(stage)  # refuses a foreign file, cuts a torn last line off first
        rec = {"key": unit_key(unit), "stage": stage, "unit": unit, "result": result,
               "seconds": round(float(seconds), 4), "version": version}
        app = self._appenders.get(stage)
        if app is None:
            app = self._appenders[stage] = Appender(self.path(stage), STORE_KIND, fsync=True,
                                                     default=_json_default, header_extra={"stage": stage})
        line = app.append(rec)
        stored = json.loads(line)
        stored.pop("checksum", None)
        self._load(stage)[rec["key"]] = stored
        return rec

    def close(self) -> None:
        for app in self._appenders.values():
            app.close()
        self._appenders.clear()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def records(self, stage: str) -> list[dict]:
        return list(self._load(stage).values())


STORE_KIND = "verify"


def _is_record(rec: dict) -> bool:
    return isinstance(rec.get("key"), str) and "stage" in rec and "result" in rec


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
    """A verify store file (header, or schema-1 keyed records; corrupt records are allowed)."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_store(p, STORE_KIND, _is_record, warn=False)
    except (OSError, NotAStore):
        return False
    return True


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
