r"""Quantized Adam (Défossez form): the convergence bound, derived in named, checked steps.

Model (per coordinate i, m_0 = v_0 = 0, t = 1..T, master weights x_t in full precision):

    h_t = grad f_t(Q_W(x_{t-1}))             stochastic gradient at the *quantized* weights
    g_t = Q_G(h_t) = (1 + gamma_t) h_t       |gamma_t| <= q_G
    m_t = Q_M(beta1 m_{t-1} + g_t)           = (1 + mu_t)(beta1 m_{t-1} + g_t),  |mu_t| <= q_M
    v_t = Q_V(beta2 v_{t-1} + g_t^2)         = (1 + nu_t)(beta2 v_{t-1} + g_t^2), |nu_t| <= q_V
    x_t = x_{t-1} - alpha_t m_t / sqrt(eps + v_t),  alpha_t = alpha (1 - beta1) sqrt((1 - beta2^t)/(1 - beta2))

Premises: F >= F_*, Delta = F(x_0) - F_*; ||grad f(x)||_inf <= R - sqrt(eps) a.s. at every x
(R >= sqrt(eps)); grad F is L-Lipschitz in l2; E[grad f_t(y) | past] = grad F(y); ||x_0||_2 <= X0;
the rounding premises |Q_X(x) - x| <= q_X |x| (normal range, no underflow/overflow).

Notation used throughout:  Rh = (1 + q_G) R  (so |g| <= Rh - sqrt(eps)),
rho = (1 + q_G)(1 + q_M) - 1, kappa = ((1 + q_G)(1 + q_M)/sqrt(1 - q_V) - 1)/(1 - q_G),
C = 2 Rh (1 + q_V)/(1 - q_G)^2  (the constants proved in bounds.adam_proof),
Gamma^2 = min((1 + q_V)^(T-1), 1/(1 - beta2 (1 + q_V)) [if beta2 (1 + q_V) < 1]),
Vmax = Rh^2 min((1 + q_V)^T/(1 - beta2), (1 + q_V)/(1 - beta2 (1 + q_V)) [if beta2 (1 + q_V) < 1]),
Lambda = ln(1 + Vmax/eps)/T - ln(beta2 (1 - q_V)).

Result for beta1 = 0 (fully derived here; every step checked): tau uniform on {0..T-1},

    E||grad F(x_tau)||^2 <= Gamma [ 2 Rh Delta/(alpha T)
        + 2 Rh R d kappa/sqrt(1 - beta2)                                     (G, M, V bias)
        + 2 Rh sqrt(d) L q_W X U0/sqrt(1 - beta2)                             (gradient at Q_W(x), through the step)
        + 2 sqrt(d) R L q_W X                                                (||G||^2 vs ||Ghat||^2)
        + (2 Rh C d/sqrt(1 - beta2) + alpha L Rh (1 + q_M)^2 d/(1 - beta2)) Lambda/(1 - q_V) ]
    X = X0 + T sqrt(d) alpha U0/sqrt(1 - beta2),  U0 = (1 + q_M)/sqrt(1 - q_V)  (growth of ||x_t||_2)

(The W term goes through the step: <G, u> = <Ghat, u> + <G - Ghat, u> with Ghat = grad F(Q_W(x)), the
descent-direction lemma applied to Ghat (E h = Ghat), |<G - Ghat, u>| <= ||G - Ghat|| ||u|| <= L q_W X sqrt(d) U0,
and ||G||^2 <= ||Ghat||^2 + 2 sqrt(d) R L q_W X at the end.  The earlier form
2 Rh R sqrt(d) L q_W X/sqrt(eps (1 - beta2)) bounded 1/sqrt(eps + vt) <= 1/sqrt(eps) inside
|G_i||G_i - Ghat_i|/sqrt(eps + vt_i): a factor R/(U0 sqrt(eps)) larger.)

which is Défossez et al.'s Theorem 2 exactly when q_W = q_G = q_M = q_V = 0.

For beta1 > 0 the full-precision momentum skeleton of Défossez et al.'s Theorem 4 is derived in
:mod:`bounds.adam_momentum` (steps ``momentum.*``: unrolling, the lag lemma with the v-tilde
trick, the gradient gap via smoothness, the ratio facts, the geometric sums, the tau weights and
N~, the assembly), giving a bound BOUND_M0 that is <= Theorem 4 term by term (step
``momentum.vs_thm4``; constants 6 vs 12 on the R^2 term and sqrt(1+beta1)/2 vs 2 on the L^2
term).  So at q = 0 the bound below (which equals Theorem 4 exactly there, checked) is derived.
The beta1 > 0 bound of the API is not the Thm 4 form with quantized ingredients defined below
(BOUND1, kept for comparison only) but the fully derived quantized momentum bound
bounds.adam_momentum.BOUND_MQ, which bounds.adam returns; no premise is cited.
"""

# The symbols, bound expressions and checks of the Adam derivation.  The assembly of the steps
# (build_steps, derive) lives in qbound.bounds.adam, above qbound.bounds.adam_momentum, which builds
# on this module; qbound.bounds.adam re-exports every name defined here.
from __future__ import annotations

import math
import time

import numpy as np
import sympy as sp

from qbound.bounds.derivation import sample_q
from qbound.bounds.derivation import Check, Premise, check_sampled, log_uniform
from qbound.bounds.evaluate import DEFAULTS, _mp_function, _numeric_relation, evaluate_expr

# ------------------------------------------------------------------------------------------
# symbols (names fixed by the issue; X0 = bound on ||x_0||_2 is ours)

T = sp.Symbol("T", positive=True)
alpha = sp.Symbol("alpha", positive=True)
beta1 = sp.Symbol("beta1", nonnegative=True)
beta2 = sp.Symbol("beta2", positive=True)
eps = sp.Symbol("eps", positive=True)
R = sp.Symbol("R", positive=True)
L = sp.Symbol("L", positive=True)
d = sp.Symbol("d", positive=True)
Delta = sp.Symbol("Delta", positive=True)
q_W, q_G, q_M, q_V = (sp.Symbol(n, nonnegative=True) for n in ("q_W", "q_G", "q_M", "q_V"))
X0 = sp.Symbol("X0", nonnegative=True)
# the problem's box, where one is assumed: ||x_t||_inf <= Bx for every iterate t <= T (premise "box");
# Bx = oo (the default of every evaluation, bounds.evaluate.DEFAULTS) means no box, and then
# Min(drift, sqrt(d) Bx) = drift
Bx = sp.Symbol("Bx", positive=True)

SYMBOLS = {s.name: s for s in (T, alpha, beta1, beta2, eps, R, L, d, Delta, q_W, q_G, q_M, q_V, X0, Bx)}
QSYMS = {"W": q_W, "G": q_G, "M": q_M, "V": q_V}
Q0 = {q_W: 0, q_G: 0, q_M: 0, q_V: 0}

# ------------------------------------------------------------------------------------------
# building blocks

Rh = (1 + q_G) * R
rho = (1 + q_G) * (1 + q_M) - 1
# the constants the proof (bounds.adam_proof, lemma.descent_direction_q) produces: 0 and 2R at q = 0
kappa = ((1 + q_G) * (1 + q_M) / sp.sqrt(1 - q_V) - 1) / (1 - q_G)
Cq = 2 * Rh * (1 + q_V) / (1 - q_G) ** 2
bhat2 = beta2 * (1 + q_V)  # upper effective decay of v
bchk2 = beta2 * (1 - q_V)  # lower effective decay of v
bhat1 = beta1 * (1 + q_M)  # upper effective decay of m
_branchB = sp.Piecewise((1 / (1 - bhat2), bhat2 < 1), (sp.oo, True))
Gamma2 = sp.Min((1 + q_V) ** (T - 1), _branchB)
Gamma = sp.sqrt(Gamma2)
Vmax = Rh ** 2 * sp.Min((1 + q_V) ** T / (1 - beta2),
                        sp.Piecewise(((1 + q_V) / (1 - bhat2), bhat2 < 1), (sp.oo, True)))
Lam = sp.log(1 + Vmax / eps) / T - sp.log(beta2 * (1 - q_V))

# beta1 = 0
U0 = (1 + q_M) / sp.sqrt(1 - q_V)  # |m_t| / sqrt(eps + v_t) <= U0
X_0_drift = X0 + T * sp.sqrt(d) * alpha * U0 / sp.sqrt(1 - beta2)   # ||x_t||_2 by the triangle inequality
X_0 = sp.Min(X_0_drift, sp.sqrt(d) * Bx)                               # or by the box: ||x||_2 <= sqrt(d) ||x||_inf
TERMS0 = {
    "init": 2 * Rh * Delta / (alpha * T),
    "bias_GMV": 2 * Rh * R * d * kappa / sp.sqrt(1 - beta2),
    # the gradient at Q_W(x) paid through the step: |<G - Ghat, u>| <= L q_W X sqrt(d) U0 (Cauchy-Schwarz),
    # times alpha_t <= alpha/sqrt(1 - beta2), divided by the progress alpha/(2 Rh Gamma)
    "bias_W": 2 * Rh * sp.sqrt(d) * L * q_W * X_0 * U0 / sp.sqrt(1 - beta2),
    # ||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat> <= L q_W X 2 sqrt(d) R (inside Gamma >= 1)
    "bias_W_shift": 2 * sp.sqrt(d) * R * L * q_W * X_0,
    "ratio_direction": 2 * Rh * Cq * d / sp.sqrt(1 - beta2) * Lam / (1 - q_V),
    "ratio_curvature": alpha * L * Rh * (1 + q_M) ** 2 * d / (1 - beta2) * Lam / (1 - q_V),
}
BOUND0 = Gamma * sp.Add(*TERMS0.values())

# beta1 > 0: Thm 4 form (its q = 0 skeleton derived in bounds.adam_momentum) with the quantized ingredients
Ntil = T - beta1 / (1 - beta1)
ratio_q = 1 - beta1 / bchk2
U1 = (1 + q_M) / (sp.sqrt(1 - q_V) * (1 - bhat1 / sp.sqrt(bchk2)))
X_1_drift = X0 + T * sp.sqrt(d) * alpha * (1 - beta1) * U1 / sp.sqrt(1 - beta2)
X_1 = sp.Min(X_1_drift, sp.sqrt(d) * Bx)
_x = beta1 / sp.sqrt(bchk2)
# (1+q_M)/(1 - x(1+q_M)) - 1/(1 - x) = q_M/((1 - x)(1 - x(1+q_M))), x = beta1/sqrt(beta2(1-q_V))
KAPPA_E_RAW = ((1 + q_M) / (1 - _x * (1 + q_M)) - 1 / (1 - _x)) / sp.sqrt(1 - q_V)
kappa_e = q_M / ((1 - _x) * (1 - _x * (1 + q_M)) * sp.sqrt(1 - q_V))
phiV = (2 - q_V) / (2 * (1 - q_V))
Eq_ = (alpha * d * Rh * L * (1 - beta1) * (1 + q_M) ** 2 / (ratio_q * (1 - beta2))
       + 12 * d * Rh ** 2 * sp.sqrt(1 - beta1) * (1 + q_M) ** 2 * phiV / (ratio_q ** sp.Rational(3, 2) * sp.sqrt(1 - beta2))
       + 2 * alpha ** 2 * d * L ** 2 * beta1 * (1 + q_M) ** 2 / (ratio_q * (1 - beta2) ** sp.Rational(3, 2)))
TERMS1 = {
    "init": 2 * Rh * Delta / (alpha * Ntil),
    "bias_GMV": (T / Ntil) * 2 * Rh * R * d * (1 - beta1) * (kappa + kappa_e) / sp.sqrt(1 - beta2),
    "bias_W": (T / Ntil) * 2 * Rh * R * sp.sqrt(d) * L * q_W * (1 - beta1) * X_1 / sp.sqrt(eps * (1 - beta2)),
    "ratio": (T / Ntil) * Eq_ * Lam / (1 - q_V),
}
BOUND1 = Gamma * sp.Add(*TERMS1.values())

CONDITIONS0 = [sp.StrictLessThan(q_G, 1), sp.StrictLessThan(q_V, 1), sp.StrictLessThan(beta2, 1),
               sp.GreaterThan(R, sp.sqrt(eps))]
CONDITIONS1 = [sp.StrictLessThan(beta1 ** 2 * (1 + q_M) ** 2, beta2 * (1 - q_V)),
               sp.StrictLessThan(beta1, beta2 * (1 - q_V)),
               sp.StrictGreaterThan(T, beta1 / (1 - beta1))] + CONDITIONS0

BOUND, CONDITIONS = BOUND1, CONDITIONS1

# full-precision anchors (MATH.md section 2), N = T
_E2 = 4 * d * R ** 2 / sp.sqrt(1 - beta2) + alpha * d * R * L / (1 - beta2)
_ln = sp.log(1 + R ** 2 / ((1 - beta2) * eps)) / T - sp.log(beta2)
THM2 = 2 * R * Delta / (alpha * T) + _E2 * _ln
_E4 = (alpha * d * R * L * (1 - beta1) / ((1 - beta1 / beta2) * (1 - beta2))
       + 12 * d * R ** 2 * sp.sqrt(1 - beta1) / ((1 - beta1 / beta2) ** sp.Rational(3, 2) * sp.sqrt(1 - beta2))
       + 2 * alpha ** 2 * d * L ** 2 * beta1 / ((1 - beta1 / beta2) * (1 - beta2) ** sp.Rational(3, 2)))
THM4 = 2 * R * Delta / (alpha * Ntil) + (T / Ntil) * _E4 * _ln

PREMISES = [
    Premise("lower_bound", "F(x) >= F_* for all x; Delta = F(x_0) - F_*"),
    Premise("bounded_gradients", "||grad f(x)||_inf <= R - sqrt(eps) almost surely, at every x (R >= sqrt(eps))"),
    Premise("smoothness", "||grad F(x) - grad F(y)||_2 <= L ||x - y||_2, hence F(y) <= F(x) + <grad F(x), y - x> + L/2 ||y - x||_2^2"),
    Premise("unbiased", "E[grad f_t(y) | F_{t-1}] = grad F(y) for every F_{t-1}-measurable y (here y = Q_W(x_{t-1}))"),
    Premise("bounded_init", "||x_0||_2 <= X0"),
    Premise("box", "||x_t||_inf <= Bx for every t <= T, where the problem assumes a box (its R and L are valid there); "
                   "Bx = oo: no box, and X is the drift bound"),
    Premise("round.W", "|Q_W(x) - x| <= q_W |x| coordinatewise (normal range); gradient taken at Q_W(x_{t-1}), master x_t exact", "rounding", "numeric.formats rel_error_bound"),
    Premise("round.G", "|Q_G(g) - g| <= q_G |g| coordinatewise (normal range), no unbiasedness assumed", "rounding", "numeric.formats rel_error_bound"),
    Premise("round.M", "|Q_M(y) - y| <= q_M |y| for y = beta1 m_{t-1} + g_t (normal range)", "rounding", "numeric.formats rel_error_bound"),
    Premise("round.V", "|Q_V(y) - y| <= q_V |y| for y = beta2 v_{t-1} + g_t^2 (normal range)", "rounding", "numeric.formats rel_error_bound"),
]


# ------------------------------------------------------------------------------------------
# sampled checks (vectorized float screen + mpmath re-check)

def _mp():
    import mpmath
    return mpmath


_sample_q = sample_q  # the shared sampler of rounding rates (bounds.derivation)


def check_envelope_m(n=10_000, seed=1, steps=30, **kw) -> Check:
    """|m_t| <= (1+q_M) sum_k (beta1 (1+q_M))^(t-k) |g_k| for the perturbed recurrence, every t."""
    def sampler(rng, N):
        return {"b1": rng.uniform(0, 0.999, N), "q": _sample_q(rng, N),
                "g": rng.uniform(-1, 1, (N, steps)), "u": rng.uniform(-1, 1, (N, steps))}

    def mf(p):
        b1, q = p["b1"][:, None], p["q"][:, None]
        m = np.zeros_like(b1[:, 0]); env = np.zeros_like(m); worst = np.full(m.shape, np.inf)
        for t in range(steps):
            m = (1 + p["u"][:, t] * q[:, 0]) * (b1[:, 0] * m + p["g"][:, t])
            env = (1 + q[:, 0]) * (b1[:, 0] * env + np.abs(p["g"][:, t]))  # unrolls to the stated sum
            worst = np.minimum(worst, (env - np.abs(m)) / np.maximum(env, 1e-300))
        return worst

    def me(pt):
        mp = _mp(); b1, q = mp.mpf(pt["b1"]), mp.mpf(pt["q"]); m = mp.mpf(0); worst = mp.inf
        gs = [mp.mpf(x) for x in pt["g"]]; env = mp.mpf(0)
        for t in range(steps):
            m = (1 + mp.mpf(pt["u"][t]) * q) * (b1 * m + gs[t])
            env = (1 + q) * (b1 * env + abs(gs[t]))  # = (1+q) sum_k (b1(1+q))^(t-k) |g_k|
            worst = min(worst, (env - abs(m)) / env if env > 0 else mp.mpf(0))
        return worst

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="envelope of the quantized first moment", **kw)


def check_envelope_v(n=10_000, seed=2, steps=30, **kw) -> Check:
    """(1-q_V) sum (beta2(1-q_V))^(t-k) g_k^2 <= v_t <= (1+q_V) sum (beta2(1+q_V))^(t-k) g_k^2, and the
    upper envelope is <= Rg^2 min((1+q_V)^t S_t, (1+q_V)/(1-beta2(1+q_V)) if beta2(1+q_V) < 1)."""
    def sampler(rng, N):
        b2 = 1 - log_uniform(rng, 1e-3, 1, N)
        return {"b2": b2, "q": _sample_q(rng, N), "g": rng.uniform(-1, 1, (N, steps)), "u": rng.uniform(-1, 1, (N, steps))}

    def mf(p):
        b2, q = p["b2"], p["q"]
        v = np.zeros_like(b2); lo = np.zeros_like(b2); hi = np.zeros_like(b2); worst = np.full(b2.shape, np.inf)
        S = np.zeros_like(b2)
        for t in range(steps):
            g2 = p["g"][:, t] ** 2
            v = (1 + p["u"][:, t] * q) * (b2 * v + g2)
            lo = (1 - q) * (b2 * lo + g2)
            hi = (1 + q) * (b2 * hi + g2)
            S = b2 * S + 1
            capA = (1 + q) ** (t + 1) * S
            capB = np.where(b2 * (1 + q) < 1, (1 + q) / np.where(b2 * (1 + q) < 1, 1 - b2 * (1 + q), 1), np.inf)
            cap = np.minimum(capA, capB)
            sc = np.maximum(hi, 1e-300)
            worst = np.minimum.reduce([worst, (v - lo) / sc, (hi - v) / sc, (cap - hi) / np.maximum(cap, 1e-300)])
        return worst

    def me(pt):
        mp = _mp(); b2, q = mp.mpf(pt["b2"]), mp.mpf(pt["q"]); v = mp.mpf(0); worst = mp.inf
        g2 = [mp.mpf(x) ** 2 for x in pt["g"]]; lo = hi = S = mp.mpf(0)
        for t in range(steps):
            v = (1 + mp.mpf(pt["u"][t]) * q) * (b2 * v + g2[t])
            lo = (1 - q) * (b2 * lo + g2[t])
            hi = (1 + q) * (b2 * hi + g2[t])
            S = b2 * S + 1
            cap = (1 + q) ** (t + 1) * S
            if b2 * (1 + q) < 1:
                cap = min(cap, (1 + q) / (1 - b2 * (1 + q)))
            sc = hi if hi > 0 else mp.mpf(1)
            worst = min(worst, (v - lo) / sc, (hi - v) / sc, (cap - hi) / cap)
        return worst

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="envelopes of the quantized second moment (|g| <= 1)", **kw)


def check_update_bound(n=10_000, seed=3, steps=30, **kw) -> Check:
    """|m_t|/sqrt(eps + v_t) <= (1+q_M)/(sqrt(1-q_V)(1 - beta1(1+q_M)/sqrt(beta2(1-q_V)))) when
    beta1 (1+q_M) < sqrt(beta2 (1-q_V)) (the coupling condition)."""
    def sampler(rng, N):
        q = _sample_q(rng, N, 0.2); qv = _sample_q(rng, N, 0.2)
        b2 = 1 - log_uniform(rng, 1e-3, 0.5, N)
        cap = np.sqrt(b2 * (1 - qv)) / (1 + q)
        b1 = cap * rng.uniform(0, 0.999, N)
        b1[rng.random(N) < 0.2] = 0.0
        return {"b1": b1, "b2": b2, "qm": q, "qv": qv, "eps": log_uniform(rng, 1e-12, 1e-1, N),
                "g": rng.uniform(-1, 1, (N, steps)), "u": rng.uniform(-1, 1, (N, steps)), "w": rng.uniform(-1, 1, (N, steps))}

    def U(b1, b2, qm, qv, sqrt=np.sqrt):
        return (1 + qm) / (sqrt(1 - qv) * (1 - b1 * (1 + qm) / sqrt(b2 * (1 - qv))))

    def mf(p):
        m = np.zeros_like(p["b1"]); v = np.zeros_like(m); worst = np.full(m.shape, np.inf)
        u = U(p["b1"], p["b2"], p["qm"], p["qv"])
        for t in range(steps):
            m = (1 + p["u"][:, t] * p["qm"]) * (p["b1"] * m + p["g"][:, t])
            v = (1 + p["w"][:, t] * p["qv"]) * (p["b2"] * v + p["g"][:, t] ** 2)
            worst = np.minimum(worst, (u - np.abs(m) / np.sqrt(p["eps"] + v)) / u)
        return worst

    def me(pt):
        mp = _mp(); b1, b2, qm, qv, e = (mp.mpf(pt[k]) for k in ("b1", "b2", "qm", "qv", "eps"))
        u = U(b1, b2, qm, qv, sqrt=mp.sqrt); m = v = mp.mpf(0); worst = mp.inf
        for t in range(steps):
            g = mp.mpf(pt["g"][t])
            m = (1 + mp.mpf(pt["u"][t]) * qm) * (b1 * m + g)
            v = (1 + mp.mpf(pt["w"][t]) * qv) * (b2 * v + g * g)
            worst = min(worst, (u - abs(m) / mp.sqrt(e + v)) / u)
        return worst

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="per-coordinate update bound", **kw)


def check_sum_of_ratios(n=10_000, seed=4, steps=40, wrong: bool = False, **kw) -> Check:
    """For a_j >= 0 and b_j = (1+nu_j)(beta2 b_{j-1} + a_j), |nu_j| <= q_V:
    sum_{j<=t} a_j/(eps + b_j) <= (ln(1 + b_t/eps) - t ln(beta2 (1 - q_V)))/(1 - q_V), every t."""
    def sampler(rng, N):
        a = rng.uniform(0, 1, (N, steps)) * (rng.random((N, steps)) < 0.8)
        a *= log_uniform(rng, 1e-6, 1e2, N)[:, None]
        return {"b2": 1 - log_uniform(rng, 1e-4, 1, N) * 0.999, "q": _sample_q(rng, N, 0.5),
                "eps": log_uniform(rng, 1e-10, 1, N), "a": a, "u": rng.uniform(-1, 1, (N, steps))}

    def mf(p):
        b = np.zeros_like(p["b2"]); s = np.zeros_like(b); worst = np.full(b.shape, np.inf)
        for t in range(steps):
            b = (1 + p["u"][:, t] * p["q"]) * (p["b2"] * b + p["a"][:, t])
            s = s + p["a"][:, t] / (p["eps"] + b)
            rhs = ((np.log1p(b / p["eps"]) - (t + 1) * np.log(p["b2"])) if wrong else
                   (np.log1p(b / p["eps"]) - (t + 1) * np.log(p["b2"] * (1 - p["q"]))) / (1 - p["q"]))
            worst = np.minimum(worst, (rhs - s) / np.maximum(rhs, 1e-300))
        return worst

    def me(pt):
        mp = _mp(); b2, q, e = mp.mpf(pt["b2"]), mp.mpf(pt["q"]), mp.mpf(pt["eps"])
        b = s = mp.mpf(0); worst = mp.inf
        for t in range(steps):
            a = mp.mpf(pt["a"][t])
            b = (1 + mp.mpf(pt["u"][t]) * q) * (b2 * b + a)
            s += a / (e + b)
            rhs = ((mp.log(1 + b / e) - (t + 1) * mp.log(b2)) if wrong else
                   (mp.log(1 + b / e) - (t + 1) * mp.log(b2 * (1 - q))) / (1 - q))
            worst = min(worst, (rhs - s) / rhs)
        return worst

    return check_sampled(sampler, mf, me, n=n, seed=seed,
                         detail="quantized sum-of-ratios lemma" + (" (deliberately wrong: Défossez's q = 0 form)" if wrong else ""), **kw)


def _dd_params(rng, N, K=3):
    R_ = rng.uniform(0.5, 4, N)
    e = np.minimum(log_uniform(rng, 1e-10, 1, N), 0.8 * R_ ** 2)
    Rg = R_ - np.sqrt(e)
    h = rng.uniform(-1, 1, (N, K)) * Rg[:, None]
    sgn = rng.random(N) < 0.3  # adversarial: quantization errors aligned with sign(h)
    p = rng.dirichlet(np.ones(K), N)
    qg, qm, qv = _sample_q(rng, N), _sample_q(rng, N), _sample_q(rng, N)
    ug, um, uv = (rng.uniform(-1, 1, (N, K)) for _ in range(3))
    ug = np.where(sgn[:, None], -np.sign(h), ug)
    um = np.where(sgn[:, None], -np.sign(h), um)
    G = rng.uniform(-1, 1, N) * Rg
    vp = log_uniform(rng, 1e-6, 10, N) * R_ ** 2 * (rng.random(N) < 0.8)
    b2 = rng.uniform(0, 1, N)
    # the regime the bound is used in (the audit's miss): beta2 in 1 - [1e-7, 1e-3], v ~ R^2/(1 - beta2)
    hot = rng.random(N) < 0.3
    b2 = np.where(hot, 1 - log_uniform(rng, 1e-7, 1e-3, N), b2)
    vp = np.where(hot, R_ ** 2 / (1 - b2) * rng.uniform(0.5, 1.0, N), vp)
    return {"R": R_, "eps": e, "h": h, "p": p, "qg": qg, "qm": qm, "qv": qv, "ug": ug, "um": um, "uv": uv,
            "G": G, "vp": vp, "b2": b2}


def check_descent_direction(n=10_000, seed=5, kappa_scale: float = 1.0, c_scale: float = 1.0, **kw) -> Check:
    """Quantized descent-direction lemma (beta1 = 0), for any finite distribution of h with
    |h| <= R - sqrt(eps), Ghat = E h, g = (1+gamma) h, m = (1+mu) g, v = (1+nu)(beta2 v' + g^2),
    vt = beta2 v' + E g^2 (kappa_scale / c_scale != 1 give deliberately altered statements for tests):
        E[G m/sqrt(eps+v)] >= G^2/(2 sqrt(eps+vt)) - |G||G - Ghat|/sqrt(eps+vt) - kappa |G| - C E[g^2/(eps+v)]."""
    def parts(p, xp):
        sqrt = xp["sqrt"]; E = xp["E"]; ab = xp["abs"]
        Rh_ = (1 + p["qg"]) * p["R"]
        g = [(1 + ug * p["qg"]) * h for ug, h in zip(p["ug"], p["h"])]
        m = [(1 + um * p["qm"]) * gi for um, gi in zip(p["um"], g)]
        v = [(1 + uv * p["qv"]) * (p["b2"] * p["vp"] + gi * gi) for uv, gi in zip(p["uv"], g)]
        vt = p["b2"] * p["vp"] + E([gi * gi for gi in g])
        Ghat = E(list(p["h"]))
        G = p["G"]
        lhs = E([G * mi / sqrt(p["eps"] + vi) for mi, vi in zip(m, v)])
        rat = E([gi * gi / (p["eps"] + vi) for gi, vi in zip(g, v)])
        rho_ = (1 + p["qg"]) * (1 + p["qm"]) - 1
        kap = (((1 + p["qg"]) * (1 + p["qm"]) / sqrt(1 - p["qv"]) - 1) / (1 - p["qg"])) * kappa_scale + 0 * rho_
        C_ = 2 * Rh_ * (1 + p["qv"]) / (1 - p["qg"]) ** 2 * c_scale
        sv = sqrt(p["eps"] + vt)
        rhs = G * G / (2 * sv) - ab(G) * ab(G - Ghat) / sv - kap * ab(G) - C_ * rat
        scale = G * G / sv + ab(G) + p["R"] * rat + 1e-300
        return (lhs - rhs) / scale

    def mf(p):
        K = p["h"].shape[1]
        q = dict(p)
        for k in ("h", "ug", "um", "uv"):
            q[k] = [p[k][:, j] for j in range(K)]
        probs = [p["p"][:, j] for j in range(K)]
        xp = {"sqrt": np.sqrt, "abs": np.abs, "E": lambda xs: sum(pj * x for pj, x in zip(probs, xs))}
        return parts(q, xp)

    def me(pt):
        mp = _mp()
        q = {k: ([mp.mpf(x) for x in v] if isinstance(v, list) else mp.mpf(v)) for k, v in pt.items()}
        tot = sum(q["p"]); probs = [x / tot for x in q["p"]]  # exact normalisation of the sampled weights
        xp = {"sqrt": mp.sqrt, "abs": abs, "E": lambda xs: sum(pj * x for pj, x in zip(probs, xs))}
        return parts(q, xp)

    return check_sampled(_dd_params, mf, me, n=n, seed=seed,
                         detail="quantized descent-direction lemma on random 3-atom distributions "
                                "(30% with rounding errors aligned against sign(h))", **kw)


def check_denominator(n=10_000, seed=6, steps=30, **kw) -> Check:
    """eps + vt_t <= Rh^2 S_t Gamma_t^2 with vt_t = beta2 v_{t-1} + E g_t^2 (any E g_t^2 <= Rg^2),
    S_t = sum_{j<t} beta2^j, Gamma_t^2 = min((1+q_V)^(t-1), 1/(1-beta2(1+q_V)) if beta2(1+q_V)<1)."""
    def sampler(rng, N):
        R_ = rng.uniform(0.5, 4, N)
        e = np.minimum(log_uniform(rng, 1e-10, 1, N), 0.8 * R_ ** 2)
        return {"R": R_, "eps": e, "b2": 1 - log_uniform(rng, 1e-3, 1, N) * 0.999, "q": _sample_q(rng, N),
                "g": rng.uniform(-1, 1, (N, steps)), "u": rng.uniform(-1, 1, (N, steps)), "s": rng.uniform(0, 1, (N, steps))}

    def run(pt, xp):
        sqrt = xp["sqrt"]; Rg = pt["R"] - sqrt(pt["eps"]); Rh2 = pt["R"] ** 2
        b2, q = pt["b2"], pt["q"]
        v = 0 * b2; S = 0 * b2; worst = None
        for t in range(steps):
            S = b2 * S + 1
            vt = b2 * v + pt["s"][t] * Rg ** 2
            capA = (1 + q) ** t
            capB = xp["capB"](b2 * (1 + q))
            cap = xp["min"](capA, capB)
            lhs = pt["eps"] + vt
            rhs = Rh2 * S * cap
            mgn = (rhs - lhs) / rhs
            worst = mgn if worst is None else xp["min"](worst, mgn)
            g = pt["g"][t] * Rg
            v = (1 + pt["u"][t] * q) * (b2 * v + g * g)
        return worst

    def mf(p):
        pt = dict(p); pt["g"] = [p["g"][:, t] for t in range(steps)]
        pt["u"] = [p["u"][:, t] for t in range(steps)]; pt["s"] = [p["s"][:, t] for t in range(steps)]
        xp = {"sqrt": np.sqrt, "min": np.minimum,
              "capB": lambda bh: np.where(bh < 1, 1 / np.where(bh < 1, 1 - bh, 1), np.inf)}
        return run(pt, xp)

    def me(pt):
        mp = _mp()
        q = {k: ([mp.mpf(x) for x in v] if isinstance(v, list) else mp.mpf(v)) for k, v in pt.items()}
        xp = {"sqrt": mp.sqrt, "min": min, "capB": lambda bh: 1 / (1 - bh) if bh < 1 else mp.inf}
        return run(q, xp)

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="denominator bound behind alpha_t/sqrt(eps+vt) >= alpha(1-beta1)/(Rh Gamma)", **kw)


def check_w_bias(n=10_000, seed=7, dim=3, **kw) -> Check:
    """||grad F(Q_W(x)) - grad F(x)||_2 <= L q_W ||x||_2 for quadratics with ||Hessian||_2 <= L."""
    def sampler(rng, N):
        A = rng.normal(size=(N, dim, dim)); A = A + A.transpose(0, 2, 1)
        return {"A": A.reshape(N, -1), "x": rng.normal(size=(N, dim)) * log_uniform(rng, 1e-3, 1e3, N)[:, None],
                "u": rng.uniform(-1, 1, (N, dim)), "q": _sample_q(rng, N, 0.5)}

    def mf(p):
        A = p["A"].reshape(-1, dim, dim)
        Lh = np.linalg.norm(A, 2, axis=(1, 2)) * (1 + 1e-12)
        dx = p["u"] * p["q"][:, None] * p["x"]
        lhs = np.linalg.norm(np.einsum("nij,nj->ni", A, dx), axis=1)
        rhs = Lh * p["q"] * np.linalg.norm(p["x"], axis=1)
        return (rhs - lhs) / np.maximum(rhs, 1e-300)

    def me(pt):
        mp = _mp()
        A = mp.matrix(dim, dim)
        for i in range(dim):
            for j in range(dim):
                A[i, j] = mp.mpf(pt["A"][i * dim + j])
        ev = mp.eigsy(A)[0]
        Lh = max(abs(ev[i]) for i in range(dim))
        x = [mp.mpf(v) for v in pt["x"]]; q = mp.mpf(pt["q"])
        dx = mp.matrix([mp.mpf(pt["u"][i]) * q * x[i] for i in range(dim)])
        lhs = mp.norm(A * dx)
        rhs = Lh * q * mp.sqrt(sum(xi ** 2 for xi in x))
        return (rhs - lhs) / rhs if rhs > 0 else mp.mpf(0)

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail=f"random {dim}x{dim} quadratics, L = spectral norm of the Hessian", **kw)


# ------------------------------------------------------------------------------------------
# trajectory checks against numeric.rounding.quantize

TRAJ_PLANS = (("bf16", "rne"), ("bf16", "rtz"), ("fp8_e4m3fn", "rne"), ("fp8_e5m2", "sr"), ("fp8_e4m3fn", "rtz"))


def adam_states(fmt_name, rounding, *, steps=200, dim=64, beta1_=0.9, beta2_=0.99, seed=0):
    """Quantized m, v sequences driven by random bounded gradients (fixed sign per coordinate, so
    every pre-rounding value stays in the normal range).  Returns dict of arrays (steps, dim)."""
    from qbound.numeric.formats import get_format
    from qbound.numeric.rounding import quantize
    fmt = get_format(fmt_name)
    rng = np.random.default_rng(seed)
    sign = np.where(rng.random(dim) < 0.5, -1.0, 1.0)
    # gradients already in the format (Q_G applied), magnitudes in [1/8, 1]
    g = quantize(sign * rng.uniform(0.125, 1.0, (steps, dim)), fmt, rounding, rng=rng)
    m = np.zeros((steps, dim)); v = np.zeros((steps, dim)); mp_ = np.zeros(dim); vp = np.zeros(dim)
    pre_m = np.zeros((steps, dim)); pre_v = np.zeros((steps, dim))
    for t in range(steps):
        pre_m[t] = beta1_ * mp_ + g[t]
        pre_v[t] = beta2_ * vp + g[t] ** 2
        mp_ = quantize(pre_m[t], fmt, rounding, rng=rng)
        vp = quantize(pre_v[t], fmt, rounding, rng=rng)
        m[t], v[t] = mp_, vp
    return {"g": g, "m": m, "v": v, "m_pre": pre_m, "v_pre": pre_v, "q": float(fmt.rel_error_bound(rounding)),
            "min_normal": float(fmt.min_normal), "max_finite": float(fmt.max_finite), "beta1": beta1_, "beta2": beta2_}


def check_envelopes_trajectory(plans=TRAJ_PLANS, steps=200, dim=64, seed=0, eps_=1e-8, q_scale: float = 1.0) -> Check:
    """Check the m, v envelopes and the update bound on real quantized sequences, every step and
    coordinate (float64 evaluation of the envelopes with relative slack 1e-12)."""
    t0 = time.perf_counter()
    worst = np.inf; fails = []; outside = 0; total = 0
    for fmt_name, rnd in plans:
        st = adam_states(fmt_name, rnd, steps=steps, dim=dim, seed=seed)
        q, b1, b2 = st["q"] * q_scale, st["beta1"], st["beta2"]
        ok_range = (np.abs(st["m_pre"]) >= st["min_normal"]) & (np.abs(st["v_pre"]) >= st["min_normal"]) \
            & (np.abs(st["m_pre"]) <= st["max_finite"]) & (np.abs(st["v_pre"]) <= st["max_finite"])
        outside += int((~ok_range).sum()); total += ok_range.size
        envm = np.zeros(dim); lo = np.zeros(dim); hi = np.zeros(dim)
        u = (1 + q) / (np.sqrt(1 - q) * (1 - b1 * (1 + q) / np.sqrt(b2 * (1 - q))))
        for t in range(steps):
            a = np.abs(st["g"][t]); a2 = st["g"][t] ** 2
            envm = (1 + q) * (b1 * envm + a)
            lo = (1 - q) * (b2 * lo + a2)
            hi = (1 + q) * (b2 * hi + a2)
            m, v = st["m"][t], st["v"][t]
            margins = [(envm * (1 + 1e-12) - np.abs(m)) / envm, (v - lo * (1 - 1e-12)) / hi,
                       (hi * (1 + 1e-12) - v) / hi, (u * (1 + 1e-12) - np.abs(m) / np.sqrt(eps_ + v)) / u]
            mm = min(float(np.min(x)) for x in margins)
            worst = min(worst, mm)
            if mm < 0:
                fails.append((fmt_name, rnd, t))
    ok = not fails
    return Check("trajectory", "passed" if ok else "failed", worst, total, time.perf_counter() - t0,
                 f"{len(plans)} plans {[f'{a}:{b}' for a, b in plans]}, {steps} steps x {dim} coordinates, "
                 f"numeric.rounding.quantize, q = fmt.rel_error_bound(rounding); pre-rounding values outside the "
                 f"normal range: {outside}/{total}" + (f"; FAILED e.g. at {fails[0]}" if fails else ""))


HARNESS_PLANS = ("G=bf16,M=bf16,V=bf16", "G=fp8_e5m2,M=fp8_e4m3fn,V=bf16:rtz", "W=bf16,G=bf16:sr,M=bf16:sr,V=bf16:sr")


def check_harness_trajectory(plans=HARNESS_PLANS, problem="quadratic", steps=150, seed=0,
                             beta1_=0.9, beta2_=0.99, lr=1e-2, eps_=1e-8):
    """The rounding premises and the m/v envelopes on real optimizer states from
    numeric.harness.run(..., record_states=True) (every step, every coordinate).  Returns None when
    the harness is not available.  Coordinates are excluded from the envelope checks from the first
    step where a pre-rounding value leaves the normal range (the premise does not hold there); the
    number excluded is reported."""
    try:
        from qbound.numeric.harness import run
        from qbound.numeric.quantplan import QuantPlan
    except ImportError:
        return None
    t0 = time.perf_counter()
    worst = np.inf; fails = []; excluded = 0; total = 0
    for plan_s in plans:
        plan = QuantPlan.parse(plan_s)
        tr = run(problem, "adam", plan, steps, seed, record_states=True,
                 hparams={"lr": lr, "beta1": beta1_, "beta2": beta2_, "eps": eps_})
        S = tr.states
        qM = float(plan.M.fmt.rel_error_bound(plan.M.rounding)) if plan.M else 0.0
        qV = float(plan.V.fmt.rel_error_bound(plan.V.rounding)) if plan.V else 0.0
        tinyM = float(plan.M.fmt.min_normal) if plan.M else 0.0
        tinyV = float(plan.V.fmt.min_normal) if plan.V else 0.0
        n_ok = int(np.sum(np.all(np.isfinite(S["m"]), axis=1)))
        dim = S["m"].shape[1]
        alive = np.ones(dim, dtype=bool)
        envm = np.zeros(dim); lo = np.zeros(dim); hi = np.zeros(dim)
        u = (1 + qM) / (np.sqrt(1 - qV) * (1 - beta1_ * (1 + qM) / np.sqrt(beta2_ * (1 - qV))))
        for t in range(n_ok):
            mp_, m, vp_, v, g = S["m_pre"][t], S["m"][t], S["v_pre"][t], S["v"][t], S["g"][t]
            inrange = ((np.abs(mp_) >= tinyM) | (mp_ == 0)) & ((np.abs(vp_) >= tinyV) | (vp_ == 0))
            alive &= inrange
            total += dim
            excluded += int((~alive).sum())
            # rounding premises where they apply
            prem = np.minimum((qM * np.abs(mp_) * (1 + 1e-12) - np.abs(m - mp_)), (qV * np.abs(vp_) * (1 + 1e-12) - np.abs(v - vp_)))
            scale = np.maximum(np.abs(mp_) + np.abs(vp_), 1e-300)
            envm = (1 + qM) * (beta1_ * envm + np.abs(g))
            lo = (1 - qV) * (beta2_ * lo + g * g)
            hi = (1 + qV) * (beta2_ * hi + g * g)
            sc = np.maximum(hi, 1e-300)
            margins = np.minimum.reduce([prem / scale, (envm * (1 + 1e-12) - np.abs(m)) / np.maximum(envm, 1e-300),
                                         (v - lo * (1 - 1e-12)) / sc, (hi * (1 + 1e-12) - v) / sc,
                                         (u * (1 + 1e-12) - np.abs(m) / np.sqrt(eps_ + v)) / u])
            if alive.any():
                mm = float(np.min(margins[alive]))
                worst = min(worst, mm)
                if mm < 0:
                    fails.append((plan_s, t))
    return Check("trajectory", "passed" if not fails else "failed", float(worst), total, time.perf_counter() - t0,
                 f"numeric.harness.run('{problem}', 'adam', plan, {steps}) with record_states for plans {list(plans)}: "
                 f"rounding premises |Q(y)-y| <= q|y| for m, v, and the envelopes; coordinate-steps excluded after "
                 f"leaving the normal range: {excluded}/{total}" + (f"; FAILED e.g. {fails[0]}" if fails else ""))


EXACT_CONFIGS = (
    # (plan {X: (format, rounding)}, alpha, beta2, noise s, x0, T)
    ({"W": ("bf16", "rne"), "G": ("bf16", "rne"), "M": ("bf16", "rne"), "V": ("bf16", "rne")}, 0.1, 0.9, 0.5, 3.0, 10),
    ({"W": ("fp8_e4m3fn", "rne"), "G": ("fp8_e5m2", "rne"), "M": ("fp8_e4m3fn", "rtz"), "V": ("fp8_e4m3fn", "rne")}, 0.3, 0.8, 1.0, -2.0, 10),
    ({"G": ("fp8_e5m2", "rtz"), "V": ("bf16", "rtz")}, 0.05, 0.99, 0.25, 5.0, 11),
    ({}, 0.2, 0.95, 0.5, 1.5, 10),
)


def check_theorem_exact_expectation(configs=EXACT_CONFIGS, eps_=1e-8, beta1_: float = 0.0, bound_expr=None,
                                    bound_conditions=None, label: str = "bound") -> Check:
    """End-to-end check of the theorem with an exactly computed expectation (beta1 = 0: the derived
    bound; beta1 > 0: the Thm 4 form whose q-dependence is cited, so for q > 0 this is evidence, not proof).

    Problem: F(x) = sqrt(1 + x^2) (L = 1, F_* = 1, |F'| <= 1), stochastic gradient F'(y) + xi with
    xi = +-s equally likely (unbiased, |h| <= 1 + s = R - sqrt(eps)).  All 2^T noise paths are run
    with the quantizers of numeric.rounding.quantize (gradient at Q_W(x), Q_G, Q_M, Q_V, master x in
    float64), so E||grad F(x_tau)||^2 (tau uniform on 0..T-1) is an exact average over paths.  The
    check passes when that expectation is <= the bound evaluated at the same numbers."""
    from qbound.numeric.formats import get_format
    from qbound.numeric.rounding import quantize
    t0 = time.perf_counter()
    worst = np.inf; fails = []; pts = 0
    for plan, a, b2, s, x0, T_ in configs:
        rng = np.random.default_rng(0)
        fm = {X: (get_format(f), r) for X, (f, r) in plan.items()}

        def Q(X, arr):
            if X not in fm:
                return arr
            f, r = fm[X]
            return quantize(arr, f, r, rng=rng)
        P = 2 ** T_
        signs = ((np.arange(P)[:, None] >> np.arange(T_)[None, :]) & 1) * 2.0 - 1.0
        x = np.full(P, x0); v = np.zeros(P); m = np.zeros(P); acc = 0.0
        xbox = abs(x0)   # the box these paths stay in (max |x_t| over t <= T and all paths): the premise "box" holds
        if beta1_ > 0:  # tau is drawn with P[tau = j] proportional to 1 - beta1^(T - j)
            w = np.array([1 - beta1_ ** (T_ - j) for j in range(T_)]); w /= w.sum()
        else:
            w = np.full(T_, 1.0 / T_)
        for t in range(T_):
            acc += w[t] * float(np.mean((x / np.sqrt(1 + x * x)) ** 2))
            y = Q("W", x)
            g = Q("G", y / np.sqrt(1 + y * y) + s * signs[:, t])
            m = Q("M", beta1_ * m + g)
            v = Q("V", b2 * v + g * g)
            at = a * (1 - beta1_) * math.sqrt((1 - b2 ** (t + 1)) / (1 - b2))
            x = x - at * m / np.sqrt(eps_ + v)
            xbox = max(xbox, float(np.max(np.abs(x))))
        lhs = acc
        qs = {f"q_{X}": (float(fm[X][0].rel_error_bound(fm[X][1])) if X in fm else 0.0) for X in "WGMV"}
        vals = dict(T=T_, alpha=a, beta1=beta1_, beta2=b2, eps=eps_, R=1 + s + math.sqrt(eps_), L=1.0, d=1, Delta=math.sqrt(1 + x0 * x0) - 1,
                    X0=abs(x0), **qs)
        # the bound without a box and with the box the paths stay in (both must hold; the smaller is checked)
        bound = min((_adam_bound_at(vv) if bound_expr is None else _eval_expr(bound_expr, bound_conditions or [], vv))
                    for vv in (dict(vals, Bx=math.inf), dict(vals, Bx=xbox)))
        mg = (bound - lhs) / bound if math.isfinite(bound) else 1.0
        worst = min(worst, mg); pts += P * T_
        if mg < 0:
            fails.append(plan)
    return Check("trajectory", "passed" if not fails else "failed", float(worst), pts, time.perf_counter() - t0,
                 f"{len(configs)} configurations, all 2^T noise paths of F(x)=sqrt(1+x^2) with +-s noise, quantized by "
                 f"qbound.numeric.rounding.quantize: exact E||grad F(x_tau)||^2 <= {label}" + (f"; FAILED for {fails[0]}" if fails else ""))


def _adam_bound_at(vals) -> float:
    """qbound.bounds.evaluate_bound("adam", vals), from this module's own bound (no registry import)."""
    if "beta1" in vals and float(vals["beta1"]) == 0:
        return evaluate_expr("adam", SYMBOLS, BOUND0, list(CONDITIONS0), vals)
    return evaluate_expr("adam", SYMBOLS, BOUND, list(CONDITIONS), vals)


def _eval_expr(expr, conds, vals) -> float:
    """Value of a bound expression at the named values (inf if a condition fails), via mpmath."""
    import mpmath
    with mpmath.workdps(30):
        for c in conds:
            if not _numeric_relation(c, vals):
                return math.inf
        syms = sorted(expr.free_symbols, key=lambda s: s.name)
        vals = {**DEFAULTS, **vals}
        val = _mp_function(expr)(*[mpmath.mpf(float(vals[s.name])) for s in syms])
    val = float(val) if not isinstance(val, mpmath.mpc) else math.inf
    return val if math.isfinite(val) and val >= 0 else math.inf


# ------------------------------------------------------------------------------------------
# symbolic checks

def _beta_cert():
    """Certificate substitutions: beta2 = 1/(1+t2) (t2>0), q = 1 - s (s > 0) etc."""
    t2 = sp.Symbol("t2", positive=True)
    return t2


def resolve_q0(expr):
    """Set every q to 0 and resolve Min/Piecewise using 0 < beta2 < 1 (beta2 = 1/(1+t2))."""
    t2 = _beta_cert()
    e = expr.subs(Q0).subs(beta2, 1 / (1 + t2))
    e = e.replace(lambda x: isinstance(x, sp.Piecewise), lambda x: x.args[0].expr if x.args[0].cond == True else x)  # noqa: E712
    e = sp.simplify(e) if e.has(sp.Min) else e
    return e.subs(t2, 1 / beta2 - 1)


def _check_q0_reduction(bound, anchor, name) -> Check:
    t0 = time.perf_counter()
    b = resolve_q0(bound)
    diff = sp.simplify(b - anchor)
    if diff != 0:  # numeric corroboration is not a proof; report the difference
        return Check("symbolic", "failed", None, 0, time.perf_counter() - t0, f"q=0 bound - {name} = {diff}")
    return Check("symbolic", "passed", 0.0, 0, time.perf_counter() - t0, f"with q_W=q_G=q_M=q_V=0 the bound equals {name} (difference simplifies to 0)")


# ------------------------------------------------------------------------------------------
