"""Writers for ``qbound verify``: ``report.md`` (a document for a paper review) and ``results.json``.

``results.json`` holds exactly what the report shows, as data: top-level keys
:data:`qbound.app.verify.schema.RESULT_KEYS`, ``schema = "qbound.verify/1"``, the package version, the full
configuration and the command. Non-finite floats are written as the strings "inf", "-inf", "nan"
(JSON has no infinities). Every number in ``report.md`` comes from the same dict.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from qbound.app.verify import stats as st

VERDICT_MARK = {"supported": "**supported**", "contradicted": "**CONTRADICTED**", "inconclusive": "inconclusive"}
LAYER_ORDER = ("lemmas", "derivation", "experiment")


def _clean(obj):
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(results: dict, path) -> None:
    from qbound.app.verify.schema import RESULT_KEYS
    data = {k: results.get(k) for k in RESULT_KEYS}
    # the per-update (relative size, lost) pairs behind the swamping check stay in the store
    # (store/run.jsonl); results.json keeps their counts and exact extremes
    data["thresholds"] = [
        {**r, "w_rel_update": {k: v for k, v in r["w_rel_update"].items() if k not in ("rel", "lost")}}
        if isinstance(r.get("w_rel_update"), dict) else r for r in (data.get("thresholds") or [])]
    from qbound.numeric.jsonlstore import atomic_file
    with atomic_file(path) as fh:  # a failed write (disk full) leaves an earlier results.json whole
        json.dump(_clean(data), fh, indent=1, sort_keys=False, default=str)
        fh.write("\n")


def write_report(results: dict, out_dir) -> None:
    from qbound.numeric.jsonlstore import atomic_file
    out = Path(out_dir)
    write_json(results, out / "results.json")
    with atomic_file(out / "report.md") as fh:
        fh.write(render_markdown(results))


# ----------------------------------------------------------------------------- helpers
def _g(x, d=3):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return f"{x:.{d}g}"


def _esc(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _code(s) -> str:
    return f"`{s}`" if s else ""


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_esc(c) for c in r) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- sections
def claims_table(results) -> str:
    rows = []
    for c in results["claims"]:
        per = []
        for layer in LAYER_ORDER:
            items = [e for e in c["evidence"] if e["layer"] == layer and e["outcome"] != "info"]
            if not items:
                continue
            counts: dict[str, int] = {}
            for e in items:
                counts[e["outcome"]] = counts.get(e["outcome"], 0) + 1
            per.append(f"{layer}: " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
        rows.append([c["id"], c["source"], c["statement"], VERDICT_MARK[c["verdict"]], "; ".join(per),
                     _key_evidence(c)])
    return _table(["claim", "source", "statement", "verdict", "evidence (items per layer)", "key evidence"], rows)


def _key_evidence(c) -> str:
    """The item that decides the verdict: a contradiction, else an experiment that supports, else the
    first non-supporting item (why it is inconclusive)."""
    ev = [e for e in c["evidence"] if e["outcome"] != "info"]
    pick = next((e for e in ev if e["outcome"] == "contradicts"), None)
    if pick is None and c["verdict"] == "supported":
        pick = next((e for e in ev if e["layer"] == "experiment"), ev[0] if ev else None)
    if pick is None:
        pick = next((e for e in ev if e["outcome"] != "supports"), ev[0] if ev else None)
    if pick is None:
        return ""
    txt = f"{pick['id']} ({pick['outcome']}): {pick['summary']}"
    if pick["outcome"] in ("inconclusive", "missing") and pick.get("reason"):
        txt += f" [{pick['reason']}]"
    return txt[:260]


def claims_detail(results) -> str:
    parts = []
    for c in results["claims"]:
        parts.append(f"### {c['id']}: {VERDICT_MARK[c['verdict']]}\n\n{c['statement']}\n\n"
                     f"Verdict rule outcome: {c['why']}\n")
        rows = []
        for e in c["evidence"]:
            why = f" ({e['reason']})" if e.get("reason") and e["outcome"] in ("inconclusive", "missing") else ""
            rows.append([e["layer"], e["id"], e["outcome"], e["summary"] + why,
                         "<br>".join(_code(x) for x in e.get("commands", [])[:2])])
        parts.append(_table(["layer", "evidence", "outcome", "what was measured / decided", "reproduce"], rows))
    return "\n\n".join(parts)


def lemma_section(results) -> str:
    L = results.get("lemmas")
    if not L:
        return "Lemma stage disabled in the configuration."
    if L["status"] != "ok":
        return f"**Lemma suite unavailable** ({L['status']}): {L['reason']}"
    rows = []
    for r in L["rows"]:
        v = r.get("verdict", {})
        ce = v.get("counterexample")
        ce_s = ""
        if isinstance(ce, dict):
            ce_s = ", ".join(f"{k}={val.get('decimal')} ({val.get('hex')})" for k, val in ce.items()
                             if isinstance(val, dict) and "decimal" in val)[:120]
        rows.append([r.get("lemma_id"), r.get("format"), r.get("rounding"), r.get("expected"), v.get("status"),
                     v.get("engine"), _g(v.get("seconds"), 2), "SURPRISE" if r.get("surprise") else "", ce_s])
    head = (f"{len(rows)} lemma instances; command: `{L['command']}`.\n\n")
    return head + _table(["lemma", "format", "rounding", "expected", "verdict", "engine", "s", "", "counterexample"],
                         rows)


def _proof_line(name, der, results) -> str:
    """Per derivation (issue 15): steps proved / total, mutation kill rate, tightness range."""
    ps = der.get("proof") or {}
    steps = f"{ps.get('steps_proved', '?')}/{ps.get('steps_total', '?')}" if ps else "n/a"
    mut = ps.get("mutants") or ((results.get("derivations") or {}).get(name) or {}).get("mutants")
    if not mut:
        try:
            from qbound.bounds.mutants import recorded
            mut = recorded(name)
        except Exception:  # a missing or stale record only means "not run"
            mut = None
    kill = (f"{mut['killed']}/{mut['total']} ({100 * mut['kill_rate']:.1f}%), {len(mut.get('survivors', []))} survivor(s)"
            if mut else f"not run (use `qbound verify --full` or `qbound derive {name} --mutants`)")
    ts = [r.get("tightness") for r in (results.get("bounds") or [])
          if str(r.get("optimizer", "")).lower().startswith(name) and isinstance(r.get("tightness"), (int, float))
          and r.get("tightness") == r.get("tightness") and r.get("tightness") not in (float("inf"),)]
    tight = f"{_g(min(ts))} .. {_g(max(ts))} over {len(ts)} cell(s)" if ts else "n/a"
    nr = len(ps.get("rule_applications") or [])
    rules = (f"; rule applications whose conclusion is checked against their premises "
             f"{ps.get('rules_conclusion_checked', 0)}/{nr}") if nr else ""
    return (f"\nProof: steps proved {steps} (by an engine){rules}; mutation kill rate {kill}; "
            f"tightness (measured/bound) {tight}.\n")


def derivation_section(results) -> str:
    parts = []
    for name, d in (results.get("derivations") or {}).items():
        if d["status"] != "ok":
            parts.append(f"### {name}\n\n**Derivation unavailable** ({d['status']}): {d['reason']}")
            continue
        der = d.get("derivation") or {}
        latex = d.get("latex")
        if isinstance(latex, dict):
            latex = None
        bound = der.get("bound")
        txt = [f"### {name}\n"]
        if latex:
            body = "\n".join(ln for ln in str(latex).splitlines() if not ln.lstrip().startswith("%"))
            txt.append("$$\n" + body.strip().strip("$") + "\n$$\n")
        elif bound:
            txt.append(f"Bound: `{bound}`\n")
        for k, v in (d.get("latex_extras") or {}).items():
            if isinstance(v, str) and k.startswith("bound"):
                txt.append(f"Variant `{k}`:\n\n$$\n{v}\n$$\n")
        conds = der.get("conditions") or []
        if conds:
            txt.append("Conditions: " + "; ".join(f"`{c}`" for c in conds) + "\n")
        steps = der.get("steps") or []
        if steps:
            txt.append(_table(["step", "check", "status", "worst margin"],
                              [[s.get("name"), s.get("check"), s.get("status"), _g(s.get("worst_margin",
                                                                                    s.get("margin")))]
                               for s in steps if isinstance(s, dict)]))
        txt.append(_proof_line(name, der, results))
        txt.append(f"\nReproduce: `qbound derive {name} --latex`")
        parts.append("\n".join(txt))
    return "\n\n".join(parts) or "No derivation configured."


def bounds_section(results) -> str:
    rows = results.get("bounds") or []
    if not rows:
        return "No grid configured."
    parts = []
    for ci in sorted({r["case"] for r in rows}):
        rs = [r for r in rows if r["case"] == ci]
        r0 = rs[0]
        how: dict = next((r["constants_how"] for r in rs if r.get("constants_how")), {})
        vals: dict = next((r["constants"] for r in rs if r.get("constants")), {})
        head = (f"#### case {ci}: {r0['optimizer']} on {r0['problem']}, {r0['steps']} steps, seeds {r0['seeds']}\n\n"
                f"Measured: {r0['measured_quantity']}.\n\n")
        if how:
            head += "Constants: " + "; ".join(f"{k} = {_g(vals.get(k))} ({how[k]})" for k in how
                                              if not k.startswith("q_")) + ".\n\n"
        tab = _table(["component", "mantissa", "plan", "measured mean [95% CI]", "bound", "measured/bound", "status"],
                     [[r["component"], _g(r["mantissa"]), r["plan"],
                       st.fmt_ci(r["measured"]) + (f" ({len(r['diverged'])} run(s) diverged)" if r.get("diverged") else ""),
                       _g(r["bound"]), _g(r["tightness"]), r["status"] if r["bound"] is not None else
                       f"no bound: {r['bound_reason'][:80]}"] for r in rs])
        parts.append(head + tab)
    return "\n\n".join(parts)


def trajectory_section(results) -> str:
    rows = results.get("trajectory") or []
    if not rows:
        return "No trajectory checks configured."
    out = []
    for r in rows:
        if r.get("error"):
            out.append([f"{r['optimizer']}/{r['problem']}", r["plan"], "run failed: " + r["error"][:100], "", "", ""])
            continue
        prem = r.get("premise") or {}
        ps = ", ".join(f"{c}: {p['violations_normal']}/{p['normal']} normal, {p['violations_underflow']}/"
                       f"{p['underflow_coords']} below normal" for c, p in prem.items())
        env = r.get("envelopes") or {}
        es = ", ".join(f"{k}: {e.get('violations_clean', e['violations'])}/{e['checked']}"
                       + (f" (+{e['violations_after_premise_failure']} after the premise failed)"
                          if e.get("violations_after_premise_failure") else "") for k, e in env.items())
        de = r.get("descent")
        ds = f"{de['violations']}/{de['checked']} (L={_g(de['L'])})" if de else "n/a"
        gs = r.get("grad_shift")
        gss = f"{gs['violations']}/{gs['checked']}, max ratio {_g(gs['max_ratio'])}" if gs else "n/a"
        run = f"{r['optimizer']}/{r['problem']}"
        if r.get("diverged_at") is not None:
            run += f" (diverged at step {r['diverged_at']}: non-finite weights; checks cover the steps before)"
        out.append([run, r["plan"], ps or "n/a", es or "n/a", ds, gss])
    return ("Violations / checked, at every step and coordinate of one recorded run (seed "
            f"{rows[0].get('seed')}).\n\n" +
            _table(["run", "plan", "premise |Q(x)-x| <= q|x|", "moment envelopes", "descent inequality",
                    "gradient shift"], out))


def thresholds_section(results) -> str:
    rows = results.get("thresholds") or []
    if not rows:
        return "No threshold experiments configured."
    out = []
    for r in rows:
        fs = r.get("fact_error") or _fact_text(r.get("fact"))
        if r["kind"] == "stagnation":
            meas = (f"lost {_g(r.get('v_lost_frac'))} of {r.get('v_updates')} v-updates; "
                    f"{r.get('v_decreases')} decreases / {r.get('v_decrease_opportunities')} opportunities")
        else:
            wr = r.get("w_rel_update")
            meas = (f"{wr['n']} updates; smallest kept relative update {_g(wr.get('min_rel_kept'))}, "
                    f"largest lost {_g(wr.get('max_rel_lost'))}" if isinstance(wr, dict)
                    else str(r.get("w_swamping") or r.get("run_error")))
        out.append([r["kind"], r["format"], r["rounding"], _g(r["beta2"]), fs, meas])
    return _table(["fact", "format", "rounding", "beta2", "proofs layer", "measured"], out)


def _fact_text(fact) -> str:
    """One line for a proofs.optimizer_facts result: the exact condition and the engine's verdict."""
    if not isinstance(fact, dict):
        return "n/a"
    v = fact.get("verdict") or {}
    parts = [str(fact.get("condition", ""))]
    if "stagnates" in fact:
        parts.append(f"at this beta2: {'stagnates' if fact['stagnates'] else 'can decrease'}")
    if v:
        parts.append(f"{v.get('status')} by {v.get('engine')}")
    past = fact.get("check_past_threshold") or {}
    if past.get("status"):
        parts.append(f"just past the threshold: {past['status']}")
    return "; ".join(p for p in parts if p)


def scaling_section(results) -> str:
    sc = results.get("scaling") or {}
    if not sc.get("components"):
        return "No scaling experiment configured."
    head = (f"{sc['optimizer']} on {sc['problem']}, formats e{sc['exponent_bits']}mM ({sc['rounding']}), "
            f"M searched upwards from {sc['mantissa_range'][0]} to {sc['mantissa_range'][1]}; M* = smallest M "
            f"whose run stays within {sc['factor']:g}x full precision (metric: {sc['metric']}, mean over seeds). "
            f"Step sizes: {sc['hparams_rule'].strip()}\n\n")
    rows = []
    for comp, c in sc["components"].items():
        th = {p["T"]: p["bits"] for p in c.get("theory_points", [])}
        for p in c["points"]:
            ms = {"found": str(p["M_star"]), "censored-high": f"> {sc['mantissa_range'][1]}",
                  "censored-low": f"<= {sc['mantissa_range'][0]}", "incomplete": "incomplete"}[p["status"]]
            rows.append([comp, p["T"], ms, _g(th.get(p["T"])), _g(p["baseline"])])
        f, tf = c.get("fit") or {}, c.get("theory_fit") or {}
        if f.get("slope") is not None:
            rows.append([comp, "fit", f"{f['intercept']:.2f} + {f['slope']:.2f} log2 T "
                         f"[{f['slope_lo']:.2f}, {f['slope_hi']:.2f}]",
                         f"slope {tf['slope']:.2f}" if tf.get("slope") is not None else (c.get("theory_error") or ""),
                         ""])
    for oname, o in (sc.get("compare") or {}).items():
        for comp, c in (o.get("components") or {}).items():
            for p in c["points"]:
                ms = {"found": str(p["M_star"]), "censored-high": f"> {sc['mantissa_range'][1]}",
                      "censored-low": f"<= {sc['mantissa_range'][0]}", "incomplete": "incomplete"}[p["status"]]
                rows.append([f"{comp} ({oname})", p["T"], ms, "", _g(p["baseline"])])
    return head + _table(["component", "T", "empirical M*", "bounds layer bits", "full-precision value"], rows)


def errors_section(results) -> str:
    errs = results.get("errors") or []
    if not errs:
        return "None: every layer answered."
    rows = [[e.get("layer"), e.get("status"), str(e.get("error"))[:220], e.get("where", "")] for e in errs]
    return ("Everything below made the claims it touches inconclusive (the reason is repeated in each "
            "claim's evidence). Full tracebacks are in results.json.\n\n" +
            _table(["layer", "status", "error", "where"], rows))


def render_markdown(results) -> str:
    cfg = results["config"]
    figs = results.get("figures") or []
    counts: dict[str, int] = {}
    for c in results["claims"]:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    run = results.get("run", {})
    s = ["# qbound verify report\n",
         f"qbound {results['qbound_version']} · schema `{results['schema']}` · {results['created_utc']} · "
         f"command `{results['command']}` · {run.get('workers')} worker(s), {run.get('units_computed')} units "
         f"computed, {run.get('units_reused')} reused from the store, {run.get('seconds_total')} s.\n",
         "This report checks the convergence claims of Tang, Li & Zou, *A Convergence Analysis of Adaptive "
         "Optimizers under Floating-point Quantization* (arXiv 2510.21314), and qbound's own, three ways: "
         "rounding lemmas decided bit-exactly (proofs layer), bounds derived symbolically (bounds layer), "
         "and quantized runs that try to break them (numeric layer). Every verdict below is computed from "
         "the evidence records by one rule: contradicted if any item contradicts; supported if every "
         "deciding item supports; otherwise inconclusive (with the reason).\n",
         f"Statistics: {results['statistics']['interval']}; {results['statistics']['falsified_rule']}; "
         f"{results['statistics']['comparisons']}. Seeds: {cfg['seeds']}.\n",
         "## Claims\n",
         "Verdicts: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + ".\n",
         claims_table(results), "\n## Evidence per claim\n", claims_detail(results),
         "\n## Figures\n"]
    for f in figs:
        s.append(f"**{f['title']}.** {f['caption']}\n\n![{f['title']}]({f['file']})\n")
    if not figs:
        s.append("No figures were produced (see Errors).\n")
    s += ["\n## Lemmas (proofs layer)\n", lemma_section(results),
          "\n## Derived bounds (bounds layer)\n", derivation_section(results),
          "\n## Bounds against measured runs\n",
          "Each derived bound evaluated with the problem's constants and the run's hyperparameters and q's, "
          "against the measured quantity (mean over seeds, 95% interval). measured/bound close to 1 is a tight "
          "bound; far below 1 a vacuous one.\n", bounds_section(results),
          "\n## Intermediate steps along trajectories\n", trajectory_section(results),
          "\n## Stagnation and swamping thresholds\n", thresholds_section(results),
          "\n## Mantissa scaling with T\n", scaling_section(results),
          "\n## Errors and missing layers\n", errors_section(results),
          "\n## Reproduce\n",
          f"Everything: `{results['command']}` (results are read back from `store/` when present; delete it "
          "or pass `--fresh` to recompute). The configuration used is in results.json (`config`); "
          "`qbound verify --print-config` prints the default. Each evidence row above gives the `qbound run` "
          "command for its numbers.\n"]
    return "\n".join(s)
