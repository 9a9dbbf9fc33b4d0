"""``qbound verify``: prove the lemmas, derive the bounds, try to break them with real runs, write it up.

:func:`verify` is the library entry point (the CLI in :mod:`qbound.app.commands.verify_cmd` is thin glue):

1. plan every unit of work from the validated configuration (:mod:`qbound.app.verify.config`): the lemma
   suite (proofs layer), the derivations and their tables (bounds layer), the optimizer-state facts
   (proofs layer), and the runs (numeric layer): grid, trajectory checks, thresholds, mantissa scaling
   and error floor;
2. execute them in worker processes (:mod:`qbound.app.verify.sched`), appending each result to the
   resumable store ``OUT/store/*.jsonl`` the moment it is produced;
3. analyse the stored results (:mod:`qbound.app.verify.falsify`), compute the claims and their verdicts from the
   evidence (:mod:`qbound.app.verify.evidence`), draw the figures (:mod:`qbound.app.verify.figures`) and write
   ``report.md`` and ``results.json`` (:mod:`qbound.app.verify.report`).

An interrupted run resumes where it stopped (finished units are read back, not recomputed); a rerun
with the same configuration reproduces the same numbers, whatever the number of workers. A lower
layer that is missing or raises makes the affected claims inconclusive with the reason, and the error
is listed in the report (and makes the command exit with status 1) rather than hidden.
"""
from __future__ import annotations

import functools

import math
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from qbound.app.verify import falsify as F
from qbound.app.verify.store import ResultStore

from qbound.app.verify.schema import RESULT_KEYS, SCHEMA  # noqa: F401  (re-exported)


def _version() -> str:
    from qbound.app.cli import version
    return version()


# ----------------------------------------------------------------------------- planning
def lemma_units(cfg) -> list:
    """One unit per format (so two workers share the suite), or one for the suite's own format list."""
    fmts = cfg["lemmas"].get("formats", [])
    return [lemma_unit(cfg, [f]) for f in fmts] if fmts else [lemma_unit(cfg, [])]


def lemma_unit(cfg, formats) -> dict:
    lc = cfg["lemmas"]
    u = {"suite": lc.get("suite", "default"), "formats": list(formats),
         "roundings": lc.get("roundings", [])}
    if lc.get("consts"):
        u["consts"] = dict(lc["consts"])
    if lc.get("timeout"):
        u["timeout"] = lc["timeout"]
    return u


@functools.lru_cache(maxsize=8)
def _chain_key(name: str) -> str:
    from qbound.bounds.mutants import chain_key, factory
    return chain_key(factory(name)[0])


def theory_units(cfg, name) -> list:
    """The bounds layer's parts for one derivation (see falsify_runs.theory_unit), each its own unit."""
    from qbound.app.verify.runs import THEORY_PARTS
    base = theory_unit(cfg, name)
    units = []
    # the mutation run of the proof (issue 15) only with --full: it costs minutes, more than the ~30 s
    # verify may grow by; the default report shows a stored run of the same proof, else how to get one
    full = (cfg.get("transformer") or {}).get("grid") == "full"
    for part in THEORY_PARTS + (("mutants",) if full else ()):
        u = {"name": name, "part": part, "setting": base["setting"], "rounding": base["rounding"],
             "tol": base["tol"]}
        if part == "mutants":  # keyed by the proof's hash: a changed derivation is tested again
            u["chain_key"] = _chain_key(name)
        if part == "bits":
            u["T"] = base["T"]
        if part == "floors":
            u["plans"] = base["plans"]
        units.append(u)
    return units


def theory_unit(cfg, name) -> dict:
    sc = cfg["scaling"]
    plans = [F.restrict_plan(p, name) for p in (sc.get("floor_plans") or [])]
    seen = []
    for p in plans:
        if p and p not in seen:
            seen.append(p)
    try:
        setting = F.theory_setting(cfg, name)
    except Exception as exc:  # the numeric layer is missing: the bounds layer's defaults are used
        setting = {"problem": None, "constants": {}, "how": {"all": f"defaults ({type(exc).__name__}: {exc})"}}
    return {"name": name, "T": list(sc["T"]), "plans": seen, "setting": setting,
            "rounding": sc["rounding"], "tol": float(sc["factor"]) - 1.0}


def submit_all(cfg: dict, sched) -> None:
    """Queue every unit; long single units first so two workers stay busy."""
    sub = sched.submit
    if cfg["lemmas"].get("enabled", True):
        for u in lemma_units(cfg):
            sub("lemmas", u, "lemmas (proofs)")
    for name in cfg["derive"]["names"]:
        for u in theory_units(cfg, name):
            sub("theory", u, "derivations (bounds)")
    F.ScalingSearch(cfg, sched.store, sub).start()
    for c in F.compare_scaling_cfgs(cfg).values():
        F.ScalingSearch(c, sched.store, sub).start()
    for _, _, u in F.floor_units(cfg):
        sub("run", u, "floor runs")
    for _, case, _, _, plan in F.grid_cells(cfg):
        for s in cfg["seeds"]:
            sub("run", F.grid_unit(cfg, case, plan, s), "grid runs")
    for case in cfg["grid"].get("case", []):
        for plan in cfg["trajectory"]["plans"]:
            sub("run", F.trajectory_unit(cfg, case, plan), "trajectory checks")
    th = cfg["thresholds"]
    for kind, fmt, b2, u in F.threshold_units(cfg):
        sub("run", u, "threshold runs")
        sub("facts", F.fact_unit(kind, fmt, th["rounding"], b2), "optimizer facts (proofs)")
    from qbound.app.verify.transformer import submit as submit_transformer  # torch runs (transformer.py)
    submit_transformer(cfg, sub)


# ----------------------------------------------------------------------------- analysis
def _layer_status(res, layer_modules) -> tuple[str, str]:
    """'ok' | 'missing' (a lower layer not importable) | 'error' (it raised)."""
    if res is None:
        return "missing", "not run"
    err = res.get("error")
    if not err:
        return "ok", ""
    if err.startswith(("ModuleNotFoundError", "ImportError")) or (
            err.startswith("AttributeError") and any(m in err for m in layer_modules)):
        return "missing", f"lower layer not available: {err}"
    return "error", err


def analyze(cfg: dict, store) -> dict:
    """Assemble every section of results.json from the store (no computation of runs here)."""
    errors = []
    lemmas = None
    if cfg["lemmas"].get("enabled", True):
        rows, status, reason, res, secs = [], "ok", "", None, 0.0
        for u in lemma_units(cfg):
            rec = store.get("lemmas", u)
            res = rec["result"] if rec else None
            st_, why = _layer_status(res, ("proofs",))
            if st_ != "ok":
                status, reason = st_, why
                break
            assert res is not None   # _layer_status is "ok" only for a result
            rows.extend(res.get("rows", []))
            secs += rec.get("seconds") or 0.0
        lc = cfg["lemmas"]
        cmd = "qbound prove --suite " + lc.get("suite", "default") + "".join(
            f" --format {f}" for f in lc.get("formats", [])) + "".join(f" --rounding {r}" for r in lc.get("roundings", [])) \
            + "".join(f" --const {k}={v}" for k, v in (lc.get("consts") or {}).items())
        lemmas = {"status": status, "reason": reason, "rows": rows if status == "ok" else [],
                  "command": cmd, "seconds": round(secs, 2)}
        if status != "ok":
            errors.append({"layer": "lemmas", "status": status, "error": reason,
                           "traceback": (res or {}).get("traceback")})
    ders = {}
    for name in cfg["derive"]["names"]:
        d = {"status": "ok", "reason": ""}
        for u in theory_units(cfg, name):
            rec = store.get("theory", u)
            res = rec["result"] if rec else None
            status, reason = _layer_status(res, ("bounds",))
            if status == "ok":
                assert res is not None   # _layer_status is "ok" only for a result
                d.update(res)
                for k in ("rate_table", "latex"):
                    if isinstance(res.get(k), dict) and "error" in res[k]:
                        errors.append({"layer": f"bounds.{k}({name})", "status": "error", "error": res[k]["error"]})
                for k in ("required_bits", "floors"):
                    for sub_k, v in (res.get(k) or {}).items():
                        if isinstance(v, dict) and "error" in v:
                            errors.append({"layer": f"bounds.{k}({name})", "status": "error",
                                           "error": v["error"], "where": sub_k})
            else:
                errors.append({"layer": f"bounds {u['part']}({name})", "status": status, "error": reason,
                               "traceback": (res or {}).get("traceback")})
                if u["part"] == "derive":
                    d["status"], d["reason"] = status, reason
        ders[name] = d
    bounds_rows = F.analyze_grid(cfg, store)
    traj = F.analyze_trajectory(cfg, store)
    th = F.analyze_thresholds(cfg, store)
    theory = {n: d for n, d in ders.items() if d["status"] == "ok"}
    scaling = F.analyze_scaling(cfg, store, theory)
    scaling["compare"] = {opt: F.analyze_scaling(c, store, theory) for opt, c in F.compare_scaling_cfgs(cfg).items()}
    floor = analyze_floor(cfg, store)
    for r in bounds_rows:
        for e in r["errors"]:
            errors.append({"layer": "numeric run", "status": "error", "error": e, "where": r["plan"]})
    for r in traj:
        if r.get("error"):
            errors.append({"layer": "numeric run (trajectory)", "status": "error", "error": r["error"],
                           "where": r["plan"]})
    for r in th:
        for k in ("run_error", "fact_error"):
            if r.get(k):
                st_, why = ("missing", r[k]) if str(r[k]).startswith(("ModuleNotFoundError", "ImportError")) \
                    else ("error", r[k])
                errors.append({"layer": "qbound.proofs.optimizer_facts" if k == "fact_error" else "numeric run (thresholds)",
                               "status": st_, "error": why, "where": f"{r['kind']} {r['format']} beta2={r['beta2']}"})
    return {"lemmas": lemmas, "derivations": ders, "bounds": bounds_rows, "trajectory": traj,
            "thresholds": th, "scaling": scaling, "floor": floor, "errors": _dedupe(errors),
            "transformer": _transformer(cfg, store, errors)}


def _transformer(cfg, store, errors):
    """The transformer evidence's runs (qbound/app/verify/transformer.py); their failures are listed."""
    from qbound.app.verify.transformer import analyze as analyze_transformer
    t = analyze_transformer(cfg, store)
    for e in (t or {}).get("errors", []):
        missing = str(e["error"]).startswith(("ModuleNotFoundError", "ImportError", "TorchMissing", "not run"))
        errors.append({"layer": "torch run (transformer)", "status": "missing" if missing else "error",
                       "error": e["error"], "where": e["unit"]})
    return t


def _dedupe(errors):
    out, seen = [], set()
    for e in errors:
        k = (e.get("layer"), str(e.get("error"))[:200])
        if k in seen:
            continue
        seen.add(k)
        out.append(e)
    return out


def analyze_floor(cfg, store) -> dict:
    """The scaling metric vs T at fixed precision (floor_plans) and at full precision, fitted in log-log."""
    from qbound.app.verify import stats as st
    sc = cfg["scaling"]
    out = {"optimizer": sc["optimizer"], "problem": sc["problem"], "metric": sc.get("metric", "final"),
           "plans": {}, "commands": []}
    for plan in sc.get("floor_plans") or []:
        p = F.restrict_plan(plan, sc["optimizer"])
        pts: dict[str, list] = {"quantized": [], "full": []}
        for T in sc["T"]:
            for s in cfg["seeds"]:
                for lab, pl in (("quantized", p), ("full", "")):
                    rec = store.get("run", F.scaling_unit(cfg, T, pl, s))
                    v = F.metric(cfg, rec["result"]) if rec else None
                    if rec and "error" not in rec["result"] and v is not None:
                        pts[lab].append((T, s, v))
        d = {"points": {k: [[t, s, v] for t, s, v in vs] for k, vs in pts.items()}}
        for lab in ("quantized", "full"):
            xs = [math.log2(t) for t, _, v in pts[lab]]
            ys = [math.log10(max(v, 1e-300)) if math.isfinite(v) else math.inf for _, _, v in pts[lab]]
            d[f"fit_{'quantized' if lab == 'quantized' else 'full'}"] = st.linfit(xs, ys)
        out["plans"][p] = d
        from qbound.app.verify.runs import command_for
        out["commands"].append(command_for(F.scaling_unit(cfg, sc["T"][-1], p, cfg["seeds"][0])))
    return out


# ----------------------------------------------------------------------------- main entry
def verify(cfg: dict, out_dir="qbound-report", *, workers=None, fresh=False, console=None,
           show_progress=True, command="qbound verify", only_analyze=False, runner=None) -> dict:
    """Run (or resume) everything in ``cfg`` and write the report into ``out_dir``; returns results.

    ``runner`` (e.g. :class:`qbound.app.dask_runner.VerifyRunner`) executes the units instead of
    the local process pool; the store and the results are the same."""
    from qbound.app.verify.sched import Scheduler
    out = Path(out_dir)
    t0 = time.perf_counter()
    if fresh and (out / "store").exists():
        from qbound.app.verify.store import foreign_files
        from qbound.numeric.errors import InputError
        if not (out / "store").is_dir() or foreign_files(out / "store"):
            bad = [] if not (out / "store").is_dir() else foreign_files(out / "store")
            raise InputError(f"--fresh would delete {out / 'store'}, which is not a qbound verify store"
                             + (f" (it holds {', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''})" if bad else "")
                             + "; nothing was deleted: move those files away or pick another output directory")
        shutil.rmtree(out / "store")
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "store")
    n_workers = int(workers or cfg.get("workers", 1))
    progress = None
    if show_progress and not only_analyze:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)
        progress = Progress(SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    sched = Scheduler(store, n_workers, progress, version=_version(), runner=runner)
    if not only_analyze:
        if progress is not None:
            with progress:
                submit_all(cfg, sched)
                sched.run()
        else:
            submit_all(cfg, sched)
            sched.run()
    t_runs = time.perf_counter() - t0
    results = analyze(cfg, store)
    from qbound.app.verify import stats as st
    from qbound.app.verify.evidence import build_claims
    results["config"] = cfg
    claims = build_claims(results)
    results["claims"] = [c.to_dict() for c in claims]
    results.update({
        "schema": SCHEMA, "qbound_version": _version(),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "command": command,
        "statistics": {"interval": st.CI_METHOD,
                       "falsified_rule": "FALSIFIED when the lower end of the 95% interval of the measured "
                                         "mean exceeds the evaluated bound",
                       "comparisons": "on log10 values; A > B only when the intervals are disjoint"},
    })
    try:
        from qbound.app.verify.figures import make_figures
        results["figures"] = make_figures(results, out)
    except Exception as exc:  # a figure failure must not lose the report, but it is listed
        import traceback
        results["figures"] = []
        results["errors"].append({"layer": "figures", "status": "error", "error": f"{type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc(limit=4)})
    results["run"] = {"workers": n_workers, "units_computed": sched.computed, "units_reused": sched.reused,
                      "seconds_units": round(t_runs, 2), "seconds_total": round(time.perf_counter() - t0, 2),
                      "store": str(out / "store")}
    if runner is not None:
        results["run"]["scheduler"] = runner.describe()
    from qbound.app.verify.report import write_report
    write_report(results, out)
    return results
