"""The paper's empirical claims (Tang, Li & Zou, arXiv 2510.21314), measured at small scale.

Fixed seeds and fixed settings; every test prints the numbers it measured (pytest -s or -rA shows
them) and asserts the claim with an explicit margin. Hyperparameters were chosen from unquantized
(float64) runs only - the best learning rate of a small grid for each optimizer - never by looking at
the quantized results. A claim that does not hold stays here as xfail(strict=True) with the reason.

Mantissa sweeps use the IEEE-like formats e8mM (8 exponent bits, the range of fp32/bf16; M stored
mantissa bits), so only the precision varies. "Final gradient norm" is the mean of ||grad F(x_t)||^2
over the last 10% of the steps (tail_grad_norm2), because a single iterate of constant-step Adam
oscillates; the last iterate is printed as well.
"""
import functools

import numpy as np
import pytest

from qbound.numeric.harness import run
from qbound.numeric.quantplan import CompQuant, QuantPlan, mantissa_format

ROSEN = dict(problem="rosenbrock", problem_kw={"d": 2}, hparams={"lr": 3e-2}, steps=3000)
# float64 tuning on Rosenbrock (d = 2, beta2 = 0.999, 3000 steps): lr 3e-2 reaches ||grad||^2 ~ 1e-7;
# 1e-2 and 3e-3 are far slower along the valley.


def plan_for(comps, m, rounding="rne"):
    cq = CompQuant(mantissa_format(m), rounding)
    return QuantPlan(**{c: cq for c in comps})


def tail(problem, opt, plan, steps, seed=0, problem_kw=None, hparams=None):
    tr = run(problem, opt, plan, steps, seed, problem_kw=problem_kw, hparams=hparams)
    return tr.summary()["tail_grad_norm2"], tr.final_grad_norm2, tr


@functools.lru_cache(maxsize=None)
def rosen_fp64():
    return tail(ROSEN["problem"], "adam", "", ROSEN["steps"], problem_kw=ROSEN["problem_kw"], hparams=ROSEN["hparams"])[0]


def gmean(v):
    return float(np.exp(np.mean(np.log(v))))


def spearman(x, y):
    rx = np.argsort(np.argsort(x))
    ry = np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


# ------------------------------------------------------------------ claim 1
@pytest.mark.parametrize("rounding", ["rtz", "rne"])
def test_claim1_rosenbrock_grad_norm_shrinks_with_mantissa_bits(rounding):
    """Adam (paper form), all of W, G, M, V in e8mM, M = 1..10. rtz = 'cutting the mantissa' as the
    paper simulates it; rne = round to nearest."""
    bits = list(range(1, 11))
    tails, finals = [], []
    for m in bits:
        t, f, _ = tail(ROSEN["problem"], "adam", plan_for("WGMV", m, rounding), ROSEN["steps"],
                       problem_kw=ROSEN["problem_kw"], hparams=ROSEN["hparams"])
        tails.append(t)
        finals.append(f)
    base = rosen_fp64()
    rho = spearman(bits, tails)
    ratio = gmean(tails[:3]) / gmean(tails[-3:])
    print(f"\nclaim 1 ({rounding}): tail ||grad||^2 by mantissa bits 1..10: "
          + " ".join(f"{v:.3g}" for v in tails))
    print("  last iterate: " + " ".join(f"{v:.3g}" for v in finals))
    print(f"  float64 baseline {base:.3g}; Spearman(bits, tail) = {rho:.3f}; "
          f"geomean(bits 1-3) / geomean(bits 8-10) = {ratio:.3g}")
    assert rho <= -0.8, "the gradient norm does not decrease (in rank) with the mantissa length"
    assert ratio >= 20.0, "3 more-or-less bits change the final gradient norm by less than 20x"


# ------------------------------------------------------------------ claim 3
MATRIX = dict(problem="matrix-ls", problem_kw={}, steps=1000, seeds=(0, 1),
              hparams={"adam": {"lr": 1e-2}, "muon": {"lr": 1e-2}})
# float64 tuning on matrix-ls (32 x 16, batch 32, 1000 steps, lr in {3e-3, 1e-2, 3e-2, 1e-1}):
# the best tail ||grad||^2 is at lr = 1e-2 for both Adam (3.0e-3) and Muon (1.4e-1, SVD polar factor).


def _matrix_runs(opt, plan, **extra_hp):
    p = MATRIX
    return gmean([tail(p["problem"], opt, plan, p["steps"], s, p["problem_kw"], {**p["hparams"][opt], **extra_hp})[0]
                  for s in p["seeds"]])


@pytest.fixture(scope="module")
def matrix_results():
    out = {}
    for label, opt, extra in (("adam", "adam", {}), ("muon", "muon", {}), ("muon-ns", "muon", {"polar": "ns"})):
        out[label] = {"fp64": _matrix_runs(opt, "", **extra), "q3": _matrix_runs(opt, plan_for("WGMV", 3), **extra)}
    print("\nclaim 3 (matrix-ls, all of W, G, M, V in e8m3, geometric mean over seeds 0, 1; "
          "muon = exact polar factor, muon-ns = Newton-Schulz):")
    for opt, r in out.items():
        print(f"  {opt}: float64 {r['fp64']:.3g}, 3 bits {r['q3']:.3g}, degradation x{r['q3'] / r['fp64']:.3g}")
    return out


@pytest.mark.parametrize("muon", ["muon", "muon-ns"])
def test_claim3_muon_degrades_less_than_adam_at_3_bits(matrix_results, muon):
    """Degradation = tail ||grad||^2 at 3 bits / the same optimizer's float64 value."""
    deg = {o: r["q3"] / r["fp64"] for o, r in matrix_results.items()}
    assert deg[muon] * 5 <= deg["adam"]


@pytest.mark.xfail(strict=True, reason=(
    "measured: Muon's smaller relative degradation (x2.8 vs Adam's x122) comes from its higher float64 "
    "floor (tail ||grad||^2 0.14 vs 0.003: constant-lr polar steps of unit spectral norm); at 3 bits both "
    "end near the same W-quantization floor (0.39 Muon, 0.37 Adam; W alone gives 0.37 and 0.34)"))
def test_claim3_absolute_muon_not_worse_than_adam_at_3_bits(matrix_results):
    assert matrix_results["muon"]["q3"] <= matrix_results["adam"]["q3"]


# ------------------------------------------------------------------ claim 2
CLAIM2_BITS = (3, 5)


@functools.lru_cache(maxsize=None)
def claim2_results(problem):
    """{bits: {component: tail ||grad||^2 with that component alone in e8m<bits>}}, plus the float64 value."""
    if problem == "rosenbrock":
        def measure(plan):
            return tail("rosenbrock", "adam", plan, ROSEN["steps"], 0, ROSEN["problem_kw"], ROSEN["hparams"])[0]
    else:
        def measure(plan):
            return gmean([tail("matrix-ls", "adam", plan, MATRIX["steps"], s, {}, MATRIX["hparams"]["adam"])[0]
                          for s in MATRIX["seeds"]])
    base = measure("")
    res = {m: {c: measure(plan_for(c, m)) for c in "WGMV"} for m in CLAIM2_BITS}
    print(f"\nclaim 2 ({problem}, Adam, one component alone in e8mM): float64 {base:.3g}")
    for m, r in res.items():
        print(f"  M = {m}: " + ", ".join(f"{c} only {v:.3g} (x{v / base:.3g})" for c, v in r.items()))
    return base, res


def _claim2(problem, comp, m):
    base, res = claim2_results(problem)
    r = res[m]
    robust = max(r["G"], r["M"])
    print(f"  {problem} M = {m}: {comp} only / max(G only, M only) = {r[comp] / robust:.3g}")
    assert r[comp] >= 10 * robust, f"{comp} alone at {m} bits is not 10x worse than G or M alone"


@pytest.mark.parametrize("m", CLAIM2_BITS)
@pytest.mark.parametrize("comp", ["W", "V"])
def test_claim2_rosenbrock_adam_more_sensitive_to_W_and_V(comp, m):
    """Adam on Rosenbrock: W alone and V alone each hurt at least 10x more than G alone or M alone."""
    _claim2("rosenbrock", comp, m)


def test_claim2_matrix_ls_adam_more_sensitive_to_W_3_bits():
    _claim2("matrix-ls", "W", 3)


@pytest.mark.xfail(strict=True, reason=(
    "measured on matrix-ls at 5 bits: W alone is worse than G or M alone (tail ||grad||^2 0.022 vs 0.0030, "
    "x7.5), so the claim's direction holds, but not by this test's 10x margin (fixed before measuring)"))
def test_claim2_matrix_ls_adam_more_sensitive_to_W_5_bits():
    _claim2("matrix-ls", "W", 5)


@pytest.mark.xfail(strict=True, reason=(
    "measured on matrix-ls (stochastic, 1000 steps): V alone at 3 or 5 bits does not hurt at all (tail "
    "||grad||^2 0.0025 vs float64 0.0030, about 18% lower), while W alone is 7-110x worse. Quantized v "
    "with beta2 = 0.999 stops decaying (claim 4), which shrinks Adam's effective step: on the "
    "deterministic Rosenbrock that slows the final convergence (V hurts), at a noise floor it does not"))
@pytest.mark.parametrize("m", CLAIM2_BITS)
def test_claim2_matrix_ls_adam_more_sensitive_to_V(m):
    _claim2("matrix-ls", "V", m)


# ------------------------------------------------------------------ claim 4
@pytest.mark.parametrize("opt,problem,hp", [("adam", "matrix-ls", {"lr": 1e-2}),
                                            ("adam-torch", "digits-logreg", {"lr": 1e-2})])
def test_claim4_bf16_v_with_beta2_0999_is_frozen(opt, problem, hp):
    """v stored in bf16 (8-bit precision, spacing 2^-7 relative) with beta2 = 0.999: the decay
    beta2 v loses 0.001 v, under half an ulp, so the stored v can only grow; in practice it sits still."""
    hp = {**hp, "beta2": 0.999}
    res = {}
    for plan in ("", "V=bf16"):
        tr = run(problem, opt, plan, 1000, 0, hparams=hp, record_states=True)
        v = tr.states["v"]
        active = v[-1] > 0  # coordinates that ever saw a non-zero gradient
        dv = np.diff(v[:, active], axis=0)[100:]  # after 100 warm-up steps
        res[plan or "fp64"] = {"unchanged": float(np.mean(dv == 0)), "decreased": float(np.mean(dv < 0)),
                               "at_running_max": float(np.mean(v[-1, active] == v[:, active].max(axis=0)))}
    print(f"\nclaim 4 ({opt} on {problem}, beta2 = 0.999, steps 101..1000):")
    for k, r in res.items():
        print(f"  v {k}: unchanged {r['unchanged']:.4f} of coordinate-steps, decreased {r['decreased']:.4f}, "
              f"final v at its running max for {r['at_running_max']:.3f} of coordinates")
    assert res["V=bf16"]["unchanged"] >= 0.9
    assert res["V=bf16"]["decreased"] == 0.0
    assert res["fp64"]["unchanged"] <= 0.1
