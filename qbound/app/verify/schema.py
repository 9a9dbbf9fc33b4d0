"""The shape of results.json, shared by the orchestrator that writes it and the report that reads it."""
from __future__ import annotations

SCHEMA = "qbound.verify/1"
#: top-level keys of results.json (stable; tests check them)
RESULT_KEYS = ("schema", "qbound_version", "created_utc", "command", "config", "statistics", "claims",
               "lemmas", "derivations", "bounds", "trajectory", "thresholds", "scaling", "floor", "figures",
               "errors", "run", "transformer")  # transformer: the torch runs of qbound/app/verify/transformer.py
