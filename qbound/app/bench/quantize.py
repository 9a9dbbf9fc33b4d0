"""``qbound bench quantize``: speed of :func:`numeric.rounding.quantize` against ml_dtypes and gfloat.

Everything is measured in one process on the same float32 input (10^7 values, 10^6 with
``quick``): standard normal samples times 2^U(-4, 4), so every format sees its normal range and the
small ones also their subnormals and overflow. Each timing is the best of several repetitions, and
the two sides of every ratio are timed alternately so that background load hits both alike.

Comparisons (issue 2 targets):

* RNE to bf16 vs ml_dtypes' float32 -> bfloat16 -> float32 round trip (target: ratio <= 2);
* RNE to fp8_e4m3fn vs ml_dtypes' float32 -> float8_e4m3fn cast (target: ratio <= 1);
* every format and mode vs ``gfloat.round_ndarray`` (target: gfloat / ours >= 30). gfloat is slow,
  so it is timed on a subsample (10^5 values, 2*10^4 with quick) and scaled per element: the
  reported gfloat time is an extrapolation, stated as such in the result. This favours gfloat (its
  temporaries stay in cache; ours pays for writing a fresh 80 MB output), so the same-size ratio,
  ours also timed on the subsample, is reported next to it, and for bf16 and fp8_e4m3fn (every
  mode) gfloat is also timed once on all n values (``full_size``), the measurement the target
  names. ``target_met`` is the subsample-scaled criterion, ``full_size_target_met`` the full one;
* SR vs RNE for the same format (target: ratio <= 2).
* the memory-copy limit (issue 14): ``np.copyto`` of the float32 input into a preallocated float32
  array (reading and writing the same bytes as a float32 -> float32 rounding) timed in the same
  run, alternately with ``quantize(x, fmt, mode, out=buf)`` for bf16, fp8_e4m3fn and fp4_e2m1 under
  RNE and bf16 under SR (targets: <= 2x the copy, moonshot 1.3x; SR <= 3x), and the same with a
  freshly allocated result (``quantize(x, fmt)``, what a caller without ``out=`` pays).

Our output is float32 for float32 input here (every format timed except the fp64 row fits float32;
see ``numeric.rounding.result_dtype``), so the ml_dtypes comparisons write the same bytes.
The machine is often shared: every number is a best of several runs, and the load average before
and after is in the result.
"""
from __future__ import annotations

import time

import numpy as np

MODES = ("rne", "rna", "rtz", "rup", "rdn", "sr")


def _time(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _alternate(fa, fb, reps: int) -> tuple[float, float]:
    """Best times of fa and fb, run alternately."""
    ta = tb = float("inf")
    for _ in range(reps):
        ta = min(ta, _time(fa, 1))
        tb = min(tb, _time(fb, 1))
    return ta, tb


def _gfloat_info(fmt):
    from gfloat import FormatInfo
    from gfloat.types import Domain
    nans = {"ieee": (1 << fmt.man_bits) - 1, "fn": 1, "none": 0}[fmt.policy]
    return FormatInfo(fmt.name, fmt.total_bits, fmt.p, bias=fmt.bias, is_signed=True,
                      domain=Domain.Extended if fmt.policy == "ieee" else Domain.Finite, has_nz=True,
                      num_high_nans=nans, has_subnormals=fmt.subnormals, is_twos_complement=False)


def bench_quantize(quick: bool = False, *, progress: bool = True) -> dict:
    """Measure and return the timings and ratios described in the module docstring."""
    import ml_dtypes

    from qbound.numeric.formats import registry
    from qbound.numeric.rounding import FAST_MIN_SIZE, compiled_kernel, quantize

    n = 10**6 if quick else 10**7
    n_sub = 2 * 10**4 if quick else 10**5
    reps = 3 if quick else 5
    rng = np.random.default_rng(12345)
    x = (rng.standard_normal(n) * np.exp2(rng.uniform(-4, 4, n))).astype(np.float32)
    sub = x[:n_sub]
    say = print if progress else (lambda *a, **k: None)

    fast = compiled_kernel()
    t0 = time.perf_counter()
    for mode in MODES:  # load (or compile) every kernel before timing
        quantize(x[:FAST_MIN_SIZE], "bf16", mode, rng=np.random.default_rng(0))
        quantize(x[:FAST_MIN_SIZE].astype(np.float64), "bf16", mode, rng=np.random.default_rng(0))
    warm = time.perf_counter() - t0
    res: dict = {
        "n": n, "input": "float32: standard normal times 2^U(-4,4), seed 12345",
        "repetitions": f"best of {reps}", "compiled_kernel": fast is not None,
        "threads": fast.n_threads() if fast else 1, "kernel_load_seconds": warm,
        "load_average_before": _loadavg(),
    }

    say(f"[bench quantize] n={n}: bf16 and fp8_e4m3fn against ml_dtypes ...")
    ours, ml = _alternate(lambda: quantize(x, "bf16"),
                          lambda: x.astype(ml_dtypes.bfloat16).astype(np.float32), reps)
    res["bf16_rne"] = {"ours_s": ours, "ml_dtypes_roundtrip_s": ml, "ratio_ours_to_ml_dtypes": ours / ml,
                       "target": "ratio <= 2", "target_met": ours / ml <= 2}
    ours, ml = _alternate(lambda: quantize(x, "fp8_e4m3fn"), lambda: x.astype(ml_dtypes.float8_e4m3fn), reps)
    res["e4m3fn_rne"] = {"ours_s": ours, "ml_dtypes_cast_s": ml, "ratio_ours_to_ml_dtypes": ours / ml,
                         "target": "ratio <= 1", "target_met": ours / ml <= 1}

    say(f"[bench quantize] every format and mode (gfloat on {n_sub} values, scaled) ...")
    ours_t: dict = {}
    gf_ratio: dict = {}
    gf_same: dict = {}
    sr_ratio: dict = {}
    try:
        from gfloat import RoundMode, round_ndarray
        gmode = {"rne": RoundMode.TiesToEven, "rna": RoundMode.TiesToAway, "rtz": RoundMode.TowardZero,
                 "rup": RoundMode.TowardPositive, "rdn": RoundMode.TowardNegative, "sr": RoundMode.Stochastic}
    except ImportError:  # gfloat is a test extra
        round_ndarray = None
    srbits = rng.integers(0, 1 << 16, n_sub)
    for fmt in registry().values():
        for mode in MODES:
            g = np.random.default_rng(1)
            ours_fn = lambda: quantize(x, fmt, mode, rng=g)  # noqa: E731
            if round_ndarray is not None:
                fi = _gfloat_info(fmt)
                sat = fmt.policy == "none"
                kw = {"srbits": srbits, "srnumbits": 16} if mode == "sr" else {}
                with np.errstate(all="ignore"):
                    t_ours, t_g = _alternate(ours_fn, lambda: round_ndarray(fi, sub, gmode[mode], sat=sat, **kw),
                                             max(2, reps - 2))
                gf_ratio[f"{fmt.name}.{mode}"] = (t_g / n_sub) / (t_ours / n)
                t_small = _time(lambda: quantize(sub, fmt, mode, rng=g), reps)
                gf_same[f"{fmt.name}.{mode}"] = t_g / t_small
            else:
                t_ours = _time(ours_fn, reps)
            ours_t[f"{fmt.name}.{mode}"] = t_ours
        g = np.random.default_rng(1)
        t_sr, t_rne = _alternate(lambda: quantize(x, fmt, "sr", rng=g), lambda: quantize(x, fmt, "rne"), reps)
        sr_ratio[fmt.name] = t_sr / t_rne
    res["ours_ms"] = {k: v * 1e3 for k, v in ours_t.items()}
    gf_full: dict = {}
    if round_ndarray is not None:
        say(f"[bench quantize] gfloat on all n={n} values for bf16 and fp8_e4m3fn, every mode (slow) ...")
        srbits_full = rng.integers(0, 1 << 16, n)
        for name in ("bf16", "fp8_e4m3fn"):
            fi = _gfloat_info(registry()[name])
            for mode in MODES:
                kw = {"srbits": srbits_full, "srnumbits": 16} if mode == "sr" else {}
                with np.errstate(all="ignore"):
                    t_g = _time(lambda: round_ndarray(fi, x, gmode[mode], **kw), 1)
                gf_full[f"{name}.{mode}"] = t_g / ours_t[f"{name}.{mode}"]
        del srbits_full
    if gf_ratio:
        worst = min(gf_ratio, key=gf_ratio.get)
        worst_same = min(gf_same, key=gf_same.get)
        res["gfloat"] = {"note": f"gfloat.round_ndarray timed on {n_sub} values and scaled per element to n "
                                 f"(ours on all n); the same_size ratios time ours on those {n_sub} values too",
                         "ratio_gfloat_to_ours": gf_ratio,
                         "min_ratio_gfloat_to_ours": gf_ratio[worst], "slowest_vs_gfloat": worst,
                         "target": "ratio >= 30", "target_met": gf_ratio[worst] >= 30,
                         "same_size_ratio_gfloat_to_ours": gf_same,
                         "min_same_size_ratio_gfloat_to_ours": gf_same[worst_same],
                         "slowest_vs_gfloat_same_size": worst_same,
                         "full_size_note": f"gfloat timed once on all n={n} values (bf16 and fp8_e4m3fn only)",
                         "full_size_ratio_gfloat_to_ours": gf_full,
                         "min_full_size_ratio_gfloat_to_ours": min(gf_full.values()),
                         "full_size_target_met": min(gf_full.values()) >= 30}
    else:
        res["gfloat"] = {"note": "gfloat is not installed (pip install gfloat); not measured"}
    worst = max(sr_ratio, key=sr_ratio.get)
    res["sr_vs_rne"] = {"ratio_sr_to_rne": sr_ratio, "max_ratio_sr_to_rne": sr_ratio[worst], "worst_format": worst,
                        "target": "ratio <= 2", "target_met": sr_ratio[worst] <= 2}

    say(f"[bench quantize] n={n}: ratio to the np.copyto memory-copy limit ...")
    res["copy_limit"] = _copy_limit(x, reps + 2, quantize)

    x6 = x[: 10**6]
    res["bf16_rne_1e6_ms"] = _time(lambda: quantize(x6, "bf16"), reps) * 1e3
    x6d = x6.astype(np.float64)
    res["bf16_rne_1e6_float64_input_ms"] = _time(lambda: quantize(x6d, "bf16"), reps) * 1e3
    met = [res["bf16_rne"]["target_met"], res["e4m3fn_rne"]["target_met"], res["sr_vs_rne"]["target_met"],
           res["copy_limit"]["target_met"]]
    if "target_met" in res["gfloat"]:
        met.append(res["gfloat"]["target_met"])
    res["all_targets_met"] = all(met)
    if gf_full:
        met_full = met[:4] + [res["gfloat"]["full_size_target_met"]]
        res["all_targets_met_with_full_size_gfloat"] = all(met_full)
    res["load_average_after"] = _loadavg()
    return res


#: (format, mode, target ratio to np.copyto) timed against the memory-copy limit
COPY_CASES = (("bf16", "rne", 2.0), ("fp8_e4m3fn", "rne", 2.0), ("fp4_e2m1", "rne", 2.0), ("bf16", "sr", 3.0))


def _copy_limit(x: np.ndarray, reps: int, quantize) -> dict:
    """quantize(x, fmt, mode, out=buf) and quantize(x, fmt, mode) against np.copyto(buf, x), timed
    alternately in this run (best of ``reps`` each); ratios are quantize time / copy time."""
    buf = np.empty_like(x)
    out: dict = {"note": "np.copyto(buf, x) with buf a preallocated float32 array of x's shape: the "
                         "memory traffic of reading x and writing a float32 result once",
                 "repetitions": f"best of {reps}, alternating with the copy"}
    ok = True
    for name, mode, target in COPY_CASES:
        g = np.random.default_rng(7)
        t_q, t_c = _alternate(lambda: quantize(x, name, mode, rng=g, out=buf), lambda: np.copyto(buf, x), reps)
        t_a, t_c2 = _alternate(lambda: quantize(x, name, mode, rng=g), lambda: np.copyto(buf, x), reps)
        t_c = min(t_c, t_c2)
        key = f"{name}.{mode}"
        out[key] = {"quantize_out_ms": t_q * 1e3, "quantize_alloc_ms": t_a * 1e3, "copyto_ms": t_c * 1e3,
                    "ratio_to_copy": t_q / t_c, "ratio_alloc_to_copy": t_a / t_c,
                    "target": f"ratio <= {target:g}" + (" (moonshot 1.3)" if mode == "rne" else ""),
                    "target_met": t_q / t_c <= target}
        ok &= out[key]["target_met"]
    out["target_met"] = bool(ok)
    return out


def _loadavg() -> str:
    """1-minute load average and CPU count (timings on a busy machine are pessimistic)."""
    import os
    try:
        return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    except OSError:  # pragma: no cover
        return "unknown"
