"""Problems: exact gradients against central finite differences, unbiased seeded noise, constants."""
import numpy as np
import pytest

from qbound.numeric.errors import InputError
from qbound.numeric.problems import PROBLEMS, flatten, make_problem, unflatten

SMALL = {
    "rosenbrock": dict(d=5),
    "quadratic": dict(d=6, kappa=100.0),
    "digits-logreg": dict(),
    "digits-mlp": dict(hidden=8),
    "matrix-ls": dict(m=6, n=4, N=40, batch=8),
}


def _fd_grad(prob, params, idx, h=1e-6):
    x = flatten(params)
    out = []
    for i in idx:
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        out.append((prob.loss(unflatten(xp, prob.shapes)) - prob.loss(unflatten(xm, prob.shapes))) / (2 * h))
    return np.array(out)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_gradient_matches_finite_differences(name):
    prob = make_problem(name, **SMALL[name])
    rng = np.random.default_rng(0)
    x0 = prob.x0()
    params = [p + 0.1 * rng.standard_normal(p.shape) for p in x0]
    g = flatten(prob.grad(params))
    idx = rng.choice(prob.d, size=min(prob.d, 25), replace=False)
    fd = _fd_grad(prob, params, idx)
    scale = max(1.0, np.max(np.abs(g)))
    assert np.max(np.abs(g[idx] - fd)) < 1e-6 * scale, (g[idx], fd)
    assert [p.shape for p in prob.grad(params)] == [tuple(s) for s in prob.shapes]


@pytest.mark.parametrize("name", ["rosenbrock", "digits-logreg", "matrix-ls"])
def test_stochastic_gradient_is_unbiased_and_seeded(name):
    kw = dict(SMALL[name])
    if name == "rosenbrock":
        kw["sigma"] = 0.5
    prob = make_problem(name, **kw)
    params = prob.x0()
    a = flatten(prob.stoch_grad(params, np.random.default_rng(3)))
    b = flatten(prob.stoch_grad(params, np.random.default_rng(3)))
    assert np.array_equal(a, b)
    rng = np.random.default_rng(1)
    n = 400
    draws = np.array([flatten(prob.stoch_grad(params, rng)) for _ in range(n)])
    g = flatten(prob.grad(params))
    err2 = float(np.sum((draws.mean(axis=0) - g) ** 2))
    expected = float(np.sum(draws.var(axis=0))) / n  # E||mean - g||^2 for an unbiased estimator
    print(f"{name}: ||mean - grad||^2 = {err2:.3g}, its expectation if unbiased = {expected:.3g}")
    assert err2 <= 3 * expected


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_constants_have_the_contract_keys(name):
    c = make_problem(name, **SMALL[name]).constants()
    for k in ("L", "R", "sigma", "Delta", "d", "r", "F_star", "notes"):
        assert k in c
    assert c["d"] == make_problem(name, **SMALL[name]).d
    assert isinstance(c["notes"], dict)


def test_exact_constants():
    q = make_problem("quadratic", d=6, kappa=100.0)
    ev = np.linalg.eigvalsh(q.A)
    assert abs(ev[-1] - 100.0) < 1e-9 and abs(ev[0] - 1.0) < 1e-12
    assert q.constants()["L"] == 100.0
    r = make_problem("rosenbrock", d=4)
    assert r.loss([np.ones(4)]) == 0.0 and not np.any(r.grad([np.ones(4)])[0])
    m = make_problem("matrix-ls", m=6, n=4, N=40, batch=8)
    c = m.constants()
    Xs = np.linalg.lstsq(m.A, m.B, rcond=None)[0]
    assert np.max(np.abs(m.grad([Xs])[0])) < 1e-10
    assert c["r"] == 4 and c["Delta"] > 0
    # the smoothness constant bounds the curvature along random directions
    rng = np.random.default_rng(0)
    for _ in range(5):
        D = rng.standard_normal((6, 4))
        gd = m.grad([D])[0] - m.grad([np.zeros((6, 4))])[0]
        assert np.linalg.norm(gd) <= c["L"] * np.linalg.norm(D) * (1 + 1e-12)


def test_logreg_L_bounds_curvature():
    p = make_problem("digits-logreg")
    L = p.constants()["L"]
    rng = np.random.default_rng(0)
    x = [0.1 * rng.standard_normal(s) for s in p.shapes]
    for _ in range(3):
        dlt = [rng.standard_normal(s) * 1e-3 for s in p.shapes]
        ga = flatten(p.grad(x))
        gb = flatten(p.grad([a + b for a, b in zip(x, dlt)]))
        assert np.linalg.norm(ga - gb) <= L * np.linalg.norm(flatten(dlt))


def test_bad_problem_input():
    with pytest.raises(InputError, match="Did you mean rosenbrock"):
        make_problem("rosenbrok")
    with pytest.raises(InputError, match="Accepted keywords"):
        make_problem("rosenbrock", dim=3)
    with pytest.raises(InputError):
        make_problem("rosenbrock", d=1)
    with pytest.raises(InputError, match="noise"):
        make_problem("quadratic", noise="laplace")


def test_matrix_ls_sigma_is_the_per_sample_std_at_the_minimizer():
    m = make_problem("matrix-ls", m=6, n=4, N=40, batch=5)
    c = m.constants()
    Xs = np.linalg.lstsq(m.A, m.B, rcond=None)[0]
    rng = np.random.default_rng(0)
    draws = np.array([m.stoch_grad([Xs], rng)[0] for _ in range(4000)])
    measured = np.sqrt(np.sum(draws.var(axis=0)) * m.batch)
    print(f"sigma exact {c['sigma']:.4g}, sampled {measured:.4g}")
    assert abs(measured - c["sigma"]) < 0.05 * c["sigma"]


@pytest.mark.parametrize("name,kw", [("rosenbrock", dict(d=3, sigma=0.2)), ("quadratic", dict(d=5, sigma=0.1))])
def test_R_bounds_gradients_in_the_box(name, kw):
    p = make_problem(name, **kw)
    R = p.constants()["R"]
    rng = np.random.default_rng(0)
    B = float(np.max(np.abs(p.x0()[0])))
    worst = max(float(np.max(np.abs(p.stoch_grad([rng.uniform(-B, B, p.d)], rng)[0]))) for _ in range(300))
    assert worst <= R
    assert make_problem(name, **{**kw, "noise": "gaussian"}).constants()["R"] is None
