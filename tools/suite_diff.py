#!/usr/bin/env python3
"""Compare two lemma-suite documents (``qbound prove --suite NAME --json FILE``), e.g. before and
after a refactoring that must not change results.

Reports every (lemma, format, rounding) record whose id, order, verdict status, counterexample or
expected verdict differ ("verdict differences"), then every other differing field, ignoring wall
times (keys ``seconds``, ``predicted_s`` and the ``command`` line, at any depth).

Usage:  python tools/suite_diff.py BEFORE.json AFTER.json   -- exit 0 when identical, 1 otherwise
"""
from __future__ import annotations

import json
import sys
from typing import Any, Iterator

#: keys that hold wall times or the command line, dropped at every depth before comparing
IGNORED = frozenset({"seconds", "predicted_s", "command"})


def _norm(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _norm(v) for k, v in o.items() if k not in IGNORED}
    if isinstance(o, list):
        return [_norm(v) for v in o]
    return o


def _diffs(x: Any, y: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            yield from _diffs(x.get(k), y.get(k), f"{path}.{k}")
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (p, q) in enumerate(zip(x, y)):
            yield from _diffs(p, q, f"{path}[{i}]")
    elif x != y:
        yield path, x, y


def _key(r: dict) -> tuple:
    return r["lemma_id"], r["format"], r["rounding"]


def compare(before: dict, after: dict) -> tuple[list[str], list[str]]:
    """(verdict differences, other field differences) between two suite documents, as lines.

    >>> rec = {"lemma_id": "l", "format": "bf16", "rounding": "rne", "expected": "proved",
    ...        "verdict": {"status": "proved", "counterexample": None, "seconds": 1.0}}
    >>> compare({"results": [rec]}, {"results": [dict(rec, verdict=dict(rec["verdict"], seconds=2.0))]})
    ([], [])
    >>> compare({"results": [rec]}, {"results": [dict(rec, verdict=dict(rec["verdict"], status="unknown"))]})[0]
    ["('l', 'bf16', 'rne'): status proved -> unknown"]
    """
    ra, rb = before["results"], after["results"]
    verdicts, fields = [], []
    if len(ra) != len(rb):
        verdicts.append(f"{len(ra)} records before, {len(rb)} after")
    for x, y in zip(ra, rb):
        if _key(x) != _key(y):
            verdicts.append(f"record order: {_key(x)} became {_key(y)}")
            continue
        for what, get in (("status", lambda r: r["verdict"]["status"]),
                          ("counterexample", lambda r: r["verdict"]["counterexample"]),
                          ("expected", lambda r: r["expected"])):
            if get(x) != get(y):
                verdicts.append(f"{_key(x)}: {what} {get(x)} -> {get(y)}")
        for path, u, v in _diffs(_norm(x), _norm(y)):
            if path not in (".verdict.status", ".verdict.counterexample", ".expected"):
                fields.append(f"{_key(x)} {path}: {str(u)[:160]} -> {str(v)[:160]}")
    return verdicts, fields


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python tools/suite_diff.py BEFORE.json AFTER.json", file=sys.stderr)
        return 2
    docs = []
    for p in argv:
        try:
            with open(p) as fh:
                docs.append(json.load(fh))
        except (OSError, ValueError) as e:
            print(f"cannot read {p}: {e}; expected the JSON document of qbound prove --suite --json", file=sys.stderr)
            return 2
    verdicts, fields = compare(*docs)
    for line in verdicts + fields:
        print(line)
    print(f"{len(docs[0]['results'])} / {len(docs[1]['results'])} records; verdict differences: {len(verdicts)}; "
          f"other field differences: {len(fields)}")
    return 1 if verdicts or fields else 0


if __name__ == "__main__":
    sys.exit(main())
