"""Check one concrete configuration against every premise and condition of a bound.

``check_config(name, plan, hparams, T, problem=None)`` evaluates, for e.g. Adam with
``--quant W=bf16,V=bf16 --beta1 0.9 --beta2 0.999 --lr 1e-3 --eps 1e-8 --T 100000``:

* the rounding premises: each component's exact q = fmt.rel_error_bound(rounding) (a Fraction), and
  whether the normal-range premise is plausible (it cannot be checked without a run: reported as
  an assumption with the format's normal range);
* the representability of the optimizer constants (beta1, beta2, 1 - beta2 ...) in the component
  formats that multiply them, via proofs.optimizer_facts.constant_rounding (exact; numeric.rounding.quantize
  only when it fails, and the entry says so);
* every condition of the bound (SymPy relations evaluated at the numbers);
* the problem constants (R, L, d, Delta, sigma, ...) from numeric.problems.make_problem(name).constants()
  when a problem is given, else reported as unknown (the bound then cannot be evaluated);
* the bound's value when all conditions hold and the constants are known.

Every entry is {"holds": True/False/None, "why": str}; None means unknown.
"""
from __future__ import annotations

import math
from fractions import Fraction

from qbound.numeric.errors import InputError

COMPONENTS = ("W", "G", "M", "V")


def parse_plan(text):
    """A plan as :class:`~qbound.numeric.quantplan.QuantPlan` (``W=bf16,G=fp8_e5m2:sr,...``); a plan
    object is returned as it is.

    >>> str(parse_plan("W=bf16,V=fp8_e4m3fn:sr").V)
    'fp8_e4m3fn:sr'
    """
    if not isinstance(text, str):
        return text
    from qbound.numeric.quantplan import QuantPlan
    return QuantPlan.parse(text)


def _comp(plan, X):
    return plan.get(X) if isinstance(plan, dict) else getattr(plan, X, None)


def _represent(value: float, cq) -> dict:
    """How ``value`` rounds to the component's format (proofs.optimizer_facts.constant_rounding,
    exact); if that raises, the numeric rounding of the float, and the record says why."""
    from qbound.proofs.optimizer_facts import constant_rounding
    try:
        r = dict(constant_rounding(value, cq.fmt, cq.rounding))
        r.setdefault("source", "qbound.proofs.optimizer_facts.constant_rounding")
        return r
    except Exception as exc:  # fall back, but say so
        fallback_reason = f"constant_rounding failed: {exc}"
    from qbound.numeric.rounding import quantize
    import numpy as np
    rng = np.random.default_rng(0)
    qv = float(quantize(value, cq.fmt, cq.rounding if cq.rounding != "sr" else "rne", rng=rng))
    return {"value": value, "rounded": qv, "representable": qv == value,
            "relative_error": abs(qv - value) / abs(value) if value else 0.0,
            "source": f"numeric.rounding.quantize ({fallback_reason})"}


def problem_constants(problem) -> dict:
    """problem.constants() plus x0_norm = ||x_0||_2 (used for X0 / W0)."""
    if problem is None:
        return {}
    from qbound.numeric.problems import make_problem
    p = make_problem(problem) if isinstance(problem, str) else problem
    out = dict(p.constants())
    try:
        import numpy as np
        from qbound.numeric.problems import flatten
        out["x0_norm"] = float(np.linalg.norm(flatten(p.x0())))
    except Exception:  # the constant stays unknown
        pass
    return out


def check_config(name: str, plan, hparams: dict, T, problem=None, constants: dict | None = None) -> dict:
    """Evaluate every premise and condition of the ``name`` bound for one configuration.

    hparams (Adam): lr (alpha), beta1, beta2, eps; (Muon): lr (eta), beta.  ``constants`` overrides
    problem constants (keys R, L, d, Delta, X0, sigma, B, r, W0)."""
    from qbound.bounds.registry import _check_name, bound_and_conditions, evaluate_bound, symbols
    name = _check_name(name)
    plan = parse_plan(plan) if isinstance(plan, str) else (plan if plan is not None else {})
    T = float(T)
    if not (T >= 1 and math.isfinite(T)):
        raise InputError(f"T must be a positive number of steps, got {T}")
    comps = COMPONENTS if name == "adam" else ("W", "G", "M")
    entries: list[dict] = []
    qs = {}
    for X in COMPONENTS:
        cq = _comp(plan, X)
        if X not in comps:
            if cq is not None:
                entries.append({"item": f"round.{X}", "holds": False, "why": f"{name} has no component {X}; it is ignored by the bound"})
            continue
        if cq is None:
            qs[X] = Fraction(0)
            entries.append({"item": f"round.{X}", "holds": True, "why": "not quantized (q = 0)"})
        else:
            q = cq.fmt.rel_error_bound(cq.rounding)
            qs[X] = q
            entries.append({"item": f"round.{X}", "holds": None, "q": str(q), "q_float": float(q),
                            "why": f"{cq}: |Q(x)-x| <= {q} |x| holds in the normal range "
                                   f"[{float(cq.fmt.min_normal):.3g}, {float(cq.fmt.max_finite):.3g}]; "
                                   "whether every value stays there is only known from a run"})
    # hyperparameters -> symbol values
    hp = dict(hparams or {})
    vals = {"T": T}
    if name == "adam":
        req = {"lr": "alpha", "beta1": "beta1", "beta2": "beta2", "eps": "eps"}
    else:
        req = {"lr": "eta", "beta": "beta"}
    for k, sym in req.items():
        if hp.get(k) is None:
            raise InputError(f"missing hyperparameter {k!r} for {name}; needed: {', '.join(req)}")
        vals[sym] = float(hp[k])
    for X, q in qs.items():
        vals[f"q_{X}"] = q
    # representability of constants in the formats that store products with them
    consts_to_check = ([("beta1", vals["beta1"], "M"), ("beta2", vals["beta2"], "V"), ("1-beta2", 1 - vals["beta2"], "V")]
                       if name == "adam" else [("beta", vals["beta"], "M"), ("1-beta", 1 - vals["beta"], "M")])
    for cname, cval, X in consts_to_check:
        cq = _comp(plan, X)
        if cq is None or cval == 0:
            continue
        r = _represent(cval, cq)
        rel = r.get("rel_error", r.get("relative_error"))
        verdict = (r.get("verdict") or {}).get("status")
        entries.append({"item": f"constant.{cname}", "holds": bool(r.get("representable")),
                        "why": f"{cname} = {cval} in {cq}: rounds to {r.get('rounded')} "
                               f"(relative error {rel}); source: {r.get('source')}"
                               + (f", engine verdict: {verdict}" if verdict else "")})
    if name == "adam" and _comp(plan, "V") is not None and 0 < vals["beta2"] < 1:
        cq = _comp(plan, "V")
        from qbound.proofs.optimizer_facts import stagnation_threshold
        st = stagnation_threshold(cq.fmt, cq.rounding, vals["beta2"])
        stag = st.get("stagnates")
        entries.append({"item": "fact.v_can_decrease", "holds": None if stag is None else (not stag),
                        "why": f"{st.get('condition')}; 1 - beta2 = {st.get('one_minus_beta2')}: "
                               + ("the stored v never decreases (allowed by the relative-error premise, but Gamma "
                                  "then needs the (1+q_V)^(T-1) branch)" if stag else "the stored v can decrease")
                               + " (proofs.optimizer_facts.stagnation_threshold)"})
    # problem constants
    pc = problem_constants(problem)
    raw_notes = pc.get("notes")
    notes: dict = raw_notes if isinstance(raw_notes, dict) else {}
    pc = dict(pc)
    if pc and name == "adam" and pc.get("R") is not None and "R" not in (constants or {}):
        # the problem's R bounds ||grad f||_inf; Défossez's premise is ||grad f||_inf <= R - sqrt(eps)
        pc["R"] = float(pc["R"]) + math.sqrt(vals["eps"])
        entries.append({"item": "constant.R", "holds": None,
                        "why": f"R = problem's l_inf gradient bound + sqrt(eps) = {pc['R']:.6g} ({notes.get('R', 'no note')})"})
    if pc and name == "muon":
        if pc.get("batch") is not None and "B" not in (constants or {}):
            pc["B"] = pc["batch"]
        if pc.get("L") is not None and pc.get("r") is not None and "L" not in (constants or {}) \
                and "frobenius" in str(notes.get("L", "")).lower():
            pc["L"] = float(pc["L"]) * float(pc["r"])
            entries.append({"item": "constant.L", "holds": None,
                            "why": f"the problem's L is a Frobenius smoothness constant; the spectral/nuclear L used by the "
                                   f"bound is r L_F = {pc['L']:.6g} (||grad f(X)-grad f(Y)||_* <= sqrt(r) L_F ||X-Y||_F <= r L_F ||X-Y||_op)"})
    for k, why in notes.items():
        if k in ("L", "R", "sigma", "Delta") and pc.get(k) is not None and not any(e["item"] == f"constant.{k}" for e in entries):
            entries.append({"item": f"constant.{k}", "holds": None, "why": f"{k} = {pc[k]:.6g}: {why}"})
    syms = symbols(name)
    for k in syms:
        if k in vals:
            continue
        v = (constants or {}).get(k, pc.get(k))
        if k in ("X0", "W0") and v is None:
            v = pc.get("x0_norm")
        if v is not None:
            vals[k] = float(v)
    from qbound.bounds.evaluate import DEFAULTS, _numeric_relation
    missing = sorted(k for k in syms if k not in vals and k not in DEFAULTS)   # Bx left out: no box (oo)
    expr, conds = bound_and_conditions(name, vals)
    for c in conds:
        need = sorted(s.name for s in c.free_symbols if s.name not in vals)
        if need:
            entries.append({"item": f"condition {c}", "holds": None, "why": f"needs {', '.join(need)}"})
            continue
        ok = _numeric_relation(c, vals)
        entries.append({"item": f"condition {c}", "holds": bool(ok), "why": "evaluated at the given numbers"})
    value = None
    if missing:
        why_bound = f"bound not evaluated: unknown constant(s) {', '.join(missing)} (pass --problem or constants)"
    elif any(e["holds"] is False and e["item"].startswith("condition") for e in entries):
        why_bound = "bound not evaluated: a condition fails"
    else:
        value = evaluate_bound(name, vals)
        why_bound = "bound evaluated (premises round.* assumed: values stay in the normal range)"
    return {"derivation": name, "plan": {X: (str(_comp(plan, X)) if _comp(plan, X) is not None else None) for X in comps},
            "hparams": hp, "T": T, "problem": problem if isinstance(problem, str) or problem is None else repr(problem),
            "problem_constants": {k: v for k, v in pc.items() if k != "notes"}, "problem_notes": pc.get("notes"),
            "values": {k: (str(v) if isinstance(v, Fraction) else v) for k, v in vals.items()},
            "entries": entries, "bound": value, "bound_note": why_bound,
            "all_conditions_hold": all(e["holds"] is not False for e in entries if e["item"].startswith("condition"))}
