"""Run a quantized optimizer on a problem and record what happens: ``run(...) -> Trajectory``.

One step t = 1..T (x_{t-1} the master weights, all arrays float64)::

    xq    = Q_W(x_{t-1})                 (master="fp64": the paper's setting; "stored": x is already in W's format)
    g     = Q_G(stochastic gradient of F at xq)        (noise drawn from the run's noise stream)
    delta = optimizer update from g and its stored states (Q_M, Q_V applied inside; see optimizers.py)
    x_t   = U(x_{t-1} - delta)            (U = rounding to plan.update_format, identity in float64)
    x_t   = Q_W(x_t)                      (only when master="stored")

Randomness: ``numpy.random.SeedSequence(seed)`` is split into a noise stream (mini-batches, additive
noise) and one stream per quantized component for stochastic rounding, so a run depends only on its
configuration and seed (never on which process runs it).

See :mod:`numeric.trajectory` for what is recorded and how it is indexed.
"""
from __future__ import annotations

import shlex
import time

import numpy as np

from qbound.numeric.optimizers import Optimizer, make_optimizer
from qbound.numeric.problems import Problem, flatten, make_problem
from qbound.numeric.quantplan import COMPONENTS, QuantPlan, Quantizers
from qbound.numeric.trajectory import COUNT_COMPONENTS, Trajectory, package_version


def _fmt_kv(d: dict) -> str:
    def f(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v)
    return ",".join(f"{k}={f(v)}" for k, v in d.items())


def rerun_command(problem: Problem, optimizer: Optimizer, plan: QuantPlan, steps: int, seed: int) -> str:
    pspec = problem.spec()
    pname = pspec.pop("name")
    ospec = optimizer.spec()
    oname = ospec.pop("name")
    ospec = {k: v for k, v in ospec.items() if v is not None}
    parts = ["qbound", "run", oname, "--problem", pname]
    if pspec:
        parts += ["--problem-args", _fmt_kv(pspec)]
    parts += ["--quant", str(plan), "--hp", _fmt_kv(ospec), "--steps", str(steps), "--seed", str(seed)]
    return " ".join(shlex.quote(p) for p in parts)


def run(problem, optimizer, plan=None, steps: int = 100, seed: int = 0, *, record_states: bool = False,
        problem_kw: dict | None = None, hparams: dict | None = None, progress=None,
        blas_threads: int | None = 1) -> Trajectory:
    """Run ``optimizer`` on ``problem`` for ``steps`` steps under ``plan``; see module docstring.

    Parameters
    ----------
    problem : Problem or a name for :func:`numeric.problems.make_problem` (with ``problem_kw``).
    optimizer : Optimizer or a name for :func:`numeric.optimizers.make_optimizer` (with ``hparams``).
    plan : QuantPlan, its text form, or None (empty plan).
    steps, seed : number of updates T and the run seed.
    record_states : keep the per-step states (x, xq, g, m_pre, m, v_pre, v), shape (T, d) each.
    progress : optional callable ``progress(k)`` called after each step.
    blas_threads : BLAS threads during the run (default 1: the problems are small, multithreaded BLAS
        only adds overhead, and sweeps parallelize over processes instead); None leaves BLAS alone.
        Results do not depend on it beyond BLAS's own summation order.
    """
    import contextlib
    limits = contextlib.nullcontext()
    if blas_threads is not None:
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(limits=int(blas_threads), user_api="blas")
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            pass
    # diverging runs overflow on purpose; they are detected and recorded (diverged_at), not warned about
    with limits, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _run(problem, optimizer, plan, steps, seed, record_states, problem_kw, hparams, progress)


def _run(problem, optimizer, plan, steps, seed, record_states, problem_kw, hparams, progress):
    if not isinstance(problem, Problem):
        problem = make_problem(problem, **(problem_kw or {}))
    if not isinstance(optimizer, Optimizer):
        optimizer = make_optimizer(optimizer, **(hparams or {}))
    plan = QuantPlan.parse(plan) if not isinstance(plan, QuantPlan) else plan
    steps, seed = int(steps), int(seed)
    if steps < 0:
        from qbound.numeric.errors import InputError
        raise InputError(f"steps must be >= 0, got {steps}")
    t0 = time.perf_counter()

    ss = np.random.SeedSequence(seed)
    noise_ss, q_ss = ss.spawn(2)
    noise_rng = np.random.default_rng(noise_ss)
    qz = Quantizers(plan, q_ss, record=record_states)
    stored = plan.master == "stored"
    wq = plan.W is not None

    x = [np.array(p, dtype=np.float64) for p in problem.x0()]
    if stored:
        x = [qz("W", p, i) for i, p in enumerate(x)]
        qz.reset_counts()
    shapes = [p.shape for p in x]
    d = problem.d
    state = optimizer.init(shapes)

    loss = np.full(steps, np.nan)
    gn2 = np.full(steps, np.nan)
    lost = np.full(steps, np.nan)
    stale = np.full(steps, np.nan)
    counts = {c: {k: np.zeros(steps, dtype=np.int64) for k in ("overflow", "nan", "underflow")}
              for c in COUNT_COMPONENTS}
    states = None
    if record_states:
        states = {k: np.full((steps, d), np.nan) for k in ("x", "xq", "g", "m_pre", "m", "v_pre", "v")}
    diverged_at = None
    xq = None
    prev_nonzero = None  # mask of coordinates with delta != 0 in the previous step (for stale_w_frac)

    for k in range(steps):
        t = k + 1
        loss[k], gn2[k] = problem.evaluate(x)
        if stored or not wq:
            xq_new = x
        else:
            xq_new = [qz("W", p, i) for i, p in enumerate(x)]
        if k > 0:
            stale[k - 1] = _stale(xq, xq_new, prev_nonzero, d) if wq else 0.0
        xq = xq_new
        g = problem.stoch_grad(xq, noise_rng)
        g = [qz("G", np.asarray(gi, dtype=np.float64), i) for i, gi in enumerate(g)]
        deltas = optimizer.step(x, g, state, t, qz)
        xn = [qz.U(p - dl) for p, dl in zip(x, deltas)]
        if stored:
            xn = [qz("W", p, i) for i, p in enumerate(xn)]
        nonzero = [dl != 0 for dl in deltas]
        lost[k] = sum(int(np.count_nonzero((a == b) & nz)) for a, b, nz in zip(xn, x, nonzero)) / d
        prev_nonzero = nonzero
        for c in COUNT_COMPONENTS:
            for kind, v in qz.counts[c].items():
                counts[c][kind][k] = v
        qz.reset_counts()
        if record_states:
            _record(states, k, x, xq, g, qz, shapes)
        x = xn
        if progress is not None:
            progress(k)
        if not all(np.all(np.isfinite(p)) for p in x):
            diverged_at = t
            break

    if diverged_at is None and steps > 0:
        if wq and not stored:
            xq_last = [qz("W", p, i) for i, p in enumerate(x)]
            stale[steps - 1] = _stale(xq, xq_last, prev_nonzero, d)
        else:
            stale[steps - 1] = lost[steps - 1] if stored else 0.0
    if stored and steps > 0:
        stale[:] = lost
    with np.errstate(all="ignore"):
        final_loss, final_gn2 = problem.evaluate(x) if diverged_at is None else (np.nan, np.nan)

    meta = {
        "problem": problem.spec(),
        "optimizer": optimizer.spec(),
        "plan": str(plan),
        "plan_detail": plan.to_dict(),
        "steps": steps,
        "seed": seed,
        "d": d,
        "record_states": bool(record_states),
        "command": rerun_command(problem, optimizer, plan, steps, seed),
        "version": package_version(),
        "seconds": round(time.perf_counter() - t0, 4),
    }
    return Trajectory(loss=loss, grad_norm2=gn2, lost_update_frac=lost, stale_w_frac=stale, counts=counts,
                      final_loss=float(final_loss), final_grad_norm2=float(final_gn2), meta=meta,
                      states=states, diverged_at=diverged_at)


def _stale(xq_old, xq_new, nonzero, d):
    return sum(int(np.count_nonzero((a == b) & nz)) for a, b, nz in zip(xq_new, xq_old, nonzero)) / d


def _record(states, k, x, xq, g, qz, shapes):
    states["x"][k] = flatten(x)
    states["xq"][k] = flatten(xq)
    states["g"][k] = flatten(g)
    offs = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    for comp, pre_key, post_key in (("M", "m_pre", "m"), ("V", "v_pre", "v")):
        for i in range(len(shapes)):
            pair = qz.seen.pop((comp, i), None)
            if pair is not None:
                states[pre_key][k, offs[i]:offs[i + 1]] = np.asarray(pair[0]).reshape(-1)
                states[post_key][k, offs[i]:offs[i + 1]] = np.asarray(pair[1]).reshape(-1)
    qz.seen.clear()


__all__ = ["run", "rerun_command", "Trajectory", "COMPONENTS"]
