"""``qbound run`` / ``qbound sweep`` / ``qbound plot``: quantized optimizer experiments.

Thin glue over numeric.harness, numeric.sweep and qbound.app.plots (imported inside the handlers).
"""
from __future__ import annotations

import json

OPTIMIZER_NAMES = ("adam", "adam-torch", "adamw", "muon", "sgdm")
PROBLEM_NAMES = ("rosenbrock", "quadratic", "digits-logreg", "digits-mlp", "matrix-ls")


def register(sub):
    p = sub.add_parser("run", help="run one quantized optimizer on a problem and record the trajectory",
                       description="Run OPTIMIZER on a problem with the given quantization plan. Example: "
                                   "qbound run adam --problem rosenbrock --quant V=bf16 --steps 2000 --seed 0 --out run.json")
    p.add_argument("optimizer", help=f"one of: {', '.join(OPTIMIZER_NAMES)}")
    p.add_argument("--problem", default="rosenbrock", help=f"one of: {', '.join(PROBLEM_NAMES)} (default rosenbrock)")
    p.add_argument("--problem-args", default="", metavar="K=V,...", help="problem keywords, e.g. d=10,sigma=0.1")
    p.add_argument("--quant", default="", metavar="PLAN",
                   help="e.g. W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16[,master=stored][,update=fp32]; empty = float64")
    p.add_argument("--hp", default="", metavar="K=V,...", help="optimizer hyperparameters, e.g. lr=1e-3,beta2=0.999")
    p.add_argument("--lr", type=float, default=None, help="learning rate (shortcut for --hp lr=...)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE", help="write the trajectory as JSON")
    p.add_argument("--states", action="store_true", help="record per-step states (x, xq, g, m, v) into --out")
    p.add_argument("--reference", action="store_true",
                   help="also repeat the unquantized run in mpmath (rosenbrock/quadratic without noise; adam, "
                        "adam-torch, sgdm) and report the float64 path's own error")
    _add_backend_args(p)
    p.set_defaults(func=cmd_run)

    s = sub.add_parser("sweep", help="grid of runs (optimizer x component x mantissa bits x seed), parallel, resumable",
                       description="Each grid point quantizes one component to the IEEE-like format e<exp-bits>m<bits> "
                                   "(default e8: the range of fp32, so only the precision varies). Results are appended "
                                   "to a JSON Lines store (header, one checksummed record per run); rerunning skips "
                                   "finished runs and recomputes damaged records. Exit status: 0; 1 when a write "
                                   "failed or a worker died (the store is kept); 2 for bad input; 130 on SIGINT, "
                                   "143 on SIGTERM (workers stopped, store kept: rerun to resume).")
    s.add_argument("--problem", default="rosenbrock")
    s.add_argument("--problem-args", default="", metavar="K=V,...")
    s.add_argument("--optimizers", default="adam,muon", help="comma-separated optimizer names")
    s.add_argument("--hp", action="append", default=[], metavar="OPT:K=V,...",
                   help="hyperparameters of one optimizer, e.g. --hp adam:lr=1e-2 --hp muon:lr=0.02 (repeatable)")
    s.add_argument("--components", default="W,G,M,V", help="subset of W,G,M,V,all (default W,G,M,V)")
    s.add_argument("--bits", default="1-10", help="mantissa lengths, e.g. 1-10 or 2,4,7")
    s.add_argument("--exp-bits", type=int, default=8, help="exponent bits of the swept formats (default 8)")
    s.add_argument("--rounding", default="rne")
    s.add_argument("--seeds", default="0", help="e.g. 0-4")
    s.add_argument("--steps", type=int, default=500)
    s.add_argument("--master", default="fp64", help="fp64 (paper) or stored")
    s.add_argument("--no-baseline", action="store_true", help="skip the unquantized baseline runs")
    s.add_argument("--workers", type=int, default=1, help="worker processes (results do not depend on it)")
    s.add_argument("--out", default="sweep.jsonl", metavar="FILE.jsonl")
    from qbound.app.dask_runner import add_argument as add_dask_argument
    add_dask_argument(s)  # --dask local[:N] | tcp://HOST:PORT
    _add_backend_args(s)
    s.set_defaults(func=cmd_sweep)

    q = sub.add_parser("plot", help="PNG plots of a sweep: ||grad||^2 vs step, final ||grad||^2 vs mantissa bits")
    q.add_argument("results", metavar="FILE.jsonl")
    q.add_argument("--out-dir", default="plots")
    q.add_argument("--metric", default="final_grad_norm2",
                   help="summary metric for the bits plot (final_grad_norm2, tail_grad_norm2, mean_grad_norm2, final_loss...)")
    q.add_argument("--select", action="append", default=[], metavar="FIELD=VALUE",
                   help="plot only records whose config has FIELD=VALUE (repeatable), e.g. --select steps=300; "
                        "needed when the file holds several sweeps, which are never averaged together")
    q.set_defaults(func=cmd_plot)


def _add_backend_args(p):
    from qbound.app.commands.torch_cmds import add_backend_args  # --backend numpy|torch, --device (torch_cmds.py)
    add_backend_args(p)


def _check_name(name, accepted, what):
    from qbound.numeric.errors import InputError, did_you_mean
    if name not in accepted:
        hint = did_you_mean(name, accepted, n=2, cutoff=0.4)
        raise InputError(f"unknown {what} {name!r}.{hint} Accepted: {', '.join(accepted)}.")


def cmd_run(args):
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from qbound.numeric.harness import build_optimizer, build_plan, build_problem, check_run_size, check_seed, \
        check_steps, run
    from qbound.numeric.sweep import parse_kv

    steps = check_steps(args.steps, "--steps")
    check_seed(args.seed, "--seed")
    from qbound.app.commands.torch_cmds import cmd_run_torch, wants_torch
    if wants_torch(args):  # the PyTorch backend (qbound/app/commands/torch_cmds.py)
        return cmd_run_torch(args)
    problem = build_problem(args.problem, parse_kv(args.problem_args))
    hp = parse_kv(args.hp)
    if args.lr is not None:
        hp["lr"] = args.lr
    opt = build_optimizer(args.optimizer, hp)
    plan = build_plan(args.quant)
    check_run_size(problem, steps, args.states)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as prog:
        task = prog.add_task(f"{opt.name} on {problem.name} [{plan}]", total=args.steps)
        tr = run(problem, opt, plan, args.steps, args.seed, record_states=args.states,
                 progress=lambda k: prog.update(task, completed=k + 1))
    if args.out:
        tr.save(args.out, include_states=args.states)
    s = tr.summary()
    table = Table(title=f"qbound run {opt.name} --problem {problem.name} --quant {plan}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in s.items():
        if k == "counts":
            for comp, kinds in v.items():
                nz = {kk: vv for kk, vv in kinds.items() if vv}
                if nz:
                    table.add_row(f"counts.{comp}", json.dumps(nz))
            continue
        table.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    table.add_row("seconds", f"{tr.meta['seconds']:.3g}")
    ref = None
    if args.reference:
        from qbound.numeric.reference import reference_run
        ref = reference_run(problem, opt, args.steps)
        table.add_row("reference: max |x_float64 - x_exact|", f"{ref['max_x_err']:.3g}")
        table.add_row("reference: max rel. error of ||grad||^2", f"{ref['max_grad_norm2_rel_err']:.3g}")
        table.add_row("reference: final ||grad||^2 exact", f"{ref['final_grad_norm2_exact']:.6g}")
    Console().print(table)
    if args.out and ref is not None:
        with open(args.out) as fh:
            d = json.load(fh)
        d["reference"] = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in ref.items()}
        from qbound.numeric.jsonlstore import atomic_file
        with atomic_file(args.out) as fh:  # a failed write leaves the trajectory written above whole
            json.dump(d, fh, sort_keys=True, indent=1)
    if args.out:
        print(f"wrote {args.out}")
    return 0


def cmd_sweep(args):
    from qbound.numeric.errors import InputError
    from qbound.numeric.sweep import SweepSpec, parse_int_list, parse_kv, run_sweep

    optimizers = tuple(o.strip().lower() for o in args.optimizers.split(",") if o.strip())
    for o in optimizers:
        _check_name(o, OPTIMIZER_NAMES, "optimizer")
    hparams: dict = {}
    for item in args.hp:
        if ":" not in item:
            raise InputError(f"--hp takes OPT:K=V,..., e.g. adam:lr=1e-2; got {item!r}")
        o, kv = item.split(":", 1)
        o = o.strip().lower()
        _check_name(o, OPTIMIZER_NAMES, "optimizer")
        hparams.setdefault(o, {}).update(parse_kv(kv))
    comps = tuple(c.strip().lower() if c.strip().lower() == "all" else c.strip().upper()
                  for c in args.components.split(",") if c.strip())
    from qbound.numeric.harness import check_steps
    check_steps(args.steps, "--steps", lo=1)
    from qbound.app.commands.torch_cmds import cmd_sweep_torch, wants_torch
    if wants_torch(args):  # the PyTorch backend (qbound/app/commands/torch_cmds.py): same store and records
        return cmd_sweep_torch(args, optimizers, hparams, comps, tuple(parse_int_list(args.bits, "mantissa bits", lo=1, hi=52)),
                               tuple(parse_int_list(args.seeds, "seeds", lo=0)))
    spec = SweepSpec(problem=args.problem, problem_kw=parse_kv(args.problem_args), optimizers=optimizers,
                     hparams=hparams, components=comps,
                     bits=tuple(parse_int_list(args.bits, "mantissa bits", lo=1, hi=52)),
                     exp_bits=args.exp_bits, rounding=args.rounding,
                     seeds=tuple(parse_int_list(args.seeds, "seeds", lo=0)), steps=args.steps, master=args.master,
                     baseline=not args.no_baseline)
    configs = spec.configs()
    if getattr(args, "dask", None):  # on a Dask cluster instead of the local pool (same store, same records)
        from qbound.app.dask_runner import cli_sweep
        recs, rc = cli_sweep(args, configs, run_sweep)
        if recs:
            print(f"{len(recs)} runs in {args.out} ({len(configs)} in the grid)")
        return rc
    recs = run_sweep(configs, args.out, workers=args.workers, progress=True)
    print(f"{len(recs)} runs in {args.out} ({len(configs)} in the grid)")
    return 0


def cmd_plot(args):
    from qbound.app.plots import plot_sweep, select_records
    from qbound.numeric.sweep import load_results

    recs = select_records(load_results(args.results), args.select)
    paths = plot_sweep(recs, args.out_dir, metric=args.metric)
    for p in paths:
        print(f"wrote {p}")
    return 0
