"""Claim 1 with gradient noise and several seeds (slow)."""
import numpy as np
import pytest

from numeric.harness import run
from numeric.quantplan import CompQuant, QuantPlan, mantissa_format

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
