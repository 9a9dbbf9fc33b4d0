"""The statistic behind every empirical verdict on a bound: means over seeds with Student-t intervals.

A bound B on an expected quantity (for example the average squared gradient norm of a run) is
compared with measurements x_1..x_n, one per seed:

* ``mean_ci(xs)``: the sample mean and the two-sided Student-t 95% interval
  ``mean +- t_{0.975, n-1} * s / sqrt(n)`` (s the sample standard deviation, ddof = 1). With one
  seed the interval is unbounded (``lo = -inf``): one run can never falsify anything. A non-finite
  measurement (a diverged run) makes the mean +inf, so a divergence is never averaged away.
* ``falsified(measured, B)``: "FALSIFIED" only when the *lower* end of the interval lies above B
  (``lo > B``); a mean above B whose interval still reaches B is "exceeds-within-noise"
  (inconclusive, never a falsification); otherwise "holds".

It lives in the ground layer so that ``qbound verify`` (:mod:`qbound.app.verify.stats` re-exports
it) and test suites (:func:`qbound.testing.assert_bound_holds`) apply the same rule.

>>> s = mean_ci([1.0, 2.0, 3.0])
>>> s["mean"], round(s["lo"], 4), round(s["hi"], 4)
(2.0, -0.4841, 4.4841)
>>> falsified(s, 1.5), falsified(mean_ci([2.0, 2.1, 1.9]), 1.5), falsified(s, 5.0)
('exceeds-within-noise', 'FALSIFIED', 'holds')
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
