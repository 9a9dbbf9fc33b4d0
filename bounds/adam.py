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

Notation (Rh, kappa, C, Gamma, Vmax, Lambda, X) and the beta1 = 0 result, Défossez et al.'s Theorem 2
exactly when every q = 0, are stated once in :mod:`bounds.adam_base`, where the symbols live; the
constants kappa and C are the ones proved in :mod:`bounds.adam_proof`.

For beta1 > 0 the full-precision momentum skeleton of Défossez et al.'s Theorem 4 is derived in
:mod:`bounds.adam_momentum` (steps ``momentum.*``: unrolling, the lag lemma with the v-tilde
trick, the gradient gap via smoothness, the ratio facts, the geometric sums, the tau weights and
N~, the assembly), giving a bound BOUND_M0 that is <= Theorem 4 term by term (step
``momentum.vs_thm4``; constants 6 vs 12 on the R^2 term and sqrt(1+beta1)/2 vs 2 on the L^2
term).  So at q = 0 the bound below (which equals Theorem 4 exactly there, checked) is derived.
For q > 0 the bound returned for beta1 > 0 is the fully derived quantized momentum bound
(bounds.adam_momentum.quantized_bound = BOUND_MQ: quantized lag lemma for every lag k, quantized ratio
facts, the geometric closed forms, and the assembly ``momentum.assembly_q.bound``, whose premises are the
summed step conclusions and whose conclusion is the bound).  It replaces the Thm 4 form with quantized
ingredients, which rested on a cited premise that multiplied the G/V and W bias terms by (1 - beta1): in the
derivation the lag sum sum_k beta1^k = 1/(1 - beta1) cancels the (1 - beta1) of alpha_t, so that form
understated its W term by the factor 1/(1 - beta1) (10x at beta1 = 0.9).  No premise is cited.
"""
from __future__ import annotations

import time
from functools import lru_cache

import sympy as sp

from qbound.bounds.adam_base import (  # noqa: F401  (the derivation's names stay importable from here)
    BOUND0, CONDITIONS0, Check, Cq, Delta, EXACT_CONFIGS,
    Eq_, Gamma, Gamma2, HARNESS_PLANS, KAPPA_E_RAW, L, Lam, Ntil, PREMISES, Premise, Q0, QSYMS, R, Rh,
    SYMBOLS, T, TERMS0, THM2, THM4, TRAJ_PLANS, U0, U1, Vmax, X0, Bx, X_0, X_1,
    _E2, _E4, _adam_bound_at, _beta_cert, _branchB, _check_q0_reduction, _dd_params, _eval_expr, _ln, _mp,
    _sample_q, _x, adam_states, alpha, bchk2, beta1, beta2, bhat1, bhat2, check_denominator,
    check_descent_direction, check_envelope_m, check_envelope_v, check_envelopes_trajectory,
    check_harness_trajectory, check_sampled, check_sum_of_ratios,
    check_theorem_exact_expectation, check_update_bound, check_w_bias, d, eps, evaluate_expr, kappa, kappa_e,
    log_uniform, phiV, q_G, q_M, q_V, q_W, ratio_q, resolve_q0, rho)
from qbound.bounds.derivation import Derivation, Step, check_identity
from qbound.bounds.adam_momentum import (BOUND_M0, BOUND_MQ, CONDITIONS_M0, CONDITIONS_MQ, TERMS_MQ,
                                         build_momentum_steps, build_quantized_steps, momentum_proof_items, prove_momentum,
                                         quantized_bound)

# beta1 > 0: the API bound is the fully derived quantized momentum bound (bounds.adam_momentum, conclusion of
# momentum.assembly_q.bound); the Thm 4 form with quantized ingredients that rested on a cited premise is gone
BOUND1, CONDITIONS1, TERMS1 = BOUND_MQ, list(CONDITIONS_MQ), dict(TERMS_MQ)
BOUND, CONDITIONS = BOUND1, CONDITIONS1


PROOF_SYMBOLS = {"T": T, "alpha": alpha, "beta2": beta2, "eps": eps, "R": R, "L": L, "d": d, "Delta": Delta, "q_W": q_W,
                 "q_G": q_G, "q_M": q_M, "q_V": q_V, "X0": X0, "Bx": Bx, "Rh": Rh, "kappa": kappa, "Cq": Cq, "U0": U0, "X_0": X_0,
                 "Gamma": Gamma, "Gamma2": Gamma2, "Lam": Lam, "Vmax": Vmax, "bhat2": bhat2, "BOUND0": BOUND0}


def proof_chain(overrides: dict | None = None, domain: dict | None = None, **symbols):
    """The beta1 = 0 proof chain (bounds.adam_proof) built from this module's SymPy objects; keyword
    arguments replace any of them (mutation testing: e.g. ``kappa=0`` or another ``BOUND0``)."""
    from qbound.bounds.adam_proof import build_chain
    S = dict(PROOF_SYMBOLS)
    S.update(symbols)
    return build_chain(S, overrides=overrides, domain=domain)


@lru_cache(maxsize=2)
def prove_beta1_0(engines: tuple = ("sympy", "z3", "cvc5"), timeout_s: float = 30):
    """Discharge every item of the beta1 = 0 chain once per process (the obligation cache makes a second
    process fast when QBOUND_CACHE_DIR / the CLI's cache is used). Returns (chain, results)."""
    from qbound.bounds.obligation import DEFAULT_CACHE
    ch = proof_chain()
    return ch, ch.prove(engines=engines, timeout_s=timeout_s, cache=DEFAULT_CACHE)


def proof_steps(ch, results, sanity: dict | None = None) -> list:
    """Steps of a proved chain: each carries its items, their discharges and a "proof" check; ``sanity``
    maps a step name to extra (sampled / trajectory / symbolic) checks that can only add a failure."""
    from qbound.bounds.derivation import proof_check
    out = []
    for name, (status, ds) in ch.step_results(results).items():
        st = ch.steps[name]
        last = st["items"][-1]
        rel = getattr(last, "conclusion", None) if getattr(last, "kind", "") != "induction" else last.claim
        out.append(Step(name, st["statement"] or name, [proof_check(name, ds)] + list((sanity or {}).get(name, [])),
                        relation=rel, uses=st["uses"], proof=list(st["items"]), discharges=ds))
    return out


def envelope_m_items() -> list:
    """The momentum envelope as an induction on (m_t, E_t): E_0 = 1, E_{t+1} = beta1(1+q_M) E_t (so
    E_t = (beta1(1+q_M))^t), m_{t+1} = (1+mu)(beta1 m_t + g), |g| <= Rh - sqrt(eps)."""
    from qbound.bounds.obligation import Induction, Obligation
    m, E, g, mu = sp.symbols("m_t E_t g_t mu_t", real=True)
    bh = beta1 * (1 + q_M)
    c1 = Rh - sp.sqrt(eps)
    claim = sp.And(sp.Le(sp.Abs(m), (1 + q_M) * c1 * (1 - E) / (1 - bh)), sp.Ge(E, 0), sp.Le(E, 1))
    dom = (sp.Lt(bh, 1), sp.Le(sp.Abs(mu), q_M), sp.Le(sp.Abs(g), c1), sp.Ge(R, sp.sqrt(eps)), sp.Lt(q_M, 1))
    nxt = (1 + mu) * (beta1 * m + g)
    return [Induction("envelope.m", Obligation("envelope.m.base", dom, claim.xreplace({m: 0, E: 1})),
                      Obligation("envelope.m.step", dom + (claim,), claim.xreplace({m: nxt, E: bh * E})),
                      claim=claim, init=((m, 0), (E, 1)), shift=((m, nxt), (E, bh * E)),
                      note="E_t = (beta1(1+q_M))^t: E_0 = 1, E_{t+1} = beta1(1+q_M) E_t")]


def build_steps(n: int = 10_000, exact_all: bool = False, trajectory: bool = True) -> list:
    kw = {"n": n, "exact_all": exact_all}
    steps = []
    # (1) the beta1 = 0 chain: every step an engine's proof; the sampled and trajectory checks stay as
    # sanity checks (they can add a failure, never a proof)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    nn = sp.Symbol("n", integer=True, positive=True)
    geo_m = sp.summation(bhat1 ** k, (k, 0, nn - 1))
    closed = (1 - bhat1 ** nn) / (1 - bhat1)
    geo_check = check_identity(sp.piecewise_fold(geo_m).args[-1][0] if isinstance(geo_m, sp.Piecewise) else geo_m,
                               closed, "geometric sum with effective decay beta1(1+q_M)")
    traj = ([check_envelopes_trajectory()] + [c for c in [check_harness_trajectory()] if c is not None]) if trajectory else []
    sanity = {
        "envelope.v": [check_envelope_v(**kw)] + traj,
        "envelope.update": [check_update_bound(**kw)] + traj,
        "descent.w_bias": [check_w_bias(**kw)],
        "descent.denominator": [check_denominator(**kw)],
        "lemma.sum_of_ratios_q": [check_sum_of_ratios(**kw)],
        "lemma.descent_direction_q": [check_descent_direction(**kw)],
        "telescope.beta1_0": [_check_q0_reduction(BOUND0, THM2, "Défossez Thm 2")]
        + ([check_theorem_exact_expectation()] if trajectory else []),
    }
    ch, res = prove_beta1_0()
    steps.extend(proof_steps(ch, res, sanity))
    # beta1 > 0 ingredients (not part of the beta1 = 0 proof)
    items = envelope_m_items()
    from qbound.bounds.derivation import proof_check
    from qbound.bounds.obligation import DEFAULT_CACHE, discharge
    ds = [(it.name, discharge(it, timeout_s=30, cache=DEFAULT_CACHE)) for it in items]
    steps.append(Step("envelope.m", "|m_t| <= (1+q_M)(Rh - sqrt eps)(1-(beta1(1+q_M))^t)/(1-beta1(1+q_M)) if beta1(1+q_M) < 1 "
                      "(induction on (m_t, E_t = (beta1(1+q_M))^t))",
                      [proof_check("envelope.m", ds), geo_check, check_envelope_m(**kw)] + traj,
                      uses=("round.M", "envelope.gradient"), proof=items, discharges=ds))
    steps.append(Step("momentum.bias", "|m_t - sum_k beta1^k g_(t-k)|/sqrt(eps+v_t) <= kappa_e = ((1+q_M)/(1-x(1+q_M)) - 1/(1-x))/sqrt(1-q_V) "
                      "= q_M/((1-x)(1-x(1+q_M)) sqrt(1-q_V)), x = beta1/sqrt(beta2(1-q_V))",
                      [check_identity(KAPPA_E_RAW, kappa_e, "closed form of the momentum rounding bias")],
                      uses=("round.M", "envelope.v")))
    from qbound.bounds.adam_momentum import attach_proofs
    attach_proofs(steps[-1:])  # momentum.bias: proved by induction (bounds.adam_momentum.bias_items)
    steps.extend(build_momentum_steps(n=n, exact_all=exact_all))
    steps.extend(build_quantized_steps(n=n, exact_all=exact_all, trajectory=trajectory))
    mproofs = prove_momentum()
    tm_items = [it for st, it in momentum_proof_items() if it.name in ("momentum.assembly_q.bound", "momentum.vs_thm4.compare")]
    tm_ds = [(it.name, mproofs[it.name]) for it in tm_items]
    from qbound.bounds.derivation import proof_check
    steps.append(Step("telescope.momentum", "beta1 > 0: the bound is the derived quantized momentum bound (the conclusion of "
                      "momentum.assembly_q.bound); at q = 0 it equals the derived skeleton BOUND_M0 (momentum.assembly_q), "
                      "which is <= Défossez Thm 4 (momentum.vs_thm4)",
                      [proof_check("telescope.momentum", tm_ds)]
                      + ([check_theorem_exact_expectation(beta1_=b_, bound_expr=BOUND1, bound_conditions=CONDITIONS1,
                                                          label="the derived quantized momentum bound") for b_ in (0.5, 0.8)]
                         if trajectory else []),
                      relation=BOUND1, proof=tm_items, discharges=tm_ds,
                      uses=("momentum.assembly_q", "momentum.vs_thm4", "envelope.update", "momentum.bias", "lemma.sum_of_ratios_q")))
    return steps


def _bm0():
    return BOUND_M0


def _bmq():
    return quantized_bound()


def _cm0():
    return CONDITIONS_M0


@lru_cache(maxsize=4)
def _derive_cached(n: int, exact_all: bool, trajectory: bool) -> Derivation:
    t0 = time.perf_counter()
    steps = build_steps(n=n, exact_all=exact_all, trajectory=trajectory)
    der = Derivation(
        name="adam", symbols=dict(SYMBOLS), premises=[p for p in PREMISES if p.kind != "cited"], steps=steps,
        bound=BOUND1, conditions=list(CONDITIONS1), terms=dict(TERMS1), prefactor=Gamma,
        extras={"bound_beta1_0": BOUND0, "terms_beta1_0": sp.Add(*TERMS0.values()), "conditions_beta1_0": sp.And(*CONDITIONS0),
                "Gamma": Gamma, "Vmax": Vmax, "X_beta1_0": X_0, "X": X_1, "U": U1, "kappa": kappa, "kappa_e": kappa_e,
                "C": Cq, "defossez_thm2": THM2, "defossez_thm4": THM4,
                "bound_momentum_q0_derived": _bm0(), "conditions_momentum_q0_derived": sp.And(*_cm0()),
                "bound_momentum_quantized_derived": _bmq()[0], "conditions_momentum_quantized_derived": sp.And(*_bmq()[1])},
        notes=[
            "bound = general beta1: the derived quantized momentum bound (bounds.adam_momentum.BOUND_MQ); "
            "extras['bound_beta1_0'] = fully derived beta1 = 0 bound (Thm 2 form).",
            "beta1 > 0: no cited premise.  The steps momentum.* derive the q = 0 skeleton (<= Défossez Thm 4, momentum.vs_thm4, "
            "proved) and the quantized bound (momentum.lag_lemma_q for every k, momentum.ratios_q, momentum.geometric_q, "
            "momentum.assembly_q); the steps whose facts are still only sampled say 'unproved' in proof_status.",
            "X0 (bound on ||x_0||_2) is an extra symbol: the gradient at Q_W(x) needs ||x_t||.",
        ])
    st = {s.name: s.status for s in steps}
    der.reductions = {
        "beta1=0": {"anchor": "Défossez et al. Theorem 2 (MATH.md section 2), N = T", "result":
                    "identical (SymPy: difference simplifies to 0)" if st.get("telescope.beta1_0") == "passed" else "check failed",
                    "anchor_expr": str(THM2)},
        "beta1>0": {"anchor": "Défossez et al. Theorem 4, N = T", "result":
                    ("at q = 0 the bound equals the derived skeleton BOUND_M0 (momentum.assembly_q), which is <= Thm 4 "
                     "(momentum.vs_thm4, proved by z3: constants 6 vs 12 on the R^2 term, sqrt(1+beta1)/2 vs 2 on the L^2 term, "
                     "init and L terms identical)"
                     if st.get("momentum.assembly_q") == "passed" and st.get("momentum.vs_thm4") == "passed" else "check failed"),
                    "anchor_expr": str(THM4), "derived_q0_expr": str(_bm0())},
        "note": "the fully derived beta1 = 0 bound evaluated at beta1 = 0 is smaller than Thm 4 at beta1 = 0 (constant 4 vs 12)",
    }
    der.seconds = time.perf_counter() - t0
    return der


def derive(n: int = 10_000, exact_all: bool = False, trajectory: bool = True) -> Derivation:
    return _derive_cached(n, exact_all, trajectory)
