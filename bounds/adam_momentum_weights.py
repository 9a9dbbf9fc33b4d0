r"""Growth of the iterates under quantized Adam with momentum: ||x_t||_2 <= X = X_1, every piece proved.

The W term of the beta1 > 0 bound (momentum.w_shift, momentum.bias_q) needs ||x_t||_2 <= X with
X = Min(X0 + T sqrt(d) alpha (1 - beta1) U1/sqrt(1 - beta2), sqrt(d) Bx), U1 = c/(1 - rho),
c = (1 + q_M)/sqrt(1 - q_V), rho = beta1 (1 + q_M)/sqrt(beta2 (1 - q_V)).  Per coordinate
(m_t = (1 + mu)(beta1 m_{t-1} + g_t), v_t = (1 + nu)(beta2 v_{t-1} + g_t^2), |mu| <= q_M, |nu| <= q_V):

* momentum.update.envelope  induction on (m, v, S), S_0 = 0, S_{t+1} = 1 + rho S_t:  |m_t| <= c S_t sqrt(v_t),
  with the lemmas sqrt(v_{t+1}) >= sqrt(beta2 (1 - q_V)) sqrt(v_t) and sqrt(v_{t+1}) >= sqrt(1 - q_V) |g_{t+1}|,
  each solved for sqrt(v_t) and |g_{t+1}| (decay_v, fresh_g), and |m_{t+1}| <= (1 + q_M)(|g_{t+1}| + beta1 |m_t|) (mix);
* momentum.update.S         induction: S_t <= 1/(1 - rho) (rho < 1 follows from beta1 (1+q_M) < beta2 (1-q_V) < 1);
* momentum.update.ratio     m_t^2/(eps + v_t) <= U1^2;
* then, as for beta1 = 0 (bounds.adam_proof, descent.weight_growth): ||u_t|| <= sqrt(d) U1 (sum over the
  coordinates), alpha_t = alpha (1 - beta1) sqrt((1 - beta2^t)/(1 - beta2)) <= alpha (1 - beta1)/sqrt(1 - beta2),
  the triangle inequality (Cauchy-Schwarz rule) and an induction on t; the box ||x||_2 <= sqrt(d) Bx where
  the problem assumes one.  The last item concludes ||x_t||_2 <= X_1 for t <= T.

:func:`link_errors` checks that the premise ||x|| <= X of momentum.w_shift.norm, at X = X_1, is exactly that
conclusion (so the atom X of the W-term items is not an assumption).

>>> [st for st, _ in weight_growth_items()][:1], [it.name for _, it in weight_growth_items()][-1]
(['momentum.weight_growth'], 'momentum.weight_bound')
>>> from qbound.bounds.obligation import Obligation
>>> link_errors([Obligation("momentum.w_shift.norm", (), sp.Le(nx, 1))])
['momentum.w_shift.norm has 0 premises ||x|| <= X']
"""
from __future__ import annotations

import sympy as sp

from qbound.bounds import adam_base as A
from qbound.bounds.adam_proof import box_items
from qbound.bounds.derivation import ProofChain
from qbound.bounds.obligation import Induction, Obligation, RuleApplication

STEP = "momentum.weight_growth"

m, g, mu, nu, ip = sp.symbols("m_t g_t mu_t nu_t ip_t", real=True)
v, S = sp.symbols("v_t S_t", nonnegative=True)
nx, nuu, nN, xi, u2 = sp.symbols("nx nu nN x_i u2_i", nonnegative=True)   # nx, x_i: the same symbols as bounds.adam_proof
tt = sp.Symbol("t", nonnegative=True)
at = sp.Symbol("alpha_t", positive=True)
Bpow = sp.Symbol("B_t", real=True)


def constants():
    """(c, rho, U1) of the module docstring, from adam_base's symbols (U1 is adam_base.U1)."""
    c = (1 + A.q_M) / sp.sqrt(1 - A.q_V)
    rho = A.beta1 * (1 + A.q_M) / sp.sqrt(A.beta2 * (1 - A.q_V))
    return c, rho, A.U1


def weight_growth_items(domain: dict | None = None) -> list:
    """[(step name, item)] of the module docstring; ``domain`` replaces named domain premises (mutation tests)."""
    beta1, beta2, q_M, q_V, eps, d, T, alpha, X0, Bx = (A.beta1, A.beta2, A.q_M, A.q_V, A.eps, A.d, A.T, A.alpha,
                                                        A.X0, A.Bx)
    c, rho, U1 = constants()
    D = {"beta2<1": sp.Lt(beta2, 1), "q_V<1": sp.Lt(q_V, 1), "momentum": sp.Lt(beta1 * (1 + q_M), beta2 * (1 - q_V)),
         "beta1<1": sp.Lt(beta1, 1), "round.M": sp.Le(sp.Abs(mu), q_M), "round.V": sp.Le(sp.Abs(nu), q_V),
         "box": sp.Le(sp.Abs(xi), Bx)}
    D.update(domain or {})
    dom = (D["beta2<1"], D["q_V<1"], D["momentum"], D["round.M"], D["round.V"])
    ch = ProofChain(STEP)
    out = []

    def add(it):
        out.append((STEP, it))
        if getattr(it, "kind", "") == "obligation":
            ch.concl(it.name, it.conclusion)
        return it

    mn = (1 + mu) * (beta1 * m + g)
    vn = (1 + nu) * (beta2 * v + g ** 2)
    claim = sp.Le(sp.Abs(m), c * S * sp.sqrt(v))
    add(Obligation("momentum.update.decay", dom, sp.Ge(sp.sqrt(vn), sp.sqrt(beta2 * (1 - q_V)) * sp.sqrt(v)),
                        note="v_{t+1} >= beta2 (1 - q_V) v_t"))
    add(Obligation("momentum.update.fresh", dom, sp.Ge(sp.sqrt(vn), sp.sqrt(1 - q_V) * sp.Abs(g)),
                        note="v_{t+1} >= (1 - q_V) g_{t+1}^2"))
    # the inductive step from three small facts (one query before; cvc5, the second solver, decides
    # each of these and the step from them, not that one)
    W = sp.sqrt(vn)
    add(Obligation("momentum.update.mix", dom, sp.Le(sp.Abs(mn), (1 + q_M) * (sp.Abs(g) + beta1 * sp.Abs(m))),
                   note="|(1 + mu)(beta1 m + g)| <= (1 + q_M)(|g| + beta1 |m|)"))
    add(Obligation("momentum.update.fresh_g", dom + (ch.fact("momentum.update.fresh"),),
                   sp.Le(sp.Abs(g), W / sp.sqrt(1 - q_V)), note="|g_{t+1}| <= sqrt(v_{t+1})/sqrt(1 - q_V)"))
    add(Obligation("momentum.update.decay_v", dom + (ch.fact("momentum.update.decay"),),
                   sp.Le(sp.sqrt(v), W / sp.sqrt(beta2 * (1 - q_V))), note="sqrt(v_t) <= sqrt(v_{t+1})/sqrt(beta2 (1 - q_V))"))
    init, shift = ((m, 0), (v, 0), (S, 0)), ((m, mn), (v, vn), (S, 1 + rho * S))
    add(Induction("momentum.update.envelope",
                  Obligation("momentum.update.envelope.base", dom, claim.xreplace(dict(init))),
                  Obligation("momentum.update.envelope.step",
                             dom + (claim, ch.fact("momentum.update.mix"), ch.fact("momentum.update.fresh_g"),
                                    ch.fact("momentum.update.decay_v")), claim.xreplace(dict(shift))),
                  claim=claim, init=init, shift=shift, note="|m_t| <= c S_t sqrt(v_t), S_{t+1} = 1 + rho S_t"))
    claimS = sp.Le(S, 1 / (1 - rho))
    add(Induction("momentum.update.S", Obligation("momentum.update.S.base", dom, claimS.xreplace({S: 0})),
                  Obligation("momentum.update.S.step", dom + (claimS, sp.Ge(S, 0)), claimS.xreplace({S: 1 + rho * S})),
                  claim=claimS, init=((S, 0),), shift=((S, 1 + rho * S),), note="S_t = sum_{k<t} rho^k <= 1/(1 - rho)"))
    add(Obligation("momentum.update.ratio", dom + (claim, claimS), sp.Le(m ** 2 / (eps + v), U1 ** 2),
                   note="m_t^2/(eps + v_t) <= c^2 S_t^2 <= U1^2 = (c/(1 - rho))^2"))
    add(Obligation("momentum.update.coord", dom + (sp.Eq(u2, m ** 2 / (eps + v)), ch.conclusions["momentum.update.ratio"]),
                   sp.Le(u2, U1 ** 2), note="u_i^2 = m_i^2/(eps + v_i) <= U1^2"))
    add(ch.rule("sum_over_t", ("momentum.update.coord",), name="momentum.update.sum",
                note="summed over the d coordinates: ||u_t||^2 <= d U1^2", sums=((u2, nuu ** 2),), count=d))
    add(Obligation("momentum.update.norm", dom + (ch.fact("momentum.update.sum"),), sp.Le(nuu, sp.sqrt(d) * U1)))
    amax = alpha * (1 - beta1) / sp.sqrt(1 - beta2)
    add(Obligation("momentum.step_size", (D["beta2<1"], D["beta1<1"], sp.Eq(at, alpha * (1 - beta1) * sp.sqrt((1 - Bpow) / (1 - beta2))),
                                          sp.Ge(Bpow, 0), sp.Le(Bpow, 1)),
                   sp.Le(at, amax), note="alpha_t = alpha (1 - beta1) sqrt((1 - beta2^t)/(1 - beta2)), B_t = beta2^t in [0, 1]"))
    add(RuleApplication("cauchy_schwarz", (), sp.Le(-ip, nx * nuu), name="momentum.cs_x_u",
                        note="-<x_{t-1}, u_t> <= ||x_{t-1}|| ||u_t||", spec=(("inner", -ip), ("norm_a", nx), ("norm_b", nuu))))
    ch.concl("momentum.cs_x_u", sp.Le(-ip, nx * nuu))
    add(Obligation("momentum.triangle", (sp.Eq(nN ** 2, nx ** 2 - 2 * at * ip + at ** 2 * nuu ** 2), ch.fact("momentum.cs_x_u")),
                   sp.Le(nN, nx + at * nuu), note="||x_t||^2 = ||x_{t-1}||^2 - 2 alpha_t <x_{t-1}, u_t> + alpha_t^2 ||u_t||^2"))
    drift = X0 + tt * sp.sqrt(d) * amax * U1
    claimX = sp.Le(nx, drift)
    add(Induction("momentum.growth", Obligation("momentum.growth.base", (sp.Le(nx, X0),), claimX.xreplace({tt: 0})),
                  Obligation("momentum.growth.step", dom + (D["beta1<1"], claimX, ch.fact("momentum.triangle"),
                                                            ch.fact("momentum.update.norm"), ch.fact("momentum.step_size")),
                             claimX.xreplace({nx: nN, tt: tt + 1})),
                  claim=claimX, init=((tt, 0),), shift=((nx, nN), (tt, tt + 1)),
                  note="||x_t|| <= X0 + t sqrt(d) alpha (1 - beta1) U1/sqrt(1 - beta2)"))
    for it in box_items(ch, "momentum.box", (), D["box"], Bx, d):
        add(it)
    add(Obligation("momentum.weight_bound", dom + (D["beta1<1"], claimX, sp.Le(tt, T), ch.fact("momentum.box.norm")),
                   sp.Le(nx, A.X_1), note="||x_t||_2 <= Min(drift, sqrt(d) Bx) = X_1 for t <= T"))
    return out


def link_errors(w_items, items=None) -> list:
    """Why the W-term items' (``w_items``: bounds.adam_momentum.w_shift_items()) premise ||x|| <= X (X an
    atom, instantiated at X_1) is not the proved conclusion of momentum.weight_bound (empty list: it is)."""
    items = weight_growth_items() if items is None else items
    concl = [it.conclusion for _, it in items if it.name == "momentum.weight_bound"]
    if not concl:
        return ["momentum.weight_bound is missing"]
    X = sp.Symbol("X_", nonnegative=True)
    norm = [it for it in w_items if it.name == "momentum.w_shift.norm"][0]
    uses = [p for p in norm.premises if isinstance(p, sp.Le) and p.rhs == X]
    if len(uses) != 1:
        return [f"momentum.w_shift.norm has {len(uses)} premises ||x|| <= X"]
    if uses[0].xreplace({X: A.X_1}) != concl[0]:
        return [f"momentum.w_shift.norm assumes {uses[0].xreplace({X: A.X_1})}, momentum.weight_bound proves {concl[0]}"]
    return []
