r"""Quantized Muon (exact polar factor): the convergence bound, derived in named, checked steps.

Geometry: spectral/nuclear smoothness, ||grad f(X) - grad f(Y)||_* <= L ||X - Y||_op (MATH.md anchor),
so f(Y) <= f(X) + <grad f(X), Y - X> + L/2 ||Y - X||_op^2.  The bound is on the nuclear norm.

Model (W in R^{m x n}, r = min(m, n), C_0 = 0, t = 1..T; momentum in EMA form, which gives the same
polar factor as M_t = beta M_{t-1} + G_t because the polar factor is scale invariant and the
quantizers are relative):

    What_{t-1} = Q_W(W_{t-1})                       entrywise |Q_W(w) - w| <= q_W |w|
    g_t = grad f(What_{t-1}) + xi_t                 E[xi_t | past] = 0, E||xi_t||_F^2 <= sigma^2/B
    G_t = Q_G(g_t)                                  entrywise relative error <= q_G
    C_t = Q_M(beta C_{t-1} + (1 - beta) G_t)        entrywise relative error <= q_M
    W_t = W_{t-1} - eta O_t,   O_t = U_t V_t^T the exact polar factor of C_t (||O_t||_op = 1, ||O_t||_F <= sqrt r)

Premises: f >= f_*, Delta = f(W_0) - f_*; spectral smoothness L; unbiased stochastic gradients
with variance sigma^2/B (at every point, in particular at What); ||W_0||_F <= W0 (extra symbol).

Result (every step checked):

    (1/T) sum_t E||grad f(W_{t-1})||_* <= Delta/(T eta) + L eta/2 + 2 beta L eta/(1 - beta)
        + (2 sigma sqrt r/sqrt B) sqrt((1 - beta)/(1 + beta)) + 2 beta sqrt(2 L Delta)/(T (1 - beta))
        + 2 L q_W Xw + 2 sqrt(r) q_G Gg + 2 sqrt(r) q_M (1 + q_G) Gg/(1 - beta (1 + q_M)),
    Xw = W0 + sqrt(r) eta T   (bound on ||W_t||_F),
    Gg = sqrt(2 L Delta) + L eta T + L q_W Xw + sigma/sqrt(B)   (bound on E||g_t||_F),
    condition beta (1 + q_M) < 1.

The last term contains the reviewer's factor:  q_M/(1 - beta(1+q_M)) = q_M + (1 + q_M) q_M beta/(1 - beta(1+q_M)).
With q = 0 this is the MATH.md anchor except that the momentum-initialisation term has
sqrt(2 L Delta) where the anchor has sqrt(2 r L Delta): in the spectral geometry
||grad f(W_0)||_*^2 <= 2 L Delta directly (minimise the quadratic upper bound along the polar
factor), so ours is smaller by the factor sqrt(r); the anchor's sqrt(r) is what one gets by passing
through the Frobenius norm.  SymPy proves anchor - ours = 2 beta sqrt(2 L Delta)(sqrt r - 1)/(T(1 - beta)) >= 0.
"""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
import sympy as sp

from qbound.bounds.derivation import (Check, Derivation, Premise, Step, check_identity, check_nonnegative,
                               check_sampled, log_uniform)

T = sp.Symbol("T", positive=True)
eta = sp.Symbol("eta", positive=True)
beta = sp.Symbol("beta", positive=True)
L = sp.Symbol("L", positive=True)
sigma = sp.Symbol("sigma", nonnegative=True)
B = sp.Symbol("B", positive=True)
r = sp.Symbol("r", positive=True)
Delta = sp.Symbol("Delta", positive=True)
q_W, q_G, q_M = (sp.Symbol(n, nonnegative=True) for n in ("q_W", "q_G", "q_M"))
W0 = sp.Symbol("W0", nonnegative=True)

SYMBOLS = {s.name: s for s in (T, eta, beta, L, sigma, B, r, Delta, q_W, q_G, q_M, W0)}
QSYMS = {"W": q_W, "G": q_G, "M": q_M}
Q0 = {q_W: 0, q_G: 0, q_M: 0}

Xw = W0 + sp.sqrt(r) * eta * T
Gg = sp.sqrt(2 * L * Delta) + L * eta * T + L * q_W * Xw + sigma / sp.sqrt(B)
REVIEWER_FACTOR = q_M * beta / (1 - beta * (1 + q_M))

TERMS = {
    "init": Delta / (T * eta),
    "curvature": L * eta / 2,
    "momentum_lag": 2 * beta * L * eta / (1 - beta),
    "noise": 2 * sigma * sp.sqrt(r) / sp.sqrt(B) * sp.sqrt((1 - beta) / (1 + beta)),
    "momentum_init": 2 * beta * sp.sqrt(2 * L * Delta) / (T * (1 - beta)),
    "bias_W": 2 * L * q_W * Xw,
    "bias_G": 2 * sp.sqrt(r) * q_G * Gg,
    "quant_M": 2 * sp.sqrt(r) * q_M * (1 + q_G) * Gg / (1 - beta * (1 + q_M)),
}
BOUND = sp.Add(*TERMS.values())
CONDITIONS = [sp.StrictLessThan(beta * (1 + q_M), 1), sp.StrictLessThan(beta, 1), sp.GreaterThan(r, 1)]

ANCHOR = (Delta / (T * eta) + L * eta / 2 + 2 * beta * L * eta / (1 - beta)
          + 2 * sigma * sp.sqrt(r) / sp.sqrt(B) * sp.sqrt((1 - beta) / (1 + beta))
          + 2 * beta * sp.sqrt(2 * r * L * Delta) / (T * (1 - beta)))

PREMISES = [
    Premise("lower_bound", "f(W) >= f_* for all W; Delta = f(W_0) - f_*"),
    Premise("smoothness", "||grad f(X) - grad f(Y)||_* <= L ||X - Y||_op (spectral/nuclear geometry), hence "
            "f(Y) <= f(X) + <grad f(X), Y - X> + L/2 ||Y - X||_op^2"),
    Premise("variance", "E[xi_t | past] = 0 and E[||xi_t||_F^2 | past] <= sigma^2/B, at every point (batch B)"),
    Premise("bounded_init", "||W_0||_F <= W0"),
    Premise("norms", "||X||_* <= sqrt(r) ||X||_F, ||X||_op <= ||X||_F, <X, Y> <= ||X||_* ||Y||_op (r = min(m, n))"),
    Premise("round.W", "entrywise |Q_W(w) - w| <= q_W |w| (normal range), gradient at Q_W(W_{t-1}), master W_t exact", "rounding"),
    Premise("round.G", "entrywise |Q_G(g) - g| <= q_G |g| (normal range), no unbiasedness assumed", "rounding"),
    Premise("round.M", "entrywise |Q_M(y) - y| <= q_M |y| for y = beta C_{t-1} + (1-beta) G_t (normal range)", "rounding"),
]


def _mp():
    import mpmath
    return mpmath


def _sample_q(rng, n, hi=0.25):
    q = rng.uniform(0, hi, n)
    q[rng.random(n) < 0.1] = 0.0
    q[rng.random(n) < 0.1] = hi
    return q


def check_momentum_envelope(n=10_000, seed=11, steps=30, dim=4, **kw) -> Check:
    """||C_t||_F <= env_t := (1+q_M)(beta env_{t-1} + (1-beta)||G_t||_F), and, if ||G_k||_F <= 1,
    ||beta C_{t-1} + (1-beta) G_t||_F <= (1-beta)/(1-beta(1+q_M)) when beta(1+q_M) < 1."""
    def sampler(rng, N):
        q = _sample_q(rng, N)
        b = rng.uniform(0, 1, N) / (1 + q)
        G = rng.normal(size=(N, steps, dim)); G /= np.maximum(np.linalg.norm(G, axis=2, keepdims=True), 1.0)
        return {"b": b, "q": q, "G": G.reshape(N, -1), "u": rng.uniform(-1, 1, (N, steps * dim))}

    def run(p, xp):
        b, q = p["b"], p["q"]
        C = [0 * b for _ in range(dim)]; env = 0 * b; worst = None
        for t in range(steps):
            G = [p["G"][t * dim + j] for j in range(dim)]
            Y = [b * C[j] + (1 - b) * G[j] for j in range(dim)]
            C = [(1 + p["u"][t * dim + j] * q) * Y[j] for j in range(dim)]
            env = (1 + q) * (b * env + (1 - b) * xp["sqrt"](sum(x * x for x in G)))
            nC = xp["sqrt"](sum(x * x for x in C)); nY = xp["sqrt"](sum(x * x for x in Y))
            capY = (1 - b) / (1 - b * (1 + q))
            m = xp["min"]((env - nC) / xp["max"](env, 1e-300), (capY - nY) / capY)
            worst = m if worst is None else xp["min"](worst, m)
        return worst

    def mf(p):
        pp = {"b": p["b"], "q": p["q"], "G": [p["G"][:, i] for i in range(steps * dim)], "u": [p["u"][:, i] for i in range(steps * dim)]}
        return run(pp, {"sqrt": np.sqrt, "min": np.minimum, "max": np.maximum})

    def me(pt):
        mp = _mp()
        pp = {k: ([mp.mpf(x) for x in v] if isinstance(v, list) else mp.mpf(v)) for k, v in pt.items()}
        return run(pp, {"sqrt": mp.sqrt, "min": min, "max": lambda a, b_: a if a > b_ else mp.mpf(b_)})

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="quantized momentum envelope, effective decay beta(1+q_M)", **kw)


def check_error_recursion(n=10_000, seed=12, steps=25, dim=3, **kw) -> Check:
    """Pathwise: with E_t = C_t - grad_{t-1}, C_t = Q(beta C_{t-1} + (1-beta)(grad_{t-1} + xi_t + b_t)),
    ||grad_t - grad_{t-1}|| <= L eta, ||b_t|| <= bbar, ||G_t|| <= Gam:
    ||E_t|| <= beta^t ||grad_0|| + L eta beta (1 - beta^(t-1))/(1 - beta) + (1-beta)||sum_k beta^(t-k) xi_k||
               + bbar + q_M Gam/(1 - beta(1+q_M))   (l2 norms; the nuclear version multiplies by sqrt r)."""
    def sampler(rng, N):
        q = _sample_q(rng, N, 0.2)
        b = rng.uniform(0, 1, N) / (1 + q) * 0.999
        Leta = log_uniform(rng, 1e-3, 1, N)
        step = rng.normal(size=(N, steps + 1, dim)); step /= np.linalg.norm(step, axis=2, keepdims=True)
        step *= rng.uniform(0, 1, (N, steps + 1, 1)) * Leta[:, None, None]
        grads = np.cumsum(step, axis=1) + rng.normal(size=(N, 1, dim))
        xi = rng.normal(size=(N, steps, dim)) * log_uniform(rng, 1e-3, 1, N)[:, None, None]
        bb = rng.normal(size=(N, steps, dim)); bb /= np.linalg.norm(bb, axis=2, keepdims=True)
        bbar = log_uniform(rng, 1e-4, 1, N)
        bb *= rng.uniform(0, 1, (N, steps, 1)) * bbar[:, None, None]
        return {"q": q, "b": b, "Leta": Leta, "bbar": bbar, "grads": grads.reshape(N, -1), "xi": xi.reshape(N, -1),
                "bb": bb.reshape(N, -1), "u": rng.uniform(-1, 1, (N, steps * dim))}

    def run(p, xp):
        q, b = p["q"], p["b"]
        gr = lambda t: [p["grads"][t * dim + j] for j in range(dim)]  # noqa: E731
        C = [0 * b for _ in range(dim)]
        Gs = []
        Cs = []
        noise = [0 * b for _ in range(dim)]
        norm = lambda v: xp["sqrt"](sum(x * x for x in v))  # noqa: E731
        for t in range(1, steps + 1):
            g = gr(t - 1)
            G = [g[j] + p["xi"][(t - 1) * dim + j] + p["bb"][(t - 1) * dim + j] for j in range(dim)]
            Gs.append(norm(G))
            C = [(1 + p["u"][(t - 1) * dim + j] * q) * (b * C[j] + (1 - b) * G[j]) for j in range(dim)]
            Cs.append(C)
        Gam = Gs[0]
        for x in Gs[1:]:
            Gam = xp["max"](Gam, x)
        worst = None
        for t in range(1, steps + 1):
            noise = [b * noise[j] + p["xi"][(t - 1) * dim + j] for j in range(dim)]
            E = [Cs[t - 1][j] - gr(t - 1)[j] for j in range(dim)]
            rhs = (b ** t * norm(gr(0)) + p["Leta"] * b * (1 - b ** (t - 1)) / (1 - b) + (1 - b) * norm(noise)
                   + p["bbar"] + q * Gam / (1 - b * (1 + q)))
            m = (rhs - norm(E)) / rhs
            worst = m if worst is None else xp["min"](worst, m)
        return worst

    def mf(p):
        pp = {k: ([v[:, i] for i in range(v.shape[1])] if v.ndim > 1 else v) for k, v in p.items()}
        return run(pp, {"sqrt": np.sqrt, "min": np.minimum, "max": np.maximum})

    def me(pt):
        mp = _mp()
        pp = {k: ([mp.mpf(x) for x in v] if isinstance(v, list) else mp.mpf(v)) for k, v in pt.items()}
        return run(pp, {"sqrt": mp.sqrt, "min": min, "max": max})

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="momentum-error recursion with quantized momentum, pathwise", **kw)


def _polar(Cm):
    U, s, Vt = np.linalg.svd(Cm, full_matrices=False)
    return U @ Vt, s


def check_polar_descent(n=10_000, seed=13, shape=(3, 2), **kw) -> Check:
    """For O = polar(C): <G, O> >= ||G||_* - 2||C - G||_*, ||O||_op = 1, ||O||_F <= sqrt(r)."""
    m_, n_ = shape
    r_ = min(shape)

    def sampler(rng, N):
        G = rng.normal(size=(N, m_, n_)) * log_uniform(rng, 1e-3, 1e3, N)[:, None, None]
        E = rng.normal(size=(N, m_, n_)) * log_uniform(rng, 1e-3, 1e3, N)[:, None, None]
        return {"G": G.reshape(N, -1), "E": E.reshape(N, -1)}

    def mf(p):
        G = p["G"].reshape(-1, m_, n_); Cm = G + p["E"].reshape(-1, m_, n_)
        U, s, Vt = np.linalg.svd(Cm, full_matrices=False)
        O = U @ Vt
        inner = np.einsum("nij,nij->n", G, O)
        nucG = np.linalg.svd(G, compute_uv=False).sum(1); nucE = np.linalg.svd(Cm - G, compute_uv=False).sum(1)
        scale = nucG + nucE
        fro = np.linalg.norm(O, axis=(1, 2))
        return np.minimum((inner - nucG + 2 * nucE) / scale, (np.sqrt(r_) * (1 + 1e-12) - fro))

    def me(pt):
        mp = _mp()
        G = mp.matrix(m_, n_); Cm = mp.matrix(m_, n_)
        for i in range(m_):
            for j in range(n_):
                G[i, j] = mp.mpf(pt["G"][i * n_ + j]); Cm[i, j] = G[i, j] + mp.mpf(pt["E"][i * n_ + j])
        U, S, V = mp.svd_r(Cm)
        O = U * V  # svd_r returns U (m x r), S, V (r x n) for the thin SVD
        inner = sum(G[i, j] * O[i, j] for i in range(m_) for j in range(n_))
        nucG = sum(mp.svd_r(G, compute_uv=False)); nucE = sum(mp.svd_r(Cm - G, compute_uv=False))
        fro = mp.sqrt(sum(O[i, j] ** 2 for i in range(m_) for j in range(n_)))
        return min((inner - nucG + 2 * nucE) / (nucG + nucE), mp.sqrt(r_) - fro)

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail=f"random {m_}x{n_} matrices, exact polar factor via SVD", **kw)


def muon_states(fmt_name, rounding, *, steps=150, shape=(8, 4), beta_=0.95, seed=0):
    """Quantized momentum C_t = Q_M(beta C_{t-1} + (1-beta) Q_G(g_t)) on random fixed-sign matrices."""
    from qbound.numeric.formats import get_format
    from qbound.numeric.rounding import quantize
    fmt = get_format(fmt_name)
    rng = np.random.default_rng(seed)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    C = np.zeros(shape); out = {"G": [], "C": [], "Y": []}
    for _ in range(steps):
        G = quantize(sign * rng.uniform(0.125, 1.0, shape), fmt, rounding, rng=rng)
        Y = beta_ * C + (1 - beta_) * G
        C = quantize(Y, fmt, rounding, rng=rng)
        out["G"].append(G); out["C"].append(C); out["Y"].append(Y)
    return {k: np.array(v) for k, v in out.items()} | {"q": float(fmt.rel_error_bound(rounding)),
                                                          "min_normal": float(fmt.min_normal), "beta": beta_}


def check_momentum_trajectory(plans=(("bf16", "rne"), ("fp8_e4m3fn", "rne"), ("fp8_e5m2", "sr"), ("bf16", "rtz")),
                              steps=150, seed=0) -> Check:
    t0 = time.perf_counter()
    worst = np.inf; fails = []; outside = 0; total = 0
    for fmt_name, rnd in plans:
        st = muon_states(fmt_name, rnd, steps=steps, seed=seed)
        q, b = st["q"], st["beta"]
        outside += int((np.abs(st["Y"]) < st["min_normal"]).sum()); total += st["Y"].size
        env = 0.0
        for t in range(steps):
            env = (1 + q) * (b * env + (1 - b) * np.linalg.norm(st["G"][t]))
            m = (env * (1 + 1e-12) - np.linalg.norm(st["C"][t])) / env
            worst = min(worst, m)
            if m < 0:
                fails.append((fmt_name, rnd, t))
    return Check("trajectory", "passed" if not fails else "failed", float(worst), total, time.perf_counter() - t0,
                 f"{len(plans)} plans, {steps} steps of 8x4 matrices via numeric.rounding.quantize; "
                 f"entries outside the normal range before rounding: {outside}/{total}" + (f"; FAILED e.g. {fails[0]}" if fails else ""))


def build_steps(n: int = 10_000, exact_all: bool = False, trajectory: bool = True) -> list:
    kw = {"n": n, "exact_all": exact_all}
    steps = []
    k = sp.Symbol("k", integer=True, nonnegative=True)
    nn = sp.Symbol("n", integer=True, positive=True)
    bh = beta * (1 + q_M)
    geo = sp.summation(bh ** k, (k, 0, nn - 1))
    geo = geo.args[-1][0] if isinstance(geo, sp.Piecewise) else geo
    checks = [check_identity(geo, (1 - bh ** nn) / (1 - bh), "geometric sum with effective decay beta(1+q_M)"),
              check_identity(q_M * (1 + q_G) * (1 - beta) * (bh / (1 - bh) + 1), q_M * (1 + q_G) * (1 - beta) / (1 - bh),
                             "beta||C_{t-1}|| + (1-beta)||G_t|| <= (1-beta) Gam [beta(1+q_M)/(1-beta(1+q_M)) + 1] = (1-beta)Gam/(1-beta(1+q_M))"),
              check_momentum_envelope(**kw)]
    if trajectory:
        checks.append(check_momentum_trajectory())
    steps.append(Step("envelope.momentum", "E||C_t||_F <= (1+q_M)(1-beta) Gam/(1-beta(1+q_M)), Gam = (1+q_G) Gg >= E||G_t||_F; "
                      "the rounding error of C_t is <= q_M (1-beta) Gam/(1-beta(1+q_M)) in Frobenius norm", checks,
                      uses=("round.M", "round.G")))
    s_ = sp.Symbol("s", positive=True)
    g_ = sp.Symbol("g", positive=True)
    fW = sp.Symbol("fW", real=True)
    steps.append(Step("envelope.gradient", "||grad f(W_0)||_*^2 <= 2 L Delta (f_* <= f(W_0 - (g/L) O) <= f(W_0) - g^2/(2L), g = ||grad f(W_0)||_*); "
                      "||grad f(W_t)||_* <= sqrt(2 L Delta) + L eta t; E||g_t||_F <= Gg",
                      [check_identity((fW - g_ * s_ + L * s_ ** 2 / 2).subs(s_, g_ / L), fW - g_ ** 2 / (2 * L),
                                      "value of the quadratic upper bound at the step g/L")],
                      uses=("smoothness", "lower_bound", "variance", "round.W", "norms")))
    steps.append(Step("envelope.weights", "||W_t||_F <= W0 + eta sqrt(r) t <= Xw (||O_t||_F <= sqrt r); ||What - W||_F <= q_W Xw",
                      [check_polar_descent(**kw)], uses=("bounded_init", "round.W")))
    steps.append(Step("descent.per_step", "f(W_t) <= f(W_{t-1}) - eta||grad f(W_{t-1})||_* + 2 eta ||E_t||_* + L eta^2/2, "
                      "E_t = C_t - grad f(W_{t-1}), using <G, polar(C)> >= ||G||_* - 2||C - G||_*",
                      [check_polar_descent(seed=14, shape=(2, 3), **kw)], uses=("smoothness",)))
    tt = sp.Symbol("t", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, nonnegative=True)
    noise_sum = sp.summation(beta ** (2 * j), (j, 0, tt - 1))
    noise_sum = noise_sum.args[-1][0] if isinstance(noise_sum, sp.Piecewise) else noise_sum
    steps.append(Step("lemma.noise", "(1-beta) E||sum_k beta^(t-k) xi_k||_* <= sqrt(r)(1-beta) sigma/sqrt(B(1-beta^2)) = (sigma sqrt r/sqrt B) sqrt((1-beta)/(1+beta))",
                      [check_identity(noise_sum, (1 - beta ** (2 * tt)) / (1 - beta ** 2), "sum of beta^(2j)"),
                       check_identity((1 - beta) ** 2 / (1 - beta ** 2), (1 - beta) / (1 + beta), "(1-beta)^2/(1-beta^2) = (1-beta)/(1+beta)")],
                      uses=("variance", "norms")))
    steps.append(Step("lemma.error_recursion", "||E_t||_* <= beta^t sqrt(2 L Delta) + L eta beta/(1-beta) + (1-beta)||sum beta^(t-k) xi_k||_* "
                      "+ L q_W Xw + sqrt(r) q_G Gg + sqrt(r) q_M (1+q_G) Gg/(1 - beta(1+q_M))",
                      [check_error_recursion(**kw)], uses=("envelope.momentum", "envelope.gradient", "envelope.weights", "smoothness")))
    # telescoping: (1/T) sum ||grad||_* <= Delta/(T eta) + L eta/2 + (2/T) sum E||E_t||_*
    sum_err = (2 * beta * sp.sqrt(2 * L * Delta) / (T * (1 - beta)) + 2 * L * eta * beta / (1 - beta)
               + 2 * sigma * sp.sqrt(r) / sp.sqrt(B) * sp.sqrt((1 - beta) / (1 + beta))
               + 2 * (L * q_W * Xw + sp.sqrt(r) * q_G * Gg) + 2 * sp.sqrt(r) * q_M * (1 + q_G) * Gg / (1 - beta * (1 + q_M)))
    assembled = Delta / (T * eta) + L * eta / 2 + sum_err
    rr = sp.Symbol("rr", positive=True)
    tb = sp.Symbol("tb", positive=True)
    diff = (ANCHOR - BOUND.subs(Q0)).subs(r, (1 + rr) ** 2).subs(beta, 1 / (1 + tb))
    steps.append(Step("telescope", "sum the per-step inequality over t = 1..T, use sum_t beta^t <= beta/(1-beta), divide by eta T",
                      [check_identity(assembled, BOUND, "assembled sum equals the closed form", atoms={Gg: sp.Symbol("Gg_")}),
                       check_nonnegative(diff, detail="q=0: anchor - ours = 2 beta sqrt(2 L Delta)(sqrt r - 1)/(T(1-beta)) >= 0 (r = (1+rr)^2, beta = 1/(1+tb))"),
                       check_identity(ANCHOR - BOUND.subs(Q0), 2 * beta * sp.sqrt(2 * L * Delta) * (sp.sqrt(r) - 1) / (T * (1 - beta)),
                                      "q=0 difference to the MATH.md anchor, exactly")],
                      relation=BOUND, uses=("descent.per_step", "lemma.error_recursion", "lemma.noise", "lower_bound")))
    steps.append(Step("reviewer.factor", "q_M/(1 - beta(1+q_M)) = q_M + (1+q_M) * [q_M beta/(1 - beta(1+q_M))]: the reviewer's factor appears",
                      [check_identity(q_M / (1 - beta * (1 + q_M)), q_M + (1 + q_M) * REVIEWER_FACTOR, "decomposition of the Q_M term")]))
    return steps


def reviewer_limit() -> dict:
    """SymPy's limit of q_M beta/(1 - beta(1+q_M)) under q_M = c1 T^-1/2, 1 - beta = c2 T^-1/2 (c2 > c1),
    and of the whole Q_M term of the bound under the anchor's eta = a T^-3/4."""
    c1, c2, dd, a = sp.symbols("c1 c2 delta a", positive=True)
    sub = {q_M: c1 / sp.sqrt(T), beta: 1 - c2 / sp.sqrt(T)}
    lim = sp.limit(REVIEWER_FACTOR.subs(sub).subs(c2, c1 + dd), T, sp.oo)
    lim = sp.simplify(lim.subs(dd, c2 - c1))
    qterm = TERMS["quant_M"].subs({q_G: 0, q_W: 0}).subs(sub).subs(eta, a * T ** sp.Rational(-3, 4)).subs(c2, c1 + dd)
    lim_term = sp.limit(qterm, T, sp.oo)
    lim_k1 = sp.limit(TERMS["quant_M"].subs({q_G: 0, q_W: 0}).subs({q_M: c1 / T, beta: 1 - c2 / sp.sqrt(T), eta: a * T ** sp.Rational(-3, 4)}), T, sp.oo)
    return {"factor": "q_M*beta/(1 - beta*(1 + q_M))", "scaling": "q_M = c1*T**(-1/2), 1 - beta = c2*T**(-1/2), c2 > c1",
            "limit_factor": str(lim), "limit_quant_M_term": str(lim_term),
            "limit_quant_M_term_with_q_M=c1/T": str(lim_k1),
            "appears_in_bound": True}


@lru_cache(maxsize=4)
def _derive_cached(n: int, exact_all: bool, trajectory: bool) -> Derivation:
    t0 = time.perf_counter()
    steps = build_steps(n=n, exact_all=exact_all, trajectory=trajectory)
    der = Derivation(name="muon", symbols=dict(SYMBOLS), premises=list(PREMISES), steps=steps, bound=BOUND,
                     conditions=list(CONDITIONS), terms=dict(TERMS), prefactor=sp.Integer(1),
                     extras={"Xw": Xw, "Gg": Gg, "reviewer_factor": REVIEWER_FACTOR, "anchor": ANCHOR},
                     notes=["geometry: spectral smoothness, bound on (1/T) sum E||grad f(W_{t-1})||_* (nuclear norm)",
                            "W0 (bound on ||W_0||_F) is an extra symbol: the gradient at Q_W(W) needs ||W_t||_F",
                            "q=0: equals the anchor except sqrt(2 L Delta) for sqrt(2 r L Delta) in the momentum-initialisation term (ours is smaller)"])
    der.reductions = {"q=0": {"anchor": "Kim & Oh exact-polar Muon bound (MATH.md section 2)",
                              "difference_anchor_minus_ours": str(sp.simplify(ANCHOR - BOUND.subs(Q0))),
                              "result": "equal except the momentum-initialisation term: sqrt(2 L Delta) here vs "
                                        "sqrt(2 r L Delta) in the anchor (ours is smaller by sqrt r; equal when r = 1)",
                              "anchor_expr": str(ANCHOR)},
                      "frobenius": "under Frobenius smoothness L_F the same bound holds with L = r L_F "
                                   "(||grad f(X) - grad f(Y)||_* <= sqrt(r) L_F ||X-Y||_F <= r L_F ||X-Y||_op)"}
    der.seconds = time.perf_counter() - t0
    return der


def derive(n: int = 10_000, exact_all: bool = False, trajectory: bool = True) -> Derivation:
    return _derive_cached(n, exact_all, trajectory)
