"""``qbound verify`` on a real network: the paper's claims measured on the charlm transformer.

The torch backend (qbound.numeric.pytorch) trains the small causal transformer ``charlm``
(character level on pydoc_data.topics; metric: validation cross-entropy at the master weights) with
the quantized AdamW (torch's arithmetic, what practitioners run) and Muon (Newton-Schulz, nesterov,
embeddings and head on AdamW). Every run is one unit of stage ``"torch"`` in the verify store
(resumable like every other unit). Quantized components use the IEEE-like ``e8m<M>`` formats (the
range of fp32, so only the precision varies) with round-to-nearest-even.

Evidence added to the claims (next to the numpy-harness evidence; nothing is tuned toward the paper):

* ``paper.more_bits``: AdamW with all four components in e8mM, M in ``bits``: the slope of the
  validation loss per mantissa bit (95% interval over seeds x bits) -- below 0 supports, above 0
  contradicts, else inconclusive.
* ``paper.adam_WV``: AdamW with one component in e8m``low_bits``: per seed the mean increase of the
  validation loss over the unquantized run for {W, V} minus that for {G, M}; the 95% interval
  above 0 supports "more sensitive to W and V", below 0 contradicts, else inconclusive.
* ``paper.muon_robust``: all components in e8mM for M in ``muon_bits``: per seed and M, AdamW's
  increase over its own unquantized run minus Muon's; above 0 supports "Muon more robust".
* ``qbound.stagnation_threshold``: AdamW with V=bf16, beta2 = 0.999 in the real network: among the
  coordinates whose stored v is normal, how often the exact new v was smaller (an opportunity) and how
  often the stored v actually decreased. Prediction (round to nearest): when (1 - beta2) < 2^-(m+2)
  (m = 7 for bf16), beta2 v rounds back to v for every normal v, so v can never decrease; a decrease
  contradicts the prediction, none among >0 opportunities supports it.

Grids (``cfg["transformer"]["grid"]``, set by ``qbound verify``): "default" (preset tiny, 60 steps,
seeds 0-1; one to two minutes on two cores), "full" (``--full``: preset cpu, 300 steps, seeds 0-2, more
bits), "off" (``--quick``, and a configuration without the key, e.g. a library call of verify()). With two seeds the intervals are wide: most
items come out inconclusive unless the effect is large, which is what two seeds can tell.
"""
from __future__ import annotations

import math

GRIDS = {
    "default": {"workload": "charlm", "preset": "tiny", "steps": 60, "seeds": [0, 1], "bits": [1, 3, 6],
                "low_bits": 2, "muon_bits": [1, 3], "beta2_frozen": 0.999},
    "full": {"workload": "charlm", "preset": "cpu", "steps": 300, "seeds": [0, 1, 2], "bits": [1, 2, 3, 4, 6, 8],
             "low_bits": 2, "muon_bits": [1, 2, 3], "beta2_frozen": 0.999},
}
COMPONENTS = ("W", "G", "M", "V")


def grid(cfg) -> dict | None:
    """The transformer grid of this verify configuration (None when off)."""
    t = (cfg or {}).get("transformer") or {}
    name = t.get("grid", "off") if isinstance(t, dict) else "off"
    if name == "off":
        return None
    g = dict(GRIDS[name])
    g["name"] = name
    return g


def torch_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def _plan(comps, bits) -> str:
    return ",".join(f"{c}=e8m{int(bits)}" for c in comps)


def unit(g, optimizer, plan, seed, hparams=None) -> dict:
    return {"workload": g["workload"], "preset": g["preset"], "optimizer": optimizer, "plan": plan,
            "steps": int(g["steps"]), "seed": int(seed), "hparams": dict(hparams or {})}


def units(g) -> list:
    """Every run of the grid, each once (a plan shared by two questions is one unit)."""
    out = {}

    def add(u):
        out[(u["optimizer"], u["plan"], u["seed"], tuple(sorted(u["hparams"].items())))] = u

    for s in g["seeds"]:
        for opt in ("adamw", "muon"):
            add(unit(g, opt, "", s))
        for b in g["bits"]:
            add(unit(g, "adamw", _plan(COMPONENTS, b), s))
        for c in COMPONENTS:
            add(unit(g, "adamw", _plan([c], g["low_bits"]), s))
        for b in g["muon_bits"]:
            for opt in ("adamw", "muon"):
                add(unit(g, opt, _plan(COMPONENTS, b), s))
        add(unit(g, "adamw", "V=bf16", s, {"beta2": g["beta2_frozen"]}))
    return list(out.values())


def submit(cfg, sub) -> None:
    """Queue the transformer runs (stage "torch") into the verify scheduler."""
    g = grid(cfg)
    if g is None or not torch_available():
        return
    for u in units(g):
        sub("torch", u, "transformer runs (torch)")


def command(u) -> str:
    hp = ",".join(f"{k}={v}" for k, v in sorted(u["hparams"].items()))
    return (f"qbound run {u['optimizer']} --problem {u['workload']} --problem-args preset={u['preset']} --backend torch "
            f"--quant {u['plan'] or 'none'}" + (f" --hp {hp}" if hp else "") + f" --steps {u['steps']} --seed {u['seed']}")


def run_unit(u: dict) -> dict:
    """One transformer run (in a verify worker): validation loss and the V bookkeeping."""
    from qbound.numeric.pytorch.workloads import train
    tr = train(u["workload"], u["optimizer"], u["plan"], u["steps"], u["seed"], hparams=u["hparams"],
               workload_kw={"preset": u["preset"]})
    val = tr.final_loss
    return {"val_loss": val if math.isfinite(val) else None, "diverged_at": tr.diverged_at,
            "train_loss_last": float(tr.loss[-1]) if len(tr.loss) and math.isfinite(tr.loss[-1]) else None,
            "tokens_per_second": tr.meta.get("tokens_per_second"), "v_stats": tr.meta.get("v_stats"),
            "counts": tr.count_totals(), "params": tr.meta["d"], "command": command(u)}


def analyze(cfg, store) -> dict | None:
    """The stored results of the grid, as rows (for results.json and the evidence)."""
    g = grid(cfg)
    if g is None:
        return None
    rows, errors = [], []
    if not torch_available():
        return {"grid": g, "rows": [], "errors": [{"unit": "every transformer run",
                                                  "error": 'TorchMissing: pip install "qbound[torch]"'}]}
    for u in units(g):
        rec = store.get("torch", u)
        res = rec["result"] if rec else None
        row = {**u, "result": res}
        if res is None or res.get("error"):
            errors.append({"unit": command(u), "error": (res or {}).get("error", "not run")})
        rows.append(row)
    return {"grid": g, "rows": rows, "errors": errors}


# ----------------------------------------------------------------------------- evidence
def _val(rows, optimizer, plan, seed, hparams=None):
    for r in rows:
        if (r["optimizer"], r["plan"], r["seed"], r["hparams"]) == (optimizer, plan, seed, dict(hparams or {})):
            res = r.get("result") or {}
            if res.get("error"):
                return None
            v = res.get("val_loss")
            return v if v is not None else math.inf  # diverged: worse than anything finite
    return None


def _worse(v, worst):
    return worst + 1.0 if v is None or not math.isfinite(v) else v


def interval_verdict(lo, hi, supports_if: str) -> str:
    """The verdict of a 95% interval [lo, hi] against 0: "supports" when it lies wholly on the side
    ``supports_if`` ("above" or "below" 0), "contradicts" when wholly on the other side, else
    "inconclusive" (an end that is None decides nothing).

    >>> interval_verdict(0.1, 0.5, "above"), interval_verdict(-0.5, -0.1, "above"), interval_verdict(-0.1, 0.5, "below")
    ('supports', 'contradicts', 'inconclusive')
    >>> interval_verdict(-0.5, -0.1, "below"), interval_verdict(None, None, "below")
    ('supports', 'inconclusive')
    """
    above = lo is not None and lo > 0
    below = hi is not None and hi < 0
    if not (above or below):
        return "inconclusive"
    return "supports" if above == (supports_if == "above") else "contradicts"


def evidence(results) -> dict:
    """Evidence per claim id (lists of Evidence), from results["transformer"]."""
    from qbound.app.verify.claims import Evidence, missing
    from qbound.app.verify import stats as st
    T = results.get("transformer")
    if not T:
        return {}
    g, rows = T["grid"], T["rows"]
    tag = f"charlm/{g['preset']}, {g['steps']} steps, seeds {g['seeds'][0]}-{g['seeds'][-1]}"
    out = {}
    finite = [r["result"]["val_loss"] for r in rows if (r.get("result") or {}).get("val_loss") is not None]
    worst = max(finite) if finite else 10.0

    def cmds(us):
        return [command(u) for u in us[:2]]

    def by_interval(eid, head, nums, us, lo, hi, supports_if, what="interval"):
        verdict = interval_verdict(lo, hi, supports_if)
        reason = f"{what} contains 0" if verdict == "inconclusive" else ""
        return Evidence("experiment", eid, head, verdict, nums, cmds(us), reason=reason)

    # more bits -> lower validation loss
    xs, ys = [], []
    for s in g["seeds"]:
        for b in g["bits"]:
            v = _val(rows, "adamw", _plan(COMPONENTS, b), s)
            if v is not None:
                xs.append(b)
                ys.append(_worse(v, worst))
    eid = "exp.transformer.more_bits"
    if len(set(xs)) < 3:
        out["paper.more_bits"] = [missing("experiment", eid, "fewer than 3 mantissa values with results")]
    else:
        f = st.linfit(xs, ys)
        means = {b: sum(y for x, y in zip(xs, ys) if x == b) / max(1, xs.count(b)) for b in sorted(set(xs))}
        head = (f"transformer ({tag}), AdamW all of W,G,M,V in e8mM: validation loss per mantissa bit "
                f"{f['slope']:.3g} [{f['slope_lo']:.3g}, {f['slope_hi']:.3g}]")
        nums = {"slope_per_bit": f["slope"], "slope_lo": f["slope_lo"], "slope_hi": f["slope_hi"],
                "val_loss_by_mantissa": means}
        us = [unit(g, "adamw", _plan(COMPONENTS, g["bits"][0]), g["seeds"][0]),
              unit(g, "adamw", _plan(COMPONENTS, g["bits"][-1]), g["seeds"][0])]
        out["paper.more_bits"] = [by_interval(eid, head, nums, us, f["slope_lo"], f["slope_hi"], "below",
                                              "slope interval")]

    # sensitivity W, V vs G, M
    eid = "exp.transformer.adam_WV"
    diffs: list[float] = []
    incr: dict[str, list[float]] = {c: [] for c in COMPONENTS}
    for s in g["seeds"]:
        base = _val(rows, "adamw", "", s)
        vals = {c: _val(rows, "adamw", _plan([c], g["low_bits"]), s) for c in COMPONENTS}
        if base is None or not math.isfinite(base) or any(v is None for v in vals.values()):
            continue
        d = {c: _worse(v, worst) - base for c, v in vals.items()}
        for c in COMPONENTS:
            incr[c].append(d[c])
        diffs.append((d["W"] + d["V"]) / 2 - (d["G"] + d["M"]) / 2)
    if not diffs:
        out["paper.adam_WV"] = [missing("experiment", eid, "no complete seed")]
    else:
        ci = st.mean_ci(diffs)
        mean_incr = {c: (sum(v) / len(v) if v else None) for c, v in incr.items()}
        head = (f"transformer ({tag}), AdamW one component in e8m{g['low_bits']}: validation-loss increase "
                + ", ".join(f"{c} {mean_incr[c]:+.3g}" for c in COMPONENTS)
                + f"; mean(W,V) - mean(G,M) = {ci['mean']:.3g} [{ci['lo']:.3g}, {ci['hi']:.3g}]")
        nums = {"increase_by_component": mean_incr, "diff_mean": ci["mean"], "diff_lo": ci["lo"], "diff_hi": ci["hi"],
                "seeds": len(diffs)}
        us = [unit(g, "adamw", _plan(["V"], g["low_bits"]), g["seeds"][0]), unit(g, "adamw", "", g["seeds"][0])]
        out["paper.adam_WV"] = [by_interval(eid, head, nums, us, ci["lo"], ci["hi"], "above")]

    # Muon vs Adam at low precision
    eid = "exp.transformer.muon_vs_adam"
    diffs, per = [], []
    for s in g["seeds"]:
        ba, bm = _val(rows, "adamw", "", s), _val(rows, "muon", "", s)
        if ba is None or bm is None or not (math.isfinite(ba) and math.isfinite(bm)):
            continue
        for b in g["muon_bits"]:
            va, vm = _val(rows, "adamw", _plan(COMPONENTS, b), s), _val(rows, "muon", _plan(COMPONENTS, b), s)
            if va is None or vm is None:
                continue
            da, dm = _worse(va, worst) - ba, _worse(vm, worst) - bm
            diffs.append(da - dm)
            per.append({"seed": s, "bits": b, "adam_increase": da, "muon_increase": dm})
    if not diffs:
        out["paper.muon_robust"] = [missing("experiment", eid, "no complete seed")]
    else:
        ci = st.mean_ci(diffs)
        head = (f"transformer ({tag}), all components in e8m{g['muon_bits']}: AdamW's validation-loss increase minus "
                f"Muon's = {ci['mean']:.3g} [{ci['lo']:.3g}, {ci['hi']:.3g}] (> 0: Muon degrades less)")
        nums = {"diff_mean": ci["mean"], "diff_lo": ci["lo"], "diff_hi": ci["hi"], "points": per}
        us = [unit(g, "muon", _plan(COMPONENTS, g["muon_bits"][0]), g["seeds"][0]),
              unit(g, "adamw", _plan(COMPONENTS, g["muon_bits"][0]), g["seeds"][0])]
        out["paper.muon_robust"] = [by_interval(eid, head, nums, us, ci["lo"], ci["hi"], "above")]

    # bf16 v with beta2 = 0.999
    eid = "exp.transformer.bf16_v_frozen"
    b2 = g["beta2_frozen"]
    opp = dec = never = had = 0
    seen = 0
    for s in g["seeds"]:
        for r in rows:
            if (r["optimizer"], r["plan"], r["seed"], r["hparams"]) == ("adamw", "V=bf16", s, {"beta2": b2}):
                vs = (r.get("result") or {}).get("v_stats")
                if vs:
                    seen += 1
                    opp += vs["decrease_opportunities"]
                    dec += vs["decreases"]
                    never += vs["never_decreased_coords"]
                    had += vs["coords_with_decrease_opportunity"]
    predicted_frozen = (1 - b2) < 2.0 ** -(7 + 2)
    if not seen:
        out["qbound.stagnation_threshold"] = [missing("experiment", eid, "no V=bf16 transformer run")]
    else:
        head = (f"transformer ({tag}), AdamW V=bf16 beta2={b2}: prediction v "
                f"{'can never decrease' if predicted_frozen else 'can decrease'}; {dec} decreases in {opp} opportunities; "
                f"{never} of {had} coordinates with an opportunity never decreased")
        nums = {"predicted_never_decreases": predicted_frozen, "decrease_opportunities": opp, "decreases": dec,
                "never_decreased_coords": never, "coords_with_opportunity": had}
        us = [unit(g, "adamw", "V=bf16", g["seeds"][0], {"beta2": b2})]
        if predicted_frozen and dec:
            e = Evidence("experiment", eid, head, "contradicts", nums, cmds(us))
        elif predicted_frozen and opp:
            e = Evidence("experiment", eid, head, "supports", nums, cmds(us))
        else:
            e = Evidence("experiment", eid, head, "info", nums, cmds(us))
        out["qbound.stagnation_threshold"] = [e]
    return out


def add_evidence(claims, results) -> None:
    """Append the transformer evidence to the claims it bears on (hook of evidence.build_claims)."""
    try:
        ev = evidence(results)
    except Exception as exc:  # a broken analysis must not lose the report: it shows as missing evidence
        from qbound.app.verify.claims import missing
        ev = {c: [missing("experiment", "exp.transformer", f"{type(exc).__name__}: {exc}")]
              for c in ("paper.more_bits", "paper.adam_WV", "paper.muon_robust")}
    for c in claims:
        c.evidence.extend(ev.get(c.id, []))


__all__ = ["GRIDS", "grid", "units", "submit", "run_unit", "analyze", "evidence", "add_evidence", "command"]
