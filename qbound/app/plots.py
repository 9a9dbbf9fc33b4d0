"""PNG plots of sweep results (matplotlib, Agg backend: no display needed).

* :func:`plot_grad_vs_step`: for each (optimizer, component), ||grad F(x_t)||^2 against step t, one
  line per mantissa length (mean over seeds, log-log axes), the unquantized baseline dashed.
* :func:`plot_final_vs_bits`: a chosen summary metric (default the final ||grad F||^2) against mantissa
  length, one line per quantized component, one panel per optimizer side by side (e.g. Adam | Muon),
  with the unquantized baseline as a dashed horizontal line. Points are geometric means over seeds;
  diverged runs are drawn at the top edge as crosses.
"""
from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from qbound.numeric.errors import InputError

_COMP_COLORS = {"W": "tab:blue", "G": "tab:orange", "M": "tab:green", "V": "tab:red", "all": "tab:purple"}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _gmean(vals):
    v = np.array([x for x in vals if x is not None and np.isfinite(x) and x > 0], dtype=float)
    if len(v) == 0:
        return np.nan
    return float(np.exp(np.mean(np.log(v))))


#: config fields that do not tell sweeps apart (they vary inside one sweep)
_WITHIN_SWEEP = ("component", "man_bits", "plan", "seed", "key")


def sweep_identity(rec: dict) -> tuple:
    """What identifies the sweep a record belongs to: problem and its keywords, steps, the
    optimizer's hyperparameters, and (for a quantized run) exponent bits, rounding and master.

    >>> a = {"config": {"problem": "p", "problem_kw": {}, "optimizer": "adam", "hparams": {"lr": 0.1},
    ...                 "steps": 300, "component": "V", "man_bits": 2, "exp_bits": 8, "rounding": "rne",
    ...                 "plan": "V=e8m2", "seed": 0}}
    >>> b = {"config": {**a["config"], "steps": 2000}}
    >>> sweep_identity(a) == sweep_identity({"config": {**a["config"], "seed": 3, "man_bits": 5}})
    True
    >>> dict(sweep_identity(a))["steps"], dict(sweep_identity(b))["steps"]
    (300, 2000)
    """
    import json
    c = rec["config"]
    out = []
    for k in sorted(c):
        if k in _WITHIN_SWEEP or (c.get("component") == "none" and k in ("exp_bits", "rounding")):
            continue
        out.append((k, json.dumps(c[k], sort_keys=True) if isinstance(c[k], (dict, list)) else c[k]))
    master = "stored" if "master=stored" in str(c.get("plan", "")) else "fp64"
    out.append(("master", master))
    return tuple(out)


def check_one_sweep(records) -> None:
    """Refuse records of more than one sweep (different steps, problem, hyperparameters, exponent
    bits, rounding or master): averaging them would mix different experiments in one curve."""
    if not records:
        return
    by_field: dict = defaultdict(set)
    per_opt: dict = defaultdict(set)
    for r in records:
        ident = dict(sweep_identity(r))
        opt = ident.pop("optimizer", None)
        for k, v in ident.items():
            if k == "hparams":  # each optimizer of a sweep has its own
                per_opt[(opt, k)].add(v)
            else:
                by_field[k].add(v)
    diff = {k: vs for k, vs in by_field.items() if len(vs) > 1}
    diff.update({f"{k} of {o}": vs for (o, k), vs in per_opt.items() if len(vs) > 1})
    if diff:
        parts = "; ".join(f"{k}: {', '.join(sorted(map(str, vs)))}" for k, vs in sorted(diff.items()))
        raise InputError(f"the file holds records of different sweeps ({parts}); plotting them together would "
                         f"average different experiments. Pick one with --select, e.g. --select "
                         f"{next(iter(sorted(diff))).split(' of ')[0]}=VALUE, or plot each sweep's own file")


def select_records(records, selectors) -> list:
    """Keep records whose config matches every ``FIELD=VALUE`` of ``selectors`` (compared as text)."""
    out = records
    for sel in selectors or []:
        if "=" not in sel:
            raise InputError(f"--select takes FIELD=VALUE (a config field, e.g. steps=300), got {sel!r}")
        k, v = (t.strip() for t in sel.split("=", 1))
        fields = sorted({f for r in records for f in r["config"]})
        if k not in fields:
            from qbound.numeric.errors import did_you_mean
            raise InputError(f"unknown field {k!r} for --select.{did_you_mean(k, fields)} Accepted: {', '.join(fields)}.")
        out = [r for r in out if str(r["config"].get(k)) == v or (isinstance(r["config"].get(k), str)
                                                                   and r["config"][k].lower() == v.lower())]
    if not out:
        raise InputError(f"no record matches {' '.join(selectors)}")
    return out


def _problem_label(records):
    ps = sorted({r["config"]["problem"] for r in records})
    return ", ".join(ps)


def plot_grad_vs_step(records, out_dir) -> list[str]:
    """One PNG per (optimizer, component); returns the file paths."""
    if not records:
        raise InputError("no records to plot")
    plt = _plt()
    os.makedirs(out_dir, exist_ok=True)
    groups = defaultdict(lambda: defaultdict(list))  # (opt, comp) -> bits -> list of (steps, vals)
    base = defaultdict(list)
    for r in records:
        c = r["config"]
        tr = r["trace"]
        if c["component"] == "none":
            base[c["optimizer"]].append(tr)
        else:
            groups[(c["optimizer"], c["component"])][c["man_bits"]].append(tr)
    paths = []
    for (opt, comp), by_bits in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        cmap = plt.get_cmap("viridis")
        bits_sorted = sorted(by_bits)
        for j, b in enumerate(bits_sorted):
            steps, vals = _mean_trace(by_bits[b])
            ax.plot(np.asarray(steps) + 1, vals, color=cmap(j / max(1, len(bits_sorted) - 1)), label=f"m={b}")
        if base.get(opt):
            steps, vals = _mean_trace(base[opt])
            ax.plot(np.asarray(steps) + 1, vals, "k--", label="fp64")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step t")
        ax.set_ylabel(r"$\|\nabla F(x_t)\|^2$")
        ax.set_title(f"{opt}: {comp} quantized ({_problem_label(records)})")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = os.path.join(out_dir, f"grad_vs_step_{opt}_{comp}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _mean_trace(traces):
    """Geometric mean over seeds of traces sharing the same step indices."""
    steps = traces[0]["step"]
    arr = np.array([[np.nan if v is None else v for v in t["grad_norm2"]] for t in traces
                    if t["step"] == steps], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.exp(np.nanmean(np.log(np.where(arr > 0, arr, np.nan)), axis=0))
    return steps, vals


def plot_final_vs_bits(records, out_path, metric: str = "final_grad_norm2") -> str:
    """Metric against mantissa length per component, one panel per optimizer side by side."""
    if not records:
        raise InputError("no records to plot")
    if metric not in records[0]["summary"]:
        raise InputError(f"unknown metric {metric!r}. Accepted: "
                         f"{', '.join(k for k, v in records[0]['summary'].items() if not isinstance(v, dict))}.")
    plt = _plt()
    opts = []
    for r in records:
        if r["config"]["optimizer"] not in opts:
            opts.append(r["config"]["optimizer"])
    fig, axes = plt.subplots(1, len(opts), figsize=(5.2 * len(opts), 4.2), sharey=True, squeeze=False)
    for ax, opt in zip(axes[0], opts):
        recs = [r for r in records if r["config"]["optimizer"] == opt]
        by = defaultdict(lambda: defaultdict(list))
        base = []
        for r in recs:
            c = r["config"]
            v = r["summary"].get(metric)
            if c["component"] == "none":
                base.append(v)
            else:
                by[c["component"]][c["man_bits"]].append(v)
        for comp in sorted(by):
            bits = sorted(by[comp])
            vals = [_gmean(by[comp][b]) for b in bits]
            ax.plot(bits, vals, "o-", color=_COMP_COLORS.get(comp), label=f"{comp} only" if comp != "all" else "W,G,M,V")
            div = [b for b in bits if all(v is None for v in by[comp][b])]
            if div:
                for b in div:
                    ax.annotate("x", (b, 1.0), xycoords=("data", "axes fraction"), ha="center", va="top",
                                color=_COMP_COLORS.get(comp))
        if base:
            gb = _gmean(base)
            if np.isfinite(gb):
                ax.axhline(gb, color="k", ls="--", lw=1, label="fp64")
        ax.set_yscale("log")
        eb = sorted({r["config"]["exp_bits"] for r in recs if r["config"].get("exp_bits")})
        ax.set_xlabel(f"mantissa bits m (format e{eb[0] if len(eb) == 1 else 'X'}m<m>)")
        ax.set_title(opt)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(metric.replace("_", " "))
    fig.suptitle(f"{metric} vs mantissa length ({_problem_label(records)}; x = diverged)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def plot_sweep(records, out_dir, metric: str = "final_grad_norm2") -> list[str]:
    """Both kinds of plot for one sweep; returns the PNG paths. Records of different sweeps are
    refused (:func:`check_one_sweep`); duplicates of a key count once."""
    seen: dict = {}
    for r in records:
        seen[r.get("key") or id(r)] = r
    records = list(seen.values())
    check_one_sweep(records)
    paths = plot_grad_vs_step(records, out_dir)
    paths.append(plot_final_vs_bits(records, os.path.join(out_dir, f"{metric}_vs_bits.png"), metric))
    return paths
