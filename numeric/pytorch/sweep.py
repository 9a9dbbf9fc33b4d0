"""Sweeps on the torch backend: the same grid, store, resume and plots as :mod:`qbound.numeric.sweep`.

:func:`torch_configs` builds the grid of :class:`qbound.numeric.sweep.SweepSpec` (baseline, then one
component quantized to ``e<exp_bits>m<bits>`` per point) for a torch workload (``charlm``,
``digits-cnn``) or a numpy-harness problem run by the torch optimizers, with ``backend``, ``device``
and ``dtype`` in every config and in its key (so torch and numpy records never collide in one store).
:func:`run_config` runs one and returns the record :func:`qbound.numeric.sweep.run_config` would
(key, config, summary, trace, command, version, seconds). :func:`executor` is the hook that
:func:`qbound.numeric.sweep.run_sweep` accepts (``executor=``): it runs the units in this process, one
after the other (torch already uses the cores inside a run), writing each record as it finishes, so
an interrupted sweep resumes from the store like any other.
"""
from __future__ import annotations

import hashlib
import json

from qbound.numeric.errors import InputError
from qbound.numeric.quantplan import COMPONENTS, CompQuant, QuantPlan, mantissa_format

DEVICES_HELP = "cpu, cuda or cuda:N"

#: the names of qbound.numeric.pytorch.workloads.WORKLOADS (kept here so that asking does not import torch)
WORKLOAD_NAMES = ("charlm", "digits-cnn")


def is_workload(name: str) -> bool:
    return str(name) in WORKLOAD_NAMES


def check_device(device: str) -> str:
    d = str(device).strip().lower()
    if d == "cpu":
        return d
    if d == "cuda" or (d.startswith("cuda:") and d[5:].isdigit()):
        from qbound.numeric.pytorch._torch import require_torch
        if not require_torch().cuda.is_available():
            raise InputError(f"--device {device}: torch sees no CUDA device here (this torch is "
                             f"{require_torch().__version__}); use --device cpu")
        return d
    raise InputError(f"unknown device {device!r}. Accepted: {DEVICES_HELP}.")


def config_key(config: dict) -> str:
    fields = {k: config[k] for k in ("problem", "problem_kw", "optimizer", "hparams", "plan", "steps", "seed",
                                     "backend", "device", "dtype")}
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def torch_configs(problem: str, problem_kw: dict, optimizers, hparams: dict, components, bits, exp_bits: int,
                  rounding: str, seeds, steps: int, master: str = "fp64", baseline: bool = True,
                  device: str = "cpu", dtype: str | None = None) -> list[dict]:
    """The grid (same order as SweepSpec.configs) for the torch backend."""
    device = check_device(device)
    wl = is_workload(problem)
    dtype = dtype or ("float32" if wl else "float64")
    if int(steps) < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    if wl:
        from qbound.numeric.pytorch.workloads import make_workload
        pspec = make_workload(problem, **problem_kw).spec()
    else:
        from qbound.numeric.problems import make_problem
        pspec = make_problem(problem, **problem_kw).spec()
    pname = pspec.pop("name")
    CompQuant.parse(f"fp32:{rounding}")
    out = []
    for oname in optimizers:
        from qbound.numeric.pytorch.optim import TORCH_OPTIMIZERS
        if oname not in TORCH_OPTIMIZERS:
            from qbound.numeric.errors import did_you_mean
            raise InputError(f"unknown optimizer {oname!r}.{did_you_mean(oname, TORCH_OPTIMIZERS)} "
                             f"Accepted: {', '.join(TORCH_OPTIMIZERS)}.")
        for seed in seeds:
            base = {"problem": pname, "problem_kw": pspec, "optimizer": oname, "hparams": dict(hparams.get(oname, {})),
                    "steps": int(steps), "seed": int(seed), "backend": "torch", "device": device, "dtype": dtype}
            if baseline:
                out.append({**base, "component": "none", "man_bits": None, "exp_bits": None, "rounding": None,
                            "plan": str(QuantPlan())})
            for comp in components:
                if comp not in COMPONENTS + ("all",):
                    raise InputError(f"unknown sweep component {comp!r}. Accepted: {', '.join(COMPONENTS + ('all',))}.")
                for b in bits:
                    cq = CompQuant.parse(f"{mantissa_format(b, exp_bits).name}:{rounding}")
                    comps = COMPONENTS if comp == "all" else (comp,)
                    if master == "stored" and "W" not in comps:
                        raise InputError("master=stored needs W among the quantized components")
                    plan = QuantPlan(**{c: cq for c in comps}, master=master)
                    out.append({**base, "component": comp, "man_bits": int(b), "exp_bits": int(exp_bits),
                                "rounding": rounding, "plan": str(plan)})
    for c in out:
        c["key"] = config_key(c)
    return out


def run_one(config: dict):
    """The Trajectory of one config (workload or numpy problem)."""
    kw = dict(config["problem_kw"])
    if is_workload(config["problem"]):
        from qbound.numeric.pytorch.workloads import train
        return train(config["problem"], config["optimizer"], config["plan"], config["steps"], config["seed"],
                     hparams=config["hparams"], workload_kw=kw, device=config["device"], dtype=config["dtype"])
    from qbound.numeric.pytorch.harness import run
    return run(config["problem"], config["optimizer"], config["plan"], config["steps"], config["seed"],
               hparams=config["hparams"], problem_kw=kw, device=config["device"], dtype=config["dtype"])


def run_config(config: dict) -> dict:
    from qbound.numeric.sweep import _subsample
    tr = run_one(config)
    steps_idx, gvals = _subsample(tr.grad_norm2)
    _, lvals = _subsample(tr.loss)
    rec = {"key": config["key"], "config": {k: v for k, v in config.items() if k != "key"}, "summary": tr.summary(),
           "trace": {"step": steps_idx, "grad_norm2": gvals, "loss": lvals}, "command": tr.meta["command"],
           "version": tr.meta["version"], "seconds": tr.meta["seconds"]}
    for k in ("tokens_per_second", "val_curve"):
        if k in tr.meta:
            rec[k] = tr.meta[k]
    return rec


def executor(_numpy_runner, todo, write, reused: int = 0, progress: bool = True):
    """The ``executor=`` hook of numeric.sweep.run_sweep: run the torch units here, in order."""
    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        bar = Progress(TextColumn("[bold]sweep (torch)"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       TextColumn("{task.description}"))
        bar.start()
        task = bar.add_task(f"{reused} already done", total=len(todo) + reused, completed=reused)
    try:
        for c in todo:
            write(run_config(c))
            if bar:
                bar.update(task, advance=1, description=f"{c['optimizer']} {c['component']} m={c['man_bits']} seed={c['seed']}")
    finally:
        if bar:
            bar.stop()


__all__ = ["torch_configs", "run_config", "run_one", "executor", "config_key", "check_device", "is_workload"]
