"""A corpus of natural claims (issue 16) with truth established INDEPENDENTLY of qbound.proofs:

* ``brute``: enumeration of every value (pair) in plain numpy, the claim written again as a numpy
  function, rounding by ``qbound.numeric.rounding.quantize`` (the numeric layer's oracle, independent
  of ``proofs.exact`` by design) and float64 arithmetic that is exact for these formats and claims
  (products and sums of two <= 8-bit values, one 16-bit value times a power of two...);
* ``witness``: a falsifying point, checked with numpy's IEEE float32/float16 arithmetic and exact
  ``Fraction`` arithmetic in the test;
* ``theorem``: a textbook fact (cited in ``why``), sanity-checked by random sampling in numpy.

Each entry: claim, format, rounding, assume, consts, truth (True = holds), kind, evidence, why.
"""
from __future__ import annotations

from fractions import Fraction as F

E = dict  # entry constructor


def _c(claim, fmt, mode="rne", assume=(), consts=None, truth=True, kind="theorem", ev=None, why="", slow=False):
    return E(claim=claim, fmt=fmt, mode=mode, assume=list(assume), consts=dict(consts or {}), truth=truth,
             kind=kind, ev=ev, why=why, slow=slow)


RANGE_AB = ["tiny <= abs(a*b) <= huge"]
RANGE_SUM = ["tiny <= abs(a+b) <= huge"]

CORPUS = [
    # ------------------------------------------------------------ <= 8-bit formats, brute force
    _c("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "fp8_e4m3fn", assume=RANGE_AB, kind="brute",
       ev=lambda a, b, R, K: ~((K["tiny"] <= abs(a * b)) & (abs(a * b) <= K["huge"])) |
       (abs(R(a * b) - a * b) * (1 + K["u"]) <= K["u"] * abs(a * b))),
    _c("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "fp8_e5m2", "rtz", assume=RANGE_AB, kind="brute",
       ev=lambda a, b, R, K: ~((K["tiny"] <= abs(a * b)) & (abs(a * b) <= K["huge"])) |
       (abs(R(a * b) - a * b) * (1 + K["u"]) <= K["u"] * abs(a * b))),
    _c("abs(rnd(a*b) - a*b) <= u*abs(a*b)", "fp8_e5m2", "rtz", assume=RANGE_AB, kind="brute",
       ev=lambda a, b, R, K: ~((K["tiny"] <= abs(a * b)) & (abs(a * b) <= K["huge"])) |
       (abs(R(a * b) - a * b) <= K["u"] * abs(a * b))),
    _c("abs(rnd(a*b) - a*b) <= u*abs(a*b)", "fp8_e4m3fn", truth=False, kind="brute",
       ev=lambda a, b, R, K: abs(R(a * b) - a * b) <= K["u"] * abs(a * b)),
    _c("rnd(a+b) >= a+b", "fp8_e5m2", "rup", kind="brute", ev=lambda a, b, R, K: R(a + b) >= a + b),
    _c("rnd(a+b) >= a+b", "fp8_e5m2", "rne", truth=False, kind="brute", ev=lambda a, b, R, K: R(a + b) >= a + b),
    _c("rnd(a*b) <= a*b", "fp8_e4m3fn", "rdn", truth=False, kind="brute",   # overflow to NaN (fn format)
       ev=lambda a, b, R, K: R(a * b) <= a * b),
    _c("rnd(a*b) <= a*b", "fp8_e5m2", "rdn", kind="brute", ev=lambda a, b, R, K: R(a * b) <= a * b),
    _c("abs(rnd(a+b)) <= abs(a+b)", "fp6_e3m2", "rtz", kind="brute",
       ev=lambda a, b, R, K: abs(R(a + b)) <= abs(a + b)),
    _c("rnd(a - b) == a - b", "fp8_e4m3fn", assume=["b <= 2*a", "a <= 2*b"], kind="brute",
       ev=lambda a, b, R, K: ~((b <= 2 * a) & (a <= 2 * b)) | (R(a - b) == a - b)),
    _c("rnd(a - b) == a - b", "fp8_e4m3fn", assume=["b <= 3*a", "a <= 3*b"], truth=False, kind="brute",
       ev=lambda a, b, R, K: ~((b <= 3 * a) & (a <= 3 * b)) | (R(a - b) == a - b)),
    _c("rnd(a+b) == rnd(b+a)", "fp6_e2m3", kind="brute", ev=lambda a, b, R, K: R(a + b) == R(b + a)),
    _c("min(a, b) <= rnd((a+b)/2) <= max(a, b)", "fp8_e5m2", kind="brute",
       ev=lambda a, b, R, K: (min_(a, b) <= R((a + b) / 2)) & (R((a + b) / 2) <= max_(a, b))),
    _c("min(a, b) <= rnd(rnd(a+b)/2) <= max(a, b)", "fp8_e4m3fn", truth=False, kind="brute",
       ev=lambda a, b, R, K: (min_(a, b) <= R(R(a + b) / 2)) & (R(R(a + b) / 2) <= max_(a, b))),
    _c("rnd(a*a) >= 0", "fp8_e4m3fn", truth=False, kind="brute", ev=lambda a, b, R, K: R(a * a) >= 0),  # NaN
    _c("rnd(a*a) >= 0", "fp4_e2m1", "rup", kind="brute", ev=lambda a, b, R, K: R(a * a) >= 0),
    _c("abs(rnd(a) - a) < ulp(a)", "fp6_e3m2", kind="brute", ev=lambda a, b, R, K: abs(R(a) - a) < K["ulp"](a)),
    _c("abs(rnd(a*b) - a*b) <= ulp(a*b)/2", "fp8_e5m2", assume=RANGE_AB, kind="brute",
       ev=lambda a, b, R, K: ~((K["tiny"] <= abs(a * b)) & (abs(a * b) <= K["huge"])) |
       (abs(R(a * b) - a * b) <= K["ulp"](a * b) / 2)),
    _c("abs(rnd(a*b) - a*b) < ulp(a*b)/2", "fp8_e5m2", assume=RANGE_AB, truth=False, kind="brute",
       ev=lambda a, b, R, K: ~((K["tiny"] <= abs(a * b)) & (abs(a * b) <= K["huge"])) |
       (abs(R(a * b) - a * b) < K["ulp"](a * b) / 2)),
    _c("rnd(b1*m + (1-b1)*g) <= max(m, g)", "fp8_e4m3fn", consts={"b1": "rnd(0.9)"}, kind="brute",
       ev=lambda m, g, R, K: R(K["b1"] * m + (1 - K["b1"]) * g) <= max_(m, g)),
    _c("abs(rnd(a/b) - a/b) <= u*abs(a/b)", "fp8_e4m3fn", assume=["b != 0", "tiny <= abs(a/b) <= huge"],
       kind="brute", ev=lambda a, b, R, K: (b == 0) | ~((K["tiny"] <= abs(q_(a, b))) & (abs(q_(a, b)) <= K["huge"]))
       | (abs(R(q_(a, b)) - q_(a, b)) <= K["u"] * abs(q_(a, b)) * (1 + 1e-12))),
    _c("rnd(a*2) == 2*a", "fp6_e3m2", assume=["abs(a) <= huge/2"], kind="brute",
       ev=lambda a, b, R, K: (abs(a) > K["huge"] / 2) | (R(a * 2) == 2 * a)),
    _c("rnd(a/2) == a/2", "fp8_e4m3fn", truth=False, kind="brute", ev=lambda a, b, R, K: R(a / 2) == a / 2),
    _c("a == 0 or abs(a) >= minsub", "fp8_e5m2", kind="brute", ev=lambda a, b, R, K: (a == 0) | (abs(a) >= K["minsub"])),
    _c("abs(d) < ulp(w)/4", "fp8_e5m2", truth=False, kind="brute", ev=lambda d, w, R, K: abs(d) < K["ulp"](w) / 4),

    # ------------------------------------------------------------ 16-bit, one variable, brute force
    _c("rnd(x*0.5) == x*0.5", "fp16", assume=["tiny <= abs(x)"], truth=False, kind="brute",
       ev=lambda x, y, R, K: (abs(x) < K["tiny"]) | (R(x * 0.5) == x * 0.5)),
    _c("rnd(x*0.5) == x*0.5", "fp16", assume=["2*tiny <= abs(x)"], kind="brute",
       ev=lambda x, y, R, K: (abs(x) < 2 * K["tiny"]) | (R(x * 0.5) == x * 0.5)),
    _c("rnd(x/2) == x/2", "bf16", assume=["2*tiny <= abs(x)"], kind="brute",
       ev=lambda x, y, R, K: (abs(x) < 2 * K["tiny"]) | (R(x / 2) == x / 2)),
    _c("rnd(2*x) == 2*x", "bf16", assume=["abs(x) <= huge/2"], kind="brute",
       ev=lambda x, y, R, K: (abs(x) > K["huge"] / 2) | (R(2 * x) == 2 * x)),
    _c("rnd(b2*v) == v", "bf16", assume=["v > 0"], consts={"b2": "rnd(0.99)"}, truth=False, kind="brute",
       ev=lambda v, y, R, K: (v <= 0) | (R(K["b2"] * v) == v)),
    _c("rnd(b2*v) == v", "fp16", assume=["v > 0"], consts={"b2": "1 - 2**-13"}, kind="brute",
       ev=lambda v, y, R, K: (v <= 0) | (R(K["b2"] * v) == v)),
    _c("rnd(b2*v) == v", "fp16", assume=["v > 0"], consts={"b2": "rnd(0.999)"}, truth=False, kind="brute",
       ev=lambda v, y, R, K: (v <= 0) | (R(K["b2"] * v) == v)),
    _c("rnd(x*x) >= 0", "fp16", "rtz", kind="brute", ev=lambda x, y, R, K: R(x * x) >= 0),
    _c("abs(rnd(x*3) - 3*x) <= u*abs(3*x)", "bf16", assume=["tiny <= abs(3*x) <= huge"], kind="brute",
       ev=lambda x, y, R, K: ~((K["tiny"] <= abs(3 * x)) & (abs(3 * x) <= K["huge"])) |
       (abs(R(x * 3) - 3 * x) <= K["u"] * abs(3 * x))),
    _c("abs(rnd(x*3) - 3*x) <= u*abs(3*x)", "fp16", truth=False, kind="brute",
       ev=lambda x, y, R, K: abs(R(x * 3) - 3 * x) <= K["u"] * abs(3 * x)),
    _c("rnd(x + 1) >= x", "fp16", "rdn", assume=["abs(x) <= 1000"], kind="brute",
       ev=lambda x, y, R, K: (abs(x) > 1000) | (R(x + 1) >= x)),
    _c("rnd(x + 1) > x", "bf16", assume=["abs(x) <= 1000"], truth=False, kind="brute",
       ev=lambda x, y, R, K: (abs(x) > 1000) | (R(x + 1) > x)),
    _c("rnd(x - lr) == x", "bf16", assume=["1 <= abs(x) <= huge"], consts={"lr": "rnd(0.001)"}, kind="brute",
       ev=lambda x, y, R, K: ~((1 <= abs(x)) & (abs(x) <= K["huge"])) | (R(x - K["lr"]) == x)),
    _c("rnd(x - lr) == x", "fp16", assume=["1 <= abs(x) <= huge"], consts={"lr": "rnd(0.001)"}, truth=False,
       kind="brute", ev=lambda x, y, R, K: ~((1 <= abs(x)) & (abs(x) <= K["huge"])) | (R(x - K["lr"]) == x)),
    _c("abs(rnd(x) - x) < ulp(x)", "fp16", "sr", kind="brute", ev=lambda x, y, R, K: abs(R(x) - x) < K["ulp"](x)),

    # ------------------------------------------------------------ 16/32-bit, two or more variables
    _c("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "fp32", assume=RANGE_AB,
       why="Jeannerod & Rump 2018: |fl(x)-x| <= u/(1+u)|x| for every x in the normal range (RNE)"),
    _c("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "bf16", assume=RANGE_AB, why="same, bf16"),
    _c("abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)", "fp16", assume=RANGE_AB, why="same, fp16"),
    _c("abs(rnd(a+b) - (a+b)) <= u/(1+u)*abs(a+b)", "fp32", assume=RANGE_SUM, why="same bound for sums", slow=True),
    _c("abs(rnd(a+b) - (a+b)) <= u/(1+u)*abs(a+b)", "fp16", assume=RANGE_SUM, why="same bound for sums", slow=True),
    _c("abs(rnd(a+b) - (a+b)) < u/(1+u)*abs(a+b)", "fp32", assume=RANGE_SUM, truth=False, kind="witness",
       ev={"a": F(1), "b": F(1, 2 ** 24)}, why="1 + 2^-24 is a tie that rounds to 1: error u, relative u/(1+u)",
       slow=True),
    _c("rnd(a+b) >= a+b", "fp32", "rup", why="rounding up never decreases (definition of rup)"),
    _c("rnd(a+b) >= a+b", "fp32", "rne", truth=False, kind="witness", ev={"a": F(1), "b": F(1, 2 ** 25)},
       why="1 + 2^-25 rounds to 1"),
    _c("rnd(a*b) <= a*b", "fp32", "rdn", why="rounding down never increases"),
    _c("rnd(a*b) <= a*b", "fp32", "rup", truth=False, kind="witness",
       ev={"a": 1 + F(1, 2 ** 23), "b": 1 + F(1, 2 ** 23)}, why="(1+2^-23)^2 is inexact, rup rounds it above"),
    _c("rnd(a - b) == a - b", "fp32", assume=["b <= 2*a", "a <= 2*b"], why="Sterbenz lemma (gradual underflow)"),
    _c("rnd(a - b) == a - b", "fp16", assume=["b <= 2*a", "a <= 2*b"], why="Sterbenz lemma"),
    _c("rnd(a - b) == a - b", "fp32", assume=["b <= 4*a", "a <= 4*b"], truth=False, kind="witness",
       ev={"a": 4 - F(1, 2 ** 21), "b": 1 + F(1, 2 ** 23)}, why="3 - 2^-21 - 2^-23 needs 25 bits"),
    _c("rnd(a+b) == rnd(b+a)", "fp32", why="IEEE addition is commutative (same exact sum)"),
    _c("rnd(a*b) == rnd(b*a)", "bf16", why="commutative exact product"),
    _c("rnd(rnd(a+b)+c) == rnd(a+rnd(b+c))", "fp32", truth=False, kind="witness",
       ev={"a": F(1), "b": F(1, 2 ** 24), "c": F(1, 2 ** 24)}, why="(1+u)+u = 1 but 1+(u+u) = 1+2u"),
    _c("rnd(x/2) == x/2", "fp32", assume=["tiny <= abs(x)"], truth=False, kind="witness",
       ev={"x": F(1, 2 ** 126) + F(1, 2 ** 149)}, why="halving tiny+minsub needs a bit below minsub"),
    _c("rnd(x/2) == x/2", "fp32", assume=["2*tiny <= abs(x)"], why="halving a value >= 2 tiny stays normal: exact"),
    _c("rnd(a*4) == 4*a", "fp32", assume=["tiny <= abs(a)", "abs(4*a) <= huge"], why="scaling by 4 in range is exact"),
    _c("abs(rnd(a/b) - a/b) <= u*abs(a/b)", "bf16", assume=["b != 0", "tiny <= abs(a/b) <= huge"],
       why="one rounding of an exact real in the normal range: relative error <= u/(1+u) <= u"),
    _c("abs(rnd(a/b)*b - a) <= u*abs(a)", "fp32", assume=["b != 0", "tiny <= abs(a/b) <= huge"],
       why="same, multiplied out by |b|", slow=True),
    _c("abs(rnd(a*b) - a*b) <= ulp(a*b)/2", "fp32", assume=RANGE_AB, why="RNE error is at most half an ulp"),
    _c("abs(rnd(a*b) - a*b) <= ulp(a*b)/2", "bf16", "rtz", assume=RANGE_AB, truth=False, kind="witness",
       ev={"a": 1 + F(1, 2 ** 7), "b": 1 + F(65, 2 ** 7)}, why="rtz can lose almost a whole ulp"),
    _c("min(m, g) <= rnd(b1*m + (1-b1)*g) <= max(m, g)", "bf16", consts={"b1": "rnd(0.9)"}, slow=True,
       why="a convex combination (1 - b1 is exact) lies between m and g; rounding is monotone"),
    _c("min(m, g) <= rnd(b1*m + (1-b1)*g) <= max(m, g)", "fp16", consts={"b1": "rnd(0.9)"}, slow=True,
       why="same, fp16"),
    _c("rnd(b2*v + (1-b2)*g*g) == v", "bf16", assume=["v >= 0"], consts={"b2": "rnd(0.99)"}, truth=False,
       kind="witness", ev={"v": F(1), "g": F(0)}, why="b2*1 = rnd(0.99) != 1", slow=True),
    _c("rnd(b2*v) == v", "fp32", assume=["v > 0"], consts={"b2": "rnd(0.999)"}, truth=False, kind="witness",
       ev={"v": F(1)}, why="rnd(0.999) * 1 = rnd(0.999) != 1"),
    _c("rnd(b2*v) == v", "fp32", assume=["v > 0"], consts={"b2": "1 - 2**-26"},
       why="|v 2^-26| < ulp(v)/2 for every v, so RNE returns v"),
    _c("abs(d) < ulp(w)/4", "bf16", truth=False, kind="witness", ev={"d": F(1), "w": F(1)}, why="1 >= 2^-7/4"),
    _c("rnd(a+b) >= a+b", "bf16", "rup", why="rounding up never decreases"),
    _c("abs(rnd(a*b + c) - (a*b + c)) <= u/(1+u)*abs(a*b + c)", "fp16", assume=["tiny <= abs(a*b + c) <= huge"],
       why="fma: one rounding of an exact real in the normal range", slow=True),
]


def min_(a, b):
    import numpy as np
    return np.minimum(a, b)


def max_(a, b):
    import numpy as np
    return np.maximum(a, b)


def q_(a, b):
    import numpy as np
    with np.errstate(all="ignore"):
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1, b))
