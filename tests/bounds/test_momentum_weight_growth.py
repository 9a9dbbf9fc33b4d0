"""||x_t||_2 <= X_1 under quantized Adam with momentum (bounds.adam_momentum_weights): every item proved,
the link to the W-term items checked, and wrong variants rejected."""
import sympy as sp

from qbound.bounds import adam_base as A
from qbound.bounds import adam_momentum_weights as W
from qbound.bounds.adam_momentum import w_shift_items
from qbound.bounds.obligation import Obligation, discharge, prove_all


def _items(**kw):
    return [it for _, it in W.weight_growth_items(**kw)]


def test_every_item_is_proved_and_linked():
    r = prove_all(_items(), engines=("sympy", "z3"), timeout_s=30)
    assert [k for k, d in r.items() if d.status != "proved"] == []
    assert W.link_errors(w_shift_items()) == []


def _by(name, items=None):
    return [it for it in (items or _items()) if it.name == name][0]


def test_an_envelope_without_the_rounding_factor_is_refuted():
    # |m_t| <= S_t sqrt(v_t) (c = 1 dropped: (1 + q_M)/sqrt(1 - q_V) is needed)
    ind = _by("momentum.update.envelope")
    claim = sp.Le(sp.Abs(W.m), W.S * sp.sqrt(W.v))
    rho = W.constants()[1]
    mn = (1 + W.mu) * (A.beta1 * W.m + W.g)
    vn = (1 + W.nu) * (A.beta2 * W.v + W.g ** 2)
    step = Obligation("wrong.step", ind.step.premises[:-3] + (claim,) + ind.step.premises[-2:],
                      claim.xreplace({W.m: mn, W.v: vn, W.S: 1 + rho * W.S}))
    assert discharge(step, engines=("z3",), timeout_s=30).status == "refuted"


def test_a_halved_step_size_bound_is_refuted():
    ob = _by("momentum.step_size")
    wrong = Obligation("wrong.step_size", ob.premises, sp.Le(W.at, ob.conclusion.rhs / 2))
    assert discharge(wrong, engines=("z3",), timeout_s=30).status == "refuted"


def test_a_box_without_sqrt_d_and_a_broken_link_are_rejected():
    ob = _by("momentum.weight_bound")
    drift = ob.conclusion.rhs.args[0] if ob.conclusion.rhs.args[0].has(A.X0) else ob.conclusion.rhs.args[1]
    wrong = Obligation("wrong.weight_bound", ob.premises, sp.Le(W.nx, sp.Min(drift, A.Bx)))
    assert discharge(wrong, engines=("z3",), timeout_s=30).status == "refuted"
    # a weakened box premise: box.coord no longer follows
    items = _items(domain={"box": sp.Le(sp.Abs(W.xi), 2 * A.Bx)})
    assert discharge(_by("momentum.box.coord", items), engines=("z3",), timeout_s=30).status == "refuted"
    # the W items' premise must be exactly what momentum.weight_bound proves
    bad = [(st, it) for st, it in W.weight_growth_items() if it.name != "momentum.weight_bound"]
    assert W.link_errors(w_shift_items(), bad) == ["momentum.weight_bound is missing"]
    other = bad + [(W.STEP, Obligation("momentum.weight_bound", ob.premises, sp.Le(W.nx, A.X_0)))]
    assert W.link_errors(w_shift_items(), other) and "proves" in W.link_errors(w_shift_items(), other)[0]
