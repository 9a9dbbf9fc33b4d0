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

# The pure statistic (interval and FALSIFIED rule) lives in the ground layer, shared with qbound.testing.
from qbound.numeric.stats import CI_METHOD, CONFIDENCE, falsified, mean_ci, t_quantile  # noqa: F401,E402


def log_mean_ci(xs, confidence: float = CONFIDENCE) -> dict:
    """``mean_ci`` of log10(x); x <= 0 is clipped to 1e-300 (gradient norms are >= 0)."""
    arr = np.asarray(list(xs), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(np.isfinite(arr), np.log10(np.maximum(arr, 1e-300)), np.inf)
    return mean_ci(logs, confidence)


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
