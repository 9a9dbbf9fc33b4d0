"""Run a torch quantized optimizer on a problem of the numpy harness: the same :class:`Trajectory`.

One step t = 1..T is the step of :func:`qbound.numeric.harness.run` (see there): the parameters hold
Q_W(x), the stochastic gradient of the problem is taken at them (numpy, from the run's noise stream),
handed to the optimizer as ``p.grad``, and the optimizer applies Q_G, updates the master weights and
writes Q_W(x) back. The randomness is split exactly as in the numpy harness
(``SeedSequence(seed).spawn(2)``: the noise stream, then the quantizers' streams), so in float64 a
run of :func:`run` equals the numpy run bit for bit for the deterministic rounding modes
(tests/numeric/test_pytorch_optim.py), which is what makes the torch optimizers trustworthy on the
workloads the numpy harness cannot reach (:mod:`qbound.numeric.pytorch.workloads`).

>>> from qbound.numeric.pytorch.harness import run
>>> tr = run("rosenbrock", "adam", "V=bf16", steps=20, seed=0, hparams={"lr": 0.01})
>>> tr.meta["backend"], tr.steps
('torch', 20)
"""
from __future__ import annotations

import time

import numpy as np

from qbound.numeric.errors import InputError
from qbound.numeric.problems import Problem, make_problem
from qbound.numeric.pytorch._torch import require_torch, strip_examples_without_torch
from qbound.numeric.quantplan import QuantPlan
from qbound.numeric.trajectory import COUNT_COMPONENTS, Trajectory, package_version

__doc__ = strip_examples_without_torch(__doc__)


COUNT_KINDS = ("overflow", "nan", "underflow")


class StepCounts:
    """Per-step overflow/NaN/underflow counts per component (``Trajectory.counts``), from the running
    totals since ``reset_diagnostics()`` that a torch optimizer's ``diagnostics()["counts"]`` reports.

    >>> sc = StepCounts(2)
    >>> totals = {c: {"overflow": 0, "nan": 0, "underflow": 0} for c in COUNT_COMPONENTS}
    >>> totals["V"]["underflow"] = 3; sc.record(0, totals)
    >>> totals["V"]["underflow"] = 5; sc.record(1, totals)
    >>> sc.counts["V"]["underflow"].tolist(), sc.counts["W"]["nan"].tolist()
    ([3, 2], [0, 0])
    """

    def __init__(self, steps: int):
        self.counts = {c: {k: np.zeros(steps, dtype=np.int64) for k in COUNT_KINDS} for c in COUNT_COMPONENTS}
        self._prev = {c: dict.fromkeys(COUNT_KINDS, 0) for c in COUNT_COMPONENTS}

    def record(self, k: int, totals: dict) -> None:
        """Step ``k``'s counts: the totals now minus the totals at the previous record."""
        for c in COUNT_COMPONENTS:
            for kind in COUNT_KINDS:
                self.counts[c][kind][k] = totals[c][kind] - self._prev[c][kind]
                self._prev[c][kind] = totals[c][kind]


def run(problem, optimizer: str, plan=None, steps: int = 100, seed: int = 0, *, hparams: dict | None = None,
        problem_kw: dict | None = None, device: str = "cpu", dtype: str = "float64", progress=None) -> Trajectory:
    """Run the torch optimizer named ``optimizer`` (numeric.optimizers' names and hyperparameters) on a
    numpy-harness problem; returns a Trajectory with ``meta["backend"] == "torch"``."""
    torch = require_torch()
    from qbound.numeric.pytorch.optim import make_torch_optimizer
    if not isinstance(problem, Problem):
        problem = make_problem(problem, **(problem_kw or {}))
    plan = QuantPlan.parse(plan) if not isinstance(plan, QuantPlan) else plan
    steps, seed = int(steps), int(seed)
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    tdt = {"float64": torch.float64, "float32": torch.float32}.get(dtype)
    if tdt is None:
        raise InputError(f"dtype must be float64 or float32, got {dtype!r}")
    t0 = time.perf_counter()
    noise_ss, q_ss = np.random.SeedSequence(seed).spawn(2)
    noise_rng = np.random.default_rng(noise_ss)
    params = [torch.tensor(np.asarray(x, dtype=np.float64), dtype=tdt, device=device) for x in problem.x0()]
    opt = make_torch_optimizer(optimizer, params, quant=plan, seed=q_ss, diagnostics=True, **(hparams or {}))
    opt.reset_diagnostics()
    d = problem.d
    loss = np.full(steps, np.nan)
    gn2 = np.full(steps, np.nan)
    lost = np.full(steps, np.nan)
    stale = np.zeros(steps)
    counts = StepCounts(steps)
    diverged_at = None

    def host(ts):
        # copies: numpy-owned memory, so BLAS inside the problem sees the same alignment as in numeric.harness
        return [t.detach().to("cpu", torch.float64).numpy().copy() for t in ts]

    import contextlib
    limits = contextlib.nullcontext()
    try:  # one BLAS thread, as numeric.harness.run: the problems' matrix products then sum in the same order
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # pragma: no cover
        pass
    with limits, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(steps):
            x = opt.master_weights()
            loss[k], gn2[k] = problem.evaluate(host(x))
            g = problem.stoch_grad(host(params), noise_rng)
            for p, gi in zip(params, g):
                p.grad = torch.as_tensor(np.asarray(gi, dtype=np.float64), dtype=tdt, device=device)
            opt.step()
            diag = opt.diagnostics()
            lost[k] = diag["lost_update_frac"] * (sum(p.numel() for p in params) / d)
            counts.record(k, diag["counts"])
            if progress is not None:
                progress(k)
            if not all(bool(torch.isfinite(t).all()) for t in opt.master_weights()):
                diverged_at = k + 1
                break
        final_loss, final_gn2 = (problem.evaluate(host(opt.master_weights())) if diverged_at is None
                                 else (np.nan, np.nan))
    ospec = {"name": optimizer, **(hparams or {})}
    meta = {"problem": problem.spec(), "optimizer": ospec, "plan": str(plan), "plan_detail": plan.to_dict(),
            "steps": steps, "seed": seed, "d": d, "record_states": False, "backend": "torch", "device": str(device),
            "dtype": dtype, "version": package_version(), "seconds": round(time.perf_counter() - t0, 4),
            "command": f"qbound run {optimizer} --problem {problem.name} --quant {plan} --steps {steps} --seed {seed} "
                       f"--backend torch --device {device}"}
    return Trajectory(loss=loss, grad_norm2=gn2, lost_update_frac=lost, stale_w_frac=stale, counts=counts.counts,
                      final_loss=float(final_loss), final_grad_norm2=float(final_gn2), meta=meta, diverged_at=diverged_at)


__all__ = ["run"]
