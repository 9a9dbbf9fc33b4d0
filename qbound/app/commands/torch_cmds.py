"""``qbound run/sweep --backend torch --device cpu|cuda``: the PyTorch backend behind the same commands.

``--backend torch`` runs the torch quantized optimizers (qbound.numeric.pytorch) on a torch workload
(``--problem charlm`` or ``digits-cnn``, ``--problem-args preset=tiny|cpu|gpu,...``) or on a problem of
the numpy harness; the run JSON, the sweep store (same records, resume, ``qbound plot``) and the
summary table are those of the numpy backend. torch is imported only here, inside the handlers.
"""
from __future__ import annotations

import json

BACKENDS = ("numpy", "torch")


def add_backend_args(p) -> None:
    """The two options, added to the parsers of ``run`` and ``sweep``."""
    p.add_argument("--backend", default="numpy", type=str.lower,
                   help="numpy (default: the bit-exact numpy harness) or torch (qbound.numeric.pytorch; needs "
                        "pip install \"qbound[torch]\"; adds the workloads charlm and digits-cnn)")
    p.add_argument("--device", default="cpu", help="torch device for --backend torch: cpu (default), cuda, cuda:N")


def wants_torch(args) -> bool:
    from qbound.numeric.errors import check_choice
    backend = check_choice(getattr(args, "backend", "numpy"), BACKENDS, what="backend")
    if backend == "numpy":
        from qbound.numeric.pytorch.sweep import is_workload
        if is_workload(args.problem):
            from qbound.numeric.errors import InputError
            raise InputError(f"--problem {args.problem} is a torch workload: add --backend torch")
        if str(getattr(args, "device", "cpu")).lower() != "cpu":
            from qbound.numeric.errors import InputError
            raise InputError("--device applies to --backend torch only")
    return backend == "torch"


def _torch_or_exit():
    from qbound.numeric.errors import InputError
    from qbound.numeric.pytorch import TorchMissing, require_torch
    try:
        return require_torch()
    except TorchMissing as exc:
        raise InputError(str(exc)) from None


def cmd_run_torch(args):
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from qbound.numeric.harness import build_plan
    from qbound.numeric.pytorch.sweep import check_device, is_workload
    from qbound.numeric.sweep import parse_kv

    _torch_or_exit()
    device = check_device(args.device)
    hp = parse_kv(args.hp)
    if args.lr is not None:
        hp["lr"] = args.lr
    plan = build_plan(args.quant)
    pkw = parse_kv(args.problem_args)
    opt = str(args.optimizer).strip().lower()
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as prog:
        task = prog.add_task(f"{opt} on {args.problem} [{plan}] (torch, {device})", total=args.steps)
        cb = lambda k: prog.update(task, completed=k + 1)  # noqa: E731
        if is_workload(args.problem):
            from qbound.numeric.pytorch.workloads import train
            tr = train(args.problem, opt, plan, args.steps, args.seed, hparams=hp, workload_kw=pkw, device=device,
                       progress=cb, eval_every=max(1, args.steps // 10))
        else:
            from qbound.numeric.pytorch.harness import run
            tr = run(args.problem, opt, plan, args.steps, args.seed, hparams=hp, problem_kw=pkw, device=device,
                     progress=cb)
    if args.out:
        tr.save(args.out)
    s = tr.summary()
    table = Table(title=f"qbound run {opt} --problem {args.problem} --quant {plan} --backend torch --device {device}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    if is_workload(args.problem):
        table.add_row("final_loss = validation loss", f"{tr.final_loss:.6g}")
    for k, v in s.items():
        if k == "counts":
            for comp, kinds in v.items():
                nz = {kk: vv for kk, vv in kinds.items() if vv}
                if nz:
                    table.add_row(f"counts.{comp}", json.dumps(nz))
            continue
        table.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    if tr.meta.get("tokens_per_second"):
        table.add_row("tokens/s (training steps)", f"{tr.meta['tokens_per_second']:.4g}")
    if tr.meta.get("v_stats"):
        table.add_row("v never decreased (coords)", str(tr.meta["v_stats"].get("never_decreased_coords")))
    table.add_row("seconds", f"{tr.meta['seconds']:.3g}")
    Console().print(table)
    if args.out:
        print(f"wrote {args.out}")
    return 0


def cmd_sweep_torch(args, optimizers, hparams, comps, bits, seeds):
    from qbound.numeric.pytorch.sweep import executor, torch_configs
    from qbound.numeric.sweep import parse_kv, run_sweep

    _torch_or_exit()
    configs = torch_configs(args.problem, parse_kv(args.problem_args), optimizers, hparams, comps, bits, args.exp_bits,
                            args.rounding, seeds, args.steps, args.master, not args.no_baseline, args.device)
    recs = run_sweep(configs, args.out, workers=1, progress=False, executor=executor)
    print(f"{len(recs)} runs in {args.out} ({len(configs)} in the grid; torch backend, {configs[0]['device'] if configs else ''})")
    return 0
