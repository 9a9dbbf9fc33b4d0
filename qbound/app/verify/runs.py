"""Units of work for ``qbound verify``, executed in worker processes (one function per stage).

Every unit is a plain dict that fully determines its result (so it doubles as the resume key, see
:mod:`qbound.app.verify.store`) and every result is a plain JSON-able dict of numbers. Runs reduce their
trajectories here, in the worker, to the few numbers the report needs:

* ``measured_adam``: E_tau ||grad F(x_tau)||_2^2 with P[tau = j] proportional to 1 - beta1^(N - j),
  j = 0..N-1 (the quantity Defossez et al.'s Theorems 2/4 bound, exact in tau for one trajectory);
* ``measured_muon``: (1/T) sum_t ||grad f(W_{t-1})||_* (nuclear norm of the exact full-batch gradient
  at the master weights; the quantity of the Muon anchor) and the same with the Frobenius norm;
* ``final``: mean of ||grad F||_2^2 over the last 10% of steps (the paper's "final gradient norm");
* trajectory checks (``record_states``): the rounding premise |Q(x) - x| <= q |x| per component, the
  moment envelopes of quantized Adam, the descent inequality of L-smoothness
  F(x+) <= F(x) + <grad F(x), x+ - x> + L/2 ||x+ - x||^2, and the gradient shift at Q_W(x)
  ||grad F(Q_W x) - grad F(x)|| <= L ||Q_W x - x||, each at every step and coordinate.

Lower layers are imported inside the functions, so this module imports without them.
"""
from __future__ import annotations

import math
import time

import numpy as np

REL_SLACK = 1e-12   # float64 evaluation slack for inequalities checked along a trajectory


def execute(stage: str, unit: dict) -> dict:
    """Run one unit (in a worker process); returns a JSON-able dict."""
    fn = {"run": run_unit, "lemmas": lemmas_unit, "theory": theory_unit, "facts": facts_unit,
          "torch": _torch_unit}[stage]
    t0 = time.perf_counter()
    try:
        res = fn(unit)
    except Exception as exc:  # surfaced in the report as a missing/errored layer, never hidden
        import traceback
        res = {"error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=6)}
    res["_seconds"] = time.perf_counter() - t0
    return res


def _torch_unit(unit: dict) -> dict:
    """A transformer run on the torch backend (qbound/app/verify/transformer.py)."""
    from qbound.app.verify.transformer import run_unit as torch_run_unit
    return torch_run_unit(unit)


# ----------------------------------------------------------------------------- runs
def command_for(unit: dict) -> str:
    """The ``qbound run`` command that reproduces one run unit (the harness's own rerun command)."""
    try:
        from qbound.numeric.harness import rerun_command
        _, problem, opt, plan = _build(unit)
        return rerun_command(problem, opt, plan, int(unit["steps"]), int(unit["seed"]))
    except Exception:  # the harness is missing: a best-effort command in the same syntax
        kv = lambda d: ",".join(f"{k}={v}" for k, v in sorted(d.items()))  # noqa: E731
        parts = [f"qbound run {unit['optimizer']} --problem {unit['problem']}",
                 f"--problem-args {kv(unit['problem_args'])}" if unit.get("problem_args") else "",
                 f"--quant {unit.get('plan') or 'none'}",
                 f"--hp {kv(unit['hparams'])}" if unit.get("hparams") else "",
                 f"--steps {unit['steps']} --seed {unit['seed']}"]
        return " ".join(p for p in parts if p)


def _build(unit):
    from qbound.numeric.harness import run
    from qbound.numeric.optimizers import make_optimizer
    from qbound.numeric.problems import make_problem
    from qbound.numeric.quantplan import QuantPlan
    problem = make_problem(unit["problem"], **unit.get("problem_args", {}))
    opt = make_optimizer(unit["optimizer"], **unit.get("hparams", {}))
    plan = QuantPlan.parse(unit.get("plan") or "")
    return run, problem, opt, plan


def _tau_weights(n: int, beta1: float) -> np.ndarray:
    j = np.arange(n)
    w = 1.0 - beta1 ** (n - j) if beta1 > 0 else np.ones(n)
    return w / w.sum()


def run_unit(unit: dict) -> dict:
    """One harness run reduced to the numbers of the report (see module docstring)."""
    run, problem, opt, plan = _build(unit)
    record = bool(unit.get("record_states", False))
    traj = run(problem, opt, plan, int(unit["steps"]), int(unit["seed"]), record_states=record)
    gn2 = np.asarray(traj.grad_norm2, dtype=float)
    n = gn2.size
    beta1 = float(unit.get("hparams", {}).get("beta1", 0.0))
    out = {
        "steps": int(n),
        "measured_adam": float(np.sum(_tau_weights(n, beta1) * gn2)) if n else None,
        "final": float(np.mean(gn2[-max(1, n // 10):])) if n else None,
        "grad_norm2_first": float(gn2[0]) if n else None,
        "curve": _subsample(gn2, 60),
        "loss_final": float(np.asarray(traj.loss, dtype=float)[-1]) if n else None,
        "command": _meta_command(traj) or command_for(unit),
    }
    luf = getattr(traj, "lost_update_frac", None)
    if luf is not None:
        luf = np.asarray(luf, dtype=float)
        out["lost_update_frac"] = float(np.nanmean(luf)) if luf.size else None
    out["counts"] = _counts(getattr(traj, "counts", None))
    out["diverged_at"] = getattr(traj, "diverged_at", None)
    if record:
        states = traj.states
        if "g" in states:
            out["g_inf_max"] = float(np.max(np.abs(np.asarray(states["g"], dtype=float))))
        if "x" in states:   # the box the iterates x_0 .. x_{T-1} stayed in (bounds' premise "box")
            xs = np.abs(np.asarray(states["x"], dtype=float))
            out["x_inf_max"] = float(np.max(xs)) if xs.size and not np.isnan(xs).any() else None
        if unit.get("checks"):
            out.update(_state_checks(unit, problem, plan, states))
        if unit["optimizer"] == "muon":
            out.update(_muon_measure(problem, states))
        if unit.get("thresholds"):
            out.update(_v_threshold_stats(plan, states))
            out.update(_w_swamping_stats(unit, plan, states))
    return out


def _meta_command(traj):
    meta = getattr(traj, "meta", None) or {}
    for k in ("command", "rerun", "cmd"):
        if isinstance(meta, dict) and meta.get(k):
            return str(meta[k])
    return None


def _subsample(a: np.ndarray, k: int) -> list:
    if a.size <= k:
        return [float(x) for x in a]
    idx = np.unique(np.round(np.geomspace(1, a.size, k)).astype(int) - 1)
    return [[int(i), float(a[i])] for i in idx]


def _counts(counts) -> dict:
    """Total overflow / nan / underflow per component (whatever shape the harness records)."""
    if counts is None:
        return {}
    out: dict[str, object] = {}
    try:
        for comp, per in dict(counts).items():
            if isinstance(per, dict):
                out[comp] = {k: int(np.sum(np.asarray(v))) for k, v in per.items()}
            else:
                out[comp] = int(np.sum(np.asarray(per)))
    except Exception:  # unknown layout: keep it visible rather than guess
        out = {"raw": str(counts)[:200]}
    return out


def _q(plan, comp) -> float | None:
    cq = plan[comp] if plan is not None else None
    return float(cq.fmt.rel_error_bound(cq.rounding)) if cq is not None else None


def _grad_vec(problem, vec):
    from qbound.numeric.problems import flatten, unflatten
    return flatten(problem.grad(unflatten(vec, problem.shapes)))


def _loss_vec(problem, vec):
    from qbound.numeric.problems import unflatten
    return problem.loss(unflatten(vec, problem.shapes))


def _premise(pre, post, cq) -> dict:
    """|post - pre| <= q |pre| coordinatewise, split by the magnitude range of ``pre``."""
    q = float(cq.fmt.rel_error_bound(cq.rounding))
    tiny, huge = float(cq.fmt.min_normal), float(cq.fmt.max_finite)
    pre = np.asarray(pre, dtype=float)
    post = np.asarray(post, dtype=float)
    a = np.abs(pre)
    with np.errstate(invalid="ignore"):
        viol = ~(np.abs(post - pre) <= q * a * (1 + REL_SLACK))
    normal = (a >= tiny) & (a <= huge)
    under = (a > 0) & (a < tiny)
    over = a > huge
    return {"q": q, "checked": int(pre.size), "normal": int(normal.sum()),
            "violations_normal": int((viol & normal).sum()),
            "violations_underflow": int((viol & under).sum()), "underflow_coords": int(under.sum()),
            "violations_overflow": int((viol & over).sum()), "overflow_coords": int(over.sum())}


def _state_checks(unit, problem, plan, states) -> dict:
    """Premise, moment envelopes, descent inequality and gradient shift along the recorded run."""
    out: dict = {"premise": {}, "envelopes": {}, "descent": None, "grad_shift": None}
    S = {k: np.asarray(v, dtype=float) for k, v in states.items()}
    pairs = {"W": ("x", "xq"), "M": ("m_pre", "m"), "V": ("v_pre", "v")}
    for comp, (a, b) in pairs.items():
        cq = plan[comp]
        if cq is not None and a in S and b in S:
            out["premise"][comp] = _premise(S[a], S[b], cq)
    hp = unit.get("hparams", {})
    if unit["optimizer"] == "adam" and "g" in S and "m" in S:
        out["envelopes"] = _adam_envelopes(S, plan, float(hp.get("beta1", 0.0)), float(hp.get("beta2", 0.999)))
    c = problem.constants()
    L = c.get("L")
    if "x" in S and L is not None:
        out["descent"] = _descent(problem, S["x"], float(L))
        if "xq" in S:
            out["grad_shift"] = _grad_shift(problem, S["x"], S["xq"], float(L))
    return out


def _premise_fail_cum(S, pre, post, q):
    """Per (step, coordinate): has |post - pre| <= q |pre| failed at this coordinate up to this step?"""
    if pre not in S or post not in S:
        return np.zeros_like(S["g"], dtype=bool)
    with np.errstate(invalid="ignore"):
        fail = ~(np.abs(S[post] - S[pre]) <= q * np.abs(S[pre]) * (1 + REL_SLACK))
    return np.logical_or.accumulate(fail, axis=0)


def _adam_envelopes(S, plan, beta1, beta2) -> dict:
    """Envelopes of the quantized Adam moments (Defossez form, m_0 = v_0 = 0), per coordinate:

    |m_t| <= e_t,   e_t = (1 + q_M)(beta1 e_{t-1} + |g_t|)
    l_t <= v_t <= u_t,   l_t = (1 - q_V)(beta2 l_{t-1} + g_t^2),  u_t = (1 + q_V)(beta2 u_{t-1} + g_t^2)
    with g_t the stored (quantized) gradient. They follow from m_t = (1 + d_t)(beta1 m_{t-1} + g_t),
    |d_t| <= q_M (the rounding premise), and likewise for v. A violation at a coordinate where the
    premise has already failed (below the normal range) is counted apart ("after_premise_failure"):
    it is outside the model; a violation where the premise held at every step so far is "clean" and
    would contradict the derivation.
    """
    qM = _q(plan, "M") or 0.0
    qV = _q(plan, "V") or 0.0
    g = S["g"]
    cumM = _premise_fail_cum(S, "m_pre", "m", qM)
    cumV = _premise_fail_cum(S, "v_pre", "v", qV)
    res: dict[str, dict] = {}
    e = np.zeros(g.shape[1])
    worst, clean, after = 0.0, 0, 0
    for t in range(g.shape[0]):
        e = (1 + qM) * (beta1 * e + np.abs(g[t]))
        m = np.abs(S["m"][t])
        bad = m > e * (1 + 1e-9) + 1e-300
        clean += int((bad & ~cumM[t]).sum())
        after += int((bad & cumM[t]).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(e > 0, m / e, 0.0)
        worst = max(worst, float(np.max(r)) if r.size else 0.0)
    res["m"] = {"q": qM, "violations": clean + after, "violations_clean": clean,
                "violations_after_premise_failure": after, "checked": int(g.size), "max_ratio": worst}
    if "v" in S:
        lo = np.zeros(g.shape[1])
        hi = np.zeros(g.shape[1])
        clean, after = 0, 0
        worst_hi = 0.0
        worst_lo = math.inf
        for t in range(g.shape[0]):
            g2 = g[t] * g[t]
            lo = (1 - qV) * (beta2 * lo + g2)
            hi = (1 + qV) * (beta2 * hi + g2)
            v = S["v"][t]
            bad = (v > hi * (1 + 1e-9) + 1e-300) | (v < lo * (1 - 1e-9) - 1e-300)
            clean += int((bad & ~cumV[t]).sum())
            after += int((bad & cumV[t]).sum())
            with np.errstate(divide="ignore", invalid="ignore"):
                rh = np.where(hi > 0, v / hi, 0.0)
                rl = np.where(lo > 0, v / lo, np.inf)
            worst_hi = max(worst_hi, float(np.max(rh)))
            worst_lo = min(worst_lo, float(np.min(rl)))
        res["v"] = {"q": qV, "violations": clean + after, "violations_clean": clean,
                    "violations_after_premise_failure": after, "checked": int(g.size),
                    "max_ratio_upper": worst_hi, "min_ratio_lower": worst_lo if math.isfinite(worst_lo) else None}
    return res


def _descent(problem, X, L) -> dict:
    """F(x_{t+1}) <= F(x_t) + <grad F(x_t), dx> + L/2 ||dx||^2 at every step t."""
    viol, worst, n = 0, -math.inf, 0
    F = [_loss_vec(problem, x) for x in X]
    for t in range(X.shape[0] - 1):
        dx = X[t + 1] - X[t]
        gx = _grad_vec(problem, X[t])
        rhs = F[t] + float(gx @ dx) + 0.5 * L * float(dx @ dx)
        slack = 1e-9 * (abs(F[t]) + abs(F[t + 1])) + 1e-300
        margin = F[t + 1] - rhs
        n += 1
        if margin > slack:
            viol += 1
        scale = abs(F[t]) + 1e-300
        worst = max(worst, margin / scale)
    return {"L": L, "checked": n, "violations": viol, "worst_rel_margin": worst if n else None}


def _grad_shift(problem, X, XQ, L) -> dict:
    """||grad F(Q_W x_t) - grad F(x_t)||_2 <= L ||Q_W x_t - x_t||_2 at every step."""
    viol, worst, n = 0, 0.0, 0
    for x, xq in zip(X, XQ):
        dx = float(np.linalg.norm(xq - x))
        if dx == 0:
            continue
        dg = float(np.linalg.norm(_grad_vec(problem, xq) - _grad_vec(problem, x)))
        n += 1
        if dg > L * dx * (1 + 1e-9):
            viol += 1
        worst = max(worst, dg / (L * dx))
    return {"L": L, "checked": n, "violations": viol, "max_ratio": worst}


def _muon_measure(problem, states) -> dict:
    """(1/T) sum_t ||grad f(W_t)||_* and ||.||_F at the recorded master weights (t = 0..T-1)."""
    from qbound.numeric.problems import unflatten
    X = np.asarray(states["x"], dtype=float)
    nuc, fro = [], []
    for x in X:
        gs = problem.grad(unflatten(x, problem.shapes))
        nuc.append(sum(float(np.sum(np.linalg.svd(g, compute_uv=False))) if g.ndim == 2
                       else float(np.linalg.norm(g)) for g in gs))
        fro.append(math.sqrt(sum(float(np.sum(g * g)) for g in gs)))
    return {"measured_muon": float(np.mean(nuc)), "measured_muon_fro": float(np.mean(fro))}


def _v_threshold_stats(plan, states) -> dict:
    """Second-moment bookkeeping with V stored: lost updates and decreases of the stored v.

    Among coordinates whose stored previous value v_{t-1} is a normal number: an *update* is
    v_pre_t != v_{t-1} (the exact new value differs), it is *lost* when v_t == v_{t-1}; a *decrease
    opportunity* is v_pre_t < v_{t-1}, a *decrease* is v_t < v_{t-1}.
    """
    cq = plan["V"]
    if cq is None or "v" not in states or "v_pre" not in states:
        return {}
    v = np.asarray(states["v"], dtype=float)
    vp = np.asarray(states["v_pre"], dtype=float)
    prev, cur, pre = v[:-1], v[1:], vp[1:]
    tiny = float(cq.fmt.min_normal)
    ok = prev >= tiny
    upd = ok & (pre != prev)
    lost = upd & (cur == prev)
    opp = ok & (pre < prev)
    dec = ok & (cur < prev)
    return {"v_updates": int(upd.sum()), "v_lost": int(lost.sum()),
            "v_lost_frac": float(lost.sum() / upd.sum()) if upd.sum() else None,
            "v_decrease_opportunities": int(opp.sum()), "v_decreases": int(dec.sum()),
            "v_decrease_blocked_frac": float(1.0 - dec.sum() / opp.sum()) if opp.sum() else None}


def _w_swamping_stats(unit, plan, states) -> dict:
    """With master=stored (weights live in W's format): per coordinate the relative update
    |delta_t| / |w_{t-1}| and whether it was lost (w_t == w_{t-1}).

    The harness does not record delta, so it is recomputed from the recorded (unquantized) m_t, v_t
    with exactly the float64 operations of the paper-form Adam (alpha_t m_t / sqrt(eps + v_t)); the
    reconstruction is checked: Q_W(w_{t-1} - delta_t) must reproduce the stored w_t at every step and
    coordinate, otherwise no statistics are reported.
    """
    cq = plan["W"]
    if cq is None or plan.master != "stored" or unit["optimizer"] != "adam" or plan.update_format is not None:
        return {}
    from qbound.numeric.rounding import quantize
    X = np.asarray(states["x"], dtype=float)
    Mm = np.asarray(states["m"], dtype=float)
    V = np.asarray(states["v"], dtype=float)
    hp = unit.get("hparams", {})
    lr, b1, b2, eps = (float(hp.get("lr", 1e-3)), float(hp.get("beta1", 0.9)), float(hp.get("beta2", 0.999)),
                       float(hp.get("eps", 1e-8)))
    T = X.shape[0]
    rels, losts, mismatch = [], [], 0
    tiny = float(cq.fmt.min_normal)
    for k in range(T - 1):
        t = k + 1
        alpha = lr * (1.0 - b1) * math.sqrt((1.0 - b2 ** t) / (1.0 - b2))
        delta = (alpha * Mm[k]) / np.sqrt(eps + V[k])
        pre = X[k] - delta
        if cq.rounding != "sr":
            mismatch += int(np.count_nonzero(quantize(pre, cq.fmt, cq.rounding) != X[k + 1]))
        ok = (np.abs(X[k]) >= tiny) & (delta != 0)
        rels.append(np.abs(delta[ok]) / np.abs(X[k][ok]))
        losts.append((X[k + 1] == X[k])[ok])
    if mismatch:
        return {"w_swamping": f"update reconstruction failed at {mismatch} coordinates; no statistics"}
    rel = np.concatenate(rels) if rels else np.zeros(0)
    lost = np.concatenate(losts) if losts else np.zeros(0, bool)
    out = _subsample_pairs(rel, lost)
    out["n"] = int(rel.size)
    out["n_lost"] = int(lost.sum())
    out["min_rel_kept"] = float(rel[~lost].min()) if (~lost).any() else None
    out["max_rel_lost"] = float(rel[lost].max()) if lost.any() else None
    return {"w_rel_update": out}


def _subsample_pairs(rel, lost, k=50000):
    """At most k (relative update, lost) pairs, evenly spaced; exact extremes are stored apart."""
    if rel.size > k:
        idx = np.linspace(0, rel.size - 1, k).astype(int)
        rel, lost = rel[idx], lost[idx]
    return {"rel": [float(r) for r in rel], "lost": [bool(b) for b in lost]}


# ----------------------------------------------------------------------------- proofs / bounds
def lemmas_unit(unit: dict) -> dict:
    from qbound.proofs import run_suite
    kw = {}
    if unit.get("consts"):
        kw["consts"] = unit["consts"]
    if unit.get("timeout"):
        kw["timeout"] = unit["timeout"]
    rows = run_suite(unit["suite"], formats=unit["formats"] or None, roundings=unit["roundings"] or None,
                     progress=False, **kw)
    return {"rows": [r.to_dict() for r in rows]}


def facts_unit(unit: dict) -> dict:
    from qbound.numeric.formats import get_format
    from qbound.proofs import optimizer_facts as of
    fmt = get_format(unit["format"])
    if unit["kind"] == "stagnation":
        res = of.stagnation_threshold(fmt, unit["rounding"], unit["beta2"])
    elif unit["kind"] == "swamping":
        res = of.swamping_threshold(fmt, unit["rounding"])
    else:
        raise ValueError(f"unknown fact kind {unit['kind']!r}")
    return {"fact": _jsonable(res)}


THEORY_PARTS = ("derive", "rates", "bits", "floors")


def theory_unit(unit: dict) -> dict:
    """One part of the bounds layer's answers for one derivation (parts run in parallel workers):
    "derive" (the derivation, its checks, LaTeX), "rates" (rate table), "bits" (required_bits at
    each T with the unit's constants, rounding and tolerance), "floors" (error_floor per plan)."""
    import qbound.bounds as B
    name, part = unit["name"], unit.get("part", "derive")
    consts = (unit.get("setting") or {}).get("constants") or {}
    out = {"setting": unit.get("setting"), "tol": unit.get("tol", 1.0), "rounding": unit.get("rounding", "rne")}
    if part == "derive":
        d = B.derive(name)
        out.update({"derivation": _jsonable(d.to_dict()), "latex": _safe(lambda: d.latex()),
                    "latex_extras": _safe(lambda: {k: _latex(v) for k, v in (getattr(d, "extras", {}) or {}).items()}),
                    "steps_failed": [s.name for s in d.steps if getattr(s, "status", "passed") != "passed"]})
    elif part == "rates":
        out["rate_table"] = _safe(lambda: _jsonable(B.rate_table(name)))
    elif part == "bits":
        out["required_bits"] = {str(T): _safe(lambda T=T: _jsonable(B.required_bits(
            name, T, tol=unit.get("tol", 1.0), rounding=unit.get("rounding", "rne"), constants=consts)))
            for T in unit.get("T", [])}
    elif part == "floors":
        beta1 = consts.get("beta1", 0.0)
        fl_consts = {k: v for k, v in consts.items() if k not in ("a", "b", "beta1")}
        out["floors"] = {p: _safe(lambda p=p: _jsonable(B.error_floor(name, p, constants=fl_consts, beta1=beta1)))
                         for p in unit.get("plans", [])}
    elif part == "mutants":  # verify --full only: a full mutant run costs minutes (Adam: ~3 min at load 4)
        from qbound.bounds import mutants as MU
        rec = MU.recorded(name)  # a stored run of this very proof (same chain key): instant
        src = "stored run (same proof hash)"
        if rec is None:
            build, bkey, base = MU.factory(name)
            rec = MU.run(build, bkey, base, timeout_s=float(unit.get("timeout_s", 5)))
            MU.record(name, rec)
            src = "run by verify --full (stored for the next run)"
        out["mutants"] = {k: rec.get(k) for k in ("total", "killed", "kill_rate", "survivors", "by_kind", "seconds", "chain_key")}
        out["mutants"]["source"] = src
    else:
        raise ValueError(f"unknown theory part {part!r}; accepted: {', '.join(THEORY_PARTS + ('mutants',))}")
    return out


def _latex(v):
    import sympy
    return sympy.latex(v) if isinstance(v, sympy.Basic) else str(v)


def _safe(fn):
    try:
        return fn()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _jsonable(obj):
    """Recursively turn SymPy objects, Fractions, numpy values and dataclasses into JSON values."""
    from fractions import Fraction
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, Fraction):
        return float(obj)
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return [_jsonable(x) for x in obj.tolist()]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in obj]
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    try:
        import sympy
        if isinstance(obj, sympy.Basic):
            if obj.is_number:
                try:
                    return float(obj)
                except TypeError:
                    return str(obj)
            return str(obj)
    except ImportError:  # pragma: no cover
        pass
    return str(obj)
