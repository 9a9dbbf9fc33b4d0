r"""Adam with momentum (beta1 > 0), full precision: the Défossez et al. Theorem 4 skeleton, derived.

This module replaces, for q_W = q_G = q_M = q_V = 0, the premise that used to be cited wholesale
(Défossez, Bottou, Bach, Usunier, TMLR 2022, proof of Theorem 4).  The facts are theirs; the
derivation, the constants and the checks are ours.  Per coordinate i (dropped when harmless),
m_0 = v_0 = 0, n = 1..N (N = T), G_n = grad F(x_{n-1}), u_n = m_n/sqrt(eps + v_n),
U_n = g_n/sqrt(eps + v_n), a = beta1/beta2, b = beta1/sqrt(beta2), 0 <= beta1 < beta2 < 1:

1. unroll      m_n = sum_{k<n} beta1^k g_{n-k}; hence
   G_n m_n = sum_k beta1^k G_{n-k} g_{n-k} + sum_k beta1^k (G_n - G_{n-k}) g_{n-k}.
2. lag lemma   (the "v tilde" trick at lag k).  With E' = E[. | F_{n-k-1}],
   vt = beta2^(k+1) v_{n-k-1} + E'[sum_{j=n-k}^{n} beta2^(n-j) g_j^2] (F_{n-k-1}-measurable),
   G = G_{n-k} = E' g_{n-k}, |g_j| <= R - sqrt(eps):
     E'[G g_{n-k}/sqrt(eps+v_n)] >= G^2/(2 sqrt(eps+vt)) - R sqrt(k+1) E'[g_{n-k}^2/(eps+v_n)]
                                    - R beta2^(-k/2) E'[Z],   Z = sum_{j=n-k}^n beta2^(n-j) g_j^2/(eps+v_n).
   Proof: 1/sqrt(eps+v) - 1/sqrt(eps+vt) = (vt - v)/(sqrt(eps+v) sqrt(eps+vt)(sqrt(eps+v)+sqrt(eps+vt)));
   split vt - v into the E' part S' (<= vt, <= (k+1) R^2) and the random part P (<= v), and apply
   xy <= x^2/4 + y^2 twice: once with x = |G|/(eps+vt)^(1/4), once with x weighted by
   |g|/sqrt(E' g^2); the G^2/4 halves add to G^2/2.  (Défossez get 3R/sqrt(1-beta1) for the
   combined penalty; this split gives R sqrt(k+1) plus the Z term.)
3. gap         |(G_n - G_{n-k}) g|/sqrt(eps+v) <= c (G_n - G_{n-k})^2 + g^2/(4 c (eps+v)),
   c = sqrt(1-beta1)/(4 R sqrt(k+1)) (Young), and by L-smoothness and Cauchy-Schwarz
   ||G_n - G_{n-k}||^2 <= L^2 alpha_n^2 k sum_{l=1}^k ||u_{n-l}||^2 (alpha_n non-decreasing).
4. ratios      g_{n-k}^2/(eps+v_n) <= beta2^(-k) U_{n-k}^2;  Z <= sum_{l<=k} U_{n-l}^2;
   ||u_n||^2 <= 1/(1-beta1) sum_k a^k ||U_{n-k}||^2 (Cauchy-Schwarz);
   sum_{n<=N} ||U_n||^2 <= d (ln(1 + R^2/((1-beta2) eps)) - N ln beta2) (sum-of-ratios, q = 0).
5. geometric   sum_k a^k sqrt(k+1) <= (1-a)^(-3/2);  sum_k beta1^k k^(3/2) <= beta1 sqrt(1+beta1)/(1-beta1)^(5/2)
   (both Cauchy-Schwarz with the closed forms of sum a^k, sum k a^k, sum k^2 a^k; Défossez state
   2/(1-a)^(3/2) and 4a/(1-a)^(5/2));  sum_k b^k sum_{l<=k} x_l = sum_l x_l b^l/(1-b).
6. weights     sum_{n<=N} sum_{k<n} beta1^k y_{n-k} = sum_{j<=N} y_j (1 - beta1^(N-j+1))/(1-beta1); so
   tau with P[tau = j] proportional to 1 - beta1^(N-j), whose normaliser is
   N - beta1(1-beta1^N)/(1-beta1) >= N~ = N - beta1/(1-beta1).
7. assembly    descent lemma F(x_n) <= F(x_{n-1}) - alpha_n G_n.u_n + L alpha_n^2 ||u_n||^2/2, the
   denominator bound alpha_n/sqrt(eps + vt) >= alpha(1-beta1)/R, alpha_n <= alpha(1-beta1)/sqrt(1-beta2),
   summed over n and divided by alpha N~/(2R):

   E||grad F(x_tau)||^2 <= 2 R Delta/(alpha N~) + (N/N~) E_M (ln(1 + R^2/((1-beta2) eps))/N - ln beta2),
   E_M = alpha d R L (1-beta1)/((1-a)(1-beta2))
       + 2 d R^2 [((1-beta1) + sqrt(1-beta1))/(1-a)^(3/2) + (1-beta1)/(1-b)^2]/sqrt(1-beta2)
       + alpha^2 d L^2 beta1 sqrt(1+beta1)/(2 (1-a) (1-beta2)^(3/2)).
8. vs Thm 4    E_M <= E of Theorem 4 term by term: the L term is identical; the R^2 bracket is
   <= 6 sqrt(1-beta1)/(1-a)^(3/2) (vs 12), using (1-b)^2 - (1-beta1)(1-a) = beta1 (1/sqrt(beta2) - 1)^2;
   the L^2 term has sqrt(1+beta1)/2 <= 1/sqrt(2) instead of 2.  So Theorem 4 as written in MATH.md
   (and the q = 0 reduction of the quantized bound) follows from this derivation.

Quantized skeleton (also derived here, steps ``momentum.lag_lemma_q``, ``momentum.ratios_q``,
``momentum.geometric_q``, ``momentum.assembly_q``; :func:`quantized_bound`): m_n = mbar_n + e_n with
|e_n|/sqrt(eps+v_n) <= kappa_e; the quantized lag lemma (v_n within (1 -+ q_V)^(k+1) of the
unquantized recursion, g = (1+gamma) h, gradient at Q_W(x)); the ratio facts with beta2(1 - q_V)
and (1 - q_V)^(-l); ||u_n||^2 with the effective decay beta1(1+q_M); progress
alpha(1-beta1)/(2 Rh Gamma) per lagged ||G||^2; the quantized sum-of-ratios lemma:

    E||grad F(x_tau)||^2 <= Gamma (2 Rh/(alpha N~) (Delta + T abar P + abar C_r D + gap_L + L abar^2 S_u/2)
                                   + 2 sqrt(d) R L q_W X),
    abar = alpha(1-beta1)/sqrt(1-beta2), D = d T Lambda/(1-q_V), S_u = (1+q_M)^2 D/((1-beta1(1+q_M))(1-ah)),
    P = d R kappa_e + d R ((1-q_V)^(-1/2)/(1-b/sqrt(1-q_V)) - 1/(1-b)) + (q_G d R + sqrt(d) L q_W X)/((1-q_G)(1-b)),
    C_r = Rh(1+q_V)/(1-q_G)^2 (1-a1)^(-3/2) + R(1+q_V)/((1-q_G)(1-b1)(1-b1/(1-q_V))) + Rh (1-aq)^(-3/2)/sqrt(1-beta1),
    aq = beta1/(beta2(1-q_V)), a1 = aq(1+q_V), b1 = b(1+q_V), ah = beta1(1+q_M)/(beta2(1-q_V)),
    gap_L = abar^3 sqrt(1-beta1) L^2 beta1 sqrt(1+beta1) S_u/(4 Rh (1-beta1)^(5/2)),

under beta1(1+q_V) < beta2(1-q_V), beta1(1+q_M) < beta2(1-q_V), beta1(1+q_V) < sqrt(beta2)(1-q_V).
The progress is in the gradients at the quantized weights; the last term takes the bound back to the
master weights once (``momentum.w_shift``: ||G||^2 <= ||Ghat||^2 + 2 sqrt(d) R L q_W X).  It replaces the
per-step term R sqrt(d) L q_W X/(sqrt(eps)(1-beta1)) of P, which bounded 1/sqrt(eps + vt) by 1/sqrt(eps)
(at d=2, R=100, L=1000, Delta=100, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, T=1000, q_W=2^-4: the W
terms 2.59e13 -> 2.60e7 + 8.1e5, the bound 2.59e13 -> 2.79e7).  At q = 0 it equals BOUND_M0 (checked).  It is the API bound of bounds.adam for beta1 > 0 (BOUND_MQ =
Gamma * sum(TERMS_MQ)); the Thm 4 form with quantized ingredients it replaces rested on a cited premise
whose W term carried (1-beta1) where the derivation gives 1/(1-beta1) (sum_k beta1^k).

Proofs (:func:`momentum_proof_items`, discharged by z3/SymPy through bounds.obligation): the lag lemma
for every lag k (:func:`lag_lemma_items`: the lag enters only through free symbols sqrt(k+1),
beta2^(-k/2), (1 -+ q_V)^(k+1)), the quantized ratio facts (a)-(c) (:func:`ratio_items`), the gap, the
geometric sums, the weights, BOUND_M0 <= Thm 4, and the q > 0 assembly (:func:`assembly_q_items`: the
summed step conclusions imply BOUND_MQ; dropping any term, or every per-step bias term, is refuted).
The momentum-rounding bias |m_n - mbar_n|/sqrt(eps+v_n) <= kappa_e and the lagged denominator
eps + vt <= Rh^2 S_n Gamma^2 (steps ``momentum.bias``, ``momentum.bias_q``) are proved by inductions
(:func:`bias_items`); their sampled checks stay as sanity checks.
"""
from __future__ import annotations

import time

import numpy as np
import sympy as sp

from qbound.bounds.derivation import Check, ProofChain, Step, check_identity, check_nonnegative, check_sampled, log_uniform

# the Adam symbols live in bounds.adam_base; bounds.adam (the assembly) sits above this module
from qbound.bounds.adam_base import Delta, L, R, T, alpha, beta1, beta2, d, eps

A_ = beta1 / beta2
B_ = beta1 / sp.sqrt(beta2)
NTIL = T - beta1 / (1 - beta1)
LAM0 = sp.log(1 + R ** 2 / ((1 - beta2) * eps)) / T - sp.log(beta2)
ALPHA_BAR = alpha * (1 - beta1) / sp.sqrt(1 - beta2)  # alpha_n <= ALPHA_BAR

E_TERMS = {
    "curvature": alpha * d * R * L * (1 - beta1) / ((1 - A_) * (1 - beta2)),
    "lag_and_gap": 2 * d * R ** 2 * ((1 - beta1) + sp.sqrt(1 - beta1)) / ((1 - A_) ** sp.Rational(3, 2) * sp.sqrt(1 - beta2)),
    "lag_tail": 2 * d * R ** 2 * (1 - beta1) / ((1 - B_) ** 2 * sp.sqrt(1 - beta2)),
    "gap_smooth": alpha ** 2 * d * L ** 2 * beta1 * sp.sqrt(1 + beta1) / (2 * (1 - A_) * (1 - beta2) ** sp.Rational(3, 2)),
}
E_M = sp.Add(*E_TERMS.values())
BOUND_M0 = 2 * R * Delta / (alpha * NTIL) + (T / NTIL) * E_M * LAM0
CONDITIONS_M0 = [sp.StrictLessThan(beta1, beta2), sp.StrictLessThan(beta2, 1), sp.StrictGreaterThan(T, beta1 / (1 - beta1)),
                 sp.GreaterThan(R, sp.sqrt(eps))]

# Theorem 4 as written in MATH.md section 2 (N = T)
E_THM4 = {
    "curvature": alpha * d * R * L * (1 - beta1) / ((1 - A_) * (1 - beta2)),
    "R2": 12 * d * R ** 2 * sp.sqrt(1 - beta1) / ((1 - A_) ** sp.Rational(3, 2) * sp.sqrt(1 - beta2)),
    "L2": 2 * alpha ** 2 * d * L ** 2 * beta1 / ((1 - A_) * (1 - beta2) ** sp.Rational(3, 2)),
}
THM4 = 2 * R * Delta / (alpha * NTIL) + (T / NTIL) * sp.Add(*E_THM4.values()) * LAM0


def _mp():
    import mpmath
    return mpmath


# ------------------------------------------------------------------------------------------
# 2. the lag lemma (sampled over finite joint distributions of the k+1 gradients in the window)

KMAX = 3


def _lag_params(rng, N, K=4):
    R_ = rng.uniform(0.5, 4, N)
    e = np.minimum(log_uniform(rng, 1e-10, 1, N), 0.8 * R_ ** 2)
    Rg = R_ - np.sqrt(e)
    k = rng.integers(0, KMAX + 1, N)
    g = rng.uniform(-1, 1, (N, K, KMAX + 1))
    mode = rng.random(N)
    # adversarial modes: (a) later gradients large exactly when the lagged one is positive,
    # (b) one rare, large atom carries the mean, (c) same-sign lagged gradients (large G)
    a_ = mode < 0.3
    later = np.where(g[:, :, :1] > 0, 1.0, 0.05) * np.sign(rng.uniform(-1, 1, (N, K, KMAX + 1)))
    g[a_, :, 1:] = later[a_, :, 1:]
    b_ = (mode >= 0.3) & (mode < 0.5)
    g[b_, 0, 0] = 1.0
    g[b_, 1:, 0] = -0.02 * rng.random((int(b_.sum()), K - 1))
    c_ = (mode >= 0.5) & (mode < 0.7)
    g[c_, :, 0] = np.abs(g[c_, :, 0])
    # (d) one atom with a full-size lagged gradient and full-size later ones, the others ~ 0:
    # the lagged gradient is seen through a v inflated by the later gradients
    d_ = (mode >= 0.7) & (mode < 0.85)
    g[d_] = 1e-3 * g[d_]
    g[d_, 0, :] = 1.0
    g = g * Rg[:, None, None]
    mask = np.arange(KMAX + 1)[None, :] <= k[:, None]
    g = g * mask[:, None, :]
    p = rng.dirichlet(np.ones(K), N)
    for sel in (b_, d_):
        p0 = log_uniform(rng, 1e-3, 0.3, int(sel.sum()))
        p[sel] = np.column_stack([p0, rng.dirichlet(np.ones(K - 1), int(sel.sum())) * (1 - p0)[:, None]])
    vp = log_uniform(rng, 1e-6, 10, N) * R_ ** 2 * (rng.random(N) < 0.8)
    vp[d_] = 0.0
    return {"R": R_, "eps": e, "k": k.astype(float), "g": g.reshape(N, -1), "p": p, "vp": vp,
            "b2": 1 - log_uniform(rng, 1e-3, 1, N) * 0.999}


def check_lag_lemma(n=10_000, seed=11, wrong: str | None = None, **kw) -> Check:
    """Sampled check of the lag lemma (step 2) for random finite joint distributions (4 atoms) of
    (g_{n-k}, ..., g_n), lags k = 0..3, |g| <= R - sqrt(eps), v_{n-k-1} >= 0.

    ``wrong="no_penalty"`` checks instead E'[G g_{n-k}/sqrt(eps+v_n)] >= G^2/(2 sqrt(eps+vt)), i.e. the
    lag lemma with the price of replacing v_n by vt forgotten: a deliberately wrong momentum step.
    (The beta1 = 0 form with penalty 2R E'[g_{n-k}^2/(eps+v_n)] alone is NOT a wrong step for
    k <= 3: a counterexample needs k + 1 > 16/p for an atom of probability p < 1/4.)"""
    K = 4

    def parts(p, xp, Np=None):
        sqrt = xp["sqrt"]
        k = p["k"]
        gs = p["g"]  # list over atoms of lists over window index j (0 = lagged gradient)
        b2 = p["b2"]
        w = [xp["pow"](b2, k - j) * (j <= k) for j in range(KMAX + 1)]
        base = xp["pow"](b2, k + 1) * p["vp"]
        v = [base + sum(w[j] * ga[j] * ga[j] for j in range(KMAX + 1)) for ga in gs]
        probs = p["p"]
        E = lambda xs: sum(pa * x for pa, x in zip(probs, xs))  # noqa: E731
        vt = base + E([sum(w[j] * ga[j] * ga[j] for j in range(KMAX + 1)) for ga in gs])
        G = E([ga[0] for ga in gs])
        lhs = E([G * ga[0] / sqrt(p["eps"] + va) for ga, va in zip(gs, v)])
        r0 = E([ga[0] * ga[0] / (p["eps"] + va) for ga, va in zip(gs, v)])
        Z = E([sum(w[j] * ga[j] * ga[j] for j in range(KMAX + 1)) / (p["eps"] + va) for ga, va in zip(gs, v)])
        sv = sqrt(p["eps"] + vt)
        if wrong == "no_penalty":
            rhs = G * G / (2 * sv)
        else:
            rhs = G * G / (2 * sv) - p["R"] * sqrt(k + 1) * r0 - p["R"] * xp["pow"](b2, -k / 2) * Z
        scale = G * G / sv + p["R"] * (r0 + Z) + 1e-300
        return (lhs - rhs) / scale

    def mf(p):
        N_ = p["k"].shape[0]
        g = p["g"].reshape(N_, K, KMAX + 1)
        q = dict(p)
        q["g"] = [[g[:, a, j] for j in range(KMAX + 1)] for a in range(K)]
        q["p"] = [p["p"][:, a] for a in range(K)]
        xp = {"sqrt": np.sqrt, "pow": np.power}
        return parts(q, xp)

    def me(pt):
        mp = _mp()
        g = [mp.mpf(x) for x in pt["g"]]
        q = {k_: mp.mpf(pt[k_]) for k_ in ("R", "eps", "k", "vp", "b2")}
        q["g"] = [[g[a * (KMAX + 1) + j] for j in range(KMAX + 1)] for a in range(K)]
        tot = sum(mp.mpf(x) for x in pt["p"])
        q["p"] = [mp.mpf(x) / tot for x in pt["p"]]
        xp = {"sqrt": mp.sqrt, "pow": lambda b, e: mp.power(b, e)}
        return parts(q, xp)

    return check_sampled(_lag_params, mf, me, n=n, seed=seed,
                         detail="lag lemma (v tilde trick at lag k = 0..3) on random 4-atom joint distributions of the window "
                                "(30% later gradients large exactly when the lagged one is positive, 20% a rare large atom, "
                                "15% a rare atom whose later gradients inflate v)"
                         + (" - deliberately wrong: no penalty for v_n -> vt" if wrong else ""), **kw)


# ------------------------------------------------------------------------------------------
# 3./4. the gap and the ratio facts on sequences

def check_gap_smooth(n=10_000, seed=12, dim=3, kmax=6, **kw) -> Check:
    """||sum_{l<=k} a_l u_l||^2 <= a_max^2 k sum_l ||u_l||^2 for 0 <= a_l <= a_max (so that, with
    L-smoothness, ||G_n - G_{n-k}||^2 <= L^2 alpha_n^2 k sum_{l=1}^k ||u_{n-l}||^2)."""
    def sampler(rng, N):
        k = rng.integers(1, kmax + 1, N)
        mask = (np.arange(kmax)[None, :] < k[:, None]).astype(float)
        u = rng.normal(size=(N, kmax, dim)) * mask[:, :, None]
        same = rng.random(N) < 0.3  # aligned updates (the worst case of Cauchy-Schwarz)
        u[same] = np.abs(u[same, :1, :]) * mask[same][:, :, None]
        am = log_uniform(rng, 1e-3, 10, N)
        a = am[:, None] * rng.uniform(0, 1, (N, kmax)) ** 0.2
        return {"k": k.astype(float), "u": u.reshape(N, -1), "a": a, "am": am}

    def margin(k, u, a, am, sqrt_sum):
        s = [sum(a[l] * u[l][c] for l in range(kmax)) for c in range(dim)]
        lhs = sum(x * x for x in s)
        rhs = am * am * k * sum(u[l][c] ** 2 for l in range(kmax) for c in range(dim))
        return (rhs - lhs) / (rhs + 1e-300)

    def mf(p):
        N_ = p["k"].shape[0]
        u = p["u"].reshape(N_, kmax, dim)
        return margin(p["k"], [[u[:, l, c] for c in range(dim)] for l in range(kmax)],
                      [p["a"][:, l] for l in range(kmax)], p["am"], None)

    def me(pt):
        mp = _mp()
        u = [mp.mpf(x) for x in pt["u"]]
        return margin(mp.mpf(pt["k"]), [[u[l * dim + c] for c in range(dim)] for l in range(kmax)],
                      [mp.mpf(x) for x in pt["a"]], mp.mpf(pt["am"]), None)

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail=f"Cauchy-Schwarz for the sum of past updates (k <= {kmax}, d = {dim})", **kw)


def check_ratio_facts(n=10_000, seed=13, steps=8, **kw) -> Check:
    """On random gradient sequences with v_n = beta2 v_{n-1} + g_n^2 and 0 <= beta1 < beta2, every n, k:
    (a) g_{n-k}^2/(eps+v_n) <= beta2^(-k) U_{n-k}^2, (b) Z_{n,k} <= sum_{l<=k} U_{n-l}^2,
    (c) m_n^2/(eps+v_n) <= 1/(1-beta1) sum_k (beta1/beta2)^k U_{n-k}^2 (the min of the margins)."""
    def sampler(rng, N):
        b2 = 1 - log_uniform(rng, 1e-3, 1, N) * 0.999
        b1 = b2 * rng.uniform(0, 1, N) ** 0.3 * 0.9999
        b1[rng.random(N) < 0.1] = 0.0
        g = rng.uniform(-1, 1, (N, steps)) * log_uniform(rng, 1e-3, 1e3, N)[:, None]
        same = rng.random(N) < 0.3
        g[same] = np.abs(g[same])
        return {"b1": b1, "b2": b2, "eps": log_uniform(rng, 1e-10, 1, N), "g": g}

    def run(b1, b2, e, g, xp):
        v = []; cur = 0 * b2
        for t in range(steps):
            cur = b2 * cur + g[t] * g[t]
            v.append(cur)
        U2 = [g[t] * g[t] / (e + v[t]) for t in range(steps)]
        worst = None
        for nn in range(steps):
            m = 0 * b2
            for k in range(nn + 1):
                m = m + xp["pow"](b1, k) * g[nn - k]
            rhs_c = sum(xp["pow"](b1 / b2, k) * U2[nn - k] for k in range(nn + 1)) / (1 - b1)
            lhs_c = m * m / (e + v[nn])
            ms = [(rhs_c - lhs_c) / (rhs_c + 1e-300)]
            for k in range(nn + 1):
                ra = xp["pow"](b2, -k) * U2[nn - k]
                ms.append((ra - g[nn - k] ** 2 / (e + v[nn])) / (ra + 1e-300))
                Zk = sum(xp["pow"](b2, nn - j) * g[j] ** 2 for j in range(nn - k, nn + 1)) / (e + v[nn])
                rb = sum(U2[nn - l] for l in range(k + 1))
                ms.append((rb - Zk) / (rb + 1e-300))
            for x in ms:
                worst = x if worst is None else xp["min"](worst, x)
        return worst

    def mf(p):
        return run(p["b1"], p["b2"], p["eps"], [p["g"][:, t] for t in range(steps)], {"pow": np.power, "min": np.minimum})

    def me(pt):
        mp = _mp()
        return run(mp.mpf(pt["b1"]), mp.mpf(pt["b2"]), mp.mpf(pt["eps"]), [mp.mpf(x) for x in pt["g"]],
                   {"pow": lambda b, e: mp.power(b, e) if e != 0 else mp.mpf(1), "min": min})

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail=f"ratio facts on {steps}-step gradient sequences", **kw)


# ------------------------------------------------------------------------------------------
# 5. geometric sums

def check_geometric_sums(n=10_000, seed=14, wrong: bool = False, **kw) -> Check:
    """sum_{k>=0} a^k sqrt(k+1) <= (1-a)^(-3/2) and sum_{k>=0} a^k k^(3/2) <= a sqrt(1+a)/(1-a)^(5/2),
    0 <= a < 1 (infinite sums: mpmath polylog at 50 digits; float screen with 800 terms, a <= 0.95,
    where the neglected tail is below 0.95^800 ~ 1e-18 of the sum).
    ``wrong=True`` checks the (false) sum a^k sqrt(k+1) <= 1/(1-a)."""
    K = 800
    ks = np.arange(K, dtype=float)

    def sampler(rng, N):
        a = 1 - log_uniform(rng, 5e-2, 1, N)
        a[rng.random(N) < 0.05] = 0.0
        return {"a": a}

    def mf(p):
        a = p["a"]; out = np.empty_like(a)
        for s in range(0, a.size, 500):
            aa = a[s:s + 500, None]
            pw = np.where(ks[None, :] == 0, 1.0, aa ** ks[None, :])
            s1 = (pw * np.sqrt(ks + 1)).sum(1); s2 = (pw * ks ** 1.5).sum(1)
            a1 = aa[:, 0]
            r1 = 1 / (1 - a1) if wrong else (1 - a1) ** -1.5
            r2 = a1 * np.sqrt(1 + a1) / (1 - a1) ** 2.5
            out[s:s + 500] = np.minimum((r1 - s1) / r1, np.where(a1 > 0, (r2 - s2) / np.where(r2 > 0, r2, 1), 1.0))
        return out

    def me(pt):
        mp = _mp(); a = mp.mpf(pt["a"])
        if a == 0:
            s1, s2 = mp.mpf(1), mp.mpf(0)
        else:
            s1 = mp.polylog(-0.5, a) / a; s2 = mp.polylog(-1.5, a)
        r1 = 1 / (1 - a) if wrong else (1 - a) ** mp.mpf(-1.5)
        r2 = a * mp.sqrt(1 + a) / (1 - a) ** mp.mpf(2.5)
        return min((r1 - s1) / r1, (r2 - s2) / r2 if a > 0 else mp.mpf(1))

    return check_sampled(sampler, mf, me, n=n, seed=seed,
                         detail="geometric-type sums (Cauchy-Schwarz bounds)" + (" - deliberately wrong 1/(1-a)" if wrong else ""), **kw)


# ------------------------------------------------------------------------------------------
# 8. comparison with Theorem 4

def check_vs_thm4(n=10_000, seed=15, **kw) -> Check:
    """BOUND_M0 <= THM4 (both at the same point) over 0 <= beta1 < beta2 < 1, T > beta1/(1-beta1)."""
    syms = [T, alpha, beta1, beta2, eps, R, L, d, Delta]
    f_ours = sp.lambdify(syms, BOUND_M0, "numpy"); f_thm = sp.lambdify(syms, THM4, "numpy")
    g_ours = sp.lambdify(syms, BOUND_M0, "mpmath"); g_thm = sp.lambdify(syms, THM4, "mpmath")
    names = [s.name for s in syms]

    def sampler(rng, N):
        b2 = 1 - log_uniform(rng, 1e-5, 1, N) * 0.999
        b1 = b2 * rng.uniform(0, 1, N) ** 0.3 * 0.99999
        b1[rng.random(N) < 0.05] = 0.0
        Tm = np.ceil(b1 / (1 - b1)) + np.ceil(log_uniform(rng, 1, 1e7, N))
        R_ = log_uniform(rng, 1e-2, 1e2, N)
        e = np.minimum(log_uniform(rng, 1e-12, 1, N), R_ ** 2)
        return {"T": Tm, "alpha": log_uniform(rng, 1e-6, 10, N), "beta1": b1, "beta2": b2, "eps": e, "R": R_,
                "L": log_uniform(rng, 1e-3, 1e3, N), "d": np.ceil(log_uniform(rng, 1, 1e6, N)), "Delta": log_uniform(rng, 1e-3, 1e3, N)}

    def mf(p):
        args = [p[k] for k in names]
        th = f_thm(*args)
        return (th - f_ours(*args)) / th

    def me(pt):
        mp = _mp()
        args = [mp.mpf(pt[k]) for k in names]
        th = g_thm(*args)
        return (th - g_ours(*args)) / th

    return check_sampled(sampler, mf, me, n=n, seed=seed, detail="derived momentum bound <= Theorem 4 (relative margin)", **kw)


# ------------------------------------------------------------------------------------------
# the steps

def build_momentum_steps(n: int = 10_000, exact_all: bool = False, proofs: dict | None = None) -> list:
    kw = {"n": n, "exact_all": exact_all}
    steps = []
    # 1. unroll and split (identities, six steps of the recurrence)
    gs = sp.symbols("g1:7"); Gs = sp.symbols("G1:7")
    m = sp.Integer(0)
    for g in gs:
        m = beta1 * m + g
    nN = len(gs)
    unrolled = sum(beta1 ** k * gs[nN - 1 - k] for k in range(nN))
    split = (sum(beta1 ** k * Gs[nN - 1 - k] * gs[nN - 1 - k] for k in range(nN))
             + sum(beta1 ** k * (Gs[-1] - Gs[nN - 1 - k]) * gs[nN - 1 - k] for k in range(nN)))
    steps.append(Step("momentum.unroll", "m_n = sum_{k<n} beta1^k g_{n-k}; G_n m_n = sum_k beta1^k G_{n-k} g_{n-k} + sum_k beta1^k (G_n - G_{n-k}) g_{n-k}",
                      [check_identity(m, unrolled, "recurrence unrolled over 6 steps"),
                       check_identity(Gs[-1] * m, split, "split into lagged descent terms and gradient gaps")],
                      uses=()))
    # 2. lag lemma
    steps.append(Step("momentum.lag_lemma",
                      "E'[G_{n-k} g_{n-k}/sqrt(eps+v_n)] >= G_{n-k}^2/(2 sqrt(eps+vt_{n,k+1})) - R sqrt(k+1) E'[g_{n-k}^2/(eps+v_n)] "
                      "- R beta2^(-k/2) E'[Z_{n,k}], vt_{n,k+1} = beta2^(k+1) v_{n-k-1} + E'[sum_{j=n-k}^n beta2^(n-j) g_j^2], E' = E[.|F_{n-k-1}]",
                      [_young_check(), check_lag_lemma(**kw)], uses=("unbiased", "bounded_gradients")))
    steps.append(Step("momentum.lag_lemma_q",
                      "quantized lag lemma: E'[G g_{n-k}/sqrt(eps+v_n)] >= G^2/(2 sqrt(eps+vt)) - |G||G-Ghat|/sqrt(eps+vt) "
                      "- s|G|((1-q_V)^(-(k+1)/2) - 1) - s(q_G|G| + |G-Ghat|)/(1-q_G) - u Rh sqrt(k+1)/(1-q_G)^2 E'[g_{n-k}^2/(eps+v_n)] "
                      "- u R s/(1-q_G) E'[Z_n], s = beta2^(-k/2), u = (1+q_V)^(k+1), Ghat = grad F(Q_W(x_{n-k-1}))",
                      [check_lag_lemma_q(**kw)], uses=("momentum.lag_lemma", "round.G", "round.V", "round.W", "unbiased", "bounded_gradients")))
    # 3. gap
    c, x, y = sp.symbols("c x y", positive=True)
    steps.append(Step("momentum.gap",
                      "|(G_n-G_{n-k}) g|/sqrt(eps+v) <= c (G_n-G_{n-k})^2 + g^2/(4c(eps+v)), c = sqrt(1-beta1)/(4R sqrt(k+1)); "
                      "||G_n - G_{n-k}||^2 <= L^2 alpha_n^2 k sum_{l=1}^k ||u_{n-l}||^2",
                      [check_nonnegative(c * x ** 2 + y ** 2 / (4 * c) - x * y, detail="Young: c x^2 + y^2/(4c) - x y = (2 c x - y)^2/(4c)"),
                       check_gap_smooth(**kw)], uses=("smoothness", "descent.step_size")))
    # 4. ratio facts
    steps.append(Step("momentum.ratios",
                      "g_{n-k}^2/(eps+v_n) <= beta2^(-k) U_{n-k}^2; Z_{n,k} <= sum_{l<=k} U_{n-l}^2; "
                      "||u_n||^2 <= 1/(1-beta1) sum_k (beta1/beta2)^k ||U_{n-k}||^2; sum_n ||U_n||^2 <= d N Lambda0 (sum-of-ratios at q = 0)",
                      [check_ratio_facts(**kw)], uses=("lemma.sum_of_ratios_q",)))
    # 5. geometric sums
    steps.append(Step("momentum.geometric",
                      "sum_k a^k sqrt(k+1) <= (1-a)^(-3/2); sum_k beta1^k k^(3/2) <= beta1 sqrt(1+beta1)/(1-beta1)^(5/2); "
                      "sum_k b^k sum_{l<=k} x_l = sum_l x_l b^l/(1-b)",
                      _closed_form_checks() + [check_geometric_sums(**kw)]))
    # 6. weights
    ys = sp.symbols("y1:7")
    lhs_w = sum(beta1 ** k * ys[nn - k - 1] for nn in range(1, 7) for k in range(nn))
    rhs_w = sum(ys[j - 1] * (1 - beta1 ** (6 - j + 1)) / (1 - beta1) for j in range(1, 7))
    t2 = sp.Symbol("t2", positive=True); Ns = sp.Symbol("N", positive=True, integer=True)
    norm = Ns - beta1 * (1 - beta1 ** Ns) / (1 - beta1)
    steps.append(Step("momentum.weights",
                      "sum_n sum_{k<n} beta1^k y_{n-k} = sum_j y_j (1-beta1^(N-j+1))/(1-beta1); P[tau=j] ~ 1 - beta1^(N-j) has normaliser "
                      "N - beta1(1-beta1^N)/(1-beta1) >= N~ = N - beta1/(1-beta1)",
                      [check_identity(lhs_w, rhs_w, "swap of the double sum, N = 6"),
                       check_nonnegative((norm - (Ns - beta1 / (1 - beta1))).subs(beta1, 1 / (1 + t2)),
                                         detail="difference = beta1^(N+1)/(1-beta1) >= 0 with beta1 = 1/(1+t2)")]))
    # 7. assembly
    Dn = d * T * LAM0  # sum_n ||U_n||^2 <= d N Lambda0
    Su = Dn / ((1 - beta1) * (1 - A_))  # sum_n ||u_n||^2
    E1 = ALPHA_BAR * R * (1 + 1 / sp.sqrt(1 - beta1)) * (1 - A_) ** sp.Rational(-3, 2) * Dn
    E2 = ALPHA_BAR * R / (1 - B_) ** 2 * Dn
    E3 = ALPHA_BAR ** 3 * sp.sqrt(1 - beta1) * L ** 2 / (4 * R) * beta1 * sp.sqrt(1 + beta1) / (1 - beta1) ** sp.Rational(5, 2) * Su
    E4 = L / 2 * ALPHA_BAR ** 2 * Su
    assembled = 2 * R / (alpha * NTIL) * (Delta + E1 + E2 + E3 + E4)
    steps.append(Step("momentum.assembly",
                      "descent lemma summed over n, lower term alpha_n/sqrt(eps+vt) >= alpha(1-beta1)/R, error terms bounded with "
                      "alpha_n <= alpha(1-beta1)/sqrt(1-beta2), divided by alpha N~/(2R): the closed form BOUND_M0",
                      [check_identity(assembled, BOUND_M0, "assembled sum of the four error terms equals the closed form",
                                      atoms={LAM0: sp.Symbol("Lambda0_")})],
                      relation=BOUND_M0,
                      uses=("momentum.unroll", "momentum.lag_lemma", "momentum.gap", "momentum.ratios", "momentum.geometric",
                            "momentum.weights", "descent.denominator", "lower_bound", "smoothness")))
    # 8. comparison with Theorem 4
    key = (1 - B_) ** 2 - (1 - beta1) * (1 - A_)
    steps.append(Step("momentum.vs_thm4",
                      "BOUND_M0 <= Défossez Thm 4 (MATH.md): same init and L terms, R^2 bracket <= 6 sqrt(1-beta1)/(1-a)^(3/2) (vs 12), "
                      "L^2 term sqrt(1+beta1)/2 (vs 2); key fact (1-b)^2 - (1-beta1)(1-a) = beta1 (1/sqrt(beta2) - 1)^2",
                      [check_identity(key, beta1 * (1 / sp.sqrt(beta2) - 1) ** 2, "key fact for the lag_tail term"),
                       check_vs_thm4(**kw)],
                      relation=sp.LessThan(BOUND_M0, THM4), uses=("momentum.assembly",)))
    return attach_proofs(steps, proofs)


def attach_proofs(steps: list, proofs: dict | None = None) -> list:
    """Give each momentum step its proof items (momentum_proof_items), their discharges and a ``proof``
    check; a step without items stays "unproved" (its sampled checks are sanity checks, not proofs)."""
    from qbound.bounds.derivation import proof_check
    items = momentum_proof_items()
    proofs = prove_momentum() if proofs is None else proofs
    for s in steps:
        mine = [it for st, it in items if st == s.name]
        if not mine:
            continue
        ds = [(it.name, proofs[it.name]) for it in mine]
        s.proof, s.discharges = mine, ds
        s.checks.insert(0, proof_check(s.name, ds))
    return steps


def _young_check() -> Check:
    """The two Young inequalities of the lag lemma: x y <= x^2/4 + y^2 (symbolic)."""
    x, y = sp.symbols("x y", positive=True)
    return check_nonnegative(x ** 2 / 4 + y ** 2 - x * y, detail="x y <= x^2/4 + y^2, difference (x - 2y)^2/4")


def _l2_check() -> Check:
    """sqrt(1+beta1)/2 <= 2 for 0 <= beta1 < 1 (the L^2 term of Thm 4 dominates ours)."""
    t = sp.Symbol("t", positive=True)
    return check_nonnegative(16 - (1 + beta1), subs={beta1: 1 / (1 + t)},
                             detail="16 (2^2 - (sqrt(1+beta1)/2)^2) = 15 - beta1 >= 0 with beta1 = 1/(1+t) in (0,1)")


def _closed_form_checks() -> list:
    """SymPy's closed forms of sum a^k, sum k a^k, sum k^2 a^k (|a| < 1) and the Cauchy-Schwarz products."""
    a = sp.Symbol("a", positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    out = []
    for expr, closed, lab in ((a ** k, 1 / (1 - a), "sum a^k"), (k * a ** k, a / (1 - a) ** 2, "sum k a^k"),
                              (k ** 2 * a ** k, a * (1 + a) / (1 - a) ** 3, "sum k^2 a^k")):
        s = sp.summation(expr, (k, 0, sp.oo))
        if isinstance(s, sp.Piecewise):
            s = s.args[0][0]
        out.append(check_identity(s, closed, lab + " (|a| < 1)"))
    # Cauchy-Schwarz: (sum a^k sqrt(k+1))^2 <= (sum a^k)(sum a^k (k+1)) = 1/(1-a)^3
    out.append(check_identity((1 / (1 - a)) * (1 / (1 - a) + a / (1 - a) ** 2), (1 - a) ** -3, "C-S product for sum a^k sqrt(k+1)"))
    out.append(check_identity((a / (1 - a) ** 2) * (a * (1 + a) / (1 - a) ** 3), a ** 2 * (1 + a) / (1 - a) ** 5,
                              "C-S product for sum a^k k^(3/2)"))
    return out


# ------------------------------------------------------------------------------------------
# the quantized lag lemma (the first quantized piece of the momentum skeleton)

def check_lag_lemma_q(n=10_000, seed=16, wrong: str | None = None, **kw) -> Check:
    r"""Sampled check of the quantized lag lemma.  Per coordinate, lag k, E' = E[. | F_{n-k-1}]:
    h_j stochastic gradients at the quantized weights (|h_j| <= R - sqrt(eps)), E' h_{n-k} = Ghat,
    G the true gradient at the master weights (|G - Ghat| <= L q_W ||x|| in l2 after summing),
    g_j = (1 + gamma_j) h_j, |gamma_j| <= q_G, and v_n from v_{n-k-1} >= 0 by the quantized
    recursion w <- (1 + nu_j)(beta2 w + g_j^2), |nu_j| <= q_V (multipliers arbitrary, even adapted).
    With vt = beta2^(k+1) v_{n-k-1} + E'[sum_j beta2^(n-j) g_j^2], s = beta2^(-k/2), Rh = (1+q_G) R,
    l = (1-q_V)^(k+1), u = (1+q_V)^(k+1):

      E'[G g_{n-k}/sqrt(eps+v_n)] >= G^2/(2 sqrt(eps+vt)) - |G||G-Ghat|/sqrt(eps+vt)
          - s |G| (l^(-1/2) - 1) - s (q_G |G| + |G - Ghat|)/(1 - q_G)
          - u Rh sqrt(k+1)/(1-q_G)^2 E'[g_{n-k}^2/(eps+v_n)] - u R s/(1-q_G) E'[Z_n],
      Z_n = sum_{j=n-k}^n beta2^(n-j) g_j^2/(eps + v_n).

    Proof: v_n lies in [l, u] times the unquantized recursion vbar from v_{n-k-1} (same g_j), so
    replacing v_n by vbar costs s|G|(l^(-1/2) - 1) (as |g_{n-k}| <= s sqrt(vbar)); g = (1+gamma) h
    costs s q_G |G|/(1-q_G); G -> Ghat in the numerator costs s|G-Ghat|/(1-q_G); the q = 0 lag
    lemma for (Ghat, h) with vbar built from the g_j gives the rest, with |h| <= |g|/(1-q_G) and
    E' h^2 <= beta2^(-k) vt/(1-q_G)^2; Ghat^2 >= G^2 - 2|G||G-Ghat|; finally 1/(eps+vbar) <= u/(eps+v_n).
    At q = 0 and Ghat = G it is the lag lemma.  ``wrong="no_w_bias"`` drops the two terms that pay
    for Ghat != G (as if the gradient were taken at the master weights): a deliberately wrong step.
    (Dropping only the v-quantization price s|G|(l^(-1/2) - 1) is not detectably wrong for
    q_V <= 0.25, k <= 3: the factor 1/2 of the main term absorbs it while (1+q_V)^(k+1) < 4.)"""
    K = 4

    def sampler(rng, N):
        p = _lag_params(rng, N, K)
        qg, qm, qv = (rng.uniform(0, 0.25, N) for _ in range(3))
        for q in (qg, qv):
            q[rng.random(N) < 0.1] = 0.0
        sg = rng.random(N) < 0.3  # adversarial: multipliers at their extremes
        gam = rng.uniform(-1, 1, (N, K, KMAX + 1)); nu = rng.uniform(-1, 1, (N, K, KMAX + 1))
        gam[sg] = np.sign(gam[sg]); nu[sg] = -1.0
        p.update({"qg": qg, "qv": qv, "gam": gam.reshape(N, -1), "nu": nu.reshape(N, -1),
                  "dG": rng.uniform(-1, 1, N) * p["R"] * (rng.random(N) < 0.7) * rng.uniform(0, 1, N) ** 3})
        return p

    def parts(p, xp):
        sqrt = xp["sqrt"]; pw = xp["pow"]; ab = xp["abs"]
        k = p["k"]; b2 = p["b2"]; qg, qv = p["qg"], p["qv"]
        hs = p["g"]  # atoms x window: the stochastic gradients h (|h| <= R - sqrt(eps))
        probs = p["p"]
        E = lambda xs: sum(pa * x for pa, x in zip(probs, xs))  # noqa: E731
        gs = [[(1 + p["gam"][a][j] * qg) * hs[a][j] for j in range(KMAX + 1)] for a in range(K)]
        act = [xp["where"](j <= k, 1.0, 0.0) for j in range(KMAX + 1)]
        v = []
        for a in range(K):
            w = p["vp"]
            for j in range(KMAX + 1):
                w = act[j] * (1 + p["nu"][a][j] * qv) * (b2 * w + gs[a][j] ** 2) + (1 - act[j]) * w
            v.append(w)
        wts = [pw(b2, k - j) * act[j] for j in range(KMAX + 1)]
        vt = pw(b2, k + 1) * p["vp"] + E([sum(wts[j] * ga[j] ** 2 for j in range(KMAX + 1)) for ga in gs])
        Ghat = E([ha[0] for ha in hs])
        G = Ghat + p["dG"]
        dGa = ab(p["dG"])
        lhs = E([G * ga[0] / sqrt(p["eps"] + va) for ga, va in zip(gs, v)])
        r0 = E([ga[0] ** 2 / (p["eps"] + va) for ga, va in zip(gs, v)])
        Z = E([sum(wts[j] * ga[j] ** 2 for j in range(KMAX + 1)) / (p["eps"] + va) for ga, va in zip(gs, v)])
        s = pw(b2, -k / 2); lq = pw(1 - qv, k + 1); uq = pw(1 + qv, k + 1)
        Rh_ = (1 + qg) * p["R"]
        sv = sqrt(p["eps"] + vt)
        dGp = 0 * dGa if wrong == "no_w_bias" else dGa
        rhs = (G * G / (2 * sv) - ab(G) * dGp / sv
               - s * ab(G) * (1 / sqrt(lq) - 1)
               - s * (qg * ab(G) + dGp) / (1 - qg)
               - uq * Rh_ * sqrt(k + 1) / (1 - qg) ** 2 * r0 - uq * p["R"] * s / (1 - qg) * Z)
        scale = G * G / sv + ab(G) * s * (dGa / p["R"] + qg + qv) + p["R"] * (r0 + Z) + 1e-300
        return (lhs - rhs) / scale

    def split(p, N_):
        q = dict(p)
        for key in ("g", "gam", "nu"):
            arr = p[key].reshape(N_, K, KMAX + 1)
            q[key] = [[arr[:, a, j] for j in range(KMAX + 1)] for a in range(K)]
        q["p"] = [p["p"][:, a] for a in range(K)]
        return q

    def mf(p):
        N_ = p["k"].shape[0]
        return parts(split(p, N_), {"sqrt": np.sqrt, "pow": np.power, "abs": np.abs, "where": np.where})

    def me(pt):
        mp = _mp()
        q = {k_: mp.mpf(pt[k_]) for k_ in ("R", "eps", "k", "vp", "b2", "qg", "qv", "dG")}
        for key in ("g", "gam", "nu"):
            arr = [mp.mpf(x) for x in pt[key]]
            q[key] = [[arr[a * (KMAX + 1) + j] for j in range(KMAX + 1)] for a in range(K)]
        tot = sum(mp.mpf(x) for x in pt["p"])
        q["p"] = [mp.mpf(x) / tot for x in pt["p"]]
        xp = {"sqrt": mp.sqrt, "pow": lambda b, e: mp.power(b, e), "abs": abs,
              "where": lambda c, x, y: mp.mpf(x) if c else mp.mpf(y)}
        return parts(q, xp)

    return check_sampled(sampler, mf, me, n=n, seed=seed,
                         detail="quantized lag lemma (Q_G, Q_V multipliers, gradient at Q_W(x)) on random 4-atom joint "
                                "distributions, lags 0..3, q_G, q_V <= 0.25 (30% multipliers at their extremes)"
                         + (" - deliberately wrong: no price for the gradient at Q_W(x)" if wrong else ""), **kw)


# ------------------------------------------------------------------------------------------
# the quantized momentum skeleton: ratio facts on quantized sequences, closed form, assembly

def _qsyms():
    from qbound.bounds import adam_base as A
    return A


def check_ratio_facts_q(n=10_000, seed=17, steps=7, wrong: bool = False, **kw) -> Check:
    """On quantized sequences (h_j in [-Rg, Rg], g = (1+gamma) h, m_n = (1+mu)(beta1 m + g),
    v_n = (1+nu)(beta2 v + g^2), |gamma| <= q_G, |mu| <= q_M, |nu| <= q_V, beta1(1+q_M) < beta2(1-q_V)),
    every n and lag k (U_j = g_j/sqrt(eps+v_j)):
    (a) g_{n-k}^2/(eps+v_n) <= (beta2(1-q_V))^(-k) U_{n-k}^2;
    (b) Z_{n,k} = sum_{j=n-k}^n beta2^(n-j) g_j^2/(eps+v_n) <= sum_{l<=k} (1-q_V)^(-l) U_{n-l}^2;
    (c) m_n^2/(eps+v_n) <= (1+q_M)^2/(1-beta1(1+q_M)) sum_k (beta1(1+q_M)/(beta2(1-q_V)))^k U_{n-k}^2;
    (d) |m_n - sum_k beta1^k g_{n-k}|/sqrt(eps+v_n) <= kappa_e (the momentum-rounding bias);
    (e) eps + vt_{n,k+1} <= Rh^2 S_n Gamma_n^2 for vt_{n,k+1} = beta2^(k+1) v_{n-k-1} + sum_j beta2^(n-j) E'g_j^2,
        any E'g_j^2 in [0, (Rh - sqrt eps)^2].
    ``wrong=True`` uses beta2 instead of beta2(1 - q_V) in (a) (the q = 0 fact on quantized v)."""
    def sampler(rng, N):
        qg, qm, qv = (rng.uniform(0, 0.2, N) for _ in range(3))
        for q in (qg, qm, qv):
            q[rng.random(N) < 0.15] = 0.0
        b2 = 1 - log_uniform(rng, 1e-3, 1, N) * 0.999
        b1 = b2 * (1 - qv) / (1 + qm) * rng.uniform(0, 1, N) ** 0.3 * 0.9999
        b1[rng.random(N) < 0.1] = 0.0
        R_ = rng.uniform(0.5, 4, N)
        e = np.minimum(log_uniform(rng, 1e-10, 1, N), 0.8 * R_ ** 2)
        ext = rng.random(N) < 0.4  # multipliers at their extremes
        mu, nu, gam = (rng.uniform(-1, 1, (N, steps)) for _ in range(3))
        nu[ext] = np.where(rng.random((int(ext.sum()), steps)) < 0.5, -1.0, 1.0)
        mu[ext] = 1.0
        h = rng.uniform(-1, 1, (N, steps))
        same = rng.random(N) < 0.4
        h[same] = np.abs(h[same])
        return {"qg": qg, "qm": qm, "qv": qv, "b1": b1, "b2": b2, "R": R_, "eps": e, "mu": mu, "nu": nu, "gam": gam,
                "h": h, "r": rng.uniform(0, 1, (N, steps))}

    def run(p, xp):
        pw, sqrt, ab, mn = xp["pow"], xp["sqrt"], xp["abs"], xp["min"]
        qg, qm, qv, b1, b2, e = p["qg"], p["qm"], p["qv"], p["b1"], p["b2"], p["eps"]
        Rg = p["R"] - sqrt(e); Rh_ = (1 + qg) * p["R"]
        g = [(1 + p["gam"][t] * qg) * p["h"][t] * Rg for t in range(steps)]
        m = 0 * b1; v = 0 * b1; ms, vs = [], []
        for t in range(steps):
            m = (1 + p["mu"][t] * qm) * (b1 * m + g[t]); v = (1 + p["nu"][t] * qv) * (b2 * v + g[t] ** 2)
            ms.append(m); vs.append(v)
        U2 = [g[t] ** 2 / (e + vs[t]) for t in range(steps)]
        x = b1 / sqrt(b2 * (1 - qv))
        ke = ((1 + qm) / (1 - x * (1 + qm)) - 1 / (1 - x)) / sqrt(1 - qv)
        bh = b1 * (1 + qm); ah = bh / (b2 * (1 - qv))
        bq = b2 if wrong else b2 * (1 - qv)
        worst = None

        def upd(w, val):
            return val if w is None else mn(w, val)
        Eg = [p["r"][t] * (Rh_ - sqrt(e)) ** 2 for t in range(steps)]
        for nn in range(steps):
            mbar = sum(pw(b1, k) * g[nn - k] for k in range(nn + 1))
            rc = (1 + qm) ** 2 / (1 - bh) * sum(pw(ah, k) * U2[nn - k] for k in range(nn + 1))
            worst = upd(worst, (rc - ms[nn] ** 2 / (e + vs[nn])) / (rc + 1e-300))
            dev = ab(ms[nn] - mbar) / sqrt(e + vs[nn])
            worst = upd(worst, (ke - dev) / (ke + ab(mbar) / sqrt(e + vs[nn]) + 1e-300))
            S = sum(pw(b2, j) for j in range(nn + 1))
            capA = pw(1 + qv, nn); capB = xp["capB"](b2 * (1 + qv))
            cap = Rh_ ** 2 * S * mn(capA, capB)
            for k in range(nn + 1):
                ra = pw(bq, -k) * U2[nn - k]
                worst = upd(worst, (ra - g[nn - k] ** 2 / (e + vs[nn])) / (ra + 1e-300))
                Zk = sum(pw(b2, nn - j) * g[j] ** 2 for j in range(nn - k, nn + 1)) / (e + vs[nn])
                rb = sum(pw(1 - qv, -l) * U2[nn - l] for l in range(k + 1))
                worst = upd(worst, (rb - Zk) / (rb + 1e-300))
                old = pw(b2, k + 1) * vs[nn - k - 1] if nn - k - 1 >= 0 else 0 * b2
                vt = old + sum(pw(b2, nn - j) * Eg[j] for j in range(nn - k, nn + 1))
                worst = upd(worst, (cap - e - vt) / cap)
        return worst

    def mf(p):
        q = dict(p)
        for key in ("mu", "nu", "gam", "h", "r"):
            q[key] = [p[key][:, t] for t in range(steps)]
        xp = {"pow": np.power, "sqrt": np.sqrt, "abs": np.abs, "min": np.minimum,
              "capB": lambda bh: np.where(bh < 1, 1 / np.where(bh < 1, 1 - bh, 1), np.inf)}
        return run(q, xp)

    def me(pt):
        mp = _mp()
        q = {k_: ([mp.mpf(x) for x in v] if isinstance(v, list) else mp.mpf(v)) for k_, v in pt.items()}
        xp = {"pow": lambda b, ex: mp.power(b, ex) if ex != 0 else mp.mpf(1), "sqrt": mp.sqrt, "abs": abs, "min": min,
              "capB": lambda bh: 1 / (1 - bh) if bh < 1 else mp.inf}
        return run(q, xp)

    return check_sampled(sampler, mf, me, n=n, seed=seed,
                         detail=f"quantized ratio facts, momentum-rounding bias and lagged denominator on {steps}-step quantized "
                                f"sequences (40% multipliers at their extremes)" + (" - deliberately wrong: beta2 for beta2(1-q_V)" if wrong else ""),
                         **kw)


def quantized_bound():
    """(BOUND_MQ, CONDITIONS_MQ, pieces): the fully derived quantized momentum bound (see module docs)."""
    A = _qsyms()
    q_W, q_G, q_M, q_V = A.q_W, A.q_G, A.q_M, A.q_V
    Rh = (1 + q_G) * R
    b = B_
    aq = beta1 / (beta2 * (1 - q_V))
    a1 = beta1 * (1 + q_V) / (beta2 * (1 - q_V))
    b1 = beta1 * (1 + q_V) / sp.sqrt(beta2)
    bh = beta1 * (1 + q_M)
    ah = bh / (beta2 * (1 - q_V))
    D = d * T * A.Lam / (1 - q_V)                       # sum_n ||U_n||^2
    Su = (1 + q_M) ** 2 / ((1 - bh) * (1 - ah)) * D     # sum_n ||u_n||^2
    X = A.X_1                                          # growth of ||x_t||_2
    per_gmv = (d * R * A.kappa_e                                                    # momentum rounding bias
               + d * R * ((1 - q_V) ** sp.Rational(-1, 2) / (1 - b / sp.sqrt(1 - q_V)) - 1 / (1 - b))  # v quantization
               + q_G * d * R / ((1 - q_G) * (1 - b)))                                  # gradient rounding
    per_w = sp.sqrt(d) * L * q_W * X / ((1 - q_G) * (1 - b))                            # gradient at Q_W(x): numerator
    # the progress is in E||Ghat||^2 (gradients at Q_W(x)); back to the master weights once, at the end:
    # ||G||^2 <= ||Ghat||^2 + 2 sqrt(d) R L q_W X (no 1/sqrt(eps): not inside |G||D|/sqrt(eps + v))
    wshift = 2 * sp.sqrt(d) * R * L * q_W * X
    per_step = per_gmv + per_w
    ratio_coef = (Rh * (1 + q_V) / (1 - q_G) ** 2 * (1 - a1) ** sp.Rational(-3, 2)
                  + R * (1 + q_V) / ((1 - q_G) * (1 - b1) * (1 - b1 / (1 - q_V)))
                  + Rh / sp.sqrt(1 - beta1) * (1 - aq) ** sp.Rational(-3, 2))
    gapL = ALPHA_BAR ** 3 * sp.sqrt(1 - beta1) * L ** 2 / (4 * Rh) * beta1 * sp.sqrt(1 + beta1) / (1 - beta1) ** sp.Rational(5, 2) * Su
    curv = L / 2 * ALPHA_BAR ** 2 * Su
    pref = 2 * Rh / (alpha * NTIL)
    terms = {"init": pref * Delta, "bias_GMV": pref * T * ALPHA_BAR * per_gmv, "bias_W": pref * T * ALPHA_BAR * per_w,
             "ratio": pref * ALPHA_BAR * ratio_coef * D, "gap_smooth": pref * gapL, "curvature": pref * curv,
             "shift_W": wshift}
    bound = A.Gamma * sp.Add(*terms.values())
    conds = [sp.StrictLessThan(beta1 * (1 + q_V), beta2 * (1 - q_V)),
             sp.StrictLessThan(beta1 * (1 + q_M), beta2 * (1 - q_V)),
             sp.StrictLessThan(beta1 * (1 + q_V), sp.sqrt(beta2) * (1 - q_V)),
             sp.StrictGreaterThan(T, beta1 / (1 - beta1))] + list(A.CONDITIONS0)
    pieces = {"per_step": per_step, "per_gmv": per_gmv, "per_w": per_w, "wshift": wshift, "ratio_coef": ratio_coef, "D": D, "Su": Su,
              "gapL": gapL, "curv": curv, "terms": terms, "X": X}
    return bound, conds, pieces


def check_q0_of_quantized() -> Check:
    """BOUND_MQ with every q = 0 equals BOUND_M0 (SymPy)."""
    A = _qsyms()
    t0 = time.perf_counter()
    bq, _, _ = quantized_bound()
    lam_s = sp.Symbol("Lambda_")
    lam_ok = sp.simplify(A.resolve_q0(A.Lam) - LAM0) == 0  # the log term reduces separately
    gam_ok = sp.simplify(A.resolve_q0(A.Gamma) - 1) == 0
    e = A.resolve_q0(bq.xreplace({A.Lam: lam_s, A.Gamma: sp.Symbol("Gamma_")})).subs(sp.Symbol("Gamma_"), 1)
    diff = sp.cancel(sp.together(e - BOUND_M0.xreplace({LAM0: lam_s})))
    if diff != 0:
        diff = sp.simplify(diff)
    ok = lam_ok and gam_ok and diff == 0
    return Check("symbolic", "passed" if ok else "failed", 0.0 if ok else None, 0, time.perf_counter() - t0,
                 "quantized momentum bound at q = 0 equals the derived skeleton BOUND_M0" + ("" if ok else f"; difference {diff}"))


def build_quantized_steps(n: int = 10_000, exact_all: bool = False, trajectory: bool = True, proofs: dict | None = None) -> list:
    kw = {"n": n, "exact_all": exact_all}
    A = _qsyms()
    bq, _, pc = quantized_bound()
    rq = check_ratio_facts_q(**kw)  # samples (a)-(e) together: a sanity check of both steps below
    steps = [Step("momentum.ratios_q",
                  "on quantized sequences: g_{n-k}^2/(eps+v_n) <= (beta2(1-q_V))^(-k) U_{n-k}^2; Z_{n,k} <= sum_{l<=k} (1-q_V)^(-l) U_{n-l}^2; "
                  "||u_n||^2 <= (1+q_M)^2/(1-beta1(1+q_M)) sum_k (beta1(1+q_M)/(beta2(1-q_V)))^k ||U_{n-k}||^2",
                  [rq], uses=("round.G", "round.M", "round.V", "envelope.v", "envelope.m")),
             Step("momentum.bias_q",
                  "|m_n - mbar_n|/sqrt(eps+v_n) <= kappa_e (momentum-rounding bias, every n); eps + vt_{n,k+1} <= Rh^2 S_n Gamma_n^2 "
                  "(lagged denominator); proved by the inductions of bias_items, sampled as a sanity check",
                  [rq], uses=("round.M", "round.V", "envelope.v", "momentum.bias"))]
    # geometric closed forms with the quantization factors
    bb, cc = sp.symbols("b c", positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    def _geo(base):
        r = sp.summation(base ** k, (k, 0, sp.oo))
        return r.args[0][0] if isinstance(r, sp.Piecewise) else r  # the |base| < 1 branch
    s1 = cc * _geo(bb * cc) - _geo(bb)
    steps.append(Step("momentum.geometric_q",
                      "sum_k b^k ((1-q_V)^(-(k+1)/2) - 1) = c/(1-bc) - 1/(1-b), c = (1-q_V)^(-1/2), b = beta1/sqrt(beta2); "
                      "sum_k beta1^k beta2^(-k/2) = 1/(1-b); sum_k a1^k sqrt(k+1) <= (1-a1)^(-3/2) (momentum.geometric with a = a1)",
                      [check_identity(s1, cc / (1 - bb * cc) - 1 / (1 - bb), "geometric closed form (|bc| < 1)")],
                      uses=("momentum.geometric",)))
    # ||x_t|| <= X_1 with momentum (update envelope U1, triangle inequality, box), and its link to the W items
    from qbound.bounds.adam_momentum_weights import link_errors
    t_link = time.perf_counter()
    errs = link_errors(w_shift_items())
    steps.append(Step("momentum.weight_growth",
                      "|m_t| <= c S_t sqrt(v_t) (induction), S_t <= 1/(1-rho), m_t^2/(eps+v_t) <= U1^2, ||u_t|| <= sqrt(d) U1, "
                      "alpha_t <= alpha(1-beta1)/sqrt(1-beta2), triangle inequality and induction on t, box: "
                      "||x_t||_2 <= X_1 = Min(X0 + T sqrt(d) alpha (1-beta1) U1/sqrt(1-beta2), sqrt(d) Bx)",
                      [Check("link", "failed" if errs else "passed", None, 1, time.perf_counter() - t_link,
                             "; ".join(errs) or "the premise ||x|| <= X of momentum.w_shift.norm at X = X_1 is the conclusion "
                                                "of momentum.weight_bound")],
                      relation=sp.Le(sp.Symbol("nx", nonnegative=True), A.X_1),
                      uses=("round.M", "round.V", "bounded_init", "box")))
    # from the quantized point back to the master weights, once
    gi_, ghi_ = sp.symbols("G_i Ghat_i", real=True)
    steps.append(Step("momentum.w_shift",
                      "E||grad F(x_tau)||^2 <= E||grad F(Q_W(x_tau))||^2 + 2 sqrt(d) R L q_W X (||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat>, "
                      "Cauchy-Schwarz, |G_i|, |Ghat_i| <= R, smoothness and round.W with ||x|| <= X): the W term without 1/sqrt(eps)",
                      [check_identity(gi_ ** 2 - ghi_ ** 2, (gi_ - ghi_) * (gi_ + ghi_), "||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat>")],
                      uses=("round.W", "smoothness", "bounded_gradients", "momentum.weight_growth")))
    # assembly: BOUND_MQ written from the summed terms
    steps.append(Step("momentum.assembly_q",
                      "descent lemma with m_n = mbar_n + e_n, summed over n: progress alpha(1-beta1)/(2 Rh Gamma) sum_k beta1^k ||G_{n-k}||^2 "
                      "(momentum.ratios_q (e)), penalties of momentum.lag_lemma_q, the gap with c_k = sqrt(1-beta1)/(4 Rh sqrt(k+1)), "
                      "quantized ratio facts, sum-of-ratios (quantized), ||x|| growth X; closed form BOUND_MQ, which equals BOUND_M0 at q = 0",
                      [check_q0_of_quantized()]
                      + ([A.check_theorem_exact_expectation(beta1_=b, bound_expr=bq, bound_conditions=quantized_bound()[1],
                                                            label="the derived quantized momentum bound") for b in (0.5, 0.8)]
                         if trajectory else []),
                      relation=bq,
                      uses=("momentum.lag_lemma_q", "momentum.gap", "momentum.ratios_q", "momentum.geometric_q", "momentum.weights",
                            "lemma.sum_of_ratios_q", "momentum.weight_growth", "descent.step_size")))
    return attach_proofs(steps, proofs)


# ------------------------------------------------------------------------------------------
# the derived quantized momentum bound as the API bound for beta1 > 0 (bounds.adam uses it):
# BOUND_MQ = Gamma * sum(TERMS_MQ), each term the summed conclusion of one group of steps

BOUND_MQ, CONDITIONS_MQ, _PIECES_MQ = quantized_bound()
TERMS_MQ = _PIECES_MQ["terms"]


# ------------------------------------------------------------------------------------------
# proofs (obligations discharged by z3/SymPy; bounds.obligation)

from qbound.bounds.obligation import Induction, Obligation, RuleApplication, prove_all  # noqa: E402


def _r(names, **kw):
    return sp.symbols(names, real=True, **kw)


def lag_lemma_items(quantized: bool = True) -> list:
    r"""The lag lemma for EVERY lag k, as pointwise obligations plus the expectation rule.

    The lag enters only through w = sqrt(k+1) and s = beta2^(-k/2) (and, quantized, l^(-1/2) with
    l = (1-q_V)^(k+1), u = (1+q_V)^(k+1)), which are free symbols here: the obligations hold for all of
    them, hence for every k.  Per coordinate, D = sqrt(eps + v_n), Dt = sqrt(eps + vt), S = E'P,
    P = sum_{j=n-k}^n beta2^(n-j) g_j^2, m2 = E' g_{n-k}^2 (q = 0; E' h^2 quantized):

    * window: Dt^2 - D^2 = S - P, S <= Dt^2, P <= D^2, m2 <= s^2 Dt^2 (vt >= beta2^k E'g^2), S <= w^2 R^2;
    * A (the E' part): G g S/(D Dt (D + Dt)) >= -G^2/(4 Dt) - R w g^2/D^2   (Young, S^2/Dt^3 <= sqrt S);
    * B (the random part): -G g P/(D Dt (D + Dt)) >= -G^2 g^2/(4 m2 Dt) - R s P/D^2   (Young weighted by |g|/sqrt(m2));
    * split: G g/D = G g/Dt + G g S/(D Dt(D+Dt)) - G g P/(D Dt(D+Dt))  (identity);
    * expectation (E' g = G, E' g^2 = m2): E'[G g/D] >= G^2/(2 Dt) - R w E'[g^2/D^2] - R s E'[Z].

    >>> its = dict((it.name, it) for it in lag_lemma_items(quantized=False))
    >>> from qbound.bounds.obligation import discharge
    >>> discharge(its["momentum.lag_lemma.young_B"], engines=("z3",)).status
    'proved'
    """
    out = []
    G, g, Gh, h, gam = _r("G g Ghat h gamma")
    D, Dt, Db, m2, Rr, Rhh = sp.symbols("D Dt Dbar m2 R_g Rh_g", positive=True)
    S, P, c0 = sp.symbols("S P c0", nonnegative=True)
    w, s = sp.symbols("w s", positive=True)
    lhsE, r0, Z, EGg, Eg2, u1, u2, u3, u4 = _r("E_lhs r0 Z E_g E_g2 u1 u2 u3 u4")
    ee = sp.Symbol("eps_", positive=True)
    bk = sp.Symbol("bk", positive=True)  # beta2^k
    nm = "momentum.lag_lemma"
    win = (sp.Eq(Dt ** 2 - D ** 2, S - P), sp.Le(S, Dt ** 2), sp.Le(P, D ** 2), sp.Le(S, w ** 2 * Rr ** 2), sp.Le(m2, s ** 2 * Dt ** 2),
           sp.Le(m2, Rr ** 2))
    out.append(Obligation(nm + ".window",
                          (sp.Eq(D ** 2, ee + c0 + P), sp.Eq(Dt ** 2, ee + c0 + S), sp.Le(bk, 1), sp.Le(bk * m2, S), sp.Eq(bk * s ** 2, 1)),
                          sp.And(*win[:3], win[4]),
                          note="D^2 = eps + beta2^(k+1) v_{n-k-1} + P, Dt^2 = eps + beta2^(k+1) v_{n-k-1} + S (c0 >= 0); "
                               "S contains beta2^k E'g_{n-k}^2; s = beta2^(-k/2)"))
    y = sp.Symbol("y", nonnegative=True)
    out.append(Obligation(nm + ".window_term", (sp.Le(bk, 1), sp.Le(y, Rr ** 2)), sp.Le(bk * y, Rr ** 2),
                          note="each of the k+1 terms beta2^(n-j) E'g_j^2 of S is <= R^2; summed (rule below): S <= (k+1) R^2 = w^2 R^2"))
    out.append(RuleApplication("sum_over_t", (nm + ".window_term",), sp.Le(S, w ** 2 * Rr ** 2),
                               note="sum over the k+1 window indices j = n-k..n, w^2 = k+1", name=nm + ".window_sum",
                               spec=(("sums", ((bk * y, S),)), ("count", w ** 2))))
    out.append(Obligation(nm + ".g_square", (sp.Le(sp.Abs(g), Rr),), sp.Le(g ** 2, Rr ** 2),
                          note="|g_{n-k}| <= R (bounded_gradients) pointwise"))
    out.append(RuleApplication("expectation_monotone", (nm + ".g_square",), sp.Le(m2, Rr ** 2),
                               note="E' of g^2 <= R^2: m2 = E'g_{n-k}^2 <= R^2", name=nm + ".m2",
                               spec=(("rename", ((g ** 2, m2),)),)))
    frac = D * Dt * (D + Dt)
    out.append(Obligation(nm + ".split", (sp.Eq(Dt ** 2 - D ** 2, S - P),),
                          sp.Eq(G * g / D, G * g / Dt + G * g * S / frac - G * g * P / frac), note="1/D - 1/Dt = (Dt^2 - D^2)/(D Dt (D + Dt))"))
    out.append(Obligation(nm + ".young_A", win, sp.Ge(G * g * S / frac, -G ** 2 / (4 * Dt) - Rr * w * g ** 2 / D ** 2)))
    out.append(Obligation(nm + ".young_B", win, sp.Ge(-G * g * P / frac, -G ** 2 * g ** 2 / (4 * m2 * Dt) - Rr * s * P / D ** 2)))
    pw = sp.Ge(u1, G * g / Dt - G ** 2 / (4 * Dt) - Rr * w * g ** 2 / D ** 2 - G ** 2 * g ** 2 / (4 * m2 * Dt) - Rr * s * P / D ** 2)
    out.append(Obligation(nm + ".pointwise",
                          (sp.Eq(u1, G * g / Dt + u3 + u4), sp.Ge(u3, -G ** 2 / (4 * Dt) - Rr * w * g ** 2 / D ** 2),
                           sp.Ge(u4, -G ** 2 * g ** 2 / (4 * m2 * Dt) - Rr * s * P / D ** 2)), pw,
                          note="u1 = G g/D, u3, u4 the two parts (split, young_A, young_B)"))
    out.append(RuleApplication("expectation_monotone", (nm + ".pointwise",),
                               sp.Ge(lhsE, G * EGg / Dt - G ** 2 / (4 * Dt) - Rr * w * r0 - G ** 2 * Eg2 / (4 * m2 * Dt) - Rr * s * Z),
                               note="E' of the pointwise inequality; G, Dt, m2 are F_{n-k-1}-measurable (expectation_linear): "
                                    "E'u1 = E_lhs, E'[g^2/D^2] = r0, E'[P/D^2] = Z, E'g^2 = E_g2, E'g = E_g",
                               name=nm + ".expect",
                               spec=(("rename", ((u1, lhsE), (g ** 2 / D ** 2, r0), (P / D ** 2, Z), (g ** 2, Eg2), (g, EGg))),)))
    out.append(Obligation(nm + ".close",
                          (sp.Ge(lhsE, G * EGg / Dt - G ** 2 / (4 * Dt) - Rr * w * r0 - G ** 2 * Eg2 / (4 * m2 * Dt) - Rr * s * Z),
                           sp.Eq(EGg, G), sp.Eq(Eg2, m2)),
                          sp.Ge(lhsE, G ** 2 / (2 * Dt) - Rr * w * r0 - Rr * s * Z),
                          note="E'g = G (unbiased), E'g^2 = m2: the lag lemma with R sqrt(k+1) and R beta2^(-k/2)"))
    if not quantized:
        return out
    # ---- the quantized lag lemma: g = (1+gamma) h, v_n within [l, u] of vbar, gradient at Q_W(x)
    nq = "momentum.lag_lemma_q"
    qG, qV = sp.symbols("q_G q_V", nonnegative=True)
    sl, su, ll, uu = sp.symbols("sl su l u", positive=True)  # sl = l^(-1/2), su = u^(1/2)
    wb, wv, wbn, wvn, lp, up = sp.symbols("wbar wv wbar_next wv_next lp up", nonnegative=True)
    nu_, b2 = _r("nu beta2_")
    claim = sp.And(sp.Le(lp * wb, wv), sp.Le(wv, up * wb))
    base = Obligation(nq + ".window_envelope.base", (sp.Eq(wv, wb),), claim.xreplace({lp: 1, up: 1}))
    step = Obligation(nq + ".window_envelope.step",
                      (claim, sp.Le(lp, 1), sp.Ge(up, 1), sp.Gt(b2, 0), sp.Lt(b2, 1), sp.Le(sp.Abs(nu_), qV), sp.Lt(qV, 1),
                       sp.Eq(wvn, (1 + nu_) * (b2 * wv + y)), sp.Eq(wbn, b2 * wb + y)),
                      claim.xreplace({wb: wbn, wv: wvn, lp: (1 - qV) * lp, up: (1 + qV) * up}))
    out.append(Induction(nq + ".window_envelope", base, step, claim=claim, init=((lp, 1), (up, 1)),
                         shift=((wb, wbn), (wv, wvn), (lp, (1 - qV) * lp), (up, (1 + qV) * up)),
                         note="over the k+1 steps of the window from v_{n-k-1}: (1-q_V)^(k+1) vbar <= v_n <= (1+q_V)^(k+1) vbar"))
    out.append(Obligation(nq + ".denominators",
                          (sp.Le(ll * Db ** 2, D ** 2), sp.Le(D ** 2, uu * Db ** 2), sp.Le(ll, 1), sp.Ge(uu, 1), sp.Le(ll * uu, 1),
                           sp.Eq(sl ** 2 * ll, 1), sp.Eq(su ** 2, uu)),
                          sp.And(sp.Le(Db, sl * D), sp.Le(D, su * Db), sp.Le(1 - 1 / su, sl - 1)),
                          note="eps + v_n within [l, u] (eps + vbar) (l <= 1 <= u); 1/sqrt(u) + 1/sqrt(l) >= 2 since l u <= 1"))
    out.append(Obligation(nq + ".v_price",
                          (sp.Le(sp.Abs(g), s * Db), sp.Le(Db, sl * D), sp.Le(D, su * Db), sp.Le(1 - 1 / su, sl - 1), sp.Ge(sl, 1)),
                          sp.Ge(G * g / D, G * g / Db - s * sp.Abs(G) * (sl - 1)),
                          note="|g_{n-k}| <= s sqrt(eps + vbar); replacing v_n by vbar costs s|G|(l^(-1/2) - 1)"))
    out.append(Obligation(nq + ".g_price",
                          (sp.Eq(g, (1 + gam) * h), sp.Le(sp.Abs(gam), qG), sp.Lt(qG, 1), sp.Le(sp.Abs(g), s * Db)),
                          sp.Ge(G * g / Db, Gh * h / Db - s * qG * sp.Abs(G) / (1 - qG) - s * sp.Abs(G - Gh) / (1 - qG)),
                          note="g = (1+gamma) h costs s q_G|G|/(1-q_G); G -> Ghat in the numerator costs s|G - Ghat|/(1-q_G)"))
    Dtq = sp.Symbol("Dt", positive=True)
    # the three replacements of the quantized lag lemma, each its own step (so that cvc5, the second
    # solver, decides them; the one query they replace it did not), then their sum
    ghat = sp.Ge(Gh ** 2 / (2 * Dtq), G ** 2 / (2 * Dtq) - sp.Abs(G) * sp.Abs(G - Gh) / Dtq)
    r0_b = sp.Le(Rhh * w * r0, uu * Rhh * w / (1 - qG) ** 2 * u1)
    z_b = sp.Le(Rr * s / (1 - qG) * Z, uu * Rr * s / (1 - qG) * u2)
    out.append(Obligation(nq + ".qlag.ghat", (sp.Ge(Gh ** 2, G ** 2 - 2 * sp.Abs(G) * sp.Abs(G - Gh)),), ghat))
    out.append(Obligation(nq + ".qlag.r0", (sp.Lt(qG, 1), sp.Le(r0, uu * u1 / (1 - qG) ** 2)), r0_b))
    out.append(Obligation(nq + ".qlag.z", (sp.Lt(qG, 1), sp.Le(Z, uu * u2)), z_b))
    out.append(Obligation(nq + ".qlag",
                          (sp.Ge(lhsE, Gh ** 2 / (2 * Dtq) - Rhh * w * r0 - Rr * s / (1 - qG) * Z), sp.Lt(qG, 1),
                           ghat, r0_b, z_b),
                          sp.Ge(lhsE, G ** 2 / (2 * Dtq) - sp.Abs(G) * sp.Abs(G - Gh) / Dtq
                                - uu * Rhh * w / (1 - qG) ** 2 * u1 - uu * Rr * s / (1 - qG) * u2),
                          note="the q = 0 lag lemma (momentum.lag_lemma.close) for (Ghat, h) with vbar built from the g_j, "
                               "s -> s/(1-q_G) since E'h^2 <= E'g^2/(1-q_G)^2, |g| <= Rh; then r0 = E'[h^2/(eps+vbar)] <= "
                               "u E'[g^2/(eps+v_n)]/(1-q_G)^2 (u1), E'[P/(eps+vbar)] <= u E'[Z_n] (u2), Ghat^2 >= G^2 - 2|G||G-Ghat|"))
    out.append(Obligation(nq + ".ghat_square", (), sp.Ge(Gh ** 2, G ** 2 - 2 * sp.Abs(G) * sp.Abs(G - Gh))))
    out.append(Obligation(nq + ".ratio_convert",
                          (sp.Le(D ** 2, uu * Db ** 2), sp.Eq(g, (1 + gam) * h), sp.Le(sp.Abs(gam), qG), sp.Lt(qG, 1)),
                          sp.And(sp.Le(h ** 2 / Db ** 2, uu * g ** 2 / ((1 - qG) ** 2 * D ** 2)), sp.Le(P / Db ** 2, uu * P / D ** 2)),
                          note="pointwise, then E' (expectation_monotone)"))
    return out


def lag_lemma_q_statement():
    """The quantized lag lemma's conclusion (the relation the assembly uses), in the symbols of lag_lemma_items."""
    return None


def assembly_q_items(bound=None) -> list:
    r"""The q > 0 assembly: the summed descent inequality and the step conclusions imply ``bound``
    (default BOUND_MQ).  Gamma, Lambda, X and kappa_e are named as atoms (free non-negative reals: a
    stronger statement).  Per step n (the lagged penalties summed over k with the geometric closed forms
    of momentum.geometric_q and over the d coordinates):

    * v quantization  sum_k beta1^k beta2^(-k/2) |G_i| ((1-q_V)^(-(k+1)/2) - 1) <= R (c/(1-bc) - 1/(1-b));
    * gradient rounding and Q_W  sum_k b^k (q_G |G_i| + |G_i - Ghat_i|)/(1-q_G), summed over i,
      <= (q_G d R + sqrt(d) L q_W X)/((1-q_G)(1-b));
    * momentum rounding  sum_i |G_i||e_i|/sqrt(eps + v_i) <= d R kappa_e.

    The progress is in the gradients at the quantized weights, Yhat = E||Ghat_tau||^2; the stated bound is
    on Y = E||grad F(x_tau)||^2 <= Yhat + 2 sqrt(d) R L q_W X (momentum.w_shift: ||G||^2 - ||Ghat||^2 =
    <G - Ghat, G + Ghat> <= L q_W X 2 sqrt(d) R), added once instead of per step over sqrt(eps + vt) >= sqrt(eps).

    >>> its = assembly_q_items()
    >>> [it.name for it in its][:3], its[-1].name
    (['momentum.assembly_q.per_step', 'momentum.assembly_q.progress', 'momentum.assembly_q.penalties'], 'momentum.assembly_q.bound')
    """
    A = _qsyms()
    bound = BOUND_MQ if bound is None else bound
    pc = _PIECES_MQ
    Y, Zn, Prog, Pb, Pr, Pg, Pc, Bv, Bg, Be, Pn = sp.symbols("Y Z_N Prog Pen_b Pen_r Pen_g Pen_c B_v B_g B_e Pen_n", real=True)
    atoms = ((sp.Symbol("Gamma_", positive=True), A.Gamma), (sp.Symbol("Lambda_", nonnegative=True), A.Lam),
             (sp.Symbol("X_", nonnegative=True), pc["X"]), (sp.Symbol("kappa_e_", nonnegative=True), A.kappa_e))
    q_G, q_V = A.q_G, A.q_V
    b = B_
    cc = 1 / sp.sqrt(1 - q_V)
    dom = [sp.Lt(beta1, 1), sp.Lt(beta2, 1), sp.Lt(q_G, 1), sp.Lt(q_V, 1), sp.Gt(NTIL, 0)] + [c for c in CONDITIONS_MQ if not c.has(sp.sqrt(eps))]
    X = pc["X"]
    per = Obligation("momentum.assembly_q.per_step",
                     tuple(dom) + (sp.Le(Bv, d * R * (cc / (1 - b * cc) - 1 / (1 - b))),
                                   sp.Le(Bg, (q_G * d * R + sp.sqrt(d) * L * A.q_W * X) / ((1 - q_G) * (1 - b))),
                                   sp.Le(Be, d * R * A.kappa_e), sp.Eq(Pn, Bv + Bg + Be)),
                     sp.Le(Pn, pc["per_step"]),
                     note="the three bias penalties of one step (see the docstring) add up to per_step")
    Yh, Sh = sp.symbols("Yhat Shift", real=True)
    fin = Obligation("momentum.assembly_q.bound",
                     tuple(dom) + (sp.Ge(Yh, 0), sp.Ge(Zn, NTIL), sp.Ge(Prog, alpha * Zn * Yh / (2 * A.Rh * A.Gamma)),
                                   sp.Le(Prog, Delta + Pb + Pr + Pg + Pc), sp.Le(Pb, T * ALPHA_BAR * pc["per_step"]),
                                   sp.Le(Pr, ALPHA_BAR * pc["ratio_coef"] * pc["D"]), sp.Le(Pg, pc["gapL"]), sp.Le(Pc, pc["curv"]),
                                   sp.Le(Y, Yh + Sh), sp.Le(Sh, pc["wshift"]), sp.Ge(A.Gamma, 1)),
                     sp.Le(Y, bound),
                     note="Prog = sum_n alpha_n sum_k beta1^k E||Ghat_{n-k}||^2/(2 sqrt(eps+vt)) >= alpha Z_N E||Ghat_tau||^2/(2 Rh Gamma) "
                          "(descent.denominator, momentum.weights: Z_N = N - beta1(1-beta1^N)/(1-beta1) >= N~); the descent lemma "
                          "summed over n: Prog <= Delta + the summed penalties (bias: per_step per step; lag ratios; gap; curvature); "
                          "Y = E||grad F(x_tau)||^2 <= Yhat + Shift (momentum.w_shift), Gamma >= 1 ((1+q_V)^k >= 1, 1/(1-beta2(1+q_V)) >= 1)")
    rep = {e: a for a, e in atoms}
    rep[A.Gamma2] = atoms[0][0] ** 2  # so that Gamma^(-1) = Gamma2^(-1/2) is named too
    # the summed penalty coefficients, named as atoms in the final implication (their values are the
    # conclusions of momentum.assembly_q.per_step and of the ratio/gap steps)
    fin_rep = {}
    # (per_w, a product, stays written out: inside the bias_W term its factors merge with the prefactor)
    for nm_, e_ in (("per_gmv_", pc["per_gmv"]), ("ratio_coef_", pc["ratio_coef"])):
        fin_rep[e_.xreplace(rep)] = sp.Symbol(nm_, real=True)
    fin_rep[pc["per_step"].xreplace(rep)] = sp.Symbol("per_gmv_", real=True) + pc["per_w"].xreplace(rep)
    named = lambda ob: Obligation(ob.name, tuple(x.xreplace(rep) for x in ob.premises), ob.conclusion.xreplace(rep),  # noqa: E731
                                  note=ob.note + " (Gamma, Lambda, X, kappa_e named as atoms)")
    fin2 = Obligation(fin.name, tuple(x.xreplace(rep).xreplace(fin_rep) for x in fin.premises),
                      fin.conclusion.xreplace(rep).xreplace(fin_rep), note=fin.note + " (Gamma, Lambda, X, kappa_e and the "
                      "penalty coefficients per_gmv, ratio_coef named as atoms)")
    return [named(per)] + _final_steps(fin2, len(dom), 2 * R * (1 + q_G) / (alpha * NTIL))


def _final_steps(fin, nd: int, Kp) -> list:
    """The final implication ``fin`` of :func:`assembly_q_items` in six kinds of small steps (one query
    before; cvc5, the second solver, decides each of these and not that one).  ``nd``: the number of
    domain premises first in ``fin.premises``; ``Kp`` = 2 R (1 + q_G)/(alpha N~), and K = Gamma Kp is named
    ``K_asm`` by the definition K_asm = Gamma Kp (each step holds for every K_asm so defined):

    * progress   Yhat <= K Prog  (Prog >= alpha Z_N Yhat/(2 Rh Gamma), Z_N >= N~ > 0, Yhat >= 0);
    * penalties  Prog <= Delta + sum_i B_i  (each Pen_i <= B_i);
    * monotone   Yhat <= K (Delta + sum_i B_i);
    * term_i     K B_i = Gamma (Kp B_i), SymPy's product written out (cancellations), i = Delta, b, r, g, c;
    * collect    Yhat <= Gamma sum_i Kp B_i;
    * bound      Y <= Yhat + Shift, Shift <= the W shift, Gamma >= 1 give the stated bound.
    """
    P = fin.premises
    dom = P[:nd]
    yh0, zn, plo, pup, pb, pr, pg, pc, yy, shb, gam1 = P[nd:]
    Yh, Prog, Gam = yh0.lhs, plo.lhs, gam1.lhs
    K = sp.Symbol("K_asm", positive=True)
    kdef = sp.Eq(K, Gam * Kp)
    Bs = [Delta] + [q.rhs for q in (pb, pr, pg, pc)]
    n = "momentum.assembly_q."
    prog = Obligation(n + "progress", dom + (yh0, zn, plo, gam1, kdef), sp.Le(Yh, K * Prog),
                      note="Prog >= alpha Z_N Yhat/(2 Rh Gamma) and Z_N >= N~ > 0: Yhat <= Gamma Kp Prog")
    pen = Obligation(n + "penalties", dom + (pup, pb, pr, pg, pc), sp.Le(Prog, sp.Add(*Bs)),
                     note="Prog <= Delta + the four summed penalties, each at its bound")
    mono = Obligation(n + "monotone", dom + (prog.conclusion, pen.conclusion), sp.Le(Yh, K * sp.Add(*Bs)))
    terms = [Obligation(n + "term_" + k, dom + (kdef, gam1), sp.Eq(K * B, Gam * (Kp * B)),
                        note="K_asm B = Gamma Kp B with SymPy's product written out")
             for k, B in zip(("delta", "bias", "ratio", "gap", "curvature"), Bs)]
    coll = Obligation(n + "collect", dom + (mono.conclusion,) + tuple(t.conclusion for t in terms),
                      sp.Le(Yh, Gam * sp.Add(*[Kp * B for B in Bs])))
    final = Obligation(fin.name, dom + (yy, shb, coll.conclusion, gam1), fin.conclusion,
                       note=fin.note + "; Yhat <= Gamma sum_i Kp B_i from momentum.assembly_q.collect")
    return [prog, pen, mono, *terms, coll, final]


def w_shift_items() -> list:
    r"""From the quantized weights back to the master weights, once (the W term of BOUND_MQ without
    1/sqrt(eps)): with G = grad F(x), Ghat = grad F(Q_W(x)), |G_i|, |Ghat_i| <= R (bounded gradients at
    every point), ||Q_W(x) - x|| <= q_W ||x|| <= q_W X (X = X_1, the growth of ||x_t|| with momentum):

      ||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat> <= ||G - Ghat|| ||G + Ghat|| <= L q_W X 2 sqrt(d) R,

    pointwise, then in expectation at x_{tau-1}: E||G_tau||^2 <= E||Ghat_tau||^2 + 2 sqrt(d) R L q_W X.

    >>> [it.name for it in w_shift_items()][-1]
    'momentum.w_shift.expect'
    """
    A = _qsyms()
    X = sp.Symbol("X_", nonnegative=True)  # the growth bound X_1 of ||x_t||, named as an atom (a stronger statement)
    Gi, Ghi, s2, a2, b2, c2 = sp.symbols("G_i Ghat_i s2_i a_i b_i c_i", real=True)
    nG2, nGh2, nD, nS, nE, nx, Yg, Ygh = sp.symbols("nG2 nGhat2 nD nS nE nx Y Yhat", nonnegative=True)
    ipS = sp.Symbol("ipS", real=True)
    wshift = _PIECES_MQ["wshift"].xreplace({_PIECES_MQ["X"]: X})
    pos = (sp.Gt(R, 0), sp.Gt(L, 0), sp.Gt(d, 0), sp.Ge(A.q_W, 0), sp.Lt(A.q_W, 1))
    coord = Obligation("momentum.w_shift.coord", (sp.Le(sp.Abs(Gi), R), sp.Le(sp.Abs(Ghi), R), sp.Eq(s2, (Gi + Ghi) ** 2)),
                       sp.Le(s2, 4 * R ** 2), note="s2_i = (G_i + Ghat_i)^2 <= 4 R^2 from |G_i|, |Ghat_i| <= R (R - sqrt(eps) <= R)")
    ident = Obligation("momentum.w_shift.identity", (sp.Eq(a2, Gi ** 2), sp.Eq(b2, Ghi ** 2), sp.Eq(c2, (Gi - Ghi) * (Gi + Ghi))),
                       sp.Eq(a2 - b2, c2), note="G_i^2 - Ghat_i^2 = (G_i - Ghat_i)(G_i + Ghat_i)")
    ch = ProofChain("momentum.w_shift")  # the conclusions the rule applications are derived from
    for ob in (coord, ident):
        ch.concl(ob.name, ob.conclusion)
    items = [coord,
             ch.rule("sum_over_t", ("momentum.w_shift.coord",), name="momentum.w_shift.sum",
                     note="summed over the d coordinates: ||G + Ghat||^2 <= 4 d R^2", sums=((s2, nS ** 2),), count=d),
             ident,
             ch.rule("sum_over_t", ("momentum.w_shift.identity",), name="momentum.w_shift.sum_identity",
                     note="||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat> = ipS", sums=((a2, nG2), (b2, nGh2), (c2, ipS)), count=d),
             ch.rule("cauchy_schwarz", (), name="momentum.w_shift.cs", note="<G - Ghat, G + Ghat> <= ||G - Ghat|| ||G + Ghat||",
                     inner=ipS, norm_a=nD, norm_b=nS),
             Obligation("momentum.w_shift.norm", pos + (sp.Le(nD, L * nE), sp.Le(nE ** 2, A.q_W ** 2 * nx ** 2), sp.Le(nx, X)),
                        sp.Le(nD, L * A.q_W * X),
                        note="smoothness and round.W: ||grad F(Q_W x) - grad F(x)|| <= L ||Q_W x - x|| <= L q_W ||x|| <= L q_W X")]
    pw = Obligation("momentum.w_shift.pointwise", pos + (ch.fact("momentum.w_shift.sum_identity"), ch.fact("momentum.w_shift.cs"),
                                                         ch.fact("momentum.w_shift.sum"), items[-1].conclusion),
                    sp.Le(nG2, nGh2 + wshift), note="||G||^2 <= ||Ghat||^2 + 2 sqrt(d) R L q_W X")
    ch.concl(pw.name, pw.conclusion)
    items += [pw,
              ch.rule("expectation_monotone", ("momentum.w_shift.pointwise",), name="momentum.w_shift.expect",
                      note="Y = E||G_tau||^2, Yhat = E||Ghat_tau||^2 (the weights of tau are those of momentum.weights)",
                      rename=((nG2, Yg), (nGh2, Ygh)))]
    return items


def _geometric_items() -> list:
    """Closed forms (SymPy) and the Cauchy-Schwarz bounds of momentum.geometric, for every a in [0, 1)."""
    a = sp.Symbol("a", nonnegative=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    out = []
    for expr, closed, lab in ((a ** k, 1 / (1 - a), "sum_a"), (k * a ** k, a / (1 - a) ** 2, "sum_k_a"),
                              (k ** 2 * a ** k, a * (1 + a) / (1 - a) ** 3, "sum_k2_a")):
        s = sp.summation(expr, (k, 0, sp.oo))
        s = s.args[0][0] if isinstance(s, sp.Piecewise) else s  # the |a| < 1 branch
        out.append(Obligation("momentum.geometric." + lab, (sp.Lt(a, 1),), sp.Eq(s, closed), note="SymPy's closed form (|a| < 1)"))
    S1, S2 = sp.symbols("S1 S2", nonnegative=True)
    out.append(RuleApplication("cauchy_schwarz", ("momentum.geometric.sum_a", "momentum.geometric.sum_k_a"),
                               sp.Le(S1 ** 2, (1 / (1 - a)) * (1 / (1 - a) + a / (1 - a) ** 2)),
                               note="S1 = sum a^k sqrt(k+1) = sum sqrt(a^k) sqrt(a^k (k+1)): S1^2 <= (sum a^k)(sum (k+1) a^k)",
                               name="momentum.geometric.cs1",
                               spec=(("inner", S1 ** 2), ("norm_a", 1 / (1 - a)), ("norm_b", 1 / (1 - a) + a / (1 - a) ** 2))))
    out.append(Obligation("momentum.geometric.sqrt_k1", (sp.Lt(a, 1), sp.Le(S1 ** 2, (1 / (1 - a)) * (1 / (1 - a) + a / (1 - a) ** 2))),
                          sp.Le(S1, (1 - a) ** sp.Rational(-3, 2)), note="sum_k a^k sqrt(k+1) <= (1-a)^(-3/2)"))
    out.append(RuleApplication("cauchy_schwarz", ("momentum.geometric.sum_k_a", "momentum.geometric.sum_k2_a"),
                               sp.Le(S2 ** 2, (a / (1 - a) ** 2) * (a * (1 + a) / (1 - a) ** 3)),
                               note="S2 = sum a^k k^(3/2) = sum sqrt(k a^k) sqrt(k^2 a^k)", name="momentum.geometric.cs2",
                               spec=(("inner", S2 ** 2), ("norm_a", a / (1 - a) ** 2), ("norm_b", a * (1 + a) / (1 - a) ** 3))))
    out.append(Obligation("momentum.geometric.k32", (sp.Lt(a, 1), sp.Le(S2 ** 2, (a / (1 - a) ** 2) * (a * (1 + a) / (1 - a) ** 3))),
                          sp.Le(S2, a * sp.sqrt(1 + a) / (1 - a) ** sp.Rational(5, 2)),
                          note="sum_k a^k k^(3/2) <= a sqrt(1+a)/(1-a)^(5/2) (used with a = beta1)"))
    return out


def momentum_proof_items() -> list:
    """[(step name, item)]: the proved parts of the beta1 > 0 derivation (q = 0 skeleton and quantized)."""
    out = []
    add = lambda st, it: out.append((st, it))  # noqa: E731
    # unroll: the recurrence over 6 steps and the split (identities, SymPy)
    gs = sp.symbols("g1:7", real=True)
    Gs = sp.symbols("G1:7", real=True)
    m = sp.Integer(0)
    for g in gs:
        m = beta1 * m + g
    nN = len(gs)
    unrolled = sum(beta1 ** k * gs[nN - 1 - k] for k in range(nN))
    split = (sum(beta1 ** k * Gs[nN - 1 - k] * gs[nN - 1 - k] for k in range(nN))
             + sum(beta1 ** k * (Gs[-1] - Gs[nN - 1 - k]) * gs[nN - 1 - k] for k in range(nN)))
    add("momentum.unroll", Obligation("momentum.unroll.recurrence", (), sp.Eq(m, unrolled), note="six steps of m = beta1 m + g"))
    add("momentum.unroll", Obligation("momentum.unroll.split", (), sp.Eq(Gs[-1] * unrolled, split)))
    mm, mb, mn, mbn, gg = _r("m mbar m_next mbar_next g")
    claim = sp.Eq(mm, mb)
    add("momentum.unroll", Induction("momentum.unroll.every_n",
                                     Obligation("momentum.unroll.every_n.base", (sp.Eq(mm, 0), sp.Eq(mb, 0)), claim),
                                     Obligation("momentum.unroll.every_n.step", (claim, sp.Eq(mn, beta1 * mm + gg), sp.Eq(mbn, beta1 * mb + gg)),
                                                claim.xreplace({mm: mn, mb: mbn})),
                                     claim=claim, shift=((mm, mn), (mb, mbn)),
                                     note="mbar_n = sum_{k<n} beta1^k g_{n-k} satisfies mbar_{n+1} = beta1 mbar_n + g_{n+1} (index shift)"))
    for it in lag_lemma_items(quantized=True):
        add("momentum.lag_lemma_q" if it.name.startswith("momentum.lag_lemma_q") else "momentum.lag_lemma", it)
    # gap: Young and Cauchy-Schwarz
    c, x, y = sp.symbols("c x y", positive=True)
    add("momentum.gap", Obligation("momentum.gap.young", (), sp.Ge(c * x ** 2 + y ** 2 / (4 * c), x * y),
                                   note="|(G_n - G_{n-k}) g|/sqrt(eps+v) <= c (G_n - G_{n-k})^2 + g^2/(4c(eps+v))"))
    al, am, kk, Su = sp.symbols("a_l a_max k Su", nonnegative=True)
    add("momentum.gap", Obligation("momentum.gap.step_size_square", (sp.Le(al, am),), sp.Le(al ** 2, am ** 2),
                                   note="0 <= alpha_{n-l} <= alpha_n (non-decreasing step sizes)"))
    lhs2, sa2 = sp.symbols("lhs2 sa2", nonnegative=True)
    add("momentum.gap", RuleApplication("sum_over_t", ("momentum.gap.step_size_square",), sp.Le(sa2, kk * am ** 2),
                                        note="sum over the k lags: sum_l alpha_{n-l}^2 <= k alpha_n^2", name="momentum.gap.sum",
                                        spec=(("sums", ((al ** 2, sa2),)), ("count", kk))))
    add("momentum.gap", RuleApplication("cauchy_schwarz", ("momentum.gap.sum",), sp.Le(lhs2, sa2 * Su),
                                        note="||sum_l alpha_{n-l} u_{n-l}||^2 <= (sum_l alpha_{n-l}^2)(sum_l ||u_{n-l}||^2)",
                                        name="momentum.gap.cs", spec=(("inner", lhs2), ("norm_a", sa2), ("norm_b", Su))))
    add("momentum.gap", Obligation("momentum.gap.smooth", (sp.Le(lhs2, sa2 * Su), sp.Le(sa2, kk * am ** 2)),
                                   sp.Le(L ** 2 * lhs2, L ** 2 * am ** 2 * kk * Su),
                                   note="||G_n - G_{n-k}||^2 <= L^2 ||x_{n-1} - x_{n-k-1}||^2 <= L^2 alpha_n^2 k sum_l ||u_{n-l}||^2"))
    for it in _geometric_items():
        add("momentum.geometric", it)
    # weights: the swap of the double sum (N = 6) and the normaliser
    ys = sp.symbols("y1:7", real=True)
    lhs_w = sum(beta1 ** k * ys[n_ - k - 1] for n_ in range(1, 7) for k in range(n_))
    rhs_w = sum(ys[j - 1] * (1 - beta1 ** (6 - j + 1)) / (1 - beta1) for j in range(1, 7))
    add("momentum.weights", Obligation("momentum.weights.swap", (), sp.Eq(lhs_w, rhs_w), note="N = 6"))
    bN = sp.Symbol("bN", nonnegative=True)  # beta1^N
    Nn = sp.Symbol("N", positive=True)
    add("momentum.weights", Obligation("momentum.weights.normaliser", (sp.Lt(beta1, 1), sp.Le(bN, 1)),
                                       sp.Ge(Nn - beta1 * (1 - bN) / (1 - beta1), Nn - beta1 / (1 - beta1)),
                                       note="N - beta1(1 - beta1^N)/(1-beta1) >= N~ (bN = beta1^N in [0, 1]; covers beta1 = 0)"))
    # comparison with Theorem 4 at q = 0, every 0 <= beta1 < beta2 < 1
    lam0 = sp.Symbol("Lambda0_", nonnegative=True)
    xl = sp.Symbol("x", nonnegative=True)
    lam_x = sp.log(1 + xl) / T - sp.log(beta2)
    assert LAM0 == lam_x.xreplace({xl: R ** 2 / ((1 - beta2) * eps)})  # Lambda0 is this at x = R^2/((1-beta2) eps) >= 0
    add("momentum.vs_thm4", Obligation("momentum.vs_thm4.log_term", (sp.Gt(beta2, 0), sp.Lt(beta2, 1)), sp.Ge(lam_x, 0),
                                       lemmas=("ln_lower", "ln_upper"),
                                       note="log(1 + x) >= 0 and log(beta2) <= beta2 - 1 < 0; Lambda0 is the instance x = R^2/((1-beta2) eps)"))
    dom4 = (sp.Lt(beta1, beta2), sp.Lt(beta2, 1), sp.Ge((1 - B_) ** 2, (1 - beta1) * (1 - A_)))
    add("momentum.vs_thm4", Obligation("momentum.vs_thm4.R2", dom4,
                                       sp.Le(E_TERMS["lag_and_gap"] + E_TERMS["lag_tail"], E_THM4["R2"]),
                                       note="(1-beta1)/(1-b)^2 <= 1/(1-a) <= sqrt(1-beta1)/(1-a)^(3/2) (key fact, a >= beta1): 6 <= 12"))
    add("momentum.vs_thm4", Obligation("momentum.vs_thm4.L2", dom4, sp.Le(E_TERMS["gap_smooth"], E_THM4["L2"]),
                                       note="sqrt(1+beta1)/2 <= 2"))
    e1, e2, e3, f1, f2 = sp.symbols("e_lag e_tail e_gap f_R2 f_L2", real=True)
    rep4 = {E_TERMS["lag_and_gap"]: e1, E_TERMS["lag_tail"]: e2, E_TERMS["gap_smooth"]: e3, E_THM4["R2"]: f1, E_THM4["L2"]: f2, LAM0: lam0}
    add("momentum.vs_thm4", Obligation("momentum.vs_thm4.compare",
                                       (sp.Lt(beta1, beta2), sp.Lt(beta2, 1), sp.Gt(NTIL, 0), sp.Le(e1 + e2, f1), sp.Le(e3, f2)),
                                       sp.Le(BOUND_M0.xreplace(rep4), THM4.xreplace(rep4)),
                                       note="BOUND_M0 <= Défossez Thm 4 (MATH.md) for 0 <= beta1 < beta2 < 1, T > beta1/(1-beta1): the "
                                            "init and curvature terms are identical, the R^2 and L^2 terms compare (vs_thm4.R2, .L2), "
                                            "the common log factor Lambda0 >= 0 (vs_thm4.log_term)"))
    add("momentum.vs_thm4", Obligation("momentum.vs_thm4.key", (), sp.Eq((1 - B_) ** 2 - (1 - beta1) * (1 - A_), beta1 * (1 / sp.sqrt(beta2) - 1) ** 2),
                                       note="key fact for the lag_tail term"))
    # the quantized geometric closed form and the assembly
    bb, cc = sp.symbols("b c", positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)

    def _geo(base):
        r = sp.summation(base ** k, (k, 0, sp.oo))
        return r.args[0][0] if isinstance(r, sp.Piecewise) else r
    add("momentum.geometric_q", Obligation("momentum.geometric_q.closed", (sp.Lt(bb * cc, 1), sp.Lt(bb, 1)),
                                           sp.Eq(cc * _geo(bb * cc) - _geo(bb), cc / (1 - bb * cc) - 1 / (1 - bb)),
                                           note="sum_k b^k (c^(k+1) - 1), c = (1-q_V)^(-1/2), b = beta1/sqrt(beta2)"))
    for it in w_shift_items():
        add("momentum.w_shift", it)
    from qbound.bounds.adam_momentum_weights import weight_growth_items
    out.extend(weight_growth_items())
    for it in assembly_q_items():
        add("momentum.assembly_q", it)
    # the q = 0 assembly: the four summed error terms give the closed form BOUND_M0 (identity)
    Dn = d * T * LAM0
    Su0 = Dn / ((1 - beta1) * (1 - A_))
    E1 = ALPHA_BAR * R * (1 + 1 / sp.sqrt(1 - beta1)) * (1 - A_) ** sp.Rational(-3, 2) * Dn
    E2 = ALPHA_BAR * R / (1 - B_) ** 2 * Dn
    E3 = ALPHA_BAR ** 3 * sp.sqrt(1 - beta1) * L ** 2 / (4 * R) * beta1 * sp.sqrt(1 + beta1) / (1 - beta1) ** sp.Rational(5, 2) * Su0
    E4 = L / 2 * ALPHA_BAR ** 2 * Su0
    lam_ = sp.Symbol("Lambda0_", nonnegative=True)
    # one identity per error term (prefactor times the summed term = its term of BOUND_M0), then the sum
    # of the five from those four: cvc5, the second solver, decides each (not the single identity)
    pre = 2 * R / (alpha * NTIL)
    dom_a = (sp.Lt(beta1, 1), sp.Lt(beta2, 1), sp.Lt(beta1, beta2), sp.Gt(NTIL, 0))
    terms = []
    for nm, E in (("lag_and_gap", E1), ("lag_tail", E2), ("gap_smooth", E3), ("curvature", E4)):
        ob = Obligation("momentum.assembly.term_" + nm, dom_a,
                        sp.Eq((pre * E).xreplace({LAM0: lam_}), ((T / NTIL) * E_TERMS[nm] * LAM0).xreplace({LAM0: lam_})),
                        note=f"2 R/(alpha N~) times the summed error term = (T/N~) {nm} Lambda0")
        if ob.conclusion is sp.true:   # SymPy already writes both sides alike: nothing to prove
            continue
        terms.append(ob.conclusion)
        add("momentum.assembly", ob)
    add("momentum.assembly", Obligation("momentum.assembly.closed_form", dom_a + tuple(terms),
                                        sp.Eq(sp.Add(*[(pre * x).xreplace({LAM0: lam_}) for x in (Delta, E1, E2, E3, E4)]),
                                              BOUND_M0.xreplace({LAM0: lam_})),
                                        note="assembled sum of the four error terms equals the closed form BOUND_M0"))
    for it in ratio_items():
        add("momentum.ratios_q", it)
        add("momentum.ratios", it)  # q = 0 is the instance q_V = q_M = 0
    out.extend(bias_items())
    return out


def ratio_items() -> list:
    r"""Ratio facts (a)-(c) on quantized sequences, every n and lag k (q = 0 is the instance q_V = q_M = 0):

    * decay (induction over the window): eps + v_n >= p (eps + v_{n-k}), p = (beta2 (1-q_V))^k;
    * (a) g_{n-k}^2/(eps + v_n) <= p^(-1) U_{n-k}^2;  (b) each term of Z_{n,k}: beta2^l g_{n-l}^2/(eps+v_n) <= (1-q_V)^(-l) U_{n-l}^2;
    * (c) m_n^2 <= (1+q_M)^2 (sum_k bh^k)(sum_k bh^k g_{n-k}^2) (envelope.m and Cauchy-Schwarz), each term over eps + v_n
      <= ah^k U_{n-k}^2, ah = bh/(beta2(1-q_V)), bh = beta1(1+q_M).
    """
    A = _qsyms()
    q_V = A.q_V
    ee = sp.Symbol("eps_", positive=True)
    w0, w, wn, gg2, p, U2, b2l, ql, bhk = sp.symbols("w0 w w_next g2 p U2 b2l ql bhk", nonnegative=True)
    nu_ = sp.Symbol("nu", real=True)
    claim = sp.Ge(ee + w, p * (ee + w0))
    out = [Induction("momentum.ratios_q.decay",
                     Obligation("momentum.ratios_q.decay.base", (sp.Eq(w, w0),), claim.xreplace({p: 1})),
                     Obligation("momentum.ratios_q.decay.step",
                                (claim, sp.Gt(beta2, 0), sp.Lt(beta2, 1), sp.Lt(q_V, 1), sp.Le(sp.Abs(nu_), q_V),
                                 sp.Eq(wn, (1 + nu_) * (beta2 * w + gg2))),
                                claim.xreplace({w: wn, p: beta2 * (1 - q_V) * p})),
                     claim=claim, init=((p, 1),), shift=((w, wn), (p, beta2 * (1 - q_V) * p)),
                     note="v_{j+1} = (1+nu)(beta2 v_j + g^2) >= beta2 (1-q_V) v_j and beta2 (1-q_V) <= 1")]
    out.append(Obligation("momentum.ratios_q.a", (claim, sp.Gt(p, 0), sp.Eq(U2, gg2 / (ee + w0))),
                          sp.Le(gg2 / (ee + w), U2 / p), note="w0 = v_{n-k}, w = v_n, g2 = g_{n-k}^2"))
    out.append(Obligation("momentum.ratios_q.b", (claim, sp.Eq(p, b2l * ql), sp.Gt(b2l, 0), sp.Gt(ql, 0), sp.Eq(U2, gg2 / (ee + w0))),
                          sp.Le(b2l * gg2 / (ee + w), U2 / ql), note="p = beta2^l (1-q_V)^l: b2l = beta2^l, ql = (1-q_V)^l"))
    Znk, SU, k1 = sp.symbols("Z_nk sum_l_U2_over_ql k1", nonnegative=True)
    out.append(RuleApplication("sum_over_t", ("momentum.ratios_q.b",), sp.Le(Znk, SU),
                               note="Z_{n,k} = sum_{l<=k} beta2^l g_{n-l}^2/(eps+v_n) <= sum_l (1-q_V)^(-l) U_{n-l}^2",
                               name="momentum.ratios_q.b_sum",
                               spec=(("sums", ((b2l * gg2 / (ee + w), Znk), (U2 / ql, SU))), ("count", k1))))
    # (c): |m_n| <= (1+q_M) A with A = sum_k bh^k |g_{n-k}| (envelope.m); Cauchy-Schwarz with the weights
    # sqrt(bh^k) and sqrt(bh^k)|g_{n-k}|: A^2 <= Sb Sg, Sb = sum_k bh^k <= 1/(1-bh), Sg = sum_k bh^k g_{n-k}^2
    mn2, A2, Sb, Sg, bh, qM = sp.symbols("m_n2 A2 Sb Sg bh q_M", nonnegative=True)
    out.append(RuleApplication("cauchy_schwarz", (), sp.Le(A2, Sb * Sg),
                               note="(sum_k sqrt(bh^k) sqrt(bh^k)|g_{n-k}|)^2 <= (sum_k bh^k)(sum_k bh^k g_{n-k}^2)",
                               name="momentum.ratios_q.c_cs", spec=(("inner", A2), ("norm_a", Sb), ("norm_b", Sg))))
    out.append(Obligation("momentum.ratios_q.c_square",
                          (sp.Le(mn2, (1 + qM) ** 2 * A2), sp.Le(A2, Sb * Sg), sp.Le(Sb, 1 / (1 - bh)), sp.Lt(bh, 1)),
                          sp.Le(mn2, (1 + qM) ** 2 / (1 - bh) * Sg),
                          note="m_n^2 <= (1+q_M)^2 A^2 (envelope.m squared) <= (1+q_M)^2 Sb Sg <= (1+q_M)^2/(1-bh) Sg"))
    out.append(Obligation("momentum.ratios_q.c", (claim, sp.Eq(p, b2l * ql), sp.Gt(b2l, 0), sp.Gt(ql, 0), sp.Eq(U2, gg2 / (ee + w0))),
                          sp.Le(bhk * gg2 / (ee + w), bhk / (b2l * ql) * U2),
                          note="each term over eps + v_n: bh^k g_{n-k}^2/(eps+v_n) <= (bh/(beta2(1-q_V)))^k U_{n-k}^2 = ah^k U_{n-k}^2; "
                               "summed (sum_over_t) with the factor (1+q_M)^2/(1-bh)"))
    return out


def bias_items() -> list:
    r"""[(step name, item)]: the momentum-rounding bias (step ``momentum.bias``) and the lagged denominator
    (step ``momentum.bias_q``), every n and every lag k, proved by induction.

    * bias (induction on (m_n, mbar_n, W_n = sqrt(eps + v_n))): |m_n| <= U W_n and |m_n - mbar_n| <= K W_n with
      U = (1+q_M)/(r (1 - x(1+q_M))), K = q_M/(r (1-x)(1 - x(1+q_M))), r = sqrt(1-q_V), x = beta1/sqrt(beta2(1-q_V))
      (r, x free symbols constrained by r^2 = 1 - q_V, x^2 beta2 r^2 = beta1^2: a proof for all of them);
      the step uses bias.den: W_{n+1} >= r |g_{n+1}| and x W_{n+1} >= beta1 W_n. K at that instance is kappa_e
      (bias.kappa_e, SymPy identity); at q = 0 it is 0 (mbar_n = m_n).
    * lagged denominator: with vt = beta2^(k+1) v_{n-k-1} + sum_{j=n-k}^n beta2^(n-j) E'g_j^2 (each E'g_j^2 in
      [0, c], c = (Rh - sqrt eps)^2), the window sum ws <= c (1 - Y)/(1 - beta2), Y = beta2^(k+1) <= beta2
      (induction over the window), and the envelopes of v_{n-k-1} (envelope.v.A/B, the beta1 = 0 chain's own
      statements) give eps + vt <= Rh^2 S_n Gamma^2, S_n = (1 - beta2^n)/(1 - beta2), beta2^n = Y B
      (cases A and B, then the min); hence alpha_n/sqrt(eps + vt) >= alpha(1-beta1)/(Rh Gamma).

    >>> its = dict(bias_items())
    >>> from qbound.bounds.obligation import discharge
    >>> discharge([it for st, it in bias_items() if it.name == "momentum.bias.den"][0], engines=("z3",)).status
    'proved'
    """
    from qbound.bounds.adam_proof import envelope_v_claims
    A = _qsyms()
    q_M, q_V, q_G = A.q_M, A.q_V, A.q_G
    out = []
    add = lambda st, it: out.append((st, it))  # noqa: E731
    # ---- the momentum-rounding bias
    m, mb, g, mu, nu = _r("m_t mbar_t g_t mu_t nu_t")
    v = sp.Symbol("v_t", nonnegative=True)
    sW, sWn, r = sp.symbols("W_t W_next r_V", positive=True)
    x = sp.Symbol("x_b", nonnegative=True)
    U = (1 + q_M) / (r * (1 - x * (1 + q_M)))
    K = q_M / (r * (1 - x) * (1 - x * (1 + q_M)))
    dom = (sp.Lt(q_M, 1), sp.Lt(q_V, 1), sp.Lt(beta2, 1), sp.Lt(x * (1 + q_M), 1), sp.Eq(r ** 2, 1 - q_V),
           sp.Eq(x ** 2 * beta2 * r ** 2, beta1 ** 2))
    vn = (1 + nu) * (beta2 * v + g ** 2)
    wdef = (sp.Le(sp.Abs(nu), q_V), sp.Eq(sW ** 2, eps + v), sp.Eq(sWn ** 2, eps + vn))
    den = sp.And(sp.Le(r * sp.Abs(g), sWn), sp.Le(beta1 * sW, x * sWn))
    add("momentum.bias", Obligation("momentum.bias.den", dom + wdef, den,
                                    note="eps + v_{n+1} >= (1-q_V)(eps + beta2 v_n + g^2): W_{n+1} >= r|g|, W_{n+1} >= r sqrt(beta2) W_n"))
    claim = sp.And(sp.Le(sp.Abs(m), U * sW), sp.Le(sp.Abs(m - mb), K * sW))
    mn, mbn = (1 + mu) * (beta1 * m + g), beta1 * mb + g
    shift = ((m, mn), (mb, mbn), (sW, sWn))
    add("momentum.bias", Induction(
        "momentum.bias.envelope",
        Obligation("momentum.bias.envelope.base", dom + (sp.Eq(m, 0), sp.Eq(mb, 0)), claim),
        Obligation("momentum.bias.envelope.step", dom + (claim, sp.Le(sp.Abs(mu), q_M), den), claim.xreplace(dict(shift))),
        claim=claim, shift=shift,
        note="m_{n+1} = (1+mu)(beta1 m_n + g), mbar_{n+1} = beta1 mbar_n + g (the same g), W_n = sqrt(eps + v_n); "
             "m_0 = mbar_0 = 0; the step assumes only the conclusion of momentum.bias.den (a stronger statement)"))
    inst = {x: beta1 / sp.sqrt(beta2 * (1 - q_V)), r: sp.sqrt(1 - q_V)}
    add("momentum.bias", Obligation("momentum.bias.instance", (sp.Lt(q_V, 1), sp.Gt(beta2, 0)),
                                    sp.And(*[c.xreplace(inst) for c in dom[4:]]),
                                    note="r = sqrt(1-q_V), x = beta1/sqrt(beta2(1-q_V)) satisfy the defining constraints"))
    add("momentum.bias", Obligation("momentum.bias.kappa_e", (), sp.Eq(K.xreplace(inst), A.kappa_e),
                                    note="K at the instance is kappa_e = q_M/((1-x)(1-x(1+q_M)) sqrt(1-q_V))"))
    add("momentum.bias", Obligation("momentum.bias.raw", (), sp.Eq(A.KAPPA_E_RAW, A.kappa_e),
                                    note="((1+q_M)/(1-x(1+q_M)) - 1/(1-x))/sqrt(1-q_V) = kappa_e (closed form)"))
    # ---- the lagged denominator
    c = (A.Rh - sp.sqrt(eps)) ** 2
    vp = sp.Symbol("v_prev", nonnegative=True)
    P, B = _r("P_t B_t")
    ws, w0, w = sp.symbols("ws w0 w_t", nonnegative=True)
    Y = sp.Symbol("Y_w", positive=True)
    PT1s = sp.Symbol("P_Tm1", positive=True)
    cA, cB = envelope_v_claims(beta2, q_V, c, A.bhat2, v=vp)
    BASE = (sp.Lt(beta2, 1), sp.Lt(q_G, 1), sp.Lt(q_V, 1), sp.Ge(R, sp.sqrt(eps)))
    wc = sp.And(sp.Le(ws, c * (1 - Y) / (1 - beta2)), sp.Le(Y, beta2))
    wshift = ((ws, beta2 * ws + w), (Y, beta2 * Y))
    add("momentum.bias_q", Induction(
        "momentum.bias_q.window",
        Obligation("momentum.bias_q.window.base", BASE + (sp.Le(w0, c), sp.Eq(ws, w0), sp.Eq(Y, beta2)), wc),
        Obligation("momentum.bias_q.window.step", BASE + (wc, sp.Le(w, c)), wc.xreplace(dict(wshift))),
        claim=wc, shift=wshift,
        note="ws = sum_{j=n-k}^n beta2^(n-j) E'g_j^2 built term by term (ws <- beta2 ws + E'g^2, Y <- beta2 Y), E'g^2 <= c "
             "(expectation_monotone of envelope.gradient); Y = beta2^(k+1)"))
    S_n = (1 - Y * B) / (1 - beta2)
    lhs = eps + Y * vp + ws
    PT1 = (1 + q_V) ** (T - 1)
    add("momentum.bias_q", Obligation("momentum.bias_q.cap_A", BASE + (cA, wc, sp.Le(P, PT1)), sp.Le(lhs, A.Rh ** 2 * S_n * PT1),
                                      aux=((PT1s, PT1),),
                                      note="v_{n-k-1} with P = (1+q_V)^(n-k-1) <= (1+q_V)^(T-1), B = beta2^(n-k-1)"))
    add("momentum.bias_q", Obligation("momentum.bias_q.cap_B", BASE + (cA, cB, wc, sp.Lt(A.bhat2, 1)),
                                      sp.Le(lhs, A.Rh ** 2 * S_n / (1 - A.bhat2))))
    capped = sp.Le(lhs, A.Rh ** 2 * S_n * A.Gamma2)
    add("momentum.bias_q", Obligation("momentum.bias_q.cap", BASE + (cA, wc, sp.Le(lhs, A.Rh ** 2 * S_n * PT1),
                                                             sp.Implies(sp.Lt(A.bhat2, 1), sp.Le(lhs, A.Rh ** 2 * S_n / (1 - A.bhat2)))),
                                      capped, aux=((PT1s, PT1),), note="eps + vt_{n,k+1} <= Rh^2 S_n Gamma^2 (the min of the two caps)"))
    at, st = sp.symbols("alpha_n st_n", positive=True)
    add("momentum.bias_q", Obligation("momentum.bias_q.ratio",
                                      BASE + (capped, cA, wc, sp.Eq(st ** 2, lhs), sp.Eq(at, alpha * (1 - beta1) * sp.sqrt(S_n)), sp.Lt(beta1, 1)),
                                      sp.Ge(at / st, alpha * (1 - beta1) / (A.Rh * A.Gamma)), aux=((PT1s, PT1),),
                                      note="alpha_n = alpha(1-beta1) sqrt(S_n): alpha_n/sqrt(eps + vt) >= alpha(1-beta1)/(Rh Gamma)"))
    return out


def prove_momentum(engines=("sympy", "z3", "cvc5"), timeout_s: float = 20, cache=None) -> dict:
    return prove_all([it for _, it in momentum_proof_items()], engines=engines, timeout_s=timeout_s, cache=cache)
