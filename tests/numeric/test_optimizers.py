"""Optimizers: with an empty plan, and with every component "quantized" to fp64 RNE, each optimizer
equals a plain float64 implementation written here independently, bit for bit; quantized states are
representable; hyperparameters are validated."""
import math

import numpy as np
import pytest

from qbound.numeric.errors import InputError
from qbound.numeric.harness import run
from qbound.numeric.optimizers import OPTIMIZERS, make_optimizer, newton_schulz, polar_svd
from qbound.numeric.problems import make_problem
from qbound.numeric.quantplan import QuantPlan, Quantizers
from qbound.numeric.rounding import is_representable

FP64_ALL = "W=fp64,G=fp64,M=fp64,V=fp64,update=fp64"


# ---------------------------------------------------------------- plain float64 reference implementations
def plain_adam(x0, grads_fn, T, lr, b1, b2, eps):
    x = [p.copy() for p in x0]
    m = [np.zeros_like(p) for p in x]
    v = [np.zeros_like(p) for p in x]
    for t in range(1, T + 1):
        g = grads_fn(x, t)
        for i in range(len(x)):
            m[i] = b1 * m[i] + g[i]
            v[i] = b2 * v[i] + g[i] * g[i]
            a = lr * (1 - b1) * math.sqrt((1 - b2 ** t) / (1 - b2))
            x[i] = x[i] - a * m[i] / np.sqrt(eps + v[i])
    return x


def plain_adam_torch(x0, grads_fn, T, lr, b1, b2, eps, wd=0.0, decoupled=False):
    x = [p.copy() for p in x0]
    m = [np.zeros_like(p) for p in x]
    v = [np.zeros_like(p) for p in x]
    for t in range(1, T + 1):
        g = grads_fn(x, t)
        for i in range(len(x)):
            gi = g[i] + wd * x[i] if (wd and not decoupled) else g[i]
            m[i] = m[i] + (1 - b1) * (gi - m[i])
            v[i] = v[i] * b2 + (1 - b2) * gi * gi
            denom = np.sqrt(v[i]) / math.sqrt(1 - b2 ** t) + eps
            upd = (lr / (1 - b1 ** t)) * (m[i] / denom)
            if decoupled and wd:
                upd = lr * wd * x[i] + upd
            x[i] = x[i] - upd
    return x


def plain_polar(N):
    U, s, Vt = np.linalg.svd(N, full_matrices=False)
    r = int(np.sum(s > max(N.shape) * np.finfo(float).eps * s[0]))
    return U[:, :r] @ Vt[:r]


def plain_ns(N):
    a, b, c = 3.4445, -4.7750, 2.0315
    X = N / (np.linalg.norm(N) + 1e-7)
    if X.shape[0] > X.shape[1]:
        X = X.T
        flip = True
    else:
        flip = False
    for _ in range(5):
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.T if flip else X


def plain_muon(x0, grads_fn, T, lr, beta, form, nesterov, polar, scale, alr, ab1, ab2, aeps):
    x = [p.copy() for p in x0]
    M = [np.zeros_like(p) for p in x]
    v = [np.zeros_like(p) for p in x]
    for t in range(1, T + 1):
        g = grads_fn(x, t)
        for i in range(len(x)):
            if x[i].ndim < 2:  # Adam in the paper's form
                M[i] = ab1 * M[i] + g[i]
                v[i] = ab2 * v[i] + g[i] * g[i]
                a = alr * (1 - ab1) * math.sqrt((1 - ab2 ** t) / (1 - ab2))
                x[i] = x[i] - a * M[i] / np.sqrt(aeps + v[i])
                continue
            gg = g[i] if form == "sum" else (1 - beta) * g[i]
            M[i] = beta * M[i] + gg
            N = gg + beta * M[i] if nesterov else M[i]
            O = plain_polar(N) if polar == "svd" else plain_ns(N)
            rows, cols = N.shape
            if scale == "jordan":
                O = O * math.sqrt(max(1.0, rows / cols))
            elif scale == "moonshot":
                O = O * (0.2 * math.sqrt(max(rows, cols)))
            x[i] = x[i] - lr * O
    return x


def plain_sgdm(x0, grads_fn, T, lr, mu, nesterov, wd):
    x = [p.copy() for p in x0]
    b = [np.zeros_like(p) for p in x]
    for t in range(1, T + 1):
        g = grads_fn(x, t)
        for i in range(len(x)):
            gi = g[i] + wd * x[i] if wd else g[i]
            b[i] = mu * b[i] + gi
            d = gi + mu * b[i] if nesterov else b[i]
            x[i] = x[i] - lr * d
    return x


# ---------------------------------------------------------------- the comparison
def _det_grads(problem):
    """A deterministic gradient oracle: the exact gradient plus fixed pseudo-noise per step."""
    def fn(x, t):
        rng = np.random.default_rng(1000 + t)
        return [g + 0.1 * rng.standard_normal(g.shape) for g in problem.grad(x)]
    return fn


def _run_module(name, hp, problem, plan, T):
    """Drive the module's optimizer directly, with the same oracle as the plain implementation."""
    opt = make_optimizer(name, **hp)
    qz = Quantizers(QuantPlan.parse(plan), np.random.SeedSequence(0))
    x = [p.copy() for p in problem.x0()]
    state = opt.init([p.shape for p in x])
    fn = _det_grads(problem)
    for t in range(1, T + 1):
        g = [qz("G", gi, i) for i, gi in enumerate(fn([qz("W", p, i) for i, p in enumerate(x)], t))]
        d = opt.step(x, g, state, t, qz)
        x = [qz.U(p - di) for p, di in zip(x, d)]
    return x


CASES = [
    ("adam", dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8),
     lambda x0, fn, T: plain_adam(x0, fn, T, 1e-2, 0.9, 0.99, 1e-8)),
    ("adam-torch", dict(lr=1e-2, beta1=0.8, beta2=0.999, eps=1e-6, weight_decay=0.01),
     lambda x0, fn, T: plain_adam_torch(x0, fn, T, 1e-2, 0.8, 0.999, 1e-6, wd=0.01)),
    ("adamw", dict(lr=1e-2, weight_decay=0.1),
     lambda x0, fn, T: plain_adam_torch(x0, fn, T, 1e-2, 0.9, 0.999, 1e-8, wd=0.1, decoupled=True)),
    ("sgdm", dict(lr=1e-3, momentum_coef=0.9),
     lambda x0, fn, T: plain_sgdm(x0, fn, T, 1e-3, 0.9, False, 0.0)),
    ("sgdm", dict(lr=1e-3, momentum_coef=0.5, nesterov=True, weight_decay=0.01),
     lambda x0, fn, T: plain_sgdm(x0, fn, T, 1e-3, 0.5, True, 0.01)),
]
for form in ("sum", "ema"):
    for nest in (False, True):
        for polar in ("svd", "ns"):
            for scale in ("none", "jordan", "moonshot"):
                CASES.append(("muon", dict(lr=0.01, beta=0.9, momentum=form, nesterov=nest, polar=polar, scale=scale),
                              (lambda f, n, p, s: lambda x0, fn, T: plain_muon(
                                  x0, fn, T, 0.01, 0.9, f, n, p, s, 1e-3, 0.9, 0.999, 1e-8))(form, nest, polar, scale)))


@pytest.mark.parametrize("plan", ["", FP64_ALL])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_bit_exact_against_plain_float64(case, plan):
    name, hp, plain = CASES[case]
    # the MLP has matrices (Muon's polar step) and vectors (Muon's Adam fallback); tall and wide matrices
    problem = make_problem("digits-mlp", hidden=5, batch=16)
    T = 12
    got = _run_module(name, hp, problem, plan, T)
    want = plain([p.copy() for p in problem.x0()], _det_grads(problem), T)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == np.float64
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64)), f"{name} {hp} differs from plain float64"


@pytest.mark.parametrize("opt,hp", [("adam", {}), ("adam-torch", {}), ("adamw", {}), ("muon", {"polar": "ns"}),
                                     ("sgdm", {})])
def test_harness_empty_plan_equals_fp64_plan(opt, hp):
    a = run("digits-mlp", opt, "", 8, 3, problem_kw={"hidden": 4}, hparams=hp, record_states=True)
    for plan in (FP64_ALL, FP64_ALL + ",master=stored"):
        b = run("digits-mlp", opt, plan, 8, 3, problem_kw={"hidden": 4}, hparams=hp, record_states=True)
        assert np.array_equal(a.grad_norm2, b.grad_norm2) and a.final_loss == b.final_loss
        for k in a.states:
            assert np.array_equal(a.states[k], b.states[k], equal_nan=True)


def test_quantized_states_are_representable():
    tr = run("digits-mlp", "adam", "W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16", 6, 0,
             problem_kw={"hidden": 4}, record_states=True)
    s = tr.states
    assert np.all(is_representable(s["xq"], "bf16"))
    assert np.all(is_representable(s["g"], "fp8_e5m2"))
    assert np.all(is_representable(s["m"], "fp8_e4m3fn"))
    assert np.all(is_representable(s["v"], "bf16"))
    assert not np.all(is_representable(s["x"], "bf16"))  # master weights stay full precision
    assert not np.array_equal(s["m_pre"], s["m"])


def test_polar_factors():
    rng = np.random.default_rng(0)
    N = rng.standard_normal((7, 4))
    O = polar_svd(N)
    assert np.allclose(O.T @ O, np.eye(4), atol=1e-12)
    # the polar factor maximizes <O, N> over the unit spectral ball: it equals the nuclear norm
    assert abs(np.sum(O * N) - np.linalg.svd(N, compute_uv=False).sum()) < 1e-10
    X = newton_schulz(N)
    s = np.linalg.svd(X, compute_uv=False)
    assert np.all((s > 0.6) & (s < 1.25)), s  # the quintic lands the singular values near 1, not exactly
    assert not np.any(polar_svd(np.zeros((3, 2))))
    # rank-deficient input: only the range is orthogonalized
    R = np.outer(rng.standard_normal(5), rng.standard_normal(3))
    s = np.linalg.svd(polar_svd(R), compute_uv=False)
    assert np.allclose(s, [1, 0, 0], atol=1e-12)


def test_ns_products_quantized():
    prob = make_problem("matrix-ls", m=8, n=4, N=32, batch=8)
    a = run(prob, "muon", "", 5, 0, hparams={"polar": "ns"})
    b = run(prob, "muon", "", 5, 0, hparams={"polar": "ns", "ns_quant": "bf16"})
    assert not np.array_equal(a.grad_norm2, b.grad_norm2)
    assert abs(a.final_loss - b.final_loss) < 0.05 * a.final_loss


def test_hparam_validation():
    with pytest.raises(InputError, match="did you mean 'beta2'"):
        make_optimizer("adam", betta2=0.9)
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        make_optimizer("adam", beta2=1.0)
    with pytest.raises(InputError, match="Accepted: svd, ns"):
        make_optimizer("muon", polar="newton")
    with pytest.raises(InputError, match="Did you mean adam"):
        make_optimizer("adma")
    with pytest.raises(InputError):
        make_optimizer("muon", ns_quant="bf17")
    assert set(OPTIMIZERS) == {"adam", "adam-torch", "adamw", "muon", "sgdm"}


def test_inv_sqrt_schedule():
    prob = make_problem("quadratic", d=4, kappa=10.0)
    tr = run(prob, "sgdm", "", 6, 0, hparams={"lr": 0.01, "momentum_coef": 0.0, "schedule": "inv_sqrt"},
             record_states=True)
    x = prob.x0()[0].copy()
    for t in range(1, 7):
        x = x - (0.01 / math.sqrt(t)) * prob.grad([x])[0]
    assert tr.final_loss == prob.loss([x])
    with pytest.raises(InputError, match="inv_sqrt"):
        make_optimizer("adam", schedule="cosine")
