"""Issue 15 item 3: hand-made wrong variants of the momentum-rounding bias items (bounds/adam_momentum.py),
which the generic scheme skips: the induction's base and step, and momentum.bias.instance /
momentum.bias.kappa_e (SymPy decides those True when built, so a wrong instance is formed by hand).
Each right item is proved and each wrong one must not be."""
import sympy as sp

from qbound.bounds import adam_momentum as M
from qbound.bounds.obligation import Obligation, discharge

ITEMS = dict((it.name, it) for _, it in M.momentum_proof_items())
IND = ITEMS["momentum.bias.envelope"]
BASE, STEP = IND.base, IND.step
SYM = {s.name: s for s in (BASE.premises[0].free_symbols | STEP.conclusion.free_symbols
                           | set().union(*[p.free_symbols for p in STEP.premises]))}
x, r, q_V, q_M, beta1, beta2 = (SYM[n] for n in ("x_b", "r_V", "q_V", "q_M", "beta1", "beta2"))
DOM = [p for p in BASE.premises if isinstance(p, sp.Eq) and p.has(r)]  # r^2 = 1 - q_V, x^2 beta2 r^2 = beta1^2
U_claim, K_claim = IND.claim.args if isinstance(IND.claim.args[0].lhs, sp.Abs) and not IND.claim.args[0].lhs.has(SYM["mbar_t"]) \
    else IND.claim.args[::-1]


def _z3(ob, t=20):
    return discharge(ob, engines=("z3",), timeout_s=t).status


def _replace_claim(rel, new_claim):
    return rel.xreplace({IND.claim: new_claim})


def test_the_right_base_and_step_are_proved():
    assert _z3(BASE) == "proved"
    assert _z3(STEP, 60) == "proved"


def test_a_wrong_base_is_refuted():
    # the bias claim with the constant K replaced by -K: false at m = mbar = 0 since W_0 > 0
    bad_claim = sp.And(U_claim, sp.Le(K_claim.lhs, -K_claim.rhs))
    bad = Obligation("bias.base.wrong", BASE.premises, bad_claim)
    assert _z3(bad) == "refuted"
    # a base that starts from m_0 = 1 instead of 0 does not give |m_0 - mbar_0| <= K W_0 for small q_M
    prem = tuple(sp.Eq(p.lhs, 1) if isinstance(p, sp.Eq) and p.lhs == SYM["m_t"] and p.rhs == 0 else p for p in BASE.premises)
    assert prem != BASE.premises
    assert _z3(Obligation("bias.base.m0", prem, BASE.conclusion)) == "refuted"


def test_a_wrong_step_is_refuted():
    # the invariant with K halved is not inductive: the rounding mu adds q_M |beta1 m + g| each step
    half = sp.And(U_claim, sp.Le(K_claim.lhs, K_claim.rhs / 2))
    shift = dict(IND.shift)
    prem = tuple(half if p == IND.claim else p for p in STEP.premises)
    assert prem != STEP.premises
    bad = Obligation("bias.step.half", prem, half.xreplace(shift))
    assert _z3(bad, 60) == "refuted"
    # the step without the rounding bound |mu| <= q_M is not valid
    prem = tuple(p for p in STEP.premises if not (isinstance(p, sp.Le) and p.lhs == sp.Abs(SYM["mu_t"])))
    assert len(prem) == len(STEP.premises) - 1
    assert _z3(Obligation("bias.step.no_round", prem, STEP.conclusion), 60) == "refuted"


KAPPA_E = M._qsyms().kappa_e
RIGHT = {x: beta1 / sp.sqrt(beta2 * (1 - q_V)), r: sp.sqrt(1 - q_V)}
WRONG = {x: beta1 / sp.sqrt(beta2), r: sp.sqrt(1 - q_V)}  # forgets the (1 - q_V) in x


def test_the_instance_right_and_a_hand_made_wrong_one():
    dom = (sp.Lt(q_V, 1), sp.Gt(beta2, 0), sp.Gt(q_V, 0), sp.Gt(beta1, 0))
    right = sp.And(*[c.xreplace(RIGHT) for c in DOM])
    assert right is sp.true  # what the generic scheme meets: SymPy decides it when built
    wrong = sp.And(*[c.xreplace(WRONG) for c in DOM])
    assert wrong is not sp.true
    assert _z3(Obligation("bias.instance.wrong", dom, wrong)) == "refuted"


def test_kappa_e_at_a_wrong_instance_or_doubled_is_refuted():
    K = K_claim.rhs / SYM["W_t"]
    assert sp.simplify(K.xreplace(RIGHT) - KAPPA_E) == 0
    dom = (sp.Lt(q_V, 1), sp.Gt(q_V, 0), sp.Gt(q_M, 0), sp.Lt(q_M, 1), sp.Gt(beta1, 0), sp.Lt(beta1, beta2), sp.Lt(beta2, 1))
    for bad in (sp.Eq(K.xreplace(WRONG), KAPPA_E), sp.Eq(K.xreplace(RIGHT), 2 * KAPPA_E)):
        assert bad is not sp.true
        assert discharge(Obligation("bias.kappa_e.wrong", dom, bad), engines=("sympy", "z3"), timeout_s=20).status == "refuted"
