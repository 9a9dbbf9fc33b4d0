"""Claims 2 and 3 on a real network: the one-hidden-layer MLP on scikit-learn's digits (slow).

The paper's second experiment is a small fully connected network (on CIFAR-10); this is the
nearest thing that ships with our dependencies. Learning rates come from float64 runs only
(1000 steps, seeds 0 and 1, best tail ||grad||^2 over a grid): Adam lr in {1e-3, 3e-3, 1e-2, 3e-2}
-> 1e-3 (5.3e-3; 3e-3 gives 5.4e-3), Muon lr in {3e-3, 1e-2, 3e-2, 1e-1} -> 1e-2 (7.9e-4; biases use
Muon's Adam fallback with lr 1e-3). Margins were fixed before the quantized runs were made.
"""
import functools

import numpy as np
import pytest

from qbound.numeric.harness import run
from qbound.numeric.quantplan import CompQuant, QuantPlan, mantissa_format

pytestmark = pytest.mark.slow

STEPS = 1000
SEEDS = (0, 1)
HP = {"adam": {"lr": 1e-3}, "muon": {"lr": 1e-2}}


def plan_for(comps, m):
    cq = CompQuant(mantissa_format(m))
    return QuantPlan(**{c: cq for c in comps})


@functools.lru_cache(maxsize=None)
def measure(opt, plan_text):
    vals = [run("digits-mlp", opt, plan_text, STEPS, s, hparams=HP[opt]).summary()["tail_grad_norm2"] for s in SEEDS]
    return float(np.exp(np.mean(np.log(vals))))


@pytest.mark.xfail(strict=True, reason=(
    "measured (seeds 0, 1): at 3 bits no single component hurts on this noise-floored problem - tail "
    "||grad||^2 float64 0.00533; W only 0.00563 (x1.06), G only 0.00533 (x1.00), M only 0.00535 (x1.00), "
    "V only 0.00540 (x1.01); W is the worst, but not by the 2x margin"))
def test_claim2_mlp_adam_W_and_V_hurt_more_than_G_and_M():
    base = measure("adam", "")
    res = {c: measure("adam", str(plan_for(c, 3))) for c in "WGMV"}
    print(f"\nclaim 2 (digits-mlp, Adam, one component in e8m3): float64 {base:.3g}; "
          + ", ".join(f"{c} only {v:.3g} (x{v / base:.3g})" for c, v in res.items()))
    robust = max(res["G"], res["M"])
    assert res["W"] >= 2 * robust
    assert res["V"] >= 2 * robust


@pytest.mark.xfail(strict=True, reason=(
    "measured (seeds 0, 1): with all of W, G, M, V in e8m3 both degrade equally little - Adam 0.00533 -> "
    "0.00589 (x1.11), Muon 0.000788 -> 0.000881 (x1.12); Muon is better in absolute terms at both precisions"))
def test_claim3_mlp_muon_degrades_less_than_adam_at_3_bits():
    out = {o: (measure(o, ""), measure(o, str(plan_for("WGMV", 3)))) for o in ("adam", "muon")}
    print("\nclaim 3 (digits-mlp, all of W, G, M, V in e8m3): "
          + "; ".join(f"{o}: float64 {a:.3g}, 3 bits {b:.3g}, x{b / a:.3g}" for o, (a, b) in out.items()))
    deg = {o: b / a for o, (a, b) in out.items()}
    assert deg["muon"] * 2 <= deg["adam"]

