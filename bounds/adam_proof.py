r"""The beta1 = 0 quantized Adam bound as a chain of proof obligations (every step an engine's proof).

Model per coordinate (bounds.adam_base): h = grad f_t(Q_W(x_{t-1})) with |h| <= R - sqrt(eps),
g = (1 + gamma) h, m = (1 + mu) g, v = (1 + nu)(beta2 v_{t-1} + g^2), |gamma| <= q_G, |mu| <= q_M,
|nu| <= q_V, x_t = x_{t-1} - alpha_t m/sqrt(eps + v), alpha_t = alpha sqrt((1 - beta2^t)/(1 - beta2)).

The chain (each item is an :class:`~qbound.bounds.obligation.Obligation`, an
:class:`~qbound.bounds.obligation.Induction` or a :class:`~qbound.bounds.obligation.RuleApplication`;
premises of later items are the *conclusions* of earlier ones, taken with :meth:`ProofChain.fact`, so a
changed conclusion flows into every use):

* envelope.gradient   g^2 <= c := (Rh - sqrt eps)^2, Rh = (1 + q_G) R;
* envelope.v          induction on (v_t, P_t = (1+q_V)^t, B_t = beta2^t): 0 <= v_t <= c P_t (1 - B_t)/(1 - beta2),
                      and (if beta2 (1+q_V) < 1) v_t <= c (1 + q_V)/(1 - beta2 (1 + q_V)); hence v_T <= Vmax;
* envelope.update     m^2/(eps + v) <= U0^2 = (1 + q_M)^2/(1 - q_V);
* descent.step_size   alpha_t <= alpha/sqrt(1 - beta2);
* descent.weight_growth  triangle inequality (Cauchy-Schwarz rule), ||u||_2 <= sqrt(d) U0, induction on t: ||x_t|| <= X;
* descent.w_bias      ||grad F(Q_W x) - grad F(x)|| <= L q_W X; through the step <G - Ghat, u> >= -L q_W X sqrt(d) U0
                      (Cauchy-Schwarz, ||u|| <= sqrt(d) U0), and ||G||^2 <= ||Ghat||^2 + 2 sqrt(d) R L q_W X
                      (<G - Ghat, G + Ghat>, |G_i|, |Ghat_i| <= R): no 1/sqrt(eps) anywhere;
* descent.denominator eps + vt_t <= Rh^2 S_t Gamma^2, hence alpha_t/sqrt(eps + vt_t) >= alpha/(Rh Gamma);
* lemma.sum_of_ratios_q  induction with the lemma ln y >= 1 - 1/y at y = (eps + b_t)/(beta2 (1 - q_V)(eps + b_{t-1}));
* lemma.descent_direction_q  split into pointwise lemmas (rounding factor, ratio of square roots, AM-GM halves)
                      and the expectation rules;
* descent.per_step    smoothness, <G, u> = <Ghat, u> + <G - Ghat, u>, the descent-direction lemma applied to the
                      multiplier Ghat = grad F(Q_W(x)) (E h = Ghat), expectation and sums over coordinates: progress
                      alpha/(2 Rh Gamma) E||Ghat||^2 per step;
* telescope.beta1_0   sum over t, telescoping, lower bound, sum-of-ratios give the average of E||Ghat||^2; the shift
                      back to the master weights (telescope.shift, telescope.unshift, Gamma >= 1): the average squared
                      gradient norm at x_{t-1} is <= the stated bound BOUND0 (built from TERMS0: the last obligation).

The constants that the proof produces (and that the bound therefore uses) are
kappa = ((1 + q_G)(1 + q_M)/sqrt(1 - q_V) - 1)/(1 - q_G) and C = 2 Rh (1 + q_V)/(1 - q_G)^2; at q = 0 they are
0 and 2R, and the bound is Défossez et al.'s Theorem 2.
"""
from __future__ import annotations

import sympy as sp

from qbound.bounds.derivation import ProofChain
from qbound.bounds.obligation import Induction, Obligation, RuleApplication

# ------------------------------------------------------------------------------------------------
# realization symbols (names distinct from the bound's symbols)

G, h, gam, mu, nu, g = sp.symbols("G_i h_i gamma_t mu_t nu_t g_i", real=True)
vs, P, B, ip = sp.symbols("v_t P_t B_t ip_t", real=True)
bprev, bs, Ss, a_, vT, vp = sp.symbols("bprev_t b_t Ssum_t a_t v_T v_prev", nonnegative=True)
tt = sp.Symbol("t", nonnegative=True)
w = sp.Symbol("w_t", positive=True)
sb, st, s_, p_, r_, k_ = sp.symbols("s_bar s_tilde s_t p_t r_t k_t", positive=True)
at = sp.Symbol("alpha_t", positive=True)
nx, nuu, nN, nD, nE, nG, cs, Wc, xi, dl = sp.symbols("nx nu nN nD nE nG cs Wc x_i delta_i", nonnegative=True)
aG, aD = sp.symbols("aG aD", nonnegative=True)
Qk, PT1s, PTs = sp.symbols("Q_k P_Tm1 P_T", positive=True)
EX, Gh, Err = sp.symbols("EX Ghat_i Err_i", real=True)
dF, SE, GG, SH, SW, SG, Er, Eu2 = sp.symbols("dF SE GG SH SW SG Er Eu2", real=True)
SdF, SGG, SEr, F0, FT, Fs = sp.symbols("SdF SGG SEr F0 FT Fstar", real=True)
Gam = sp.Symbol("Gamma_", positive=True)
ipD, ipS, SEh, SD, SGt = sp.symbols("ipD ipS SEh SD SGt", real=True)
nS, nGt, nGh, aH = sp.symbols("nS nGt nGh aH", nonnegative=True)
Gi, Ghi = sp.symbols("G_c Ghat_c", real=True)
Sh = sp.Symbol("Shift_", nonnegative=True)
Lm = sp.Symbol("Lambda_", real=True)
dFp, ipG, ipGh, Rv = sp.symbols("dF_pt ipG ipGh Rhs_pt", real=True)  # pointwise (random) values the rules take E of


REAL = {G, h, gam, mu, nu, g, vs, P, B, bprev, w, sb, st, s_, p_, r_, k_}  # realization symbols (not coordinate-free)


def envelope_v_claims(beta2, q_V, c, bhat2, v=vs):
    """The two envelope claims on v_t (inductions envelope.v.A and envelope.v.B), c = (Rh - sqrt eps)^2 >= g^2:
    A: 0 <= v_t <= c P_t (1 - B_t)/(1 - beta2), P_t = (1+q_V)^t >= 1, B_t = beta2^t in [0, 1];
    B: 0 <= v_t <= c (1 + q_V)/(1 - beta2 (1 + q_V)) (used where beta2 (1 + q_V) < 1).
    One statement, used by this chain and by the momentum steps (bounds.adam_momentum) that rely on it."""
    return (sp.And(sp.Ge(v, 0), sp.Le(v, c * P * (1 - B) / (1 - beta2)), sp.Ge(P, 1), sp.Ge(B, 0), sp.Le(B, 1)),
            sp.And(sp.Ge(v, 0), sp.Le(v, c * (1 + q_V) / (1 - bhat2))))


def box_items(ch: ProofChain, prefix: str, premises: tuple, box, Bx, d) -> list:
    """The box, where the problem assumes one (``box``: |x_i| <= Bx for every coordinate): ``prefix``.coord
    x_i^2 <= Bx^2, ``prefix``.sum (sum_over_t over the d coordinates) ||x||_2^2 <= d Bx^2, ``prefix``.norm
    ||x||_2 <= sqrt(d) Bx; the conclusions are registered in ``ch`` (the rule is derived from them)."""
    coord = Obligation(f"{prefix}.coord", premises + (box,), ch.concl(f"{prefix}.coord", sp.Le(xi ** 2, Bx ** 2)),
                       note="|x_i| <= Bx gives x_i^2 <= Bx^2")
    total = ch.rule("sum_over_t", (coord.name,), name=f"{prefix}.sum",
                    note="summed over the d coordinates: ||x||_2^2 <= d Bx^2", sums=((xi ** 2, nx ** 2),), count=d)
    norm = Obligation(f"{prefix}.norm", premises + (ch.fact(total.name),), ch.concl(f"{prefix}.norm", sp.Le(nx, sp.sqrt(d) * Bx)))
    return [coord, total, norm]


def build_chain(S: dict, overrides: dict | None = None, domain: dict | None = None) -> ProofChain:
    """Build the beta1 = 0 chain from the bound's own SymPy objects ``S`` (adam_base names: T, alpha,
    beta2, eps, R, L, d, Delta, q_W, q_G, q_M, q_V, X0, Rh, kappa, Cq, U0, X_0, Gamma, Gamma2, Lam, Vmax,
    bhat2, BOUND0).  ``overrides`` replaces named conclusions (mutation testing); ``domain`` replaces the
    named domain premises (mutation testing)."""
    T, alpha, beta2, eps, R, L, d, Delta = (S[k] for k in ("T", "alpha", "beta2", "eps", "R", "L", "d", "Delta"))
    q_W, q_G, q_M, q_V, X0, Bx = (S[k] for k in ("q_W", "q_G", "q_M", "q_V", "X0", "Bx"))
    Rh, kappa, Cq, U0, X_0 = (S[k] for k in ("Rh", "kappa", "Cq", "U0", "X_0"))
    Gamma, Gamma2, Lam, Vmax, bhat2, BOUND0 = (S[k] for k in ("Gamma", "Gamma2", "Lam", "Vmax", "bhat2", "BOUND0"))
    ch = ProofChain("adam.beta1_0", overrides=overrides)
    D = {
        "beta2<1": sp.Lt(beta2, 1), "q_G<1": sp.Lt(q_G, 1), "q_V<1": sp.Lt(q_V, 1),
        "R>=sqrt(eps)": sp.Ge(R, sp.sqrt(eps)),
        "round.G": sp.Le(sp.Abs(gam), q_G), "round.M": sp.Le(sp.Abs(mu), q_M), "round.V": sp.Le(sp.Abs(nu), q_V),
        "round.W": sp.Le(sp.Abs(dl), q_W), "bounded_gradients": sp.Le(sp.Abs(h), R - sp.sqrt(eps)),
        "box": sp.Le(sp.Abs(xi), Bx),
    }
    if domain:
        D.update(domain)
    ch.domain = D
    # no q_M < 1: no step needs it (mutation testing: weakening it to q_M < 2 left every step proved)
    BASE = (D["beta2<1"], D["q_G<1"], D["q_V<1"], D["R>=sqrt(eps)"])
    amax = alpha / sp.sqrt(1 - beta2)
    c = (Rh - sp.sqrt(eps)) ** 2
    AUX = ((PT1s, (1 + q_V) ** (T - 1)), (PTs, (1 + q_V) ** T))

    # -- envelope.gradient ----------------------------------------------------------------------
    ch.add("envelope.gradient", Obligation(
        "envelope.gradient", BASE + (D["bounded_gradients"], D["round.G"], D["R>=sqrt(eps)"], sp.Eq(g, (1 + gam) * h)),
        ch.concl("envelope.gradient", sp.Le(g ** 2, c))),
        uses=("bounded_gradients", "round.G"), statement="g^2 = ((1+gamma) h)^2 <= (Rh - sqrt eps)^2")
    g2le = ch.fact("envelope.gradient")  # g^2 <= c for the realization g = Q_G(h)

    # -- envelope.v (two inductions) and the cap at T ----------------------------------------------
    cA, cB = envelope_v_claims(beta2, q_V, c, bhat2)
    claimA = ch.concl("envelope.v.A", cA)
    nxt = (1 + nu) * (beta2 * vs + g ** 2)
    initA, shiftA = ((vs, 0), (P, 1), (B, 1)), ((vs, nxt), (P, (1 + q_V) * P), (B, beta2 * B))
    ch.add("envelope.v", Induction(
        "envelope.v.A", Obligation("envelope.v.A.base", BASE, claimA.xreplace(dict(initA))),
        Obligation("envelope.v.A.step", BASE + (claimA, g2le, D["round.V"], D["beta2<1"]), claimA.xreplace(dict(shiftA))),
        claim=claimA, init=initA, shift=shiftA,
        note="P_t, B_t are (1+q_V)^t, beta2^t: P_0 = B_0 = 1, P_{t+1} = (1+q_V) P_t, B_{t+1} = beta2 B_t (envelope.v.powers)"),
        uses=("round.V", "envelope.gradient"),
        statement="0 <= v_t <= (Rh - sqrt eps)^2 (1+q_V)^t (1 - beta2^t)/(1 - beta2), and <= (Rh-sqrt eps)^2 (1+q_V)/(1-beta2(1+q_V)) if beta2(1+q_V) < 1; v_T <= Vmax")
    ch.add("envelope.v", Obligation("envelope.v.powers", BASE, sp.And(
        sp.Eq((1 + q_V) ** (tt + 1), (1 + q_V) * (1 + q_V) ** tt), sp.Eq(beta2 ** (tt + 1), beta2 * beta2 ** tt),
        sp.Eq(((1 + q_V) ** tt).subs(tt, 0), 1), sp.Eq((beta2 ** tt).subs(tt, 0), 1))))
    claimB = ch.concl("envelope.v.B", cB)
    initB, shiftB = ((vs, 0),), ((vs, nxt),)
    ch.add("envelope.v", Induction(
        "envelope.v.B", Obligation("envelope.v.B.base", BASE + (sp.Lt(bhat2, 1),), claimB.xreplace(dict(initB))),
        Obligation("envelope.v.B.step", BASE + (claimB, g2le, D["round.V"], sp.Lt(bhat2, 1)), claimB.xreplace(dict(shiftB))),
        claim=claimB, init=initB, shift=shiftB))
    capA = ch.fact("envelope.v.A", {vs: vT, P: (1 + q_V) ** T, B: beta2 ** T})
    capB = sp.Implies(sp.Lt(bhat2, 1), ch.fact("envelope.v.B", {vs: vT}))
    ch.add("envelope.v", Obligation("envelope.v.max", BASE + (capA, capB, D["beta2<1"], D["q_G<1"]),
                                    ch.concl("envelope.v.max", sp.Le(vT, Vmax)), aux=AUX[1:] + ((sp.Symbol("B_T", nonnegative=True), beta2 ** T),)))

    # -- envelope.update (beta1 = 0) -----------------------------------------------------------------
    ch.add("envelope.update", Obligation(
        "envelope.update", BASE + (D["round.M"], D["round.V"], D["q_V<1"]),
        ch.concl("envelope.update", sp.Le(((1 + mu) * g) ** 2 / (eps + (1 + nu) * (bprev + g ** 2)), U0 ** 2))),
        uses=("envelope.v",), statement="m_t^2/(eps + v_t) <= U0^2 = (1+q_M)^2/(1-q_V)  (beta1 = 0, v_t >= (1-q_V) g_t^2)")

    # -- descent.step_size -------------------------------------------------------------------------
    ch.add("descent.step_size", Obligation(
        "descent.step_size", BASE + (sp.Eq(at, alpha * sp.sqrt((1 - B) / (1 - beta2))), sp.Ge(B, 0), sp.Le(B, 1), D["beta2<1"]),
        ch.concl("descent.step_size", sp.Le(at, amax))),
        uses=("envelope.v",), statement="alpha_t = alpha sqrt((1 - beta2^t)/(1 - beta2)) <= alpha/sqrt(1 - beta2)")
    at_le = ch.fact("descent.step_size")

    # -- descent.weight_growth --------------------------------------------------------------------
    ch.add("descent.weight_growth", RuleApplication(
        "cauchy_schwarz", (), sp.Le(-ip, nx * nuu), name="descent.cs_x_u",
        note="-<x_{t-1}, u_t> <= ||x_{t-1}|| ||u_t||", spec=(("inner", -ip), ("norm_a", nx), ("norm_b", nuu))))
    ch.add("descent.weight_growth", Obligation(
        "descent.triangle", BASE + (sp.Eq(nN ** 2, nx ** 2 - 2 * at * ip + at ** 2 * nuu ** 2), sp.Le(-ip, nx * nuu)),
        ch.concl("descent.triangle", sp.Le(nN, nx + at * nuu))))
    fu = ch.fact("envelope.update")
    ok = isinstance(fu, sp.Le) and fu.lhs == ((1 + mu) * g) ** 2 / (eps + (1 + nu) * (bprev + g ** 2)) and not (fu.rhs.free_symbols & REAL)
    ch.add("descent.weight_growth", RuleApplication(
        "sum_over_t", ("envelope.update",), sp.Le(nuu ** 2, d * fu.rhs), name="descent.sum_u", valid=ok,
        why="" if ok else f"envelope.update is not a coordinate-free bound on u_i^2: {fu}",
        note="summed over the d coordinates: ||u_t||^2 = sum_i m_i^2/(eps + v_i) <= d U0^2",
        spec=(("sums", ((fu.lhs, nuu ** 2),) if ok else ()), ("count", d))))
    ch.add("descent.weight_growth", Obligation(
        "descent.update_norm", BASE + (ch.fact("descent.sum_u"),), ch.concl("descent.update_norm", sp.Le(nuu, sp.sqrt(d) * U0))))
    claimX = ch.concl("descent.weight_growth.claim", sp.Le(nx, X0 + tt * sp.sqrt(d) * amax * U0))
    stepX = Obligation("descent.weight_growth.step", BASE + (claimX, ch.fact("descent.triangle"), ch.fact("descent.update_norm"), at_le),
                       claimX.xreplace({nx: nN, tt: tt + 1}))
    ch.add("descent.weight_growth", Induction(
        "descent.weight_growth", Obligation("descent.weight_growth.base", BASE + (sp.Le(nx, X0),), claimX.xreplace({tt: 0})),
        stepX, claim=claimX, init=((tt, 0),), shift=((nx, nN), (tt, tt + 1))))
    for it in box_items(ch, "box", BASE, D["box"], Bx, d):
        ch.add("descent.weight_growth", it)
    ch.add("descent.weight_growth", Obligation(
        "descent.weight_bound", BASE + (claimX, sp.Le(tt, T), ch.fact("box.norm")), ch.concl("descent.weight_bound", sp.Le(nx, X_0))),
        uses=("bounded_init", "envelope.update", "descent.step_size", "box"),
        statement="||x_t||_2 <= Min(X0 + t sqrt(d) alpha U0/sqrt(1-beta2), sqrt(d) Bx) <= X for t <= T (triangle inequality, "
                  "induction on t; the box ||x_t||_inf <= Bx where the problem assumes one, Bx = oo otherwise)")

    # -- descent.w_bias -----------------------------------------------------------------------------
    ch.add("descent.w_bias", Obligation("w_bias.coord", BASE + (D["round.W"],), ch.concl("w_bias.coord", sp.Le((dl * xi) ** 2, q_W ** 2 * xi ** 2))))
    ch.add("descent.w_bias", RuleApplication("sum_over_t", ("w_bias.coord",), sp.Le(nE ** 2, q_W ** 2 * nx ** 2), name="w_bias.sum",
                                             note="||Q_W(x) - x||^2 = sum_i (delta_i x_i)^2 <= q_W^2 ||x||^2",
                                             spec=(("sums", (((dl * xi) ** 2, nE ** 2), (xi ** 2, nx ** 2))), ("count", d))))
    ch.add("descent.w_bias", Obligation(
        "w_bias.norm", BASE + (sp.Le(nD, L * nE), sp.Le(nE ** 2, q_W ** 2 * nx ** 2), ch.fact("descent.weight_bound")),
        ch.concl("w_bias.norm", sp.Le(nD, L * q_W * X_0)), note="smoothness: ||grad F(Q_W x) - grad F(x)|| <= L ||Q_W x - x||"))
    ch.add("descent.w_bias", Obligation(
        "grad.true", BASE + (sp.Le(aG, R - sp.sqrt(eps)),), ch.concl("grad.true", sp.Le(aG ** 2, R ** 2)),
        note="|G_i| = |E h_i| <= E|h_i| <= R - sqrt(eps) (expectation_monotone of bounded_gradients); the same at "
             "Q_W(x): |Ghat_i| <= R (bounded gradients hold at every point)"))
    wstep = sp.sqrt(d) * U0 * L * q_W * X_0
    ch.add("descent.w_bias", RuleApplication("cauchy_schwarz", (), sp.Le(-ipD, nD * nuu), name="w_step.cs",
                                             note="-<G - Ghat, u_t> <= ||G - Ghat|| ||u_t||",
                                             spec=(("inner", -ipD), ("norm_a", nD), ("norm_b", nuu))))
    ch.add("descent.w_bias", Obligation(
        "w_step.pointwise", BASE + (sp.Le(-ipD, nD * nuu), ch.fact("w_bias.norm"), ch.fact("descent.update_norm")),
        ch.concl("w_step.pointwise", sp.Ge(ipD, -wstep)),
        note="<G - Ghat, u_t> >= -||G - Ghat|| ||u_t|| >= -L q_W X sqrt(d) U0"))
    ch.add("descent.w_bias", ch.rule("expectation_monotone", ("w_step.pointwise",), name="w_step.expect",
                                     note="SD = E_{t-1} <G - Ghat, u_t>", rename=((ipD, SD),)))
    # ||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat> <= ||G - Ghat|| ||G + Ghat|| <= L q_W X 2 sqrt(d) R
    # per coordinate with named squares (s2 = (G_c + Ghat_c)^2, a2 - b2 = c2), so that the two sums are the
    # rule applied to them (spec) and a changed coordinate fact flows into w_shift.pointwise
    s2c, a2c, b2c, c2c = sp.symbols("s2_c a2_c b2_c c2_c", real=True)
    ch.add("descent.w_bias", Obligation(
        "w_shift.coord", BASE + (ch.fact("grad.true", {aG: sp.Abs(Gi)}), ch.fact("grad.true", {aG: sp.Abs(Ghi)}),
                                 sp.Eq(s2c, (Gi + Ghi) ** 2)),
        ch.concl("w_shift.coord", sp.Le(s2c, 4 * R ** 2)), note="s2_c = (G_c + Ghat_c)^2 <= 4 R^2 from |G_c|, |Ghat_c| <= R"))

    def _sum(name, premise, note, **spec):
        ch.add("descent.w_bias", ch.rule("sum_over_t", (premise,), note=note, name=name, **spec))
    _sum("w_shift.sum", "w_shift.coord", "summed over the d coordinates: ||G + Ghat||^2 <= 4 d R^2", sums=((s2c, nS ** 2),), count=d)
    ch.add("descent.w_bias", Obligation(
        "w_shift.identity", (sp.Eq(a2c, Gi ** 2), sp.Eq(b2c, Ghi ** 2), sp.Eq(c2c, (Gi - Ghi) * (Gi + Ghi))),
        ch.concl("w_shift.identity", sp.Eq(a2c - b2c, c2c)), note="G_c^2 - Ghat_c^2 = (G_c - Ghat_c)(G_c + Ghat_c)"))
    _sum("w_shift.sum_identity", "w_shift.identity", "summed over the coordinates: ||G||^2 - ||Ghat||^2 = <G - Ghat, G + Ghat> = ipS",
         sums=((a2c, nGt ** 2), (b2c, nGh ** 2), (c2c, ipS)), count=d)
    ch.add("descent.w_bias", RuleApplication("cauchy_schwarz", (), ch.concl("w_shift.cs", sp.Le(ipS, nD * nS)), name="w_shift.cs",
                                             note="<G - Ghat, G + Ghat> <= ||G - Ghat|| ||G + Ghat||",
                                             spec=(("inner", ipS), ("norm_a", nD), ("norm_b", nS))))
    wshift = 2 * sp.sqrt(d) * R * L * q_W * X_0
    ch.add("descent.w_bias", Obligation(
        "w_shift.pointwise", BASE + (ch.fact("w_shift.sum_identity"), ch.fact("w_shift.cs"), ch.fact("w_shift.sum"), ch.fact("w_bias.norm")),
        ch.concl("w_shift.pointwise", sp.Le(nGt ** 2, nGh ** 2 + wshift))),
        uses=("smoothness", "round.W", "descent.weight_growth", "descent.update_norm"),
        statement="<G - Ghat, u_t> >= -L q_W X sqrt(d) U0 (the gradient at Q_W(x) paid through the step, no 1/sqrt(eps)); "
                  "||G||^2 <= ||Ghat||^2 + 2 sqrt(d) R L q_W X")

    # -- descent.denominator --------------------------------------------------------------------------
    claimQ = sp.Ge(Qk, 1)
    ch.add("descent.denominator", Induction(
        "pow_ge_1", Obligation("pow_ge_1.base", BASE, claimQ.xreplace({Qk: 1})),
        Obligation("pow_ge_1.step", BASE + (claimQ,), claimQ.xreplace({Qk: (1 + q_V) * Qk})),
        claim=claimQ, init=((Qk, 1),), shift=((Qk, (1 + q_V) * Qk),), note="(1 + q_V)^k >= 1"))
    ch.add("descent.denominator", Obligation(
        "pow_split", BASE + (sp.Le(tt, T - 1),), sp.Eq((1 + q_V) ** (T - 1), (1 + q_V) ** tt * (1 + q_V) ** (T - 1 - tt))))
    ch.add("descent.denominator", Obligation(
        "pow_monotone", BASE + (sp.Eq(PT1s, P * Qk), sp.Ge(Qk, 1), sp.Ge(P, 1)), ch.concl("pow_monotone", sp.Le(P, PT1s))))
    den_prem = (ch.fact("envelope.v.A", {vs: vp}), sp.Implies(sp.Lt(bhat2, 1), ch.fact("envelope.v.B", {vs: vp})),
                sp.Le(w, c), sp.Le(P, (1 + q_V) ** (T - 1)), D["beta2<1"], D["R>=sqrt(eps)"], D["q_V<1"])
    S_t = (1 - beta2 * B) / (1 - beta2)
    ch.add("descent.denominator", Obligation(
        "denominator.cap", den_prem, ch.concl("denominator.cap", sp.Le(eps + beta2 * vp + w, Rh ** 2 * S_t * Gamma2)),
        aux=AUX[:1], note="v_{t-1} with P = (1+q_V)^(t-1), B = beta2^(t-1); w = E g_t^2 <= c (expectation_monotone)"))
    ch.add("descent.denominator", Obligation(
        "denominator.ratio", BASE + (ch.fact("denominator.cap"), sp.Eq(st ** 2, eps + beta2 * vp + w),
                              sp.Eq(at, alpha * sp.sqrt(S_t)), sp.Ge(B, 0), sp.Le(B, 1), D["beta2<1"]),
        ch.concl("denominator.ratio", sp.Ge(at / st, alpha / (Rh * Gamma))), aux=AUX[:1]),
        uses=("envelope.v",), statement="eps + vt_t <= Rh^2 S_t Gamma^2, hence alpha_t/sqrt(eps+vt_t) >= alpha/(Rh Gamma)")

    # -- lemma.sum_of_ratios_q -----------------------------------------------------------------------
    claimS = ch.concl("ratios.claim", sp.Le(Ss, (sp.log(1 + bs / eps) - tt * sp.log(beta2 * (1 - q_V))) / (1 - q_V)))
    bn = (1 + nu) * (beta2 * bs + a_)
    shiftS = ((bs, bn), (Ss, Ss + a_ / (eps + bn)), (tt, tt + 1))
    # the inductive step from two facts about y = (eps + b_t)/(beta2 (1-q_V)(eps + b_{t-1})) (one query
    # before; cvc5, the second solver, decides these and the step from them, not that one):
    # (1 - q_V) a_t/(eps + b_t) <= 1 - 1/y (algebra) and ln y >= 1 - 1/y (the lemma ln_lower at y)
    y_ = (eps + bn) / (beta2 * (1 - q_V) * (eps + bs))
    ch.add("lemma.sum_of_ratios_q", Obligation(
        "ratios.gain", BASE + (D["round.V"], D["q_V<1"]), ch.concl("ratios.gain", sp.Le((1 - q_V) * a_ / (eps + bn), 1 - 1 / y_)),
        note="eps + b_t - beta2 (1-q_V)(eps + b_{t-1}) >= (1 - q_V) a_t since b_t >= (1 - q_V)(beta2 b_{t-1} + a_t)"))
    ch.add("lemma.sum_of_ratios_q", Obligation(
        "ratios.log_gain", BASE + (D["round.V"], D["q_V<1"]), ch.concl("ratios.log_gain", sp.Ge(sp.log(y_), 1 - 1 / y_)),
        lemmas=(("ln_lower", y_),)))
    ch.add("lemma.sum_of_ratios_q", Obligation(
        "ratios.b_nonneg", BASE + (D["round.V"], D["q_V<1"]), ch.concl("ratios.b_nonneg", sp.Ge(1 + nu, 0)),
        note="1 + nu >= 0, so b_t = (1 + nu)(beta2 b_{t-1} + a_t) >= 0 (the logarithms below are defined)"))
    ch.add("lemma.sum_of_ratios_q", Obligation(
        "ratios.term", BASE + (D["q_V<1"], ch.fact("ratios.b_nonneg"), ch.fact("ratios.gain"), ch.fact("ratios.log_gain")),
        ch.concl("ratios.term", sp.Le(a_ / (eps + bn), sp.log(y_) / (1 - q_V))),
        note="a_t/(eps + b_t) <= (1 - 1/y)/(1 - q_V) <= ln(y)/(1 - q_V)"))
    # the step itself only adds ratios.term to the claim (the logarithms expanded): round.V is not among
    # its premises, so a weakened gain or log_gain cannot be made up for there
    ch.add("lemma.sum_of_ratios_q", Induction(
        "ratios", Obligation("ratios.base", BASE, claimS.xreplace({bs: 0, Ss: 0, tt: 0})),
        Obligation("ratios.step", BASE + (claimS, D["q_V<1"], ch.fact("ratios.b_nonneg"), ch.fact("ratios.term")),
                   claimS.xreplace(dict(shiftS))),
        claim=claimS, init=((bs, 0), (Ss, 0), (tt, 0)), shift=shiftS,
        note="b_t = v_t of one coordinate, a_t = g_t^2; ln y >= 1 - 1/y at y = (eps+b_t)/(beta2(1-q_V)(eps+b_{t-1}))"))
    ch.add("lemma.sum_of_ratios_q", Obligation(
        "ratios.total", BASE + (claimS.xreplace({bs: vT, tt: T}), ch.fact("envelope.v.max"), D["q_V<1"]),
        ch.concl("ratios.total", sp.Le(Ss, T * Lam / (1 - q_V))), aux=AUX[1:], lemmas=("ln_monotone",)),
        uses=("round.V", "envelope.v"),
        statement="sum_{t<=T} g_t^2/(eps+v_t) <= (ln(1 + v_T/eps) - T ln(beta2(1-q_V)))/(1-q_V) <= T Lambda/(1-q_V)")

    # -- lemma.descent_direction_q --------------------------------------------------------------------
    A_ = (1 + q_G) * (1 + q_M)
    B_ = (1 - q_G) * (1 - q_M)
    gq = (1 + gam) * h
    defs = (sp.Eq(sb ** 2, eps + bprev + gq ** 2), sp.Eq(st ** 2, eps + bprev + w), sp.Eq(s_ ** 2, eps + (1 + nu) * (bprev + gq ** 2)))
    rnd = (D["round.G"], D["round.M"], D["round.V"], D["q_G<1"], D["q_V<1"])
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.root_ratio", rnd + defs, ch.concl("dd.root_ratio", sp.And(sp.Le(sb ** 2 * (1 - q_V), s_ ** 2), sp.Le(s_ ** 2, sb ** 2 * (1 + q_V))))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.h_over_sbar", rnd + defs, ch.concl("dd.h_over_sbar", sp.Le(sp.Abs(h) * (1 - q_G), sb))))
    dd4_core = (sp.Le(B_, p_), sp.Le(p_, A_), sp.Le(r_ ** 2 * (1 - q_V), 1), sp.Ge(r_ ** 2 * (1 + q_V), 1), sp.Le(k_ * (1 - q_G), 1))
    pdefs = (sp.Eq(p_, (1 + mu) * (1 + gam)), sp.Eq(r_ * s_, sb), sp.Eq(k_ * sb, sp.Abs(h)))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.kappa_prem", BASE + rnd + pdefs + (ch.fact("dd.root_ratio"), ch.fact("dd.h_over_sbar")),
        ch.concl("dd.kappa_prem", sp.And(*dd4_core)),
        note="p = (1+mu)(1+gamma), r = sbar/s, k = |h|/sbar: p in [(1-q_G)(1-q_M), (1+q_G)(1+q_M)], "
             "r^2 in [1/(1+q_V), 1/(1-q_V)], k <= 1/(1-q_G)"))
    # |p r - 1| <= M = (1+q_G)(1+q_M)/sqrt(1-q_V) - 1 from each side, then times k: four small steps
    # (one query before; cvc5, the second solver, decides each of these and not that one)
    Mk = A_ / sp.sqrt(1 - q_V) - 1
    M_ = sp.Symbol("M_pr", real=True)   # Mk as a free real where only its bound is used
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.pr_up", BASE + (ch.fact("dd.kappa_prem"),), ch.concl("dd.pr_up", sp.Le(p_ * r_ - 1, Mk))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.pr_down", BASE + (ch.fact("dd.kappa_prem"),), ch.concl("dd.pr_down", sp.Le(1 - p_ * r_, Mk)),
        note="B/sqrt(1+q_V) + A/sqrt(1-q_V) >= 2 when B > 0; A >= 2 otherwise"))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.abs_pr", BASE + (ch.fact("dd.pr_up"), ch.fact("dd.pr_down")),
        ch.concl("dd.abs_pr", sp.Le(sp.Abs(p_ * r_ - 1), Mk)), aux=((M_, Mk, "opaque"),)))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.kappa_core", BASE + (ch.fact("dd.kappa_prem"), ch.fact("dd.abs_pr")),
        ch.concl("dd.kappa_core", sp.Le(sp.Abs(p_ * r_ - 1) * k_, kappa)), aux=((M_, Mk, "opaque"),),
        note="|p r - 1| <= M and k (1 - q_G) <= 1 give |p r - 1| k <= M/(1 - q_G) = kappa"))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.kappa_lin", BASE + pdefs[1:] + (ch.fact("dd.kappa_prem"),),
        ch.concl("dd.kappa_lin", sp.Ge(G * p_ * h / s_ - G * h / sb, -sp.Abs(G) * k_ * sp.Abs(p_ * r_ - 1))),
        note="G p h/s - G h/sbar = G (h/sbar)(p r - 1) (r s = sbar), and |h|/sbar = k"))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.kappa", BASE + (ch.fact("dd.kappa_lin"), ch.fact("dd.kappa_core")),
        ch.concl("dd.kappa", sp.Ge(G * p_ * h / s_, G * h / sb - kappa * sp.Abs(G))),
        note="G m/s - G h/sbar = G (h/sbar)(p r - 1), m = p h"))
    Dn = sb * st * (sb + st)
    DAe = sp.Abs(G * h) * gq ** 2 / Dn
    DBe = sp.Abs(G * h) * w / Dn
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.split", BASE + (sp.Eq(st ** 2 - sb ** 2, w - gq ** 2),),
        ch.concl("dd.split", sp.Ge(G * h / sb, G * h / st - DAe - DBe)),
        note="1/sbar - 1/st = (st^2 - sbar^2)/(sbar st (sbar + st)), |w - g^2| <= w + g^2"))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.w_bound", BASE + (sp.Le(w, c), D["R>=sqrt(eps)"]), ch.concl("dd.w_bound", sp.Le(w, Rh ** 2)),
        note="w = E g^2 <= c (expectation_monotone of envelope.gradient)"))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.h_vs_g", BASE + rnd, ch.concl("dd.h_vs_g", sp.Le(h ** 2 * (1 - q_G) ** 2, gq ** 2))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.sq_bounds", BASE + defs, ch.concl("dd.sq_bounds", sp.And(sp.Le(gq ** 2, sb ** 2), sp.Le(w, st ** 2)))))
    # the two AM-GM remainders, split so that a second solver (cvc5) decides each part: w <= st Rh
    # (w <= st^2 and w <= Rh^2), h^2 (1-q_G)^2 <= sbar^2, w^2 <= st^3 Rh, then the remainders from those
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.w_st", BASE + (ch.fact("dd.sq_bounds"), ch.fact("dd.w_bound")), ch.concl("dd.w_st", sp.Le(w, st * Rh))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.h_sb", BASE + (D["q_G<1"], ch.fact("dd.h_vs_g"), ch.fact("dd.sq_bounds")),
        ch.concl("dd.h_sb", sp.Le(h ** 2 * (1 - q_G) ** 2, sb ** 2))))
    K = Rh / (1 - q_G) ** 2
    ya = sp.sqrt(w) * sp.Abs(h) * sp.Abs(gq) / Dn
    yb = sp.Abs(h) * w / Dn
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.rest_a", BASE + (D["q_G<1"], ch.fact("dd.w_st"), ch.fact("dd.h_sb")),
        ch.concl("dd.rest_a", sp.Le(st * ya ** 2, K * gq ** 2 / sb ** 2))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.w_sq", BASE + (ch.fact("dd.w_st"), ch.fact("dd.sq_bounds")), ch.concl("dd.w_sq", sp.Le(w ** 2, st ** 3 * Rh))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.rest_b", BASE + (D["q_G<1"], ch.fact("dd.h_vs_g"), ch.fact("dd.w_sq")),
        ch.concl("dd.rest_b", sp.Le(st * yb ** 2, K * gq ** 2 / sb ** 2))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.amgm_a", BASE + (ch.fact("dd.rest_a"),),
        ch.concl("dd.amgm_a", sp.Le(DAe, G ** 2 * gq ** 2 / (4 * w * st) + K * gq ** 2 / sb ** 2))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.amgm_b", BASE + (ch.fact("dd.rest_b"),),
        ch.concl("dd.amgm_b", sp.Le(DBe, G ** 2 / (4 * st) + K * gq ** 2 / sb ** 2))))
    Xv, Yv, Zv, DAv, DBv = sp.symbols("X_v Y_v Z_v DA_v DB_v", real=True)
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.pointwise", BASE + (ch.fact("dd.kappa"), ch.fact("dd.split"), ch.fact("dd.amgm_a"), ch.fact("dd.amgm_b"), ch.fact("dd.root_ratio")),
        ch.concl("dd.pointwise", sp.Ge(G * p_ * h / s_, G * h / st - G ** 2 / (4 * st) * (1 + gq ** 2 / w)
                                       - kappa * sp.Abs(G) - Cq * gq ** 2 / s_ ** 2)),
        aux=((Xv, G * p_ * h / s_, "opaque"), (Yv, G * h / sb, "opaque"), (Zv, G * h / st, "opaque"),
             (DAv, DAe, "opaque"), (DBv, DBe, "opaque")),
        note="Cq = 2 Rh (1 + q_V)/(1 - q_G)^2: the two AM-GM halves, and 1/sbar^2 <= (1 + q_V)/s^2; "
             "the named sub-terms are abstracted (a proof for all their values is a proof for theirs)"))
    ddp = ch.fact("dd.pointwise", {G: Gh})  # the pointwise lemma at its instance G := Ghat_i
    ddp_ok = isinstance(ddp, (sp.Ge, sp.Le))
    ch.add("lemma.descent_direction_q", RuleApplication(
        "expectation_monotone", ("dd.pointwise",), sp.Ge(EX, sp.Symbol("E_rhs")), name="dd.expectation",
        spec=(("pointwise", ddp), ("rename", ((ddp.lhs, EX), (ddp.rhs, sp.Symbol("E_rhs"))) if ddp_ok else ())),
        note="conditional expectation E_{t-1} of dd.pointwise at its instance G := Ghat_i (G is any real: the pointwise "
             "lemma holds for every multiplier; Ghat = grad F(Q_W(x_{t-1})), st, w are F_{t-1}-measurable, F_{t-1} including "
             "the rounding of Q_W(x_{t-1})); EX = E_{t-1}[Ghat_i m_i/sqrt(eps + v_i)]"))
    ch.add("lemma.descent_direction_q", RuleApplication(
        "expectation_linear", ("dd.expectation",), sp.Eq(sp.Symbol("E_rhs"), Gh * Gh / st - Gh ** 2 / (2 * st) - kappa * sp.Abs(Gh) - Cq * Err),
        name="dd.linear", note="E h = Ghat = grad F(Q_W(x)) (unbiased), E g^2 = w, Err = E[g^2/(eps+v)]",
        spec=(("pointwise", sp.Eq(Rv, ddp.rhs if ddp_ok else sp.nan)),
              ("rename", ((Rv, sp.Symbol("E_rhs")), (gq ** 2 / s_ ** 2, Err), (gq ** 2, w), (h, Gh))))))
    ch.add("lemma.descent_direction_q", Obligation(
        "dd.final", BASE + (sp.Ge(EX, Gh * Gh / st - Gh ** 2 / (2 * st) - kappa * sp.Abs(Gh) - Cq * Err),),
        ch.concl("dd.final", sp.Ge(EX, Gh ** 2 / (2 * st) - kappa * sp.Abs(Gh) - Cq * Err))),
        uses=("unbiased", "round.G", "round.M", "round.V", "envelope.gradient"),
        statement="E[Ghat m/sqrt(eps+v)] >= Ghat^2/(2 sqrt(eps+vt)) - kappa|Ghat| - C E[g^2/(eps+v)], Ghat = grad F(Q_W(x)) = E h")

    # -- descent.per_step ------------------------------------------------------------------------------
    ch.add("descent.per_step", Obligation(
        "descent.u_sq", BASE + (D["round.M"],), ch.concl("descent.u_sq", sp.Le(((1 + mu) * g) ** 2 / s_ ** 2, (1 + q_M) ** 2 * g ** 2 / s_ ** 2))))
    ch.add("descent.per_step", RuleApplication("expectation_monotone", (), sp.Ge(dF, at * SE - L / 2 * at ** 2 * Eu2), name="descent.smooth",
                                               note="E of smoothness: F(x_t) <= F(x_{t-1}) - alpha_t <G, u_t> + L/2 alpha_t^2 ||u_t||^2",
                                               spec=(("pointwise", sp.Ge(dFp, at * ipG - L / 2 * at ** 2 * nuu ** 2)),
                                                     ("rename", ((dFp, dF), (ipG, SE), (nuu ** 2, Eu2))))))
    ch.add("descent.per_step", RuleApplication("expectation_linear", (), sp.Eq(SE, SEh + SD), name="descent.split_w",
                                               note="E<G, u> = E<Ghat, u> + E<G - Ghat, u>, Ghat = grad F(Q_W(x_{t-1}))",
                                               spec=(("pointwise", sp.Eq(ipG, ipGh + ipD)), ("rename", ((ipG, SE), (ipGh, SEh), (ipD, SD))))))
    fq = ch.fact("descent.u_sq")
    coeff = sp.simplify(fq.rhs / (g ** 2 / s_ ** 2)) if isinstance(fq, sp.Le) else sp.nan
    ok = isinstance(fq, sp.Le) and fq.lhs == ((1 + mu) * g) ** 2 / s_ ** 2 and not (coeff.free_symbols & REAL) and coeff.is_finite is not False
    ch.add("descent.per_step", RuleApplication("sum_over_t", ("descent.u_sq",), sp.Le(Eu2, coeff * Er), name="descent.sum_u_sq", valid=ok,
                                               why="" if ok else f"descent.u_sq is not (coefficient) * g_i^2/(eps+v_i): {fq}",
                                               note="expectation and sum over i: sum_i E u_i^2 <= (1+q_M)^2 sum_i E[g_i^2/(eps+v_i)]",
                                               spec=(("sums", ((((1 + mu) * g) ** 2 / s_ ** 2, Eu2), (g ** 2 / s_ ** 2, Er))), ("count", d))))
    ch.add("descent.per_step", RuleApplication("sum_over_t", ("dd.final",), sp.Ge(SEh, SH - kappa * SG - Cq * Er), name="descent.sum_dd",
                                               note="summed over i: SEh = E<Ghat, u>, SH = sum_i Ghat_i^2/(2 st_i), SG = sum_i |Ghat_i|",
                                               spec=(("sums", ((EX, SEh), (Gh ** 2 / (2 * st), SH), (sp.Abs(Gh), SG), (Err, Er))), ("count", d))))
    # not one rule: denominator.ratio times Ghat_i^2/2 (a pointwise obligation), then the sum over i (the rule)
    ch.add("descent.per_step", Obligation(
        "descent.weighted_den", BASE + (ch.fact("denominator.ratio"),),
        ch.concl("descent.weighted_den", sp.Ge(at * Gh ** 2 / (2 * st), alpha / (2 * Rh * Gamma) * Gh ** 2)), aux=AUX[:1],
        note="denominator.ratio times Ghat_i^2/2 >= 0"))
    ch.add("descent.per_step", RuleApplication("sum_over_t", ("descent.weighted_den",), sp.Ge(at * SH, alpha / (2 * Rh * Gamma) * GG),
                                               name="descent.sum_den", note="descent.weighted_den summed over i; GG = ||Ghat||^2",
                                               spec=(("sums", ((Gh ** 2 / (2 * st), SH), (Gh ** 2, GG))), ("count", d))))
    # not one rule: |Ghat_i| <= R from grad.true (pointwise), then the sum over i
    ch.add("descent.per_step", Obligation("grad.abs", BASE + (ch.fact("grad.true"),), ch.concl("grad.abs", sp.Le(aG, R)),
                                          note="aG = |Ghat_i| >= 0 and aG^2 <= R^2"))
    ch.add("descent.per_step", RuleApplication("sum_over_t", ("grad.abs",), sp.Le(SG, d * R), name="descent.sum_G",
                                               note="|Ghat_i| <= R (grad.abs at Q_W(x)), summed over i",
                                               spec=(("sums", ((aG, SG),)), ("count", d))))
    ch.add("descent.per_step", Obligation("Gamma.positive", BASE + (ch.fact("pow_ge_1", {Qk: (1 + q_V) ** (T - 1)}),), sp.Ge(Gamma, 1), aux=AUX[:1]))
    ch.add("descent.per_step", Obligation("kappa.nonneg", BASE + (D["q_G<1"], D["q_V<1"]), sp.Ge(kappa, 0)))
    ch.add("descent.per_step", Obligation("C.nonneg", BASE + (D["q_G<1"],), sp.Ge(Cq, 0)))
    per_step = sp.Ge(dF, alpha / (2 * Rh * Gamma) * GG - amax * (R * d * kappa + wstep)
                     - (amax * Cq + L / 2 * amax ** 2 * (1 + q_M) ** 2) * Er)
    # five small steps, then their sum (one query before; cvc5, the second solver, decides each of these
    # and not that one): the smoothness inequality with E<G, u> split, the summed descent-direction
    # lemma times alpha_t, and alpha_t <= amax in each penalty
    smooth, sum_dd = sp.Ge(dF, at * SE - L / 2 * at ** 2 * Eu2), sp.Ge(SEh, SH - kappa * SG - Cq * Er)
    ch.add("descent.per_step", Obligation(
        "descent.per_step.smooth", BASE + (smooth, ch.fact("descent.sum_u_sq"), sp.Eq(SE, SEh + SD)),
        ch.concl("descent.per_step.smooth", sp.Ge(dF, at * SEh + at * SD - L / 2 * at ** 2 * (1 + q_M) ** 2 * Er)),
        note="E<G, u> = E<Ghat, u> + E<G - Ghat, u> and sum_i E u_i^2 <= (1+q_M)^2 Er in the smoothness inequality"))
    ch.add("descent.per_step", Obligation(
        "descent.per_step.dd", BASE + (sum_dd,), ch.concl("descent.per_step.dd", sp.Ge(at * SEh, at * SH - at * kappa * SG - at * Cq * Er)),
        note="the summed descent-direction lemma times alpha_t > 0"))
    ch.add("descent.per_step", Obligation(
        "descent.per_step.kappa", BASE + (sp.Le(SG, d * R), at_le, ch.fact("kappa.nonneg")),
        ch.concl("descent.per_step.kappa", sp.Le(at * kappa * SG, amax * kappa * d * R))))
    ch.add("descent.per_step", Obligation(
        "descent.per_step.w", BASE + (sp.Ge(SD, -wstep), at_le), ch.concl("descent.per_step.w", sp.Ge(at * SD, -amax * wstep)),
        note="E<G - Ghat, u> >= -sqrt(d) U0 L q_W X (descent.w_bias) times 0 < alpha_t <= amax"))
    ch.add("descent.per_step", Obligation(
        "descent.per_step.rates", BASE + (at_le, sp.Ge(Er, 0), ch.fact("C.nonneg")),
        ch.concl("descent.per_step.rates", sp.Le(at * Cq * Er + L / 2 * at ** 2 * (1 + q_M) ** 2 * Er,
                                                 amax * Cq * Er + L / 2 * amax ** 2 * (1 + q_M) ** 2 * Er)),
        note="the two Er penalties at alpha_t <= amax, as one sum (each of two separate bounds would follow from the other)"))
    ch.add("descent.per_step", Obligation(
        "descent.per_step", BASE + (ch.fact("descent.per_step.smooth"), ch.fact("descent.per_step.dd"),
                             sp.Ge(at * SH, alpha / (2 * Rh * Gamma) * GG), ch.fact("descent.per_step.kappa"),
                             ch.fact("descent.per_step.w"), ch.fact("descent.per_step.rates")),
        ch.concl("descent.per_step", per_step), aux=((Gam, Gamma, "opaque"),)),
        uses=("smoothness", "lemma.descent_direction_q", "descent.denominator", "descent.w_bias"),
        statement="E F(x_{t-1}) - E F(x_t) >= alpha/(2 Rh Gamma) E||Ghat||^2 - amax (R d kappa + sqrt(d) U0 L q_W X) "
                  "- (amax C + L amax^2 (1+q_M)^2/2) sum_i E[g_i^2/(eps+v_i)], Ghat = grad F(Q_W(x_{t-1}))")

    # -- telescope.beta1_0 (the last obligation: premises and step conclusions imply the stated bound) ------
    # summing the per-step inequality over t = 1..T: the linear structure of its right-hand side in
    # (GG, Er) is read off the conclusion itself, so a change of the per-step conclusion flows here
    ps = ch.fact("descent.per_step")
    lin = ps.rhs
    c0 = lin.xreplace({GG: 0, Er: 0})
    summed = sp.Ge(SdF, sp.diff(lin, GG) * SGG + T * c0 + sp.diff(lin, Er) * SEr)
    ch.add("telescope.beta1_0", RuleApplication("sum_over_t", ("descent.per_step",), summed, name="telescope.sum",
                                                note="sum over t = 1..T of descent.per_step: SdF = sum dF, SGG = sum E||Ghat||^2, SEr = sum Er",
                                                spec=(("sums", ((dF, SdF), (GG, SGG), (Er, SEr))), ("count", T))))
    ch.add("telescope.beta1_0", Obligation(
        "telescope.delta", BASE + (sp.Eq(SdF, F0 - FT), sp.Ge(FT, Fs), sp.Eq(F0 - Fs, Delta)), ch.concl("telescope.delta", sp.Le(SdF, Delta)),
        note="sum_t (E F(x_{t-1}) - E F(x_t)) = F(x_0) - E F(x_T) (telescoping), F >= F_* (lower_bound)"))
    ch.add("telescope.beta1_0", RuleApplication("sum_over_t", ("ratios.total",), sp.Le(SEr, d * T * Lam / (1 - q_V)), name="telescope.ratios",
                                                note="expectation_monotone of ratios.total per coordinate, summed over the d coordinates",
                                                spec=(("sums", ((Ss, SEr),)), ("count", d))))
    A0, A1, A2, Lz = sp.symbols("A_0 A_1 A_2 Lambda_z", real=True)
    ch.add("telescope.beta1_0", Obligation(
        "telescope.solve", (sp.Ge(SdF, A1 * SGG + T * A0 + A2 * SEr), sp.Le(SdF, Delta), sp.Le(SEr, d * T * Lz / (1 - q_V)),
                            sp.Gt(A1, 0), sp.Le(A2, 0), D["q_V<1"]),
        ch.concl("telescope.solve", sp.Le(SGG / T, (Delta - T * A0 - A2 * d * T * Lz / (1 - q_V)) / (A1 * T))),
        note="solve the summed inequality for the average of E||Ghat||^2 (A_1 > 0, A_2 <= 0)"))
    cG, cE = sp.diff(lin, GG), sp.diff(lin, Er)
    solved = (Delta - T * c0 - cE * d * T * Lam / (1 - q_V)) / (cG * T)
    # from the quantized point back to the master weights: ||G_t||^2 <= ||Ghat_t||^2 + wshift (w_shift.pointwise)
    fsh = ch.fact("w_shift.pointwise")
    wsh = (fsh.rhs - nGh ** 2) if isinstance(fsh, sp.Le) else sp.nan
    ok = isinstance(fsh, sp.Le) and fsh.lhs == nGt ** 2 and not (wsh.free_symbols & (REAL | {nGt, nGh}))
    ch.add("telescope.beta1_0", RuleApplication("sum_over_t", ("w_shift.pointwise",), sp.Le(SGt, SGG + T * wsh), name="telescope.shift_sum",
                                                valid=ok, why="" if ok else f"w_shift.pointwise is not ||G||^2 <= ||Ghat||^2 + c: {fsh}",
                                                note="expectation_monotone of w_shift.pointwise, summed over t = 1..T: SGt = sum E||G||^2 "
                                                     "(G = grad F(x_{t-1}) at the master weights)",
                                                spec=(("sums", ((nGt ** 2, SGt), (nGh ** 2, SGG))), ("count", T))))
    ch.add("telescope.beta1_0", Obligation(
        "telescope.shift", BASE + (ch.fact("telescope.shift_sum"),), ch.concl("telescope.shift", sp.Le(SGt / T, SGG / T + wsh)),
        note="the summed shift divided by T > 0"))
    Yv, Yh, Sl, Shf, Gm, Bn = sp.symbols("Y_ Yhat_ Sl_ Shf_ Gm_ Bn_", real=True)
    ch.add("telescope.beta1_0", Obligation(
        "telescope.unshift", (sp.Le(Yh, Sl), sp.Le(Yv, Yh + Shf), sp.Ge(Shf, 0), sp.Ge(Gm, 1), sp.Eq(Sl + Gm * Shf, Bn)),
        ch.concl("telescope.unshift", sp.Le(Yv, Bn)), note="Y <= Yhat + shift <= solved + Gamma shift = bound (Gamma >= 1, shift >= 0)"))
    ch.add("telescope.beta1_0", Obligation(
        "telescope.closed_form", BASE + (sp.Ge(Gam, 1),), ch.concl("telescope.closed_form", sp.Eq(solved + Gamma * wsh, BOUND0)),
        aux=((Gam, Gamma, "opaque"), (Lm, Lam, "opaque")),
        note="the solved form plus Gamma times the shift equals the stated bound BOUND0 (SymPy identity, Gamma and Lambda as atoms; "
             "the domain premises make both sides defined, so the certificate is unsat for a second solver too)"))
    ch.add("telescope.beta1_0", Obligation(
        "telescope.bound", BASE + (ch.implication("telescope.solve", {A0: c0, A1: cG, A2: cE, Lz: Lam}), summed, ch.fact("telescope.delta"),
                            sp.Le(SEr, d * T * Lam / (1 - q_V)), ch.fact("C.nonneg"), ch.fact("Gamma.positive"),
                            ch.fact("telescope.closed_form"), ch.fact("telescope.shift"),
                            ch.implication("telescope.unshift", {Yv: SGt / T, Yh: SGG / T, Sl: solved, Shf: wsh, Gm: Gamma, Bn: BOUND0})),
        ch.concl("telescope.bound", sp.Le(SGt / T, BOUND0)), aux=((Gam, Gamma, "opaque"), (Lm, Lam, "opaque"), (sp.Symbol("Bnd_", real=True), BOUND0, "opaque"),
                                                                 (sp.Symbol("Slv_", real=True), solved, "opaque"))),
        uses=("descent.per_step", "lemma.sum_of_ratios_q", "lower_bound", "descent.w_bias"),
        statement="(1/T) sum_t E||grad F(x_{t-1})||^2 <= the stated bound (tau uniform on {0..T-1}): premises and step conclusions imply it")
    ch.goal = ("telescope.bound", sp.Le(SGt / T, BOUND0))
    return ch
