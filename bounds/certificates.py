"""Certificates anyone can re-check: every obligation of a derivation as a standalone SMT-LIB2 file.

Each file states *premises and not conclusion* over the reals (``(set-logic QF_NRA)``, reciprocals and
square roots named by guarded auxiliary variables, see :mod:`qbound.bounds.obligation`) and ends with
``(check-sat)``; the expected answer is ``unsat``.  ``index.json`` lists, per file, the derivation step,
the obligation, the prover that proved it (``sympy``, ``z3`` or ``cvc5``), its seconds, the SHA-256 of the
file and, with ``recheck=True``, the verdict of a second solver reading the *file* (cvc5 where z3 or
SymPy proved it, z3 where cvc5 did): ``z3 -smt2 FILE`` or ``cvc5 FILE`` reproduce it from a shell.

>>> import sympy as sp, tempfile, json, os
>>> from qbound.bounds.obligation import Obligation, discharge
>>> x = sp.Symbol("x", positive=True)
>>> d = discharge(Obligation("demo.sq", (sp.Le(x, 1),), sp.Le(x**2, x)), engines=("z3",))
>>> with tempfile.TemporaryDirectory() as tmp:
...     idx = write_certificates([("demo", d)], tmp, recheck=True)
...     files = sorted(os.listdir(tmp))
>>> files, idx["files"][0]["prover"], idx["files"][0]["recheck"]["status"]
(['demo.sq.smt2', 'index.json'], 'z3', 'unsat')
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time

from qbound.bounds.obligation import solver_versions


def _flatten(step: str, d) -> list:
    """(step, Discharge) pairs of plain obligations (an induction's base and step separately)."""
    if d.parts:
        out = []
        for p in d.parts:
            out.extend(_flatten(step, p))
        return out
    return [(step, d)]


_CHILD = r"""
import json, sys
from qbound.bounds.obligation import CVC5_CONFIGS, run_cvc5, run_z3_text
solver, timeout = sys.argv[1], float(sys.argv[2])
if solver == "z3":
    st, ce, why = run_z3_text(sys.stdin.read(), timeout)
else:
    st, ce, why = run_cvc5(sys.stdin.read(), timeout, CVC5_CONFIGS[int(sys.argv[3])])
print(json.dumps([st, ce, why]))
"""


def _isolated(solver: str, text: str, timeout_s: float, config: int = 0):
    """Run one solver on one SMT-LIB2 text in a child process that is killed at timeout + 5 s (a
    solver that ignores its own time limit cannot hang the re-check)."""
    import subprocess
    import sys
    try:
        p = subprocess.run([sys.executable, "-c", _CHILD, solver, str(timeout_s), str(config)], input=text, capture_output=True,
                           text=True, timeout=timeout_s + 5, check=False)
        st, ce, why = json.loads(p.stdout.strip().splitlines()[-1])
        return st, ce, why
    except subprocess.TimeoutExpired:
        return "unknown", None, f"{solver}: killed after {timeout_s + 5:.0f} s"
    except (ValueError, IndexError):
        return "unknown", None, f"{solver}: no answer"


def recheck_one(d, timeout_s: float = 10) -> dict:
    """Re-decide one discharge's SMT-LIB2 *text* with the solver that did not prove it (cvc5 where z3
    or SymPy proved it, z3 where cvc5 did).  When that solver gives no answer within ``timeout_s``
    (cvc5's nonlinear arithmetic is weaker than z3's), z3 re-reads the same file as well and its
    answer is recorded separately (``file_z3``): a second *parse*, not a second solver."""
    solver = "z3" if d.engine == "cvc5" else "cvc5"
    d.ensure_smt2()   # a cache hit carries no text until it is encoded again
    if not d.smt2:   # an empty script is satisfiable: never re-check nothing
        return {"solver": solver, "status": "unknown", "seconds": 0.0, "agrees": False, "configs_tried": 0,
                "reason": "no SMT-LIB2 text (rule application or not encodable)"}
    t0 = time.perf_counter()
    st, ce, why = _isolated(solver, d.smt2, timeout_s)
    tried = 1
    if solver == "cvc5" and st == "unknown":  # cvc5's other configurations (still cvc5 reading the file)
        from qbound.bounds.obligation import CVC5_CONFIGS
        for i in range(1, len(CVC5_CONFIGS)):
            tried += 1
            st, ce, why = _isolated(solver, d.smt2, timeout_s, config=i)
            if st != "unknown":
                why = why or ("cvc5 with " + ", ".join(f"{k}={v}" for k, v in CVC5_CONFIGS[i]))
                break
    rec = {"solver": solver, "status": st, "seconds": round(time.perf_counter() - t0, 4), "agrees": st == "unsat",
           "configs_tried": tried}
    if why:
        rec["reason"] = why
    if ce:
        rec["counterexample"] = ce
    if st == "unknown" and solver == "cvc5":
        t1 = time.perf_counter()
        st2, _, why2 = _isolated("z3", d.smt2, timeout_s)
        rec["file_z3"] = {"status": st2, "seconds": round(time.perf_counter() - t1, 4)}
    return rec


def write_certificates(pairs, out_dir: str, recheck: bool = False, timeout_s: float = 10, derivation: str = "") -> dict:
    """Write one ``.smt2`` file per obligation of ``pairs`` ((step, Discharge)) and ``index.json``.

    Discharges without SMT-LIB2 text (rule applications; obligations the encoder cannot translate) are
    listed in the index with ``file: null``.  With ``recheck`` the second solver's verdict is stored in the
    index *and* in ``Discharge.recheck`` (so the derivation's JSON records both).
    """
    os.makedirs(out_dir, exist_ok=True)
    files, skipped = [], []
    used = set()
    for step, top in pairs:
        for st, d in _flatten(step, top):
            d.ensure_smt2()
            if not d.smt2:
                skipped.append({"step": st, "obligation": d.name, "prover": d.engine, "status": d.status,
                                "why": "no SMT-LIB2 text (rule application or not encodable)"})
                continue
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", d.name)[:100]
            while stem in used:
                stem += "_"
            used.add(stem)
            path = os.path.join(out_dir, stem + ".smt2")
            with open(path, "w") as fh:
                fh.write(d.smt2)
            rec = {"step": st, "obligation": d.name, "file": os.path.basename(path), "prover": d.engine, "status": d.status,
                   "seconds": round(d.seconds, 4), "cached": d.cached, "expected": "unsat",
                   "sha256": hashlib.sha256(d.smt2.encode()).hexdigest(), "key": d.key}
            if recheck:
                rec["recheck"] = recheck_one(d, timeout_s=timeout_s)
                d.recheck = rec["recheck"]
                if top is not d:  # an induction part: record on the induction too
                    top.recheck = dict(top.recheck or {}, **{d.name: rec["recheck"]})
            files.append(rec)
    idx = {"derivation": derivation, "logic": "QF_NRA", "expected": "unsat", "solvers": solver_versions(),
           "files": files, "not_written": skipped, "count": len(files)}
    if recheck:
        idx["recheck_summary"] = {"agree": sum(1 for f in files if f["recheck"]["agrees"]),
                                  "disagree_or_unknown": [f["obligation"] for f in files if not f["recheck"]["agrees"]],
                                  "refuted_by_second_solver": [f["obligation"] for f in files if f["recheck"]["status"] == "sat"],
                                  "file_reread_by_z3_unsat": sum(1 for f in files if (f["recheck"].get("file_z3") or {}).get("status") == "unsat"),
                                  "timeout_s": timeout_s}
    with open(os.path.join(out_dir, "index.json"), "w") as fh:
        json.dump(idx, fh, indent=2, sort_keys=True)
    return idx


def derivation_pairs(der) -> list:
    """(step name, Discharge) for every proof item of a :class:`~qbound.bounds.derivation.Derivation`:
    from ``Step.discharges``, or (derivations that keep them apart) ``der.proofs[name]`` for the item
    names in ``Step.proof``."""
    out: list = []
    proofs = getattr(der, "proofs", None) or {}
    for s in der.steps:
        ds = list(getattr(s, "discharges", []))
        if ds:
            out.extend((s.name, d) for _, d in ds)
        else:
            out.extend((s.name, proofs[n]) for n in getattr(s, "proof", []) if isinstance(n, str) and n in proofs)
    return out
