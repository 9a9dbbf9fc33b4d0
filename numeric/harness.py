"""Run a quantized optimizer on a problem and record what happens: ``run(...) -> Trajectory``.

One step t = 1..T (x_{t-1} the master weights, all arrays float64)::

    xq    = Q_W(x_{t-1})                 (master="fp64": the paper's setting; "stored": x is already in W's format)
    g     = Q_G(stochastic gradient of F at xq)        (noise drawn from the run's noise stream)
    delta = optimizer update from g and its stored states (Q_M, Q_V applied inside; see optimizers.py)
    x_t   = U(x_{t-1} - delta)            (U = rounding to plan.update_format, identity in float64)
    x_t   = Q_W(x_t)                      (only when master="stored")

With numba and without ``record_states`` the step after the gradient evaluation runs as one
compiled pass per parameter (:meth:`~qbound.numeric.optimizers.Optimizer.train_step`), otherwise as
the multi-pass loop of the rounding calls above; both give the same bits, counts and random draws
(tests/numeric/test_harness_whole_step.py).

Randomness: ``numpy.random.SeedSequence(seed)`` is split into a noise stream (mini-batches, additive
noise) and one stream per quantized component for stochastic rounding, so a run depends only on its
configuration and seed (never on which process runs it).

See :mod:`numeric.trajectory` for what is recorded and how it is indexed.
"""
from __future__ import annotations

import shlex
import time

import numpy as np

from qbound.numeric import optimizers
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


# ---------------------------------------------------------------------- limits at the boundary
#: the most steps one run may take (its per-step records alone are ~128 bytes a step)
MAX_STEPS = 10_000_000
#: the most float64 numbers a problem may allocate (1 GiB)
MAX_PROBLEM_FLOATS = 2 ** 27
#: the most bytes the per-step states of one run may take (record_states=True)
MAX_STATE_BYTES = 2 ** 32
_SIZE_KEYS = ("d", "m", "n", "N", "batch", "hidden")


def check_steps(steps, what: str = "steps", lo: int = 0) -> int:
    """``steps`` as an int in [lo, MAX_STEPS], else :class:`InputError` (before anything is allocated).

    >>> check_steps(100)
    100
    >>> check_steps(10**12)
    Traceback (most recent call last):
    ...
    qbound.numeric.errors.InputError: steps must be an integer in [0, 10000000], got 1000000000000
    """
    from qbound.numeric.errors import InputError
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not lo <= steps <= MAX_STEPS:
        raise InputError(f"{what} must be an integer in [{lo}, {MAX_STEPS}], got {steps!r}")
    return int(steps)


def check_seed(seed, what: str = "seed") -> int:
    """A run seed: an integer in [0, 2^63)."""
    from qbound.numeric.errors import InputError
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise InputError(f"{what} must be an integer in [0, 2^63), got {seed!r}")
    return int(seed)


def _check_finite(kw: dict, what: str) -> None:
    from qbound.numeric.errors import InputError
    for k, v in kw.items():
        if isinstance(v, float) and not np.isfinite(v):
            raise InputError(f"{what} {k}={v}: expected a finite number")


def problem_floats(name: str, kw: dict) -> int:
    """An upper estimate of the float64 numbers problem ``name`` allocates with keywords ``kw``."""
    import inspect

    from qbound.numeric.problems import PROBLEMS
    key = str(name).strip().lower().replace("_", "-")
    cls = PROBLEMS.get(key)
    if cls is None:
        return 0
    sig = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
           if p.default is not inspect.Parameter.empty}
    v = {k: kw.get(k, sig.get(k)) for k in _SIZE_KEYS}

    def i(k, dflt=1):
        x = v.get(k)
        return x if isinstance(x, int) and not isinstance(x, bool) and x > 0 else dflt
    if key == "quadratic":
        return 6 * i("d") ** 2
    if key == "rosenbrock":
        return 8 * i("d")
    if key == "matrix-ls":
        m, n, N = i("m"), i("n"), i("N")
        return 2 * (N * m + m * n + N * n) + 4 * i("batch") * max(m, n)
    if key.startswith("digits"):
        return 1797 * 74 + 8 * i("hidden") * (74 + i("batch")) + 64 * i("batch")
    return 0


def build_problem(name, kw: dict | None = None):
    """:func:`numeric.problems.make_problem` after checking its sizes (every size keyword an integer
    >= 1, at most :data:`MAX_PROBLEM_FLOATS` numbers in all) and that no keyword is nan or inf."""
    from qbound.numeric.errors import InputError
    kw = dict(kw or {})
    if isinstance(name, Problem):
        return name
    _check_finite(kw, "problem keyword")
    for k in _SIZE_KEYS:
        if k in kw and (isinstance(kw[k], bool) or not isinstance(kw[k], int) or kw[k] < 1):
            raise InputError(f"problem keyword {k} must be a positive integer, got {kw[k]!r}")
    n = problem_floats(name, kw)
    if n > MAX_PROBLEM_FLOATS:
        raise InputError(f"problem {name} with {kw} would allocate about {n * 8 / 2**30:.3g} GiB "
                         f"(limit {MAX_PROBLEM_FLOATS * 8 / 2**30:.3g} GiB); choose smaller sizes")
    return make_problem(name, **kw)


def build_optimizer(name, hparams: dict | None = None):
    """:func:`numeric.optimizers.make_optimizer`, with every hyperparameter finite and a bad value
    (``lr=abc``) refused as :class:`InputError` naming the hyperparameter."""
    from qbound.numeric.errors import InputError
    hp = dict(hparams or {})
    if isinstance(name, Optimizer):
        return name
    _check_finite(hp, "hyperparameter")
    try:
        return make_optimizer(name, **hp)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad hyperparameters for {name} ({_fmt_kv(hp)}): {exc}") from None


def build_plan(text):
    """:meth:`QuantPlan.parse`, a malformed item refused as :class:`InputError`."""
    from qbound.numeric.errors import InputError
    if isinstance(text, QuantPlan):
        return text
    try:
        return QuantPlan.parse(text)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad quantization plan {text!r}: {exc}. Example: W=bf16,G=fp8_e5m2:sr,V=bf16") from None


def check_run_size(problem, steps: int, record_states: bool) -> None:
    """Refuse a run whose per-step states would exceed :data:`MAX_STATE_BYTES`."""
    from qbound.numeric.errors import InputError
    if record_states:
        need = 7 * 8 * int(problem.d) * int(steps)
        if need > MAX_STATE_BYTES:
            raise InputError(f"recording states of {steps} steps of a {problem.d}-parameter problem needs "
                             f"{need / 2**30:.3g} GiB (limit {MAX_STATE_BYTES / 2**30:.3g} GiB); "
                             f"record fewer steps")


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
    steps, seed = check_steps(steps), check_seed(seed)
    problem = build_problem(problem, problem_kw)
    optimizer = build_optimizer(optimizer, hparams)
    plan = build_plan(plan)
    check_run_size(problem, steps, record_states)
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

    # the whole step in one compiled pass per parameter (Optimizer.train_step: Q_G, update, U(x - delta),
    # Q_W(x_t)) when it can run; it makes the same rounding calls in the same order as the loop below
    # (so the same bits and random draws), but rounds x_t to W at the end of step t instead of the
    # start of step t + 1: its W counts are booked one step later, where this loop books them.
    whole = not record_states and optimizers.fused_available(qz)
    shift_w = wq and not stored
    pending_w: dict = {}  # W counts of Q_W(x_t), booked at step t + 1
    ts = None  # the last whole step (its xq is the next evaluation point)
    for k in range(steps):
        t = k + 1
        loss[k], gn2[k] = problem.evaluate(x)
        if stored or not wq:
            xq_new = x
        elif whole and ts is not None:
            xq_new = ts.xq
        else:
            xq_new = [qz("W", p, i) for i, p in enumerate(x)]
            if whole:  # k = 0: the counts of Q_W(x_0), the only rounding so far in this step
                pending_w = {kind: v for kind, v in qz.counts["W"].items()}
                qz.reset_counts()
        if k > 0:
            stale[k - 1] = _stale(xq, xq_new, prev_nonzero, d) if wq else 0.0
        xq = xq_new
        g = problem.stoch_grad(xq, noise_rng)
        if whole:
            ts = optimizer.train_step(x, g, state, t, qz, fused=True, deltas=True)
            xn, deltas = ts.x, ts.deltas
        else:
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
        if whole and shift_w:  # this step's Q_W rounded x_t: book it at t + 1, and Q_W(x_{t-1}) here
            now_w = {kind: int(counts["W"][kind][k]) for kind in counts["W"]}
            for kind in counts["W"]:
                counts["W"][kind][k] = pending_w.get(kind, 0)
            pending_w = now_w
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
            xq_last = ts.xq if ts is not None else [qz("W", p, i) for i, p in enumerate(x)]
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


__all__ = ["run", "rerun_command", "Trajectory", "COMPONENTS", "MAX_STEPS", "check_steps", "check_seed",
           "build_problem", "build_optimizer", "build_plan", "check_run_size"]
