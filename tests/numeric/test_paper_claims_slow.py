"""Claim 1 with gradient noise and several seeds (slow)."""
import numpy as np
import pytest

from qbound.numeric.harness import run
from qbound.numeric.quantplan import CompQuant, QuantPlan, mantissa_format

pytestmark = pytest.mark.slow


def test_claim1_noisy_rosenbrock_three_seeds():
    """Claim 1 again with additive uniform gradient noise (sigma = 0.1) and seeds 0, 1, 2 (slow).

    Same settings and margins as the deterministic test in test_paper_claims.py (fixed before this
    run was made); rounding rtz ('cutting the mantissa')."""
    bits = list(range(1, 11))
    vals = []
    for m in bits:
        cq = CompQuant(mantissa_format(m), "rtz")
        plan = QuantPlan(W=cq, G=cq, M=cq, V=cq)
        v = [run("rosenbrock", "adam", plan, 3000, s, problem_kw={"d": 2, "sigma": 0.1},
                 hparams={"lr": 3e-2}).summary()["tail_grad_norm2"] for s in (0, 1, 2)]
        vals.append(float(np.exp(np.mean(np.log(v)))))
    rx = np.argsort(np.argsort(bits))
    ry = np.argsort(np.argsort(vals))
    rho = float(np.corrcoef(rx, ry)[0, 1])
    ratio = float(np.exp(np.mean(np.log(vals[:3])) - np.mean(np.log(vals[-3:]))))
    print("\nclaim 1 (Rosenbrock, sigma = 0.1, rtz, geomean over 3 seeds) by bits 1..10: "
          + " ".join(f"{v:.3g}" for v in vals) + f"; Spearman {rho:.3f}; ratio {ratio:.3g}")
    assert rho <= -0.8 and ratio >= 20.0


def test_claim3_with_inv_sqrt_schedule():
    """Claim 3 with lr_t = lr / sqrt(t) for both optimizers (slow), which lowers Muon's float64 floor.

    lr from float64 runs only (matrix-ls, 1000 steps, seeds 0 and 1, best tail ||grad||^2 over
    {1e-2, 3e-2, 0.1, 0.3, 1, 3}): Adam 0.3 (6.3e-3), Muon 0.3 (5.6e-2). Same margin as the
    constant-lr test in test_paper_claims.py (fixed before this run was made)."""
    res = {}
    for opt in ("adam", "muon"):
        hp = {"lr": 0.3, "schedule": "inv_sqrt"}
        vals = {}
        for label, plan in (("fp64", QuantPlan()), ("q3", QuantPlan(**{c: CompQuant(mantissa_format(3)) for c in "WGMV"}))):
            v = [run("matrix-ls", opt, plan, 1000, s, hparams=hp).summary()["tail_grad_norm2"] for s in (0, 1)]
            vals[label] = float(np.exp(np.mean(np.log(v))))
        res[opt] = vals
    print("\nclaim 3 with inv_sqrt (matrix-ls, all of W, G, M, V in e8m3): "
          + "; ".join(f"{o}: float64 {r['fp64']:.3g}, 3 bits {r['q3']:.3g}, x{r['q3'] / r['fp64']:.3g}"
                      for o, r in res.items()))
    deg = {o: r["q3"] / r["fp64"] for o, r in res.items()}
    assert deg["muon"] * 5 <= deg["adam"]
