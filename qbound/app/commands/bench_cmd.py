"""``qbound bench TOPIC [--json FILE]``: the one place where speed is measured.

Each topic is a function ``bench(quick: bool) -> dict`` living in the layer it measures; it times
qbound against reference libraries in the same process and reports ratios (keys containing "ratio").
"""
from __future__ import annotations

import importlib
import json

from qbound.numeric.errors import InputError, did_you_mean

#: topic -> "module:function"
TOPICS = {
    "quantize": "qbound.app.bench.quantize:bench_quantize",
    "harness": "qbound.app.bench.harness:bench_harness",
    "prove": "qbound.app.bench.prove:bench_prove",
    "derive": "qbound.app.bench.derive:bench_derive",
    "torch": "qbound.app.bench.torch:bench_torch",  # the PyTorch backend (qbound/app/bench/torch.py)
}


def register(sub):
    p = sub.add_parser("bench", help="measure speed against reference libraries (ratios)")
    p.add_argument("topic", help=f"one of: {', '.join(TOPICS)}, all")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not the target numbers)")
    p.set_defaults(func=run)


def run(args):
    topics = list(TOPICS) if args.topic == "all" else [args.topic]
    for t in topics:
        if t not in TOPICS:
            hint = did_you_mean(t, TOPICS, n=2)
            raise InputError(f"unknown bench topic {t!r}.{hint} Accepted: {', '.join(TOPICS)}, all.")
    results = {}
    for t in topics:
        modname, fn = TOPICS[t].split(":")
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                results[t] = {"error": "topic not implemented yet"}
                print(f"[bench {t}] not implemented yet")
                continue
            raise
        results[t] = getattr(mod, fn)(quick=args.quick)
        _print(t, results[t])
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, sort_keys=True)
    return 0


def _print(topic, res):
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"qbound bench {topic}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in _flatten(res):
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    Console().print(table)


def _flatten(d, prefix=""):
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _flatten(v, key + ".")
        else:
            yield key, v
