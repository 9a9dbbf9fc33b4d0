"""PNG figures of ``qbound verify`` (matplotlib, Agg backend), drawn from the results dict only.

* ``bound_vs_measured.png``: per grid case (row) and quantized component (column), the measured
  quantity (mean over seeds, 95% interval) and the evaluated bound against mantissa bits, with the
  full-precision value for reference.
* ``required_bits.png``: per component, the empirical smallest mantissa M*(T) (with its log2 T fit)
  against the bits the bounds layer requires.
* ``lost_updates.png``: fraction of second-moment updates lost to rounding against 1 - beta2, per
  storage format, with the proofs layer's stagnation threshold.
* ``floor.png``: measured quantity against T at fixed precision and at full precision.
"""
from __future__ import annotations

import math
from pathlib import Path

COMP_COLORS = {"W": "#1f77b4", "G": "#2ca02c", "M": "#9467bd", "V": "#d62728", "all": "#444444"}


def _save(fig, out, name, title, caption):
    """Write ``fig`` as out/name, close it, and return the report's figure record."""
    import matplotlib.pyplot as plt
    from qbound.numeric.jsonlstore import atomic_file
    path = out / name
    try:
        with atomic_file(path, "wb") as fh:  # a failed write (disk full) leaves an earlier figure whole
            fig.savefig(fh, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return {"file": path.name, "title": title, "caption": caption}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "axes.grid": True, "grid.alpha": 0.3,
                         "figure.dpi": 110})
    return plt


def _finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def make_figures(results: dict, out_dir) -> list[dict]:
    out = Path(out_dir)
    figs = []
    for fn in (fig_bound_vs_measured, fig_required_bits, fig_lost_updates, fig_floor):
        f = fn(results, out)
        if f:
            figs.append(f)
    return figs


def fig_bound_vs_measured(results, out):
    rows = results.get("bounds") or []
    if not rows:
        return None
    plt = _plt()
    cases = sorted({r["case"] for r in rows})
    comps = [c for c in ("W", "G", "M", "V", "all") if any(r["component"] == c for r in rows)]
    fig, axes = plt.subplots(len(cases), len(comps), figsize=(2.3 * len(comps) + 0.6, 2.3 * len(cases) + 0.5),
                             squeeze=False, sharey="row")
    for i, ci in enumerate(cases):
        rs = [r for r in rows if r["case"] == ci]
        base = next((r for r in rs if r["component"] == "none"), None)
        for j, comp in enumerate(comps):
            ax = axes[i][j]
            cr = sorted([r for r in rs if r["component"] == comp], key=lambda r: r["mantissa"])
            if not cr:
                ax.set_visible(False)
                continue
            xs = [r["mantissa"] for r in cr]
            m = [r["measured"].get("mean") for r in cr]
            lo = [r["measured"].get("lo") for r in cr]
            hi = [r["measured"].get("hi") for r in cr]
            ok = [k for k in range(len(xs)) if _finite(m[k]) and m[k] > 0]
            if ok:
                yerr_lo = [max(0.0, m[k] - lo[k]) if _finite(lo[k]) and lo[k] > 0 else 0.0 for k in ok]
                yerr_hi = [max(0.0, hi[k] - m[k]) if _finite(hi[k]) else 0.0 for k in ok]
                ax.errorbar([xs[k] for k in ok], [m[k] for k in ok], yerr=[yerr_lo, yerr_hi], fmt="o-",
                            color=COMP_COLORS.get(comp), ms=3.5, lw=1.2, capsize=2, label="measured")
            bx = [r["mantissa"] for r in cr if _finite(r.get("bound")) and r["bound"] > 0]
            by = [r["bound"] for r in cr if _finite(r.get("bound")) and r["bound"] > 0]
            if by:
                ax.plot(bx, by, "k--", lw=1.2, label="derived bound")
            nob = [r["mantissa"] for r in cr if r.get("bound") is None and "condition" in (r.get("bound_reason") or "")]
            if nob:
                import matplotlib.transforms as mtr
                tr = mtr.blended_transform_factory(ax.transData, ax.transAxes)
                ax.plot(nob, [0.97] * len(nob), "kx", ms=5, transform=tr, label="bound void (condition fails)")
            if base and _finite(base["measured"].get("mean")):
                ax.axhline(base["measured"]["mean"], color="0.5", lw=0.8, ls=":", label="full precision")
            allv = [v for v in m + by if _finite(v) and v > 0]
            if allv and max(allv) / min(allv) > 20:
                ax.set_yscale("log")
            if i == 0:
                ax.set_title(f"quantize {comp}" if comp != "all" else "quantize all")
            if i == len(cases) - 1:
                ax.set_xlabel("mantissa bits M")
            if j == 0:
                ax.set_ylabel(f"{cr[0]['optimizer']} / {cr[0]['problem']}\n"
                              + ("mean ||grad||_* " if cr[0]["optimizer"] == "muon" else "E ||grad F||^2"))
    handles = {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    fig.suptitle("Derived bound vs measured, per quantized component (format e8mM)", y=0.995)
    # fixed margins (tight_layout on a grid of log axes costs seconds)
    fig.subplots_adjust(left=0.085, right=0.99, top=1 - 0.45 / fig.get_figheight(),
                        bottom=0.95 / fig.get_figheight(), wspace=0.12, hspace=0.3)
    return _save(fig, out, "bound_vs_measured.png", "Bound vs measured",
                 "Measured quantity (mean over seeds, 95% interval) against mantissa bits for each "
                 "quantized component, with the derived bound evaluated for the same run (dashed; "
                 "absent where it could not be evaluated) and the full-precision value (dotted).")


def fig_required_bits(results, out):
    sc = results.get("scaling") or {}
    comps = sc.get("components") or {}
    if not comps:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(comps), figsize=(2.8 * len(comps) + 0.4, 3.0), squeeze=False, sharey=True)
    lo_m, hi_m = sc["mantissa_range"]
    for j, (comp, c) in enumerate(comps.items()):
        ax = axes[0][j]
        col = COMP_COLORS.get(comp, "k")
        found = [p for p in c["points"] if p["status"] == "found"]
        low = [p for p in c["points"] if p["status"] == "censored-low"]
        high = [p for p in c["points"] if p["status"] == "censored-high"]
        if found:
            ax.plot([p["T"] for p in found], [p["M_star"] for p in found], "o", color=col, label="empirical M*")
        if low:
            ax.plot([p["T"] for p in low], [lo_m] * len(low), "v", color=col, mfc="none",
                    label=f"M* <= {lo_m} (smallest tried)")
        if high:
            ax.plot([p["T"] for p in high], [hi_m + 0.5] * len(high), "^", color=col, mfc="none",
                    label=f"M* > {hi_m}")
        f = c.get("fit") or {}
        Ts = [p["T"] for p in c["points"]]
        if f.get("slope") is not None and Ts:
            ax.plot(Ts, [f["intercept"] + f["slope"] * math.log2(t) for t in Ts], "-", color=col, lw=1,
                    label=f"fit: slope {f['slope']:.2f}/log2 T")
        for k_o, (oname, osc) in enumerate((sc.get("compare") or {}).items()):
            oc = (osc.get("components") or {}).get(comp)
            if not oc:
                continue
            of = [p for p in oc["points"] if p["status"] == "found"]
            ol = [p for p in oc["points"] if p["status"] == "censored-low"]
            oh = [p for p in oc["points"] if p["status"] == "censored-high"]
            dx = 1.08   # nudge right so coinciding markers stay visible
            if of:
                ax.plot([p["T"] * dx for p in of], [p["M_star"] for p in of], "D", color="0.35", ms=4,
                        label=f"{oname} M*")
            if ol:
                ax.plot([p["T"] * dx for p in ol], [lo_m] * len(ol), "v", color="0.35", ms=4,
                        label=f"{oname} M* <= {lo_m}")
            if oh:
                ax.plot([p["T"] * dx for p in oh], [hi_m + 0.5] * len(oh), "^", color="0.35", ms=4,
                        label=f"{oname} M* > {hi_m}")
        tp = c.get("theory_points") or []
        if tp:
            tf = c.get("theory_fit") or {}
            lab = "bounds layer" + (f" (slope {tf['slope']:.2f})" if tf.get("slope") is not None else "")
            ax.plot([p["T"] for p in tp], [p["bits"] for p in tp], "k--", lw=1.2, label=lab)
        ax.set_xscale("log", base=2)
        ax.set_title(f"quantize {comp}")
        ax.set_xlabel("T (steps)")
        if j == 0:
            ax.set_ylabel("mantissa bits")
        ax.legend(fontsize=6.5, loc="best")
    fig.suptitle(f"Required mantissa vs T: {sc['optimizer']} on {sc['problem']} "
                 f"(within {sc['factor']:g}x of full precision)", y=0.99)
    fig.tight_layout()
    return _save(fig, out, "required_bits.png", "Required bits vs T",
                 "Empirical smallest mantissa M*(T) keeping the run within the stated factor of full "
                 "precision (circles; open triangles: outside the searched range, above or below) with its "
                 "least-squares fit in log2 T, against the bits the derived bound requires (dashed).")


def fig_lost_updates(results, out):
    rows = [r for r in (results.get("thresholds") or []) if r["kind"] == "stagnation"]
    rows = [r for r in rows if r.get("v_lost_frac") is not None]
    if not rows:
        return None
    plt = _plt()
    from qbound.app.verify.falsify import _fact_field
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), sharex=True)
    fmts = sorted({r["format"] for r in rows})
    cmap = plt.get_cmap("tab10")
    for k, f in enumerate(fmts):
        rs = sorted([r for r in rows if r["format"] == f], key=lambda r: r["beta2"])
        xs = [1 - r["beta2"] for r in rs]
        thr = _fact_field(rs[0].get("fact") or {}, "threshold_float", "threshold")
        for ax, key in ((axes[0], "v_lost_frac"), (axes[1], "v_decrease_blocked_frac")):
            pts = [(x, r.get(key)) for x, r in zip(xs, rs) if r.get(key) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=cmap(k), label=f)
            try:
                if float(thr) > 0:
                    ax.axvline(float(thr), color=cmap(k), ls=":", lw=1)
            except (TypeError, ValueError):
                pass
            for x, r in zip(xs, rs):
                if _fact_field(r.get("fact") or {}, "stagnates", "never_decreases") and r.get(key) is not None:
                    ax.plot([x], [r[key]], "s", mfc="none", mec=cmap(k), ms=9)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("1 - beta2")
        ax.set_ylim(-0.03, 1.03)
    axes[0].set_ylabel("fraction")
    axes[0].set_title("v updates lost (stored v unchanged)")
    axes[1].set_title("would-be decreases of v that did not happen")
    axes[0].legend(title="V format", fontsize=7)
    fig.suptitle("Adam with the second moment stored in a short format (dotted: proved stagnation threshold)",
                 y=0.99)
    fig.tight_layout()
    return _save(fig, out, "lost_updates.png", "Lost second-moment updates vs beta2 and format",
                 "Left: fraction of coordinates whose stored v did not change although the exact update "
                 "differed. Right: among steps where the exact v_pre was below the stored v (v should "
                 "decrease), the fraction where the stored v did not decrease. Against 1 - beta2 (log "
                 "scale), per storage format. Dotted: the proofs layer's stagnation threshold (below it v "
                 "provably never decreases); open squares: configurations proved to stagnate, where the "
                 "right panel must read 1.")


def fig_floor(results, out):
    fl = results.get("floor") or {}
    plans = fl.get("plans") or {}
    if not plans:
        return None
    plt = _plt()
    import numpy as np
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    drawn = False
    for k, (plan, d) in enumerate(plans.items()):
        for lab, key, style in (("full precision", "full", "o-"), (plan, "quantized", "s-")):
            pts = d["points"].get(key) or []
            Ts = sorted({t for t, _, _ in pts})
            if not Ts:
                continue
            means = [np.mean([v for t2, _, v in pts if t2 == t]) for t in Ts]
            ax.plot(Ts, means, style, label=lab if (k == 0 or key == "quantized") else None)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("T (steps, step sizes scaled with T)")
    ax.set_ylabel(f"{fl.get('metric', 'measured')} (mean over seeds)")
    ax.set_title(f"Fixed precision vs full precision: {fl['optimizer']} on {fl['problem']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out, "floor.png", "Error floor at fixed precision",
                 "The measured quantity against T at a fixed mantissa and at full precision, with the "
                 "step size and beta2 scaled with T as in the rate analysis; a floor shows as the "
                 "quantized curve flattening while full precision keeps decreasing.")
