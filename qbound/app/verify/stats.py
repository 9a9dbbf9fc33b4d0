"""Statistics used by ``qbound verify``: means over seeds with Student-t 95% intervals.

* ``mean_ci(xs)``: sample mean and the two-sided Student-t 95% confidence interval
  ``mean +- t_{0.975, n-1} * s / sqrt(n)`` (s the sample standard deviation, ddof = 1). With one
  seed the interval is unbounded (``lo = -inf, hi = +inf``): one run can never falsify anything.
* The FALSIFIED rule for a bound B on an expected quantity: the *lower* end of the 95% interval of
  the measured mean lies above B (``lo > B``). A mean above B whose interval still reaches B is
  "exceeds, within noise" and is reported as inconclusive, never as falsified.
* Comparisons between two groups (claims such as "quantizing V hurts more than quantizing G") are made
  on log10 of the measured quantity (gradient norms span decades), and A > B counts only when the
  intervals are disjoint (``lo_A > hi_B``), a conservative rule.
* ``linfit(x, y)``: ordinary least squares y = a + b x with the Student-t 95% interval of the slope
  (n - 2 degrees of freedom).
"""
from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95
CI_METHOD = "Student t, two-sided 95%, over seeds (ddof=1)"


#: t_{0.975, df} for df = 1..30 (12 significant digits)
_T975 = (12.7062047362, 4.30265272975, 3.18244630528, 2.7764451052, 2.57058183564, 2.44691185114,
         2.36462425159, 2.3060041352, 2.2621571628, 2.22813885199, 2.20098516009, 2.17881282967,
         2.16036865646, 2.14478668792, 2.13144954556, 2.11990529922, 2.10981557783, 2.10092204024,
         2.09302405441, 2.08596344727, 2.07961384473, 2.0738730679, 2.06865761042, 2.06389856163,
         2.05953855275, 2.05552943864, 2.05183051648, 2.0484071418, 2.04522964213, 2.0422724563)


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student-t quantile t_{(1+c)/2, df} (table for 95% and df <= 30, else scipy)."""
    if df <= 0:
        return math.inf
    if confidence == 0.95 and df <= len(_T975):
        return _T975[df - 1]
    from scipy.stats import t
    return float(t.ppf(0.5 + confidence / 2, df))


def mean_ci(xs, confidence: float = CONFIDENCE) -> dict:
    """Mean, sample std, n and the Student-t interval [lo, hi] of finite values in ``xs``.

    Non-finite values (a diverged run) are counted in ``n_nonfinite`` and make the mean +inf, so a
    divergence is never averaged away.
    """
    arr = np.asarray(list(xs), dtype=float)
    n_bad = int(np.sum(~np.isfinite(arr)))
    n = int(arr.size)
    if n == 0:
        return {"mean": None, "std": None, "lo": None, "hi": None, "n": 0, "n_nonfinite": 0}
    if n_bad:
        return {"mean": math.inf, "std": None, "lo": math.inf if n_bad == n else -math.inf,
                "hi": math.inf, "n": n, "n_nonfinite": n_bad}
    mean = float(arr.mean())
    if n < 2:
        return {"mean": mean, "std": None, "lo": -math.inf, "hi": math.inf, "n": n, "n_nonfinite": 0}
    std = float(arr.std(ddof=1))
    half = t_quantile(n - 1, confidence) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "lo": mean - half, "hi": mean + half, "n": n, "n_nonfinite": 0}


def log_mean_ci(xs, confidence: float = CONFIDENCE) -> dict:
    """``mean_ci`` of log10(x); x <= 0 is clipped to 1e-300 (gradient norms are >= 0)."""
    arr = np.asarray(list(xs), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(np.isfinite(arr), np.log10(np.maximum(arr, 1e-300)), np.inf)
    return mean_ci(logs, confidence)


def falsified(measured: dict, bound) -> str:
    """Compare a measured ``mean_ci`` with a bound value.

    Returns "FALSIFIED" (lower end of the interval above the bound), "exceeds-within-noise" (mean
    above the bound but the interval reaches it), "holds" (mean at or below the bound), or
    "no-bound"/"no-data".
    """
    if bound is None or not _finite_or_inf(bound):
        return "no-bound"
    if measured.get("mean") is None:
        return "no-data"
    lo, mean = measured["lo"], measured["mean"]
    if lo is not None and lo > bound:
        return "FALSIFIED"
    if mean > bound:
        return "exceeds-within-noise"
    return "holds"


def _finite_or_inf(x) -> bool:
    try:
        return not math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def greater(a: dict, b: dict) -> bool:
    """A > B beyond both intervals: lo_A > hi_B."""
    if a.get("lo") is None or b.get("hi") is None:
        return False
    return a["lo"] > b["hi"]


def linfit(x, y, confidence: float = CONFIDENCE) -> dict:
    """OLS fit y = a + b x; slope interval from Student t with n-2 dof (None entries if n < 2)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n < 2 or np.ptp(x) == 0:
        return {"n": n, "intercept": None, "slope": None, "slope_lo": None, "slope_hi": None, "r2": None}
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    b = float(np.sum((x - xm) * (y - ym)) / sxx)
    a = float(ym - b * xm)
    resid = y - (a + b * x)
    sst = float(np.sum((y - ym) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / sst if sst > 0 else 1.0
    if n > 2:
        s2 = float(np.sum(resid ** 2)) / (n - 2)
        half = t_quantile(n - 2, confidence) * math.sqrt(s2 / sxx)
    else:
        half = math.inf
    return {"n": n, "intercept": a, "slope": b, "slope_lo": b - half, "slope_hi": b + half, "r2": r2}


def fmt_ci(s: dict, digits: int = 3) -> str:
    """'m [lo, hi]' for a mean_ci dict (for tables)."""
    if not s or s.get("mean") is None:
        return "n/a"
    m = s["mean"]
    if s.get("lo") is None or not math.isfinite(s["lo"]) or not math.isfinite(s["hi"]):
        return f"{m:.{digits}g}"
    return f"{m:.{digits}g} [{s['lo']:.{digits}g}, {s['hi']:.{digits}g}]"
