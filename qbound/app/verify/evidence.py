"""From analysed results (plain dicts) to the claims table: one Evidence item per layer and check.

Every function here is pure: it reads the ``results`` dict that ``qbound.app.verify.orchestrate`` assembles
(sections ``lemmas``, ``derivations``, ``bounds``, ``trajectory``, ``thresholds``, ``scaling``,
``floor``) and returns :class:`~qbound.app.verify.claims.Evidence`; the verdicts follow from the rule in
:mod:`qbound.app.verify.claims`. Tests feed synthetic results to check that verdicts flip with the data.

Decision rules (intervals are Student-t 95% over seeds, :mod:`qbound.app.verify.stats`):

* sensitivity (paper: Adam is more sensitive to W and V): at a given mantissa, on log10 of the final
  ||grad F||^2, both W and V above both G and M beyond intervals -> supports; G or M above W or V
  beyond intervals -> contradicts; else inconclusive.
* Muon more robust: per-seed degradation log10(final_q / final_fp) (same seed), Muon below Adam beyond
  intervals -> supports; above Adam *and* above 0 (Muon actually degraded) -> contradicts; otherwise
  inconclusive.
* more bits -> smaller norm: OLS slope of log10(final) against mantissa bits (every seed a point),
  95% slope interval below 0 -> supports, above 0 -> contradicts.
* bound holds: any FALSIFIED row with every constant exact -> contradicts; FALSIFIED with an estimated
  constant, or "exceeds within noise" -> inconclusive; all rows hold -> supports.
* bits vs theory: the empirical M*(T) at most the bounds layer's required bits at every T -> supports;
  above it at some T -> contradicts.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from qbound.app.verify import stats as st
from qbound.app.verify.claims import Claim, Evidence, missing

VERIFY_CMD = "qbound verify"


# ----------------------------------------------------------------------------- helpers
def _rows_by(rows, **match):
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def _cmds(rows, k=3):
    out = []
    for r in rows:
        for c in r.get("commands", [])[:1] or ([r["command"]] if r.get("command") else []):
            if c and c not in out:
                out.append(c)
    return out[:k]


def _rb_cmd(d, name, T):
    """Exact Python call reproducing a required_bits number (the CLI has no constant flags)."""
    c = ((d or {}).get("setting") or {}).get("constants") or {}
    tol, rounding = (d or {}).get("tol", 1.0), (d or {}).get("rounding", "rne")
    return (f"python -c \"from qbound import bounds; print(bounds.required_bits('{name}', {int(T)}, tol={tol}, "
            f"rounding='{rounding}', constants={c!r}))\"")


def _floor_cmd(d, name, plan):
    c = dict(((d or {}).get("setting") or {}).get("constants") or {})
    b1 = c.pop("beta1", 0.0)
    c = {k: v for k, v in c.items() if k not in ("a", "b")}
    return (f"python -c \"from qbound import bounds; print(bounds.error_floor('{name}', '{plan}', constants={c!r}, "
            f"beta1={b1}))\"")


def _layer_missing(section, layer, id):
    if section is None:
        return missing(layer, id, f"{layer} stage not run")
    if isinstance(section, dict) and section.get("status") not in (None, "ok"):
        return missing(layer, id, section.get("reason", "unavailable"))
    return None


# ----------------------------------------------------------------------------- lemma evidence
def ev_lemma_suite(lemmas) -> Evidence:
    m = _layer_missing(lemmas, "lemmas", "lemmas.suite")
    if m:
        return m
    rows = lemmas.get("rows", [])
    if not rows:
        return missing("lemmas", "lemmas.suite", "the suite returned no lemmas")
    status = [r.get("verdict", {}).get("status") for r in rows]
    surprises = [r for r in rows if r.get("surprise")]
    unknown = status.count("unknown")
    nums = {"lemmas": len(rows), "proved": status.count("proved"), "falsified": status.count("falsified"),
            "unknown": unknown, "surprises": len(surprises)}
    cmd = [lemmas.get("command", "qbound prove --suite default")]
    if surprises:
        ids = ", ".join(sorted({f"{r['lemma_id']}[{r.get('format')}/{r.get('rounding')}]" for r in surprises})[:6])
        return Evidence("lemmas", "lemmas.suite", f"{len(surprises)} lemma(s) contrary to expectation: {ids}",
                        "contradicts", nums, cmd)
    if unknown:
        return Evidence("lemmas", "lemmas.suite", f"{unknown} lemma(s) undecided", "inconclusive", nums, cmd,
                        reason=f"{unknown} unknown verdicts (timeout or engine error)")
    return Evidence("lemmas", "lemmas.suite",
                    f"{len(rows)} lemma instances as expected ({nums['proved']} proved, {nums['falsified']} "
                    f"falsified with counterexample)", "supports", nums, cmd)


def _lemma_rows(lemmas, id_part: str):
    """(evidence id, the suite rows whose lemma id contains ``id_part``), or the "missing" Evidence
    in place of the rows when the lemma layer or such rows are absent."""
    eid = f"lemmas.{id_part}"
    m = _layer_missing(lemmas, "lemmas", eid)
    if m:
        return eid, m
    rows = [r for r in lemmas.get("rows", []) if id_part in str(r.get("lemma_id", ""))]
    if not rows:
        return eid, missing("lemmas", eid, f"no lemma with id containing {id_part!r} in the suite")
    return eid, rows


def ev_lemma_family(lemmas, id_part: str, want, what: str) -> Evidence:
    """All lemma rows whose id contains ``id_part`` must have verdict ``want`` (a status), or, with
    ``want=None``, come out as the suite expected (no surprise, nothing unknown)."""
    if want is None:
        return _ev_lemma_expected(lemmas, id_part, what)
    eid, rows = _lemma_rows(lemmas, id_part)
    if isinstance(rows, Evidence):
        return rows
    status = [r.get("verdict", {}).get("status") for r in rows]
    nums = {"instances": len(rows), want: status.count(want),
            "formats": sorted({str(r.get("format")) for r in rows})}
    cmd = [lemmas.get("command", "qbound prove --suite default")]
    other = [s for s in status if s != want]
    if not other:
        return Evidence("lemmas", eid, f"{what}: {want} on all {len(rows)} instances", "supports", nums, cmd)
    decided_against = [s for s in other if s in ("proved", "falsified")]
    if decided_against:
        return Evidence("lemmas", eid, f"{what}: {len(decided_against)} of {len(rows)} instances came out "
                        f"{decided_against[0]}", "contradicts", nums, cmd)
    return Evidence("lemmas", eid, f"{what}: {len(other)} undecided", "inconclusive", nums, cmd,
                    reason="unknown verdicts")


def _ev_lemma_expected(lemmas, id_part, what) -> Evidence:
    eid, rows = _lemma_rows(lemmas, id_part)
    if isinstance(rows, Evidence):
        return rows
    status = [r.get("verdict", {}).get("status") for r in rows]
    sur = [r for r in rows if r.get("surprise")]
    nums = {"instances": len(rows), "proved": status.count("proved"), "falsified": status.count("falsified"),
            "unknown": status.count("unknown"), "surprises": len(sur)}
    cmd = [lemmas.get("command", "qbound prove --suite default")]
    if sur:
        return Evidence("lemmas", eid, f"{what}: {len(sur)} of {len(rows)} instances contrary to expectation",
                        "contradicts", nums, cmd)
    if nums["unknown"]:
        return Evidence("lemmas", eid, f"{what}: {nums['unknown']} undecided", "inconclusive", nums, cmd,
                        reason="unknown verdicts")
    return Evidence("lemmas", eid, f"{what}: all {len(rows)} instances as expected ({nums['proved']} proved, "
                    f"{nums['falsified']} falsified with witness)", "supports", nums, cmd)


# ----------------------------------------------------------------------------- derivation evidence
def ev_derivation(ders, name) -> Evidence:
    eid = f"derive.{name}.steps"
    d = (ders or {}).get(name)
    if d is None:
        return missing("derivation", eid, f"derivation {name} not run")
    if d.get("status") != "ok":
        return missing("derivation", eid, d.get("reason", "unavailable"))
    steps = (d.get("derivation") or {}).get("steps", [])
    failed = d.get("steps_failed", [])
    nums = {"steps": len(steps), "failed": len(failed),
            "checks": dict(sorted(_count(s.get("check") for s in steps if isinstance(s, dict)).items()))}
    cmd = [f"qbound derive {name} --latex"]
    if failed:
        return Evidence("derivation", eid, f"{len(failed)} step(s) failed their check: {', '.join(failed[:4])}",
                        "contradicts", nums, cmd)
    if not steps:
        return missing("derivation", eid, "derivation has no recorded steps")
    return Evidence("derivation", eid, f"all {len(steps)} steps pass their checks", "supports", nums, cmd)


def ev_trajectory_steps(ders, name) -> Evidence:
    """The bounds layer's own checks of its steps against real quantized sequences (check kind
    'trajectory')."""
    eid = f"derive.{name}.trajectory_checks"
    d = (ders or {}).get(name)
    if not d or d.get("status") != "ok":
        return missing("derivation", eid, (d or {}).get("reason", f"{name} derivation not run"))
    steps = [s for s in (d.get("derivation") or {}).get("steps", []) if "trajectory" in str(s.get("check", ""))]
    if not steps:
        return missing("derivation", eid, "no step of the derivation is checked against trajectories")
    failed = [s["name"] for s in steps if s.get("status") != "passed"]
    nums = {"steps": [s["name"] for s in steps], "failed": failed}
    cmd = [f"qbound derive {name}"]
    if failed:
        return Evidence("derivation", eid, f"trajectory checks failed: {', '.join(failed)}", "contradicts", nums, cmd)
    return Evidence("derivation", eid, f"{len(steps)} steps checked against real quantized sequences by the bounds "
                    f"layer ({', '.join(s['name'] for s in steps)[:120]})", "supports", nums, cmd)


def _count(xs):
    c = defaultdict(int)
    for x in xs:
        c[str(x)] += 1
    return c


def ev_theory_bits_order(ders, scaling) -> Evidence:
    """Adam: the bounds layer asks more bits for W and V than for G and M (at the largest T)."""
    eid = "derive.adam.required_bits_order"
    from qbound.app.verify.falsify import bits_from_required
    d = (ders or {}).get("adam")
    if not d or d.get("status") != "ok":
        return missing("derivation", eid, (d or {}).get("reason", "adam derivation not run"))
    rb = d.get("required_bits") or {}
    if not rb:
        return missing("derivation", eid, "no required_bits computed")
    T = max(rb, key=lambda k: int(k))
    bits = {c: bits_from_required(rb[T], c) for c in "WGMV"}
    if any(v is None for v in bits.values()):
        return missing("derivation", eid, f"required_bits({T}) lacks per-component bits: {str(rb[T])[:160]}")
    nums = {"T": int(T), "bits": bits}
    cmd = [_rb_cmd(d, "adam", T)]
    wv, gm = min(bits["W"], bits["V"]), max(bits["G"], bits["M"])
    if wv > gm:
        return Evidence("derivation", eid, f"T={T}: W,V need {bits['W']:g},{bits['V']:g} bits vs G,M "
                        f"{bits['G']:g},{bits['M']:g}", "supports", nums, cmd)
    if max(bits["W"], bits["V"]) < min(bits["G"], bits["M"]):
        return Evidence("derivation", eid, f"T={T}: W,V need fewer bits than G,M", "contradicts", nums, cmd)
    return Evidence("derivation", eid, f"T={T}: bits {bits}", "inconclusive", nums, cmd,
                    reason="W,V not uniformly above G,M")


def ev_theory_muon_vs_adam(ders) -> Evidence:
    eid = "derive.muon_vs_adam.required_bits"
    from qbound.app.verify.falsify import bits_from_required
    a, m = (ders or {}).get("adam"), (ders or {}).get("muon")
    for n, d in (("adam", a), ("muon", m)):
        if not d or d.get("status") != "ok":
            return missing("derivation", eid, (d or {}).get("reason", f"{n} derivation not run"))
    assert a is not None and m is not None   # both checked in the loop above
    ra, rm = a.get("required_bits") or {}, m.get("required_bits") or {}
    common = sorted(set(ra) & set(rm), key=int)
    if not common:
        return missing("derivation", eid, "no common T in required_bits")
    T = common[-1]
    ba = {c: bits_from_required(ra[T], c) for c in "WGM"}
    bm = {c: bits_from_required(rm[T], c) for c in "WGM"}
    if any(v is None for v in list(ba.values()) + list(bm.values())):
        return missing("derivation", eid, "required_bits lacks per-component bits")
    nums = {"T": int(T), "adam": ba, "muon": bm}
    cmd = [_rb_cmd(a, "adam", T), _rb_cmd(m, "muon", T)]
    if all(bm[c] <= ba[c] for c in "WGM") and any(bm[c] < ba[c] for c in "WGM"):
        return Evidence("derivation", eid, f"T={T}: Muon needs fewer bits ({bm}) than Adam ({ba})",
                        "supports", nums, cmd)
    if all(bm[c] >= ba[c] for c in "WGM") and any(bm[c] > ba[c] for c in "WGM"):
        return Evidence("derivation", eid, f"T={T}: Muon needs more bits than Adam", "contradicts", nums, cmd)
    return Evidence("derivation", eid, f"T={T}: mixed ({bm} vs {ba})", "inconclusive", nums, cmd,
                    reason="neither needs uniformly fewer bits")


def ev_theory_log_bits(ders, name) -> Evidence:
    """The bounds layer keeps the full-precision rate with M_X >= k_X log2 T + const for every
    component (finite k_X from its rate analysis), and its concrete required bits follow that law."""
    eid = f"derive.{name}.required_bits_log"
    from qbound.app.verify.falsify import bits_from_required
    d = (ders or {}).get(name)
    if not d or d.get("status") != "ok":
        return missing("derivation", eid, (d or {}).get("reason", f"{name} derivation not run"))
    rb = d.get("required_bits") or {}
    Ts = sorted((t for t in rb if isinstance(rb[t], dict) and "error" not in rb[t]), key=int)
    if not Ts:
        errs = [rb[t]["error"] for t in rb if isinstance(rb[t], dict) and "error" in rb[t]]
        return missing("derivation", eid, errs[0] if errs else "required_bits not computed")
    comps = "WGMV" if name == "adam" else "WGM"
    nums: dict[str, Any] = {"T": [int(t) for t in Ts]}
    ks: dict[str, Any] = {}
    for c in comps:
        comp = (rb[Ts[-1]].get("components") or {}).get(c) or {}
        k = comp.get("k")
        ys = [bits_from_required(rb[t], c) for t in Ts]
        f = st.linfit([math.log2(int(t)) for t in Ts], ys) if len(Ts) >= 2 and None not in ys else {}
        nums[c] = {"k": k, "bits": ys, "fitted_slope_per_log2T": f.get("slope")}
        ks[c] = k
    cmd = [_rb_cmd(d, name, Ts[-1])]
    if any(k in (None, "None") for k in ks.values()):
        bad = [c for c, k in ks.items() if k in (None, "None")]
        return Evidence("derivation", eid, f"no polynomial decay of q keeps the rate for {', '.join(bad)}",
                        "contradicts", nums, cmd)
    law = ", ".join(f"M_{c} >= {k} log2 T + c" for c, k in ks.items())
    return Evidence("derivation", eid, f"rate kept with {law} (required bits at T={Ts[0]}..{Ts[-1]}: " +
                    "; ".join(f"{c} {nums[c]['bits'][0]:g}..{nums[c]['bits'][-1]:g}" for c in comps) + ")",
                    "supports", nums, cmd)


def ev_floor_theory(ders, name, plan) -> Evidence:
    eid = f"derive.{name}.floor"
    d = (ders or {}).get(name)
    if not d or d.get("status") != "ok":
        return missing("derivation", eid, (d or {}).get("reason", f"{name} derivation not run"))
    fl = (d.get("floors") or {}).get(plan)
    if fl is None:
        return missing("derivation", eid, f"no floor computed for {plan}")
    if isinstance(fl, dict) and "error" in fl:
        return missing("derivation", eid, fl["error"])
    val: Any = fl.get("floor", fl.get("value")) if isinstance(fl, dict) else fl
    if isinstance(val, dict):
        why = val.get("why")
        val = val.get("value")
        if why and val in (None, "inf", math.inf):
            return Evidence("derivation", eid, f"no finite floor for {plan}: {why}", "inconclusive",
                            {"floor": str(val)}, [_floor_cmd(d, name, plan)],
                            reason="the worst-case analysis gives no finite floor")
    cmd = [_floor_cmd(d, name, plan)]
    try:
        v = float(val)
    except (TypeError, ValueError):
        return Evidence("derivation", eid, f"floor for {plan}: {str(val)[:80]}", "inconclusive",
                        {"floor": str(val)}, cmd, reason="floor not a number")
    if math.isfinite(v):
        return Evidence("derivation", eid, f"finite floor {v:.3g} for {plan}", "supports", {"floor": v}, cmd)
    return Evidence("derivation", eid, f"no finite floor for {plan} (worst-case analysis)", "inconclusive",
                    {"floor": str(val)}, cmd, reason="the worst-case analysis gives no finite floor")


# ----------------------------------------------------------------------------- experiment evidence
def ev_sensitivity(rows, case, M) -> Evidence:
    eid = f"exp.sensitivity.case{case}.m{M}"
    by = {r["component"]: r for r in rows if r["case"] == case and r["mantissa"] == M}
    if not all(c in by for c in "WGMV"):
        return missing("experiment", eid, f"grid lacks one of W,G,M,V at mantissa {M}")
    s = {c: by[c]["final_log10"] for c in "WGMV"}
    if any(v.get("mean") is None for v in s.values()):
        return missing("experiment", eid, "runs missing or failed")
    r0 = by["W"]
    nums = {c: {"log10_final": s[c]["mean"], "lo": s[c]["lo"], "hi": s[c]["hi"]} for c in "WGMV"}
    summ = ", ".join(f"{c} {s[c]['mean']:.2f}" for c in "WGMV")
    head = f"{r0['optimizer']}/{r0['problem']}, e*m{M}: log10 final |grad|^2 {summ}"
    cmds = _cmds([by[c] for c in "WGMV"], 4)
    if all(st.greater(s[a], s[b]) for a in "WV" for b in "GM"):
        return Evidence("experiment", eid, head, "supports", nums, cmds)
    if any(st.greater(s[b], s[a]) for a in "WV" for b in "GM"):
        return Evidence("experiment", eid, head, "contradicts", nums, cmds)
    return Evidence("experiment", eid, head, "inconclusive", nums, cmds,
                    reason="intervals overlap: W and V not both above G and M")


def _paired_deg(q_row, fp_row):
    a, b = q_row.get("per_seed_final") or [], fp_row.get("per_seed_final") or []
    if not a or len(a) != len(b):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log10(np.maximum(np.asarray(a, float), 1e-300)) - np.log10(np.maximum(np.asarray(b, float), 1e-300))
    d = np.where(np.isfinite(np.asarray(a, float)), d, np.inf)
    return st.mean_ci(d)


def ev_muon_vs_adam(rows, problem, M, comp="all") -> Evidence:
    eid = f"exp.muon_vs_adam.{problem}.{comp}.m{M}"
    got = {}
    for opt in ("adam", "muon"):
        q = [r for r in rows if r["optimizer"] == opt and r["problem"] == problem and r["component"] == comp
             and r["mantissa"] == M]
        fp = [r for r in rows if r["optimizer"] == opt and r["problem"] == problem and r["component"] == "none"]
        if not q or not fp:
            return missing("experiment", eid, f"no {opt} run on {problem} with {comp} at mantissa {M}")
        got[opt] = (_paired_deg(q[0], fp[0]), q[0])
    da, dm = got["adam"][0], got["muon"][0]
    if da is None or dm is None or da.get("mean") is None or dm.get("mean") is None:
        return missing("experiment", eid, "runs missing or failed")
    nums = {"adam_log10_degradation": da, "muon_log10_degradation": dm}
    head = (f"{problem}, {comp} at e*m{M}: log10(final_q/final_fp) Adam {st.fmt_ci(da)}, Muon {st.fmt_ci(dm)}")
    cmds = _cmds([got["adam"][1], got["muon"][1]], 2)
    zero = {"lo": 0.0, "hi": 0.0, "mean": 0.0}
    if st.greater(da, dm):
        return Evidence("experiment", eid, head, "supports", nums, cmds)
    if st.greater(dm, da) and st.greater(dm, zero):
        return Evidence("experiment", eid, head, "contradicts", nums, cmds)
    if st.greater(dm, da):
        return Evidence("experiment", eid, head, "inconclusive", nums, cmds,
                        reason="Muon changes more than Adam but is not degraded (its log-ratio interval "
                               "is not above 0): Adam is not hurt either")
    return Evidence("experiment", eid, head, "inconclusive", nums, cmds, reason="intervals overlap")


def ev_more_bits(rows, case, comp="all") -> Evidence:
    eid = f"exp.more_bits.case{case}.{comp}"
    rs = sorted([r for r in rows if r["case"] == case and r["component"] == comp and r["mantissa"] is not None],
                key=lambda r: r["mantissa"])
    xs, ys = [], []
    for r in rs:
        for v in r.get("per_seed_final") or []:
            xs.append(r["mantissa"])
            ys.append(math.log10(max(v, 1e-300)) if math.isfinite(v) else math.inf)
    if len(set(xs)) < 3:
        return missing("experiment", eid, f"fewer than 3 mantissa values for {comp}")
    finite = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
    if len(finite) < len(ys):
        # a diverged run at low bits counts as "worse": give it the worst finite value + 1 decade
        worst = max((y for _, y in finite), default=0.0) + 1.0
        ys = [y if math.isfinite(y) else worst for y in ys]
    f = st.linfit(xs, ys)
    r0 = rs[0]
    means = {r["mantissa"]: r["final_log10"]["mean"] for r in rs}
    nums = {"slope_log10_per_bit": f["slope"], "slope_lo": f["slope_lo"], "slope_hi": f["slope_hi"],
            "log10_final_by_mantissa": means, "points": len(xs)}
    head = (f"{r0['optimizer']}/{r0['problem']}, {comp}: slope of log10 final |grad|^2 per mantissa bit "
            f"{f['slope']:.3g} [{f['slope_lo']:.3g}, {f['slope_hi']:.3g}]")
    cmds = _cmds([rs[0], rs[-1]], 2)
    if f["slope_hi"] is not None and f["slope_hi"] < 0:
        return Evidence("experiment", eid, head, "supports", nums, cmds)
    if f["slope_lo"] is not None and f["slope_lo"] > 0:
        return Evidence("experiment", eid, head, "contradicts", nums, cmds)
    return Evidence("experiment", eid, head, "inconclusive", nums, cmds, reason="slope interval contains 0")


def ev_bound_monotone(rows, case, comp="all") -> Evidence:
    eid = f"derive.bound_monotone.case{case}.{comp}"
    rs = sorted([r for r in rows if r["case"] == case and r["component"] == comp and r["mantissa"] is not None
                 and r.get("bound") is not None], key=lambda r: r["mantissa"])
    if len(rs) < 2:
        reasons = {r.get("bound_reason") for r in rows if r["case"] == case and r.get("bound_reason")}
        return missing("derivation", eid, "; ".join(sorted(reasons))[:200] or "bound not evaluated")
    b = [r["bound"] for r in rs]
    nums = {"bound_by_mantissa": {r["mantissa"]: r["bound"] for r in rs}}
    head = f"{rs[0]['optimizer']}/{rs[0]['problem']}, {comp}: evaluated bound vs mantissa " + \
        ", ".join(f"m{r['mantissa']}:{r['bound']:.3g}" for r in rs)
    if all(x >= y for x, y in zip(b, b[1:])) and b[0] > b[-1]:
        return Evidence("derivation", eid, head, "supports", nums)
    if any(x < y for x, y in zip(b, b[1:])):
        return Evidence("derivation", eid, head, "contradicts", nums)
    return Evidence("derivation", eid, head, "inconclusive", nums, reason="bound constant in the bits")


def ev_bound_holds(rows, case) -> list[Evidence]:
    eid = f"exp.bound.case{case}"
    rs = [r for r in rows if r["case"] == case]
    if not rs:
        return [missing("experiment", eid, "no grid rows")]
    r0 = rs[0]
    with_b = [r for r in rs if r.get("bound") is not None]
    if not with_b:
        reasons = sorted({r.get("bound_reason", "") for r in rs if r.get("bound_reason")})
        return [missing("experiment", eid, "; ".join(reasons)[:300] or "bound not evaluated")]
    fal = [r for r in with_b if r["status"] == "FALSIFIED"]
    fal_exact = [r for r in fal if r.get("constants_exact")]
    noisy = [r for r in with_b if r["status"] == "exceeds-within-noise"]
    tight = [r["tightness"] for r in with_b if r.get("tightness") is not None]
    nums = {"rows": len(with_b), "falsified": len(fal), "falsified_exact_constants": len(fal_exact),
            "exceeds_within_noise": len(noisy),
            "tightness_min": min(tight) if tight else None, "tightness_median": float(np.median(tight)) if tight else None,
            "tightness_max": max(tight) if tight else None}
    head = f"{r0['optimizer']}/{r0['problem']}: {len(with_b)} (component, bits) cells"
    out = []
    if fal_exact:
        w = max(fal_exact, key=lambda r: r["tightness"] or 0)
        out.append(Evidence("experiment", eid, f"{head}: FALSIFIED in {len(fal_exact)} (worst {w['plan']}: measured "
                            f"{st.fmt_ci(w['measured'])} > bound {w['bound']:.3g})", "contradicts", nums,
                            _cmds([w], 1)))
    elif fal:
        w = max(fal, key=lambda r: r["tightness"] or 0)
        est = [k for k, h in w["constants_how"].items() if "estimated" in str(h) or h == "unknown"]
        out.append(Evidence("experiment", eid, f"{head}: exceeds in {len(fal)} with estimated constants "
                            f"({', '.join(est)})", "inconclusive", nums, _cmds([w], 1),
                            reason=f"measured > bound only with estimated {', '.join(est)}"))
    elif noisy:
        out.append(Evidence("experiment", eid, f"{head}: {len(noisy)} exceed within noise", "inconclusive", nums,
                            _cmds(noisy, 1), reason="mean above the bound, interval reaches it"))
    else:
        tt = f" (measured/bound {min(tight):.2g} to {max(tight):.2g})" if tight else ""
        out.append(Evidence("experiment", eid, f"{head}: bound holds everywhere{tt}", "supports", nums,
                            _cmds(with_b, 1)))
    if tight:
        out.append(Evidence("experiment", f"{eid}.tightness",
                            f"tightness measured/bound: min {min(tight):.2g}, median {np.median(tight):.2g}, "
                            f"max {max(tight):.2g}" + (" (vacuous: bound >= 100x measured)"
                                                        if max(tight) < 0.01 else ""), "info", {}))
    return out


def ev_trajectory(traj_rows) -> list[Evidence]:
    """Premise (normal range), envelopes, descent inequality, gradient shift along recorded runs."""
    if not traj_rows:
        return [missing("experiment", "exp.trajectory", "no trajectory runs configured")]
    errs = [r for r in traj_rows if r.get("error")]
    ok = [r for r in traj_rows if not r.get("error")]
    out = []
    if errs:
        out.append(missing("experiment", "exp.trajectory.runs",
                           f"{len(errs)} trajectory run(s) failed: {errs[0]['error'][:160]}"))
    if not ok:
        return out
    # premise in the normal range
    prem = [(r, c, p) for r in ok for c, p in (r.get("premise") or {}).items()]
    nv = sum(p["violations_normal"] for _, _, p in prem)
    checked = sum(p["normal"] for _, _, p in prem)
    cm = _cmds(ok, 2)
    if not prem:
        out.append(missing("experiment", "exp.premise", "no quantized states recorded"))
    elif nv:
        out.append(Evidence("experiment", "exp.premise", f"|Q(x)-x| <= q|x| violated {nv} times in the normal range",
                            "contradicts", {"violations": nv, "checked": checked}, cm))
    else:
        out.append(Evidence("experiment", "exp.premise", f"|Q(x)-x| <= q|x| held at all {checked} normal-range "
                            f"coordinates (W, M, V)", "supports", {"checked": checked}, cm))
    # envelopes: a violation where the rounding premise held so far contradicts the derivation; one
    # after the premise failed (below the normal range) is outside the model: evidence for the
    # underflow claim (ev_envelope_underflow), context here
    env_clean, env_after, env_c = 0, 0, 0
    for r in ok:
        for k, e in (r.get("envelopes") or {}).items():
            env_c += e.get("checked", 0)
            env_clean += e.get("violations_clean", e.get("violations", 0))
            env_after += e.get("violations_after_premise_failure", 0)
    if env_c == 0:
        out.append(missing("experiment", "exp.envelopes", "no Adam trajectory with recorded moments"))
    elif env_clean:
        out.append(Evidence("experiment", "exp.envelopes", f"moment envelope violated {env_clean} times where the "
                            "rounding premise held", "contradicts", {"violations": env_clean, "checked": env_c}, cm))
    else:
        out.append(Evidence("experiment", "exp.envelopes", f"|m_t|, v_t within their envelopes at every (step, "
                            f"coordinate) where the premise held ({env_c} checked)", "supports",
                            {"checked": env_c, "violations_after_premise_failure": env_after}, cm))
        if env_after:
            out.append(Evidence("experiment", "exp.envelopes.outside_model",
                                f"{env_after} envelope violations, all after the premise failed below the normal "
                                "range (outside the model; see qbound.underflow_breaks_model)", "info", {}))
    # descent inequality and gradient shift
    for key, name, text in (("descent", "exp.descent", "F(x+) <= F(x) + <grad F(x), dx> + L/2 |dx|^2"),
                            ("grad_shift", "exp.grad_shift", "|grad F(Q_W x) - grad F(x)| <= L |Q_W x - x|")):
        ds = [(r, r[key]) for r in ok if r.get(key)]
        if not ds:
            out.append(missing("experiment", name, "L unknown for the problems run, or not recorded"))
            continue
        v = sum(d["violations"] for _, d in ds)
        c = sum(d["checked"] for _, d in ds)
        est = [r for r, d in ds if d["violations"] and _l_estimated(r)]
        if v and len(est) == len([1 for _, d in ds if d["violations"]]):
            out.append(Evidence("experiment", name, f"{text}: {v} violations, all with an estimated L",
                                "inconclusive", {"violations": v, "checked": c}, _cmds(est, 1),
                                reason="L is an estimate for that problem (not globally L-smooth)"))
        elif v:
            bad = [r for r, d in ds if d["violations"] and not _l_estimated(r)]
            out.append(Evidence("experiment", name, f"{text}: {v} violations with exact L", "contradicts",
                                {"violations": v, "checked": c}, _cmds(bad, 1)))
        else:
            out.append(Evidence("experiment", name, f"{text}: held at all {c} steps", "supports",
                                {"checked": c}, cm))
    return out


def _l_estimated(row) -> bool:
    return row.get("problem") in ("rosenbrock", "digits-mlp")


def ev_envelope_underflow(traj_rows) -> Evidence:
    """Envelope violations that occur only after the premise failed below the normal range."""
    ok = [r for r in traj_rows if not r.get("error")]
    after = sum(e.get("violations_after_premise_failure", 0) for r in ok for e in (r.get("envelopes") or {}).values())
    checked = sum(e.get("checked", 0) for r in ok for e in (r.get("envelopes") or {}).values())
    if not checked:
        return missing("experiment", "exp.envelope_underflow", "no Adam trajectory with recorded moments")
    if after:
        return Evidence("experiment", "exp.envelope_underflow", f"{after} moment-envelope violations follow "
                        "rounding below the normal range: the derivation's envelopes fail there",
                        "supports", {"violations": after, "checked": checked}, _cmds(ok, 2))
    return Evidence("experiment", "exp.envelope_underflow", "no envelope violation after underflow", "info",
                    {"checked": checked})


def ev_underflow(traj_rows) -> Evidence:
    ok = [r for r in traj_rows if not r.get("error")]
    under = sum(p.get("underflow_coords", 0) for r in ok for p in (r.get("premise") or {}).values())
    viol = sum(p.get("violations_underflow", 0) for r in ok for p in (r.get("premise") or {}).values())
    nums = {"underflow_coords": under, "violations_below_normal": viol}
    if not ok:
        return missing("experiment", "exp.underflow", "no trajectory runs")
    if viol:
        return Evidence("experiment", "exp.underflow", f"{viol} of {under} below-normal coordinates break "
                        "|Q(x)-x| <= q|x| in real runs", "supports", nums, _cmds(ok, 2))
    return Evidence("experiment", "exp.underflow", f"{under} below-normal coordinates, none broke the model",
                    "inconclusive", nums, _cmds(ok, 1),
                    reason="the runs did not reach values where the relative model fails")


def ev_stagnation(th_rows) -> list[Evidence]:
    rows = [r for r in th_rows if r["kind"] == "stagnation"]
    out = []
    if not rows:
        return [missing("experiment", "exp.stagnation", "no threshold runs configured")]
    from qbound.app.verify.falsify import _fact_field
    for r in rows:
        eid = f"exp.stagnation.{r['format']}.b{r['beta2']}"
        if r.get("fact_error") or r.get("fact") is None:
            out.append(missing("lemmas", eid, f"stagnation_threshold: {r.get('fact_error') or 'missing'}"))
            continue
        if r.get("run_error"):
            out.append(missing("experiment", eid, f"run failed: {r['run_error']}"))
            continue
        never = _fact_field(r["fact"], "never_decreases", "stagnates", "frozen", "can_never_decrease")
        opp, dec = r.get("v_decrease_opportunities"), r.get("v_decreases")
        nums = {"lemma_never_decreases": never, "threshold": _fact_field(r["fact"], "threshold_float", "threshold"),
                "decrease_opportunities": opp, "decreases": dec, "v_lost_frac": r.get("v_lost_frac")}
        head = (f"{r['format']}/{r['rounding']} beta2={r['beta2']}: lemma says v "
                f"{'can never decrease' if never else 'can decrease'}; run: {dec} decreases in {opp} opportunities, "
                f"lost-update fraction {r.get('v_lost_frac') if r.get('v_lost_frac') is None else round(r['v_lost_frac'], 3)}")
        cmds = [r["command"]] if r.get("command") else []
        if never is None or opp is None:
            out.append(missing("experiment", eid, "lemma verdict or run statistics unavailable", head))
        elif never and dec:
            out.append(Evidence("experiment", eid, head, "contradicts", nums, cmds))
        elif never and opp:
            out.append(Evidence("experiment", eid, head, "supports", nums, cmds))
        elif never:
            out.append(Evidence("experiment", eid, head + " (no opportunity to test: the exact v never "
                                "fell below the stored v at a normal value)", "info", nums, cmds))
        else:
            out.append(Evidence("experiment", eid, head, "info", nums, cmds))
    return out


def ev_swamping(th_rows) -> list[Evidence]:
    rows = [r for r in th_rows if r["kind"] == "swamping"]
    out = []
    from qbound.app.verify.falsify import _fact_field
    for r in rows:
        eid = f"exp.swamping.{r['format']}"
        if r.get("fact_error") or r.get("fact") is None:
            out.append(missing("lemmas", eid, f"swamping_threshold: {r.get('fact_error') or 'missing'}"))
            continue
        thr = _fact_field(r["fact"], "threshold_float", "threshold")
        try:
            thr = float(thr)
        except (TypeError, ValueError):
            out.append(missing("lemmas", eid, f"swamping fact has no numeric threshold: {str(r['fact'])[:120]}"))
            continue
        wr = r.get("w_rel_update")
        if not isinstance(wr, dict):
            out.append(missing("experiment", eid, str(r.get("w_swamping") or r.get("run_error") or
                                                       "relative updates not recorded")))
            continue
        rel, lost = np.asarray(wr["rel"], float), np.asarray(wr["lost"], bool)
        below = rel < thr
        kept_below = int((below & ~lost).sum())
        if wr.get("min_rel_kept") is not None and wr["min_rel_kept"] < thr:
            kept_below = max(kept_below, 1)   # exact even when the pairs were subsampled
        nums = {"threshold": thr, "updates": int(rel.size), "below_threshold": int(below.sum()),
                "kept_below_threshold": kept_below, "lost_above_threshold": int((~below & lost).sum())}
        head = (f"{r['format']}: {int(below.sum())} updates below the proved threshold {thr:.3g}, "
                f"{kept_below} of them kept")
        cmds = [r["command"]] if r.get("command") else []
        if kept_below:
            out.append(Evidence("experiment", eid, head, "contradicts", nums, cmds))
        elif below.sum():
            out.append(Evidence("experiment", eid, head, "supports", nums, cmds))
        else:
            out.append(Evidence("experiment", eid, head + " (no update fell below the threshold: nothing to test)",
                                "info", nums, cmds))
    return out or [missing("experiment", "exp.swamping", "no swamping runs configured")]


def ev_bits_vs_theory(scaling, comp) -> list[Evidence]:
    eid = f"exp.bits_vs_theory.{comp}"
    c = (scaling or {}).get("components", {}).get(comp)
    if not c:
        return [missing("experiment", eid, f"scaling not run for {comp}")]
    pts = c["points"]
    th = {p["T"]: p["bits"] for p in c.get("theory_points", [])}
    out = []
    fit = c.get("fit") or {}
    mstars = {p["T"]: (p["M_star"], p["status"]) for p in pts}
    nums: dict[str, Any] = {"M_star": {str(t): m for t, (m, s) in mstars.items()}, "status": {str(t): s for t, (m, s) in mstars.items()},
            "theory_bits": {str(t): b for t, b in th.items()}, "fit_slope": fit.get("slope"),
            "fit_slope_lo": fit.get("slope_lo"), "fit_slope_hi": fit.get("slope_hi"),
            "theory_slope": (c.get("theory_fit") or {}).get("slope")}
    cmds = [p["command"] for p in pts if p.get("command")][-1:]
    mx = scaling["mantissa_range"][1]
    if not th:
        out.append(missing("derivation", eid, c.get("theory_error") or "no theory bits"))
    else:
        above: list = []
        below: list = []
        unknown: list = []
        for t, (m, s) in mstars.items():
            if t not in th or s == "incomplete":
                unknown.append(t)
            elif s == "censored-high":
                (above if th[t] <= mx else unknown).append(t)
            elif m > th[t]:
                above.append(t)
            else:
                below.append(t)
        head = f"{comp}: empirical M*(T) {nums['M_star']} vs bounds layer {nums['theory_bits']}"
        if above:
            out.append(Evidence("experiment", eid, head + f"; exceeds theory at T={above}", "contradicts", nums, cmds))
        elif len(below) >= 2:
            out.append(Evidence("experiment", eid, head, "supports", nums, cmds))
        else:
            out.append(Evidence("experiment", eid, head, "inconclusive", nums, cmds,
                                reason=f"M* known below the theory at only {len(below)} value(s) of T"))
    if fit.get("slope") is not None:
        out.append(Evidence("experiment", f"{eid}.slope",
                            f"{comp}: fitted M* = {fit['intercept']:.2f} + {fit['slope']:.2f} log2 T "
                            f"(slope 95% [{fit['slope_lo']:.2f}, {fit['slope_hi']:.2f}], n={fit['n']}); theory slope "
                            f"{nums['theory_slope'] if nums['theory_slope'] is None else round(nums['theory_slope'], 2)}",
                            "info", {}))
    return out


def _mstar_value(p, lo, hi):
    """M* as an integer for comparisons: censored-low -> the smallest tried, censored-high -> max + 1."""
    return {"found": p["M_star"], "censored-low": lo, "censored-high": hi + 1}.get(p["status"])


def ev_scaling_compare(sc, other="muon") -> Evidence:
    """Empirical bits needed: ``other`` (Muon) vs the primary scaling optimizer (Adam), per T and
    component; fewer or equal everywhere and fewer somewhere -> supports; more somewhere -> contradicts."""
    eid = f"exp.scaling.{other}_vs_{(sc or {}).get('optimizer')}"
    o = ((sc or {}).get("compare") or {}).get(other)
    if not sc or not sc.get("components") or not o:
        return missing("experiment", eid, f"no mantissa-scaling run for {other} and the primary optimizer")
    lo, hi = sc["mantissa_range"]
    fewer, more, same, pairs = [], [], [], {}
    for comp, c in o["components"].items():
        mine = {p["T"]: p for p in sc["components"].get(comp, {}).get("points", [])}
        for p in c["points"]:
            q = mine.get(p["T"])
            if q is None or "incomplete" in (p["status"], q["status"]):
                continue
            a, b = _mstar_value(q, lo, hi), _mstar_value(p, lo, hi)
            pairs[f"{comp}@T={p['T']}"] = [a, b]
            # both censored on the same side: no order
            if a == b or (p["status"] == q["status"] and p["status"] != "found"):
                same.append((comp, p["T"]))
            elif b < a:
                fewer.append((comp, p["T"]))
            else:
                more.append((comp, p["T"]))
    nums = {"M_star_primary_vs_other": pairs, "fewer": len(fewer), "more": len(more), "same": len(same)}
    head = (f"M*(T) {other} vs {sc['optimizer']} on {sc['problem']}: {other} needs fewer bits in {len(fewer)}, "
            f"more in {len(more)}, the same in {len(same)} of {len(pairs)} (component, T) cells")
    cmds = [p["command"] for p in next(iter(o["components"].values()))["points"] if p.get("command")][-1:]
    if not pairs:
        return missing("experiment", eid, "no comparable (component, T) cell")
    if more:
        return Evidence("experiment", eid, head + f"; more at {more[:4]}", "contradicts", nums, cmds)
    if fewer:
        return Evidence("experiment", eid, head, "supports", nums, cmds)
    return Evidence("experiment", eid, head, "inconclusive", nums, cmds, reason="the same bits everywhere")


def ev_floor_experiment(floor) -> Evidence:
    eid = "exp.floor"
    if not floor or not floor.get("plans"):
        return missing("experiment", eid, "no floor runs configured")
    out_items = []
    for plan, d in floor["plans"].items():
        fq, ff = d.get("fit_quantized") or {}, d.get("fit_full") or {}
        if fq.get("slope") is None or ff.get("slope") is None:
            return missing("experiment", eid, f"floor runs for {plan} incomplete")
        out_items.append((plan, fq, ff))
    plan, fq, ff = out_items[0]
    nums = {"plan": plan, "slope_quantized": fq["slope"], "slope_quantized_ci": [fq["slope_lo"], fq["slope_hi"]],
            "slope_full": ff["slope"], "slope_full_ci": [ff["slope_lo"], ff["slope_hi"]]}
    head = (f"{plan}: d log10(measured)/d log2 T = {fq['slope']:.3g} quantized vs {ff['slope']:.3g} full precision")
    cmds = floor.get("commands", [])[:2]
    if fq["slope_lo"] > ff["slope_hi"]:
        return Evidence("experiment", eid, head + " (quantized decays slower: a floor)", "supports", nums, cmds)
    if fq["slope_hi"] < ff["slope_lo"]:
        return Evidence("experiment", eid, head + " (quantized decays faster)", "contradicts", nums, cmds)
    return Evidence("experiment", eid, head, "inconclusive", nums, cmds,
                    reason="slopes indistinguishable at this T range")


# ----------------------------------------------------------------------------- the table
def build_claims(results: dict) -> list[Claim]:
    """Every claim of the paper and of qbound, with evidence from each layer."""
    L = results.get("lemmas")
    D = results.get("derivations") or {}
    rows = results.get("bounds") or []
    traj = results.get("trajectory") or []
    th = results.get("thresholds") or []
    sc = results.get("scaling") or {}
    cfg = results.get("config") or {}
    compare = (cfg.get("grid") or {}).get("compare_bits", [])
    cases = sorted({(r["case"], r["optimizer"], r["problem"]) for r in rows})
    claims = []

    # paper 1: log T bits keep the rate
    premise = lambda: ev_lemma_family(L, "conv.relerr", "proved",  # noqa: E731
                                      "premise |Q(x)-x| <= q|x| in the normal range (sharp q)")
    ev = [premise()]
    for name in ("adam", "muon"):
        if name in D:
            ev.append(ev_theory_log_bits(D, name))
    for comp in sc.get("components", {}):
        ev.extend(ev_bits_vs_theory(sc, comp))
    claims.append(Claim("paper.log_bits", "paper",
                        "The full-precision rate is kept when the mantissa grows like log T "
                        "(M = Omega(log T)); empirically the bits needed stay within what the derived bound asks.",
                        ev))

    # paper 2: Adam sensitive to W and V
    ev = [premise(), ev_theory_bits_order(D, sc)]
    adam_cases = [c for c in cases if c[1] == "adam"]
    for ci, _, _ in adam_cases:
        for M in compare:
            ev.append(ev_sensitivity(rows, ci, M))
    if not adam_cases:
        ev.append(missing("experiment", "exp.sensitivity", "no Adam grid case"))
    claims.append(Claim("paper.adam_WV", "paper",
                        "Adam is more sensitive to quantizing the weights W and the second moment V than G and M.", ev))

    # paper 3: Muon more robust
    ev = [premise(), ev_theory_muon_vs_adam(D)]
    probs = sorted({p for _, o, p in cases if o == "muon"} & {p for _, o, p in cases if o == "adam"})
    for p in probs:
        for M in compare:
            ev.append(ev_muon_vs_adam(rows, p, M))
    if not probs:
        ev.append(missing("experiment", "exp.muon_vs_adam", "no problem with both an Adam and a Muon grid case"))
    if sc.get("optimizer") == "adam" and "muon" in (sc.get("compare") or {}):
        ev.append(ev_scaling_compare(sc, "muon"))
    claims.append(Claim("paper.muon_robust", "paper",
                        "Muon is more robust to low-precision quantization than Adam.", ev))

    # paper 4: more bits -> smaller gradient norm
    ev = [premise()]
    for ci, _, _ in cases:
        comp = "all" if any(r["case"] == ci and r["component"] == "all" for r in rows) else None
        comps = [comp] if comp else sorted({r["component"] for r in rows if r["case"] == ci} - {"none"})
        for c in comps:
            ev.append(ev_more_bits(rows, ci, c))
            ev.append(ev_bound_monotone(rows, ci, c))
    claims.append(Claim("paper.more_bits", "paper",
                        "More mantissa bits give a smaller (final) gradient norm.", ev or
                        [missing("experiment", "exp.more_bits", "no grid cases")]))

    # qbound: bound holds (per derived bound)
    for name in ("adam", "muon"):
        ev = [premise()]
        ev += [ev_derivation(D, name)] if name in D else [missing("derivation", f"derive.{name}.steps", "not configured")]
        cs = [c for c in cases if c[1] == name]
        for ci, _, _ in cs:
            ev.extend(ev_bound_holds(rows, ci))
        if not cs:
            ev.append(missing("experiment", f"exp.bound.{name}", f"no {name} grid case"))
        claims.append(Claim(f"qbound.{name}_bound_holds", "qbound",
                            f"The derived quantized-{name.capitalize()} bound, evaluated with the problem's constants, "
                            "is not exceeded by measured runs (mean over seeds, 95% interval).", ev))

    ev_int = [premise()] + [ev_trajectory_steps(D, n) for n in D] + ev_trajectory(traj)
    claims.append(Claim("qbound.intermediate_steps", "qbound",
                        "The derivation's intermediate steps hold along real quantized trajectories: the rounding "
                        "premise in the normal range, the moment envelopes, the descent inequality and the "
                        "gradient shift at Q_W(x).", ev_int))
    claims.append(Claim("qbound.underflow_breaks_model", "qbound",
                        "Below the normal range the relative model |Q(x)-x| <= q|x| fails (so the paper's "
                        "no-underflow assumption is needed).",
                        [ev_lemma_family(L, "sub.relfail", "falsified", "relative model below the normal range"),
                         ev_lemma_family(L, "sub.mixed", "proved", "mixed model x(1+d)+eta below the normal range"),
                         ev_underflow(traj), ev_envelope_underflow(traj)]))
    claims.append(Claim("qbound.stagnation_threshold", "qbound",
                        "The proved stagnation threshold predicts when a stored second moment can never decrease.",
                        [ev_lemma_family(L, "opt.stagnation", None, "stagnation lemma at the suite's beta2")]
                        + ev_stagnation(th)))
    claims.append(Claim("qbound.swamping_threshold", "qbound",
                        "Weight updates below the proved swamping threshold are always lost (master=stored).",
                        [ev_lemma_family(L, "opt.swamping", None, "swamping lemma")] + ev_swamping(th)))
    fl = results.get("floor") or {}
    ev = [premise()]
    from qbound.app.verify.falsify import bound_name
    fname = bound_name(fl.get("optimizer", ""))
    if fname in D:
        for plan in (fl.get("plans") or {}):
            ev.append(ev_floor_theory(D, fname, plan))
    ev.append(ev_floor_experiment(fl))
    claims.append(Claim("qbound.floor", "qbound",
                        "At fixed precision there is an error floor: the derived floor is finite and the measured "
                        "quantity stops improving with T while full precision keeps improving.", ev))
    claims.append(Claim("qbound.lemmas", "qbound",
                        "Every rounding lemma of the suite comes out as expected (no surprise, no unknown).",
                        [ev_lemma_suite(L)]))
    from qbound.app.verify.transformer import add_evidence  # the same claims on the charlm transformer
    add_evidence(claims, results)
    return claims
