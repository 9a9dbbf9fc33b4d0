"""``qbound bench derive``: time to regenerate every derivation, with every proof, from scratch.

Runs a fresh Python process (so no SymPy or lru caches survive) that imports the theory layer,
derives Adam and Muon with all their checks (every obligation discharged by an engine, sampled points,
trajectory checks) and builds both asymptotic rate tables; reports wall seconds per part and in total,
the CPU seconds of that process (less sensitive to other load on the machine), and the ratio to the
60 s target (``target_ratio`` < 1 means within target).  The run is made twice with one fresh
obligation cache directory: ``cold`` (every obligation proved) and ``warm`` (every obligation a cache
hit, re-validated by hash), which is what a rerun costs.  ``quick=True`` uses 2000 sampled points per
check and skips the trajectory checks (a smoke run, not the target number).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

TARGET_SECONDS = 60.0

_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from qbound import bounds
from qbound.bounds.asymptotics import rate_table
t_import = time.perf_counter() - t0
kw = {"n": 2000, "trajectory": False} if sys.argv[1] == "quick" else {}
out = {"import": t_import}
for name in ("adam", "muon"):
    t = time.perf_counter(); d = bounds.derive(name, **kw); out[name + "_steps"] = time.perf_counter() - t
    out[name + "_status"] = d.status
    t = time.perf_counter(); rate_table(name); out[name + "_rates"] = time.perf_counter() - t
out["total_in_process"] = time.perf_counter() - t0
out["cpu_seconds"] = time.process_time() - c0
from qbound.bounds.obligation import DEFAULT_CACHE
out["cache_hits"] = DEFAULT_CACHE.hits; out["cache_misses"] = DEFAULT_CACHE.misses
for name in ("adam", "muon"):
    ps = bounds.derive(name, **kw).proof_summary()
    out[name + "_steps_proved"] = f"{ps['steps_proved']}/{ps['steps_total']}"
print(json.dumps(out))
"""


def _once(quick: bool, cache_dir: str) -> dict:
    import os
    t0 = time.perf_counter()
    env = dict(os.environ, QBOUND_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, "quick" if quick else "full"],
                          capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed", "wall_seconds": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"seconds": {k: round(v, 3) for k, v in res.items() if isinstance(v, float)},
            "status": {k: v for k, v in res.items() if k.endswith("_status") or k.endswith("_steps_proved")},
            "cache": {"hits": res.get("cache_hits"), "misses": res.get("cache_misses")},
            "wall_seconds_fresh_process": round(wall, 3)}


def bench_derive(quick: bool = False) -> dict:
    import os
    import tempfile
    with tempfile.TemporaryDirectory(prefix="qbound-obligations-") as tmp:
        cold = _once(quick, tmp)
        warm = _once(quick, tmp)
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    wall = cold.get("wall_seconds_fresh_process", cold.get("wall_seconds", float("nan")))
    return {"quick": quick, "cold": cold, "warm": warm, "seconds": cold.get("seconds", {}), "status": cold.get("status", {}),
            "load_average_1min": load, "wall_seconds_fresh_process": wall,
            "target_seconds": TARGET_SECONDS, "target_ratio": round(wall / TARGET_SECONDS, 3)}
