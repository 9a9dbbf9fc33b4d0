"""``qbound bench harness``: the cost of quantization inside one optimizer step.

Measured (median of several repeats, wall-clock, this process):

* Adam (paper form), d = 10^6 coordinates: one step with all four components quantized
  (W=bf16, G=fp8_e5m2, M=fp8_e4m3fn, V=bf16, round to nearest even; and the same with G stochastic)
  versus one unquantized float64 step. A step is what the harness does between two gradient
  evaluations (``Optimizer.train_step``): Q_G(g), the optimizer update with Q_M and Q_V,
  x_t = x - delta, and Q_W(x_t), the point of the next gradient evaluation. The gradient itself is
  a fixed array (its cost would dilute the ratio).
* Muon on one 1024 x 1024 matrix: W, G, M quantized (bf16) versus float64, with the exact polar factor
  by SVD and with 5-step Newton-Schulz; and Newton-Schulz with every product rounded to bf16.

Ratios are quantized time / float64 time (wall clock; for Adam also process CPU time, which other
load on the machine disturbs less); the issue's target for Adam is <= 3 (issue 14: <= 1.0). The
1-minute load average is reported with the numbers.

Fused steps (issue 14): ``opt.train_step`` runs the whole step as one compiled pass per parameter
(numeric._fused_numba: reads x, g, m, v once, writes x_t, Q_W(x_t), m, v once) by default;
``seconds_all4_rne_reference`` times the multi-pass reference (``fused=False``) for comparison.
The float64 baseline ``seconds_fp64`` is the numpy step (``fused=False``, the same sequence with
every rounding the identity: Q_G and Q_W then cost nothing and x_t is the evaluation point, so it
does 10 array operations: 9 for the update and x - delta); ``seconds_fp64_fused`` is the same
unquantized step through the fused kernel. The memory-copy limit is ``np.copyto`` of the bytes of x, g, m and v (d float64 each)
into four preallocated arrays, timed in the same run: reading and writing each array once;
``ratio_all4_rne_to_copy`` is the quantized step over that (moonshot: <= 2).
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from qbound.numeric.optimizers import make_optimizer
from qbound.numeric.quantplan import QuantPlan, Quantizers


def _step_fn(opt, plan, shapes, seed=0, fused=None):
    """One whole step as numeric.harness runs it after the gradient evaluation, through
    ``opt.train_step``: Q_G(g), the update (Q_M, Q_V), x_t = x - delta and Q_W(x_t) (the next
    evaluation point). The master weights and the gradient are fixed arrays (the step's result is
    not fed back, so every repetition does the same work)."""
    rng = np.random.default_rng(seed)
    x = [rng.standard_normal(s) for s in shapes]
    g0 = [rng.standard_normal(s) for s in shapes]
    qz = Quantizers(plan, np.random.SeedSequence(seed))
    state = opt.init(shapes)
    t = [0]

    def step():
        t[0] += 1
        return opt.train_step(x, g0, state, t[0], qz, fused=fused)
    return step


def _time(fn, repeats, clock=time.perf_counter):
    fn()  # warm-up (compilation, caches)
    ts = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return statistics.median(ts)


def bench_harness(quick: bool = False) -> dict:
    d = 10 ** 5 if quick else 10 ** 6
    n = 256 if quick else 1024
    reps = 3 if quick else 7
    out: dict = {"adam": {"d": d}, "muon": {"shape": [n, n]}}

    adam = make_optimizer("adam")
    plans = {
        "fp64": QuantPlan(),
        "all4_rne": QuantPlan.parse("W=bf16,G=fp8_e5m2,M=fp8_e4m3fn,V=bf16"),
        "all4_G_sr": QuantPlan.parse("W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16"),
    }
    # the float64 baseline is the numpy step (fused=False), the "float64 numpy Adam step"
    times = {k: _time(_step_fn(adam, p, [(d,)], fused=False if k == "fp64" else None), reps)
             for k, p in plans.items()}
    times["fp64_fused"] = _time(_step_fn(adam, plans["fp64"], [(d,)]), reps)
    times["all4_rne_reference"] = _time(_step_fn(adam, plans["all4_rne"], [(d,)], fused=False), reps)
    src = [np.random.default_rng(i).standard_normal(d) for i in range(4)]
    dst = [np.empty(d) for _ in range(4)]

    def copy4():
        for a, b in zip(src, dst):
            np.copyto(b, a)
    times["copy_x_g_m_v"] = _time(copy4, reps)
    # the float64 step again, right after: the ratio below uses the better of the two timings
    times["fp64"] = min(times["fp64"], _time(_step_fn(adam, plans["fp64"], [(d,)], fused=False), reps))
    out["adam"].update({f"seconds_{k}": v for k, v in times.items()})
    out["adam"]["ratio_all4_rne"] = times["all4_rne"] / times["fp64"]
    out["adam"]["ratio_all4_G_sr"] = times["all4_G_sr"] / times["fp64"]
    out["adam"]["ratio_all4_rne_reference"] = times["all4_rne_reference"] / times["fp64"]
    out["adam"]["ratio_all4_rne_to_copy"] = times["all4_rne"] / times["copy_x_g_m_v"]
    out["adam"]["ratio_fp64_to_copy"] = times["fp64"] / times["copy_x_g_m_v"]
    out["adam"]["target_issue14"] = "ratio_all4_rne <= 1.0 (moonshot ratio_all4_rne_to_copy <= 2)"
    out["adam"]["target_issue14_met"] = out["adam"]["ratio_all4_rne"] <= 1.0
    # process CPU time (all threads): the cost, less sensitive to other load on the machine
    cpu = {k: _time(_step_fn(adam, p, [(d,)], fused=False if k == "fp64" else None), reps, time.process_time)
           for k, p in plans.items()}
    out["adam"]["cpu_ratio_all4_rne"] = cpu["all4_rne"] / cpu["fp64"]
    out["adam"]["cpu_ratio_all4_G_sr"] = cpu["all4_G_sr"] / cpu["fp64"]
    out["adam"]["target_ratio"] = 3.0

    mreps = 3 if quick else 3
    qplan = QuantPlan.parse("W=bf16,G=bf16,M=bf16")
    for polar in ("svd", "ns"):
        opt = make_optimizer("muon", polar=polar)
        t64 = _time(_step_fn(opt, QuantPlan(), [(n, n)], fused=False), mreps)
        tq = _time(_step_fn(opt, qplan, [(n, n)]), mreps)
        out["muon"][f"seconds_{polar}_fp64"] = t64
        out["muon"][f"seconds_{polar}_WGM_bf16"] = tq
        out["muon"][f"ratio_{polar}_WGM_bf16"] = tq / t64
    opt = make_optimizer("muon", polar="ns", ns_quant="bf16")
    tq = _time(_step_fn(opt, qplan, [(n, n)]), mreps)
    out["muon"]["seconds_ns_WGM_bf16_products_bf16"] = tq
    out["muon"]["ratio_ns_WGM_bf16_products_bf16"] = tq / out["muon"]["seconds_ns_fp64"]
    out["quick"] = bool(quick)
    try:
        out["load_average_1min"] = os.getloadavg()[0]
        out["cpus"] = os.cpu_count()
    except OSError:  # pragma: no cover
        pass
    return out
