"""High-precision (mpmath) reference runs: how far is the float64 path itself from exact arithmetic?

The harness computes in float64, and its "unquantized" baseline is therefore not exact either. For
small deterministic problems (``rosenbrock``, ``quadratic``; no noise) this module repeats the same
unquantized run with every operation carried out in mpmath at ``prec`` bits (default 200), starting
from the same x0 and using the *same binary* hyperparameters (0.9 means the float64 nearest to 0.9),
so the difference isolates float64 rounding of the optimizer and gradient arithmetic.

``reference_run(problem, optimizer, steps, hparams=None, prec=200) -> dict`` returns per step
``x_err`` (max_i |x_float64,i - x_exact,i|), ``grad_norm2_rel_err`` (relative error of ||grad F||^2),
the exact ``grad_norm2`` trace (as floats), and the maxima. Optimizers: adam (paper form),
adam-torch, sgdm (their unquantized update rules, written out again here in mpmath).
"""
from __future__ import annotations

import numpy as np

from qbound.numeric.errors import InputError
from qbound.numeric.harness import run
from qbound.numeric.optimizers import make_optimizer
from qbound.numeric.problems import Problem, make_problem

REFERENCE_PROBLEMS = ("rosenbrock", "quadratic")
REFERENCE_OPTIMIZERS = ("adam", "adam-torch", "sgdm")


def _mp_grad(problem, x, mp):
    """Exact-ish (prec bits) gradient and loss of the problem at the mpf vector x."""
    if problem.name == "rosenbrock":
        d = len(x)
        g = [mp.mpf(0)] * d
        f = mp.mpf(0)
        for i in range(d - 1):
            r = x[i + 1] - x[i] ** 2
            f += 100 * r ** 2 + (1 - x[i]) ** 2
            g[i] += -400 * x[i] * r - 2 * (1 - x[i])
            g[i + 1] += 200 * r
        return f, g
    A = problem._A_mp
    d = len(x)
    Ax = [mp.fsum(A[i][j] * x[j] for j in range(d)) for i in range(d)]
    f = mp.fsum(x[i] * Ax[i] for i in range(d)) / 2
    return f, Ax


def reference_run(problem, optimizer, steps: int, hparams: dict | None = None, prec: int = 200,
                  problem_kw: dict | None = None) -> dict:
    """Run the unquantized optimizer in float64 (via the harness) and in mpmath; compare per step."""
    import mpmath

    if not isinstance(problem, Problem):
        problem = make_problem(problem, **(problem_kw or {}))
    if problem.name not in REFERENCE_PROBLEMS:
        raise InputError(f"the mpmath reference supports problems {', '.join(REFERENCE_PROBLEMS)}, not {problem.name}")
    if getattr(problem, "sigma", 0.0):
        raise InputError("the mpmath reference needs a noise-free problem (sigma=0)")
    opt = make_optimizer(optimizer, **(hparams or {}))
    if opt.name not in REFERENCE_OPTIMIZERS:
        raise InputError(f"the mpmath reference supports optimizers {', '.join(REFERENCE_OPTIMIZERS)}, not {opt.name}")
    steps = int(steps)
    tr = run(problem, opt, "", steps, 0, record_states=True)

    mp = mpmath.mp
    old_prec = mp.prec
    mp.prec = int(prec)
    try:
        if problem.name == "quadratic":
            problem._A_mp = [[mp.mpf(float(a)) for a in row] for row in problem.A]
        hp = {k: (mp.mpf(v) if isinstance(v, float) else v) for k, v in opt.hparams.items()}
        x = [mp.mpf(float(v)) for v in problem.x0()[0]]
        d = len(x)
        m = [mp.mpf(0)] * d
        v = [mp.mpf(0)] * d
        x_err = np.zeros(steps)
        g_rel = np.zeros(steps)
        gn_exact = np.zeros(steps)
        for k in range(steps):
            t = k + 1
            x_err[k] = max(abs(float(mp.mpf(float(a)) - b)) for a, b in zip(tr.states["x"][k], x))
            f, g = _mp_grad(problem, x, mp)
            gn = mp.fsum(gi ** 2 for gi in g)
            gn_exact[k] = float(gn)
            g_rel[k] = float(abs(mp.mpf(float(tr.grad_norm2[k])) - gn) / gn) if gn != 0 else 0.0
            if opt.name == "adam":
                b1, b2, lr, eps = hp["beta1"], hp["beta2"], hp["lr"], hp["eps"]
                alpha = lr * (1 - b1) * mp.sqrt((1 - b2 ** t) / (1 - b2))
                for i in range(d):
                    m[i] = b1 * m[i] + g[i]
                    v[i] = b2 * v[i] + g[i] ** 2
                    x[i] = x[i] - alpha * m[i] / mp.sqrt(eps + v[i])
            elif opt.name == "adam-torch":
                b1, b2, lr, eps, wd = hp["beta1"], hp["beta2"], hp["lr"], hp["eps"], hp["weight_decay"]
                for i in range(d):
                    gi = g[i] + wd * x[i]
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * gi ** 2
                    x[i] = x[i] - (lr / (1 - b1 ** t)) * m[i] / (mp.sqrt(v[i]) / mp.sqrt(1 - b2 ** t) + eps)
            else:  # sgdm
                lr, mu, wd = hp["lr"], hp["momentum_coef"], hp["weight_decay"]
                for i in range(d):
                    gi = g[i] + wd * x[i]
                    m[i] = mu * m[i] + gi
                    x[i] = x[i] - lr * ((gi + mu * m[i]) if hp["nesterov"] else m[i])
        f, g = _mp_grad(problem, x, mp)
        final_exact = float(mp.fsum(gi ** 2 for gi in g))
    finally:
        mp.prec = old_prec
        if hasattr(problem, "_A_mp"):
            del problem._A_mp
    return {
        "problem": problem.spec(), "optimizer": opt.spec(), "steps": steps, "prec": int(prec),
        "x_err": x_err, "grad_norm2_rel_err": g_rel, "grad_norm2_exact": gn_exact,
        "max_x_err": float(np.max(x_err)) if steps else 0.0,
        "max_grad_norm2_rel_err": float(np.max(g_rel)) if steps else 0.0,
        "final_grad_norm2_float64": tr.final_grad_norm2, "final_grad_norm2_exact": final_exact,
        "notes": "float64 harness run vs the same update rule in mpmath at prec bits; same binary hyperparameters",
    }
