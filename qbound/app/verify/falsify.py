"""Falsification of the derived bounds by experiment: which runs to make, and what they say.

This module turns a validated configuration (:mod:`qbound.app.verify.config`) into units of work
(:mod:`qbound.app.verify.runs`), and the stored results back into tables and evidence:

* **bounds** (``analyze_grid``): for every grid case, component and mantissa, the derived bound is
  evaluated with the problem's constants (exact where the problem knows them, estimated and stated
  where not) and the run's hyperparameters and q's, and compared with the measured quantity averaged
  over seeds (Student-t 95% interval, :mod:`qbound.app.verify.stats`). ``lo > bound`` is FALSIFIED;
  the tightness ratio measured / bound is reported for every row, so a vacuous bound is visible.
* **trajectory checks** (``analyze_trajectory``): premise, envelopes, descent inequality and gradient
  shift counted along recorded runs.
* **thresholds** (``analyze_thresholds``): the proofs layer's stagnation and swamping thresholds against
  what the stored v and w actually did.
* **scaling** (``ScalingSearch``, ``analyze_scaling``): for T in a geometric range, the smallest
  mantissa M*(T) per component at which the run stays within ``factor`` x the full-precision value
  (mean over seeds of the configured metric), searched upwards from ``mantissa_min``. Fitted
  M* = a + b log2 T; the slope b is compared with the slope of the bounds layer's required bits.
"""
from __future__ import annotations

import math

import numpy as np

from qbound.app.verify import stats as st

OPT_COMPONENTS = {"adam": "WGMV", "adam-torch": "WGMV", "adamw": "WGMV", "muon": "WGM", "sgdm": "WGM"}


def components_of(optimizer: str) -> tuple:
    return tuple(OPT_COMPONENTS.get(optimizer, "WGMV"))


def comp_plan(comp: str, fmt: str, rounding: str, optimizer: str) -> str:
    """Plan text quantizing ``comp`` ("W".."V" or "all") to ``fmt``; "" if the optimizer lacks it."""
    spec = fmt if rounding == "rne" else f"{fmt}:{rounding}"
    comps = components_of(optimizer) if comp == "all" else (comp,)
    comps = tuple(c for c in comps if c in components_of(optimizer))
    return ",".join(f"{c}={spec}" for c in comps)


def restrict_plan(plan: str, optimizer: str) -> str:
    """Drop the components an optimizer does not have (e.g. V for Muon)."""
    keep = []
    for part in filter(None, (p.strip() for p in plan.split(","))):
        k = part.split("=", 1)[0].strip()
        if k.upper() in "WGMV" and len(k) == 1 and k.upper() not in components_of(optimizer):
            continue
        keep.append(part)
    return ",".join(keep)


def run_unit(optimizer, problem, problem_args, hparams, plan, steps, seed, **flags) -> dict:
    u = {"optimizer": optimizer, "problem": problem, "problem_args": dict(problem_args),
         "hparams": dict(hparams), "plan": plan, "steps": int(steps), "seed": int(seed)}
    for k, v in flags.items():
        if v:
            u[k] = v
    return u


# ============================================================================ grid (bounds)
def grid_cells(cfg: dict):
    """Yield (case_index, case, component, mantissa|None, plan) for the grid; None = full precision."""
    g = cfg["grid"]
    for ci, case in enumerate(g.get("case", [])):
        comps = case.get("components") or g["components"]
        yield ci, case, "none", None, ""
        for comp in comps:
            if comp != "all" and comp not in components_of(case["optimizer"]):
                continue
            for M in g["mantissa"]:
                fmt = f"e{g['exponent_bits']}m{M}"
                yield ci, case, comp, M, comp_plan(comp, fmt, g["rounding"], case["optimizer"])


def grid_unit(cfg, case, plan, seed) -> dict:
    # states are recorded for Muon (nuclear norm of the exact gradient) and for the R estimate
    return run_unit(case["optimizer"], case["problem"], case.get("problem_args", {}),
                    case.get("hparams", {}), plan, cfg["grid"]["steps"], seed, record_states=True,
                    summary_only=True)


def trajectory_unit(cfg, case, plan) -> dict:
    return run_unit(case["optimizer"], case["problem"], case.get("problem_args", {}),
                    case.get("hparams", {}), restrict_plan(plan, case["optimizer"]),
                    cfg["trajectory"]["steps"], cfg["seeds"][0], record_states=True, checks=True)


def measured_key(optimizer: str) -> str:
    return "measured_muon" if optimizer == "muon" else "measured_adam"


def bound_name(optimizer: str) -> str | None:
    if optimizer == "muon":
        return "muon"
    if optimizer == "adam":
        return "adam"
    return None   # no derived bound for this optimizer (adam-torch, adamw, sgdm)


# ----------------------------------------------------------------------------- bound values
def problem_constants(problem: str, problem_args: dict) -> dict:
    from qbound.numeric.problems import make_problem
    p = make_problem(problem, **problem_args)
    c = dict(p.constants())
    c.setdefault("notes", {})
    c["batch"] = getattr(p, "batch", None)
    from qbound.numeric.problems import flatten
    c["_x0_norm"] = float(np.linalg.norm(flatten(p.x0())))
    return c


def estimate_sigma(problem: str, problem_args: dict, draws: int = 200, seed: int = 12345) -> float:
    """Per-sample gradient noise std sqrt(batch * E||g_B - grad F||_F^2), estimated from ``draws``
    mini-batches at x0 and, when the problem has one, at its least-squares solution; the max of the two."""
    from qbound.numeric.problems import flatten, make_problem
    p = make_problem(problem, **problem_args)
    points = [p.x0()]
    if hasattr(p, "A") and hasattr(p, "B") and getattr(p, "A").ndim == 2:
        try:
            points.append([np.linalg.lstsq(p.A, p.B, rcond=None)[0]])
        except Exception:
            pass
    rng = np.random.default_rng(seed)
    B = getattr(p, "batch", 1) or 1
    best = 0.0
    for x in points:
        g = flatten(p.grad(x))
        dev = [float(np.sum((flatten(p.stoch_grad(x, rng)) - g) ** 2)) for _ in range(draws)]
        best = max(best, math.sqrt(B * float(np.mean(dev))))
    return best


def bound_values(optimizer: str, case: dict, plan: str, steps: int, consts: dict, r_est=None,
                 sigma_est=None, x_inf_max=None) -> tuple[dict, dict]:
    """The symbol values for ``bounds.evaluate_bound`` and how each was obtained.  ``x_inf_max``: the largest
    |x_t|_inf the runs of this cell reached (None: unknown); the problem's box (constants key ``box``) is used
    for Bx only when every run stayed in it, otherwise Bx is left out (oo: no box)."""
    from qbound.numeric.quantplan import QuantPlan
    hp = case.get("hparams", {})
    qs = {f"q_{c}": float(v) for c, v in QuantPlan.parse(plan or "").q_values().items()}
    notes = consts.get("notes", {}) or {}
    how: dict = {}

    def const(name, fallback=None, fallback_how=""):
        v = consts.get(name)
        if v is not None:
            how[name] = notes.get(name, "given by the problem")
            return float(v)
        if fallback is not None:
            how[name] = fallback_how
            return float(fallback)
        how[name] = "unknown"
        return None

    if optimizer == "adam":
        eps = float(hp.get("eps", 1e-8))
        vals = {"T": steps, "alpha": float(hp.get("lr", 1e-3)), "beta1": float(hp.get("beta1", 0.0)),
                "beta2": float(hp.get("beta2", 0.999)), "eps": eps,
                "R": const("R", None if r_est is None else r_est + math.sqrt(eps),
                           "estimated: max |g|_inf of the stored stochastic gradients over all seeds of this "
                           "run, + sqrt(eps) (valid along these trajectories, not a.s.)"),
                "L": const("L"), "d": const("d"), "Delta": const("Delta"),
                **{k: qs[k] for k in ("q_W", "q_G", "q_M", "q_V")}}
        # a problem's R that is itself an estimate (e.g. valid only in a box) is raised to what the
        # runs actually saw, so the bound is never evaluated with an R the trajectory exceeds
        if consts.get("R") is not None and r_est is not None and "exact" not in str(how.get("R", "")):
            seen = r_est + math.sqrt(eps)
            if seen > vals["R"]:
                vals["R"] = seen
                how["R"] = ("estimated: max |g|_inf seen along the runs + sqrt(eps), above the problem's own "
                            f"estimate ({notes.get('R', '')})")
    else:
        r = consts.get("r")
        L_spec = None
        if consts.get("L") is not None and r is not None:
            L_spec = float(consts["L"]) * float(r)
            how["L"] = ("upper bound: r * L_Frobenius (||H D||_* <= ||H||_op ||D||_* <= r ||H||_op ||D||_op); "
                        + str(notes.get("L", "")))
        vals = {"T": steps, "eta": float(hp.get("lr", 1e-2)), "beta": float(hp.get("beta", 0.9)),
                "L": L_spec, "r": const("r"), "Delta": const("Delta"),
                "sigma": const("sigma", sigma_est, "estimated: per-sample std from 200 mini-batches at x0 and at the minimiser, max"),
                "B": float(consts.get("batch") or 1),
                **{k: qs[k] for k in ("q_W", "q_G", "q_M")}}
        how["B"] = "exact: the problem's mini-batch size"
        if r is None:
            how["r"] = "unknown"
    box = consts.get("box")
    if optimizer == "adam" and box is not None:
        if x_inf_max is not None and x_inf_max <= float(box):
            vals["Bx"] = float(box)
            how["Bx"] = (f"{notes.get('box', 'assumed by the problem')}; every run stayed in it "
                         f"(max |x_t|_inf = {x_inf_max:.4g})")
        else:
            why = "a run left it" if x_inf_max is not None else "the runs did not record their iterates"
            how["Bx"] = f"not used (oo): the problem's box [-{box:g}, {box:g}]^d is assumed, but {why}"
    vals["X0"] = vals["W0"] = float(consts["_x0_norm"])
    how["X0"] = how["W0"] = "exact: ||x_0||_2 (= ||W_0||_F) of the problem's initial point"
    try:   # keep only the symbols the bound actually has (when the bounds layer says which)
        from qbound.bounds import symbols
        names = set(symbols(bound_name(optimizer) or ""))   # no bound: "" is refused like None
        vals = {k: v for k, v in vals.items() if k in names}
        how = {k: v for k, v in how.items() if k in names}
    except Exception:
        pass
    for k in list(vals):
        if k.startswith("q_"):
            how[k] = "exact: rel_error_bound of the format and rounding mode (0 = not quantized)"
    how.update({k: "hyperparameter" for k in ("T", "alpha", "beta1", "beta2", "eps", "eta", "beta") if k in vals})
    return vals, how


def evaluate(name: str, vals: dict):
    """bounds.evaluate_bound, or (None, reason)."""
    if any(v is None for v in vals.values()):
        miss = [k for k, v in vals.items() if v is None]
        return None, f"constants unknown: {', '.join(miss)}"
    try:
        from qbound.bounds import evaluate_bound
    except ImportError as exc:
        return None, f"bounds.evaluate_bound unavailable ({exc})"
    try:
        v = float(evaluate_bound(name, dict(vals)))
    except Exception as exc:
        return None, f"evaluate_bound raised {type(exc).__name__}: {exc}"
    if math.isnan(v):
        return None, "bound evaluates to NaN"
    if math.isinf(v):
        return None, "the bound says nothing here (infinite): " + _failed_conditions(name, vals)
    return v, ""


def _failed_conditions(name, vals) -> str:
    """Which of the bound's conditions fail at these values (text), via bounds.bound_and_conditions."""
    try:
        import qbound.bounds as B
        _, conds = B.bound_and_conditions(name, vals)
        bad = [str(c) for c in conds if not B._numeric_relation(c, vals)]
        return ("conditions failing: " + "; ".join(bad)) if bad else "no condition fails; the expression is infinite"
    except Exception as exc:  # pragma: no cover - depends on the provider's internals
        return f"(could not list the failing conditions: {type(exc).__name__})"


def analyze_grid(cfg: dict, store) -> list[dict]:
    """One row per (case, component, mantissa): measured (mean, CI over seeds) vs the bound."""
    rows = []
    seeds = cfg["seeds"]
    const_cache: dict = {}
    for ci, case, comp, M, plan in grid_cells(cfg):
        opt = case["optimizer"]
        recs = [store.get("run", grid_unit(cfg, case, plan, s)) for s in seeds]
        res = [r["result"] for r in recs if r is not None]
        errors = [r["error"] for r in res if "error" in r]
        key = measured_key(opt)
        vals = [r.get(key) for r in res if "error" not in r and r.get(key) is not None]
        finals = [r.get("final") for r in res if "error" not in r and r.get("final") is not None]
        row = {"case": ci, "optimizer": opt, "problem": case["problem"], "component": comp, "mantissa": M,
               "plan": plan or "none", "steps": cfg["grid"]["steps"], "seeds": seeds,
               "measured_quantity": _quantity_text(opt),
               "measured": st.mean_ci(vals), "final": st.mean_ci(finals),
               "final_log10": st.log_mean_ci(finals), "per_seed": vals, "per_seed_final": finals,
               "commands": [r.get("command") for r in res if r.get("command")],
               "diverged": [r.get("diverged_at") for r in res if r.get("diverged_at") is not None],
               "errors": errors, "missing_runs": len(seeds) - len(res)}
        name = bound_name(opt)
        row["bound"], row["bound_reason"], row["constants"], row["constants_how"] = None, "", {}, {}
        if name is None:
            row["bound_reason"] = f"no derived bound for optimizer {opt}"
        elif vals:
            ck = (case["problem"], repr(sorted(case.get("problem_args", {}).items())))
            if ck not in const_cache:
                try:
                    c = problem_constants(case["problem"], case.get("problem_args", {}))
                    if c.get("sigma") is None:
                        c["_sigma_est"] = estimate_sigma(case["problem"], case.get("problem_args", {}))
                    const_cache[ck] = c
                except Exception as exc:
                    const_cache[ck] = {"error": f"{type(exc).__name__}: {exc}"}
            c = const_cache[ck]
            if "error" in c:
                row["bound_reason"] = f"problem constants unavailable: {c['error']}"
            else:
                r_est = max((r.get("g_inf_max") or 0.0) for r in res) if res else None
                xs = [r.get("x_inf_max") for r in res]
                x_inf = max(xs) if xs and None not in xs and len(res) == len(seeds) else None
                try:
                    v, how = bound_values(opt, case, plan, cfg["grid"]["steps"], c, r_est=r_est,
                                          sigma_est=c.get("_sigma_est"), x_inf_max=x_inf)
                    row["constants"], row["constants_how"] = v, how
                    row["bound"], row["bound_reason"] = evaluate(name, v)
                except Exception as exc:
                    row["bound_reason"] = f"{type(exc).__name__}: {exc}"
        row["status"] = st.falsified(row["measured"], row["bound"]) if row["bound"] is not None else "no-bound"
        m = row["measured"].get("mean")
        row["tightness"] = (m / row["bound"]) if (row["bound"] and m is not None and row["bound"] > 0
                                                 and math.isfinite(m)) else None
        row["constants_exact"] = all(("estimated" not in str(h)) and h != "unknown"
                                     for h in row["constants_how"].values()) if row["constants_how"] else None
        rows.append(row)
    return rows


def _quantity_text(opt: str) -> str:
    if opt == "muon":
        return "(1/T) sum_t ||grad f(W_t)||_* (nuclear norm, exact full-batch gradient)"
    return "E_tau ||grad F(x_tau)||_2^2, P[tau=j] ~ 1 - beta1^(N-j) (exact in tau per run)"


# ============================================================================ trajectory checks
def analyze_trajectory(cfg: dict, store) -> list[dict]:
    rows = []
    for ci, case in enumerate(cfg["grid"].get("case", [])):
        for plan in cfg["trajectory"]["plans"]:
            u = trajectory_unit(cfg, case, plan)
            rec = store.get("run", u)
            row = {"case": ci, "optimizer": case["optimizer"], "problem": case["problem"],
                   "plan": u["plan"], "steps": u["steps"], "seed": u["seed"]}
            if rec is None:
                row["error"] = "run missing"
            else:
                r = rec["result"]
                if "error" in r:
                    row["error"] = r["error"]
                for k in ("premise", "envelopes", "descent", "grad_shift", "counts", "command", "diverged_at"):
                    row[k] = r.get(k)
            rows.append(row)
    return rows


# ============================================================================ thresholds
def threshold_units(cfg: dict):
    """(kind, fmt, beta2|None, run unit) for the V-stagnation and W-swamping experiments."""
    th = cfg["thresholds"]
    for fmt in th["formats"]:
        spec = fmt if th["rounding"] == "rne" else f"{fmt}:{th['rounding']}"
        for b2 in th["beta2"]:
            hp = dict(th["hparams"], beta2=b2)
            yield "stagnation", fmt, b2, run_unit(th["optimizer"], th["problem"], th["problem_args"], hp,
                                                  f"V={spec}", th["steps"], cfg["seeds"][0],
                                                  record_states=True, thresholds=True)
        hp = dict(th["hparams"], beta2=th["beta2"][0])
        yield "swamping", fmt, None, run_unit(th["optimizer"], th["problem"], th["problem_args"], hp,
                                              f"W={spec},master=stored", th["steps"], cfg["seeds"][0],
                                              record_states=True, thresholds=True)


def fact_unit(kind, fmt, rounding, beta2=None) -> dict:
    u = {"kind": kind, "format": fmt, "rounding": rounding}
    if beta2 is not None:
        u["beta2"] = beta2
    return u


def _fact_field(fact: dict, *names, default=None):
    """Look up the first present key among ``names`` in a fact dict (provider naming may vary)."""
    if not isinstance(fact, dict):
        return default
    for n in names:
        if n in fact:
            return fact[n]
    return default


def analyze_thresholds(cfg: dict, store) -> list[dict]:
    rows = []
    rnd = cfg["thresholds"]["rounding"]
    for kind, fmt, b2, u in threshold_units(cfg):
        rec = store.get("run", u)
        frec = store.get("facts", fact_unit(kind, fmt, rnd, b2))
        row = {"kind": kind, "format": fmt, "rounding": rnd, "beta2": b2, "plan": u["plan"],
               "command": None}
        if rec is not None:
            r = rec["result"]
            row["command"] = r.get("command")
            row["run_error"] = r.get("error")
            for k in ("v_updates", "v_lost", "v_lost_frac", "v_decrease_opportunities", "v_decreases",
                      "v_decrease_blocked_frac", "lost_update_frac", "w_rel_update", "w_swamping"):
                if k in r:
                    row[k] = r[k]
        else:
            row["run_error"] = "run missing"
        if frec is None:
            row["fact_error"] = "fact missing"
        else:
            f = frec["result"]
            row["fact_error"] = f.get("error")
            row["fact"] = f.get("fact")
        rows.append(row)
    return rows


# ============================================================================ scaling
def scaling_hparams(sc: dict, T: int) -> dict:
    """alpha = lr_scale / sqrt(T), 1 - beta2 = c / T (Adam); eta = lr_scale T^-3/4, 1 - beta = c T^-1/2 (Muon)."""
    hp = dict(sc["hparams"])
    if sc["optimizer"] == "muon":
        hp["lr"] = sc["lr_scale"] * T ** -0.75
        hp["beta"] = 1.0 - min(0.999, sc["one_minus_beta2"] * T ** -0.5)
    else:
        hp["lr"] = sc["lr_scale"] / math.sqrt(T)
        hp["beta2"] = 1.0 - min(0.999, sc["one_minus_beta2"] / T)
    return hp


def scaling_unit(cfg, T, plan, seed) -> dict:
    sc = cfg["scaling"]
    need_states = sc["optimizer"] == "muon" and sc.get("metric", "final") == "measured"
    return run_unit(sc["optimizer"], sc["problem"], sc["problem_args"], scaling_hparams(sc, T), plan, T,
                    seed, record_states=need_states)


def compare_scaling_cfgs(cfg) -> dict:
    """{optimizer: cfg} for the scaling section's ``compare_with`` optimizers: the same problem, T range,
    formats, factor and schedule, the optimizer's default hyperparameters otherwise, no floor runs."""
    import copy
    out = {}
    for opt in cfg["scaling"].get("compare_with") or []:
        if opt == cfg["scaling"]["optimizer"]:
            continue
        c = copy.deepcopy(cfg)
        sc = c["scaling"]
        sc.update(optimizer=opt, hparams={}, floor_plans=[], compare_with=[],
                  components=[x for x in sc["components"] if x == "all" or x in components_of(opt)])
        out[opt] = c
    return out


def scaling_plan(cfg, comp, M) -> str:
    sc = cfg["scaling"]
    return comp_plan(comp, f"e{sc['exponent_bits']}m{M}", sc["rounding"], sc["optimizer"])


def metric(cfg, res: dict):
    """The scaled quantity: "final" (mean ||grad F||^2 over the last 10% of steps) or "measured"
    (the quantity the derived bound controls)."""
    if cfg["scaling"].get("metric", "final") == "final":
        return res.get("final")
    return res.get(measured_key(cfg["scaling"]["optimizer"]))


class ScalingSearch:
    """Upward mantissa search per (T, component), driven by scheduler callbacks.

    ``start(submit)`` submits the full-precision baselines and M = mantissa_min for every chain;
    whenever all seeds of a chain's current M (and its baseline) are in, the chain decides: outside
    ``factor`` -> submit M + 1 (unless at mantissa_max); within -> stop, M*(T) = M. The same decision
    function (:func:`decide`) is used by ``analyze_scaling`` on the stored results, so a resumed run
    and a fresh run reach the same M*.
    """

    def __init__(self, cfg: dict, store, submit):
        self.cfg, self.store, self.submit = cfg, store, submit
        self.sc = cfg["scaling"]
        self.seeds = cfg["seeds"]
        self._submitted: set = set()

    def start(self):
        if not self.sc["components"]:
            return
        for T in self.sc["T"]:
            for s in self.seeds:
                self.submit("run", scaling_unit(self.cfg, T, "", s), "scaling runs",
                            lambda res, T=T: [self._check(T, c, self.sc["mantissa_min"]) for c in self.sc["components"]])
            for comp in self.sc["components"]:
                self._submit_level(T, comp, self.sc["mantissa_min"])

    def _submit_level(self, T, comp, M):
        for s in self.seeds:
            self.submit("run", scaling_unit(self.cfg, T, scaling_plan(self.cfg, comp, M), s), "scaling runs",
                        lambda res, T=T, comp=comp, M=M: self._check(T, comp, M))

    def _check(self, T, comp, M):
        # walk up over levels already decided (a resumed run), submit the first undecided one
        while True:
            d = decide(self.cfg, self.store, T, comp, M)
            if d is None or d == "within":
                return
            if M >= self.sc["mantissa_max"]:
                return
            M += 1
            key = (T, comp, M)
            if decide(self.cfg, self.store, T, comp, M) is None:
                if key not in self._submitted:
                    self._submitted.add(key)
                    self._submit_level(T, comp, M)
                return


def _level(cfg, store, T, plan):
    vals = []
    for s in cfg["seeds"]:
        rec = store.get("run", scaling_unit(cfg, T, plan, s))
        if rec is None:
            return None
        v = metric(cfg, rec["result"])
        vals.append(math.inf if v is None or "error" in rec["result"] else v)
    return vals


def decide(cfg, store, T, comp, M) -> str | None:
    """'within' / 'outside' the factor at (T, comp, M), or None while results are incomplete."""
    base = _level(cfg, store, T, "")
    q = _level(cfg, store, T, scaling_plan(cfg, comp, M))
    if base is None or q is None:
        return None
    mb, mq = float(np.mean(base)), float(np.mean(q))
    return "within" if mq <= cfg["scaling"]["factor"] * mb else "outside"


def analyze_scaling(cfg: dict, store, theory: dict) -> dict:
    """M*(T) per component, the log2 T fit, and the theory slope from bounds.required_bits."""
    sc = cfg["scaling"]
    out = {"optimizer": sc["optimizer"], "problem": sc["problem"], "factor": sc["factor"],
           "metric": sc["metric"], "T": sc["T"], "mantissa_range": [sc["mantissa_min"], sc["mantissa_max"]],
           "exponent_bits": sc["exponent_bits"], "rounding": sc["rounding"],
           "hparams_rule": scaling_hparams.__doc__, "components": {}}
    for comp in sc["components"]:
        pts = []
        for T in sc["T"]:
            M = sc["mantissa_min"]
            status, mstar, levels = "incomplete", None, {}
            while M <= sc["mantissa_max"]:
                d = decide(cfg, store, T, comp, M)
                if d is None:
                    break
                levels[M] = float(np.mean(_level(cfg, store, T, scaling_plan(cfg, comp, M))))
                if d == "within":
                    status = "censored-low" if M == sc["mantissa_min"] else "found"
                    mstar = M
                    break
                M += 1
            else:
                status = "censored-high"
            base = _level(cfg, store, T, "")
            pts.append({"T": T, "M_star": mstar, "status": status,
                        "baseline": float(np.mean(base)) if base else None,
                        "levels": {str(k): v for k, v in sorted(levels.items())},
                        "command": _scaling_cmd(cfg, T, comp, mstar)})
        ok = [p for p in pts if p["status"] == "found"]
        fit = st.linfit([math.log2(p["T"]) for p in ok], [p["M_star"] for p in ok])
        theory_pts, theory_fit, theory_err = _theory_bits(theory, sc, comp)
        out["components"][comp] = {"points": pts, "fit": fit, "theory_points": theory_pts,
                                   "theory_fit": theory_fit, "theory_error": theory_err}
    return out


def _scaling_cmd(cfg, T, comp, M):
    from qbound.app.verify.runs import command_for
    if M is None:
        return None
    return command_for(scaling_unit(cfg, T, scaling_plan(cfg, comp, M), cfg["seeds"][0]))


def bits_from_required(entry, comp):
    """Extract the bits for ``comp`` from a ``bounds.required_bits`` result (dict per component,
    possibly nested as {"bits": {...}} or {comp: {"bits": n}})."""
    if not isinstance(entry, dict) or "error" in entry:
        return None
    for container in (entry, entry.get("bits") if isinstance(entry.get("bits"), dict) else None,
                      entry.get("M") if isinstance(entry.get("M"), dict) else None):
        if not isinstance(container, dict):
            continue
        for k in (comp, f"M_{comp}", f"q_{comp}"):
            v = container.get(k)
            if isinstance(v, dict):
                v = _fact_field(v, "bits", "mantissa_bits", "M", "value")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
    return None


def _theory_bits(theory: dict, sc: dict, comp: str):
    name = bound_name(sc["optimizer"])
    th = (theory or {}).get(name) or {}
    if not th or "error" in th:
        return [], None, (th.get("error") if th else f"no theory for {name}")
    rb = th.get("required_bits") or {}
    pts = []
    comps = components_of(sc["optimizer"]) if comp == "all" else (comp,)
    for T in sc["T"]:
        bs = [bits_from_required(rb.get(str(T)), c) for c in comps]
        if all(b is not None for b in bs):
            pts.append({"T": T, "bits": max(bs)})
    if len(pts) < 2:
        errs = [e for e in (rb.get(str(T)) for T in sc["T"]) if isinstance(e, dict) and "error" in e]
        return pts, None, (errs[0]["error"] if errs else "required_bits gave no per-component bits")
    return pts, st.linfit([math.log2(p["T"]) for p in pts], [p["bits"] for p in pts]), None


# ============================================================================ theory constants
def estimate_R(problem: str, problem_args: dict, eps: float, draws: int = 200, seed: int = 12345) -> float:
    """max |g|_inf over ``draws`` stochastic gradients at x0, + sqrt(eps) (an estimate, not a.s.)."""
    from qbound.numeric.problems import flatten, make_problem
    p = make_problem(problem, **problem_args)
    rng = np.random.default_rng(seed)
    x0 = p.x0()
    return max(float(np.max(np.abs(flatten(p.stoch_grad(x0, rng))))) for _ in range(draws)) + math.sqrt(eps)


def theory_setting(cfg: dict, name: str) -> dict:
    """Problem constants and schedule for ``bounds.required_bits`` / ``bounds.error_floor``.

    The scaling experiment's problem and schedule when it runs this optimizer; otherwise the first
    grid case with it, with the scaling schedule constants (a = lr_scale, b = one_minus_beta2).
    Returns {"problem", "constants", "how"} (constants JSON-able; part of the theory unit's key).
    """
    sc = cfg["scaling"]
    if bound_name(sc["optimizer"]) == name:
        prob, pargs, hp = sc["problem"], sc["problem_args"], dict(sc["hparams"])
    else:
        cases = [c for c in cfg["grid"].get("case", []) if bound_name(c["optimizer"]) == name]
        if not cases:
            return {"problem": None, "constants": {}, "how": {"all": "defaults of the bounds layer (1.0)"}}
        prob, pargs, hp = cases[0]["problem"], cases[0].get("problem_args", {}), dict(cases[0].get("hparams", {}))
    c = problem_constants(prob, pargs)
    how: dict[str, str] = {}
    out: dict[str, float | None] = {"a": float(sc["lr_scale"]), "b": float(sc["one_minus_beta2"])}
    how["a"] = how["b"] = "the scaling experiment's schedule constants"
    if name == "adam":
        eps = float(hp.get("eps", 1e-8))
        out.update(eps=eps, beta1=float(hp.get("beta1", 0.0)), L=c.get("L"), d=c.get("d"), Delta=c.get("Delta"),
                   X0=c["_x0_norm"])
        out["R"] = c["R"] if c.get("R") is not None else estimate_R(prob, pargs, eps)
        how["R"] = "problem" if c.get("R") is not None else "estimated: max |g|_inf of 200 stochastic gradients at x0 + sqrt(eps)"
    else:
        r = c.get("r")
        out.update(L=(c["L"] * r if c.get("L") is not None and r else None), r=r, Delta=c.get("Delta"),
                   W0=c["_x0_norm"], B=float(c.get("batch") or 1))
        out["sigma"] = c["sigma"] if c.get("sigma") is not None else estimate_sigma(prob, pargs)
        how["L"] = "r * L_Frobenius (upper bound on the spectral smoothness constant)"
        how["sigma"] = "problem" if c.get("sigma") is not None else "estimated from mini-batches"
    out = {k: float(v) for k, v in out.items() if v is not None}
    return {"problem": prob, "constants": out, "how": how}


# ============================================================================ floor (fixed precision)
def floor_units(cfg):
    sc = cfg["scaling"]
    for plan in sc.get("floor_plans", []) or []:
        p = restrict_plan(plan, sc["optimizer"])
        for T in sc["T"]:
            for s in cfg["seeds"]:
                yield p, T, scaling_unit(cfg, T, p, s)
