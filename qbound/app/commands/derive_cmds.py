"""Subcommands of the theory layer: ``derive``, ``mantissa``, ``floor``, ``check-config``.

    qbound derive adam|muon [--latex] [--json FILE] [--quick] [--certificates DIR [--recheck]] [--mutants]
    qbound mantissa adam|muon --T 10000 [--tol 1] [--rounding rtz] [--json FILE]
    qbound floor adam|muon --quant W=bf16,V=bf16 [--beta1 0] [--json FILE]
    qbound check-config adam --quant ... --beta1 0.9 --beta2 0.999 --lr 1e-3 --eps 1e-8 --T 100000 [--problem rosenbrock]

Numbers on the command line are parsed with float(); plan strings with the plan parser; nothing
is passed to sympify/parse_expr.
"""
from __future__ import annotations

import json

from qbound.numeric.errors import InputError, finite_float

NAMES = ("adam", "muon")


def _name(text):
    from qbound.bounds.evaluate import check_name
    return check_name(text)


def _num(text, what):
    return finite_float(text, what=what)


def _write_json(path, obj):
    from qbound.app.cli import version
    if isinstance(obj, dict):
        obj.setdefault("version", version())
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=str)


def register(sub):
    p = sub.add_parser("derive", help="derive a convergence bound step by step (SymPy), with checks")
    p.add_argument("name", help="adam or muon")
    p.add_argument("--latex", action="store_true", help="print the bound and conditions as LaTeX")
    p.add_argument("--json", metavar="FILE", help="write steps, checks, bound, conditions, asymptotic table")
    p.add_argument("--quick", action="store_true", help="fewer sampled points (2000) and no trajectory check")
    p.add_argument("--exact", action="store_true", help="evaluate every sampled point in mpmath (slow), not only the worst")
    p.add_argument("--certificates", metavar="DIR", help="write every solver obligation as a standalone SMT-LIB2 file + index.json")
    p.add_argument("--recheck", action="store_true", help="with --certificates: re-check each file with the other solver (cvc5 or z3)")
    p.add_argument("--recheck-timeout", default="10", help="seconds per file for the second solver (default 10)")
    p.add_argument("--mutants", action="store_true", help="mutation testing of the proof: generated wrong variants must not be proved")
    p.add_argument("--mutant-timeout", default="5", help="seconds per changed obligation of a mutant (default 5)")
    p.add_argument("--mutant-limit", default=None, help="evaluate only the first N generated mutants")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the on-disk obligation cache")
    p.add_argument("--cache-dir", default=None, help="obligation cache directory (default $QBOUND_CACHE_DIR or ~/.cache/qbound/obligations)")
    p.set_defaults(func=run_derive)

    p = sub.add_parser("mantissa", help="mantissa bits each component needs for a horizon T")
    p.add_argument("name", help="adam or muon")
    p.add_argument("--T", required=True, help="number of iterations")
    p.add_argument("--tol", default="1", help="allowed relative increase of the bound (default 1 = at most doubles)")
    p.add_argument("--rounding", default="rtz", help="rounding mode of the hypothetical formats (default rtz = the paper's 2^-M)")
    p.add_argument("--beta1", default=None, help="Adam's beta1 (default 0: the fully derived bound)")
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=run_mantissa)

    p = sub.add_parser("floor", help="fixed-precision error floor of the bound for a plan (T -> oo)")
    p.add_argument("name", help="adam or muon")
    p.add_argument("--quant", default="", help="plan, e.g. W=bf16,G=fp8_e5m2:sr,M=bf16,V=bf16")
    p.add_argument("--beta1", default="0", help="Adam's beta1 (0: the beta1 = 0 bound; > 0: the derived quantized momentum bound)")
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=run_floor)

    p = sub.add_parser("check-config", help="evaluate every premise and condition of a bound for one configuration")
    p.add_argument("name", help="adam or muon")
    p.add_argument("--quant", default="", help="plan, e.g. W=bf16,V=bf16")
    p.add_argument("--beta1"); p.add_argument("--beta2"); p.add_argument("--lr"); p.add_argument("--eps")
    p.add_argument("--beta", help="Muon momentum")
    p.add_argument("--T", required=True)
    p.add_argument("--problem", help="numeric problem name for the constants (e.g. rosenbrock)")
    for k in ("R", "L", "d", "Delta", "X0", "sigma", "B", "r", "W0"):
        p.add_argument(f"--{k}", dest=f"const_{k}", help=f"problem constant {k} (overrides --problem)")
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=run_check_config)


def run_derive(args):
    from rich.console import Console
    from rich.table import Table
    from qbound import bounds
    from qbound.bounds import obligation as OB
    name = _name(args.name)
    kw = {"n": 2000, "trajectory": False} if args.quick else {}
    if args.exact:
        kw["exact_all"] = True
    if args.recheck and not args.certificates:
        raise InputError("--recheck needs --certificates DIR")
    rt = _num(args.recheck_timeout, "--recheck-timeout")
    if rt <= 0:
        raise InputError(f"--recheck-timeout must be > 0, got {args.recheck_timeout!r}")
    mt = _num(args.mutant_timeout, "--mutant-timeout")
    if mt <= 0:
        raise InputError(f"--mutant-timeout must be > 0, got {args.mutant_timeout!r}")
    limit = None
    if args.mutant_limit is not None:
        try:
            limit = int(args.mutant_limit)
        except ValueError:
            raise InputError(f"--mutant-limit must be a positive integer, got {args.mutant_limit!r}") from None
        if limit < 1:
            raise InputError(f"--mutant-limit must be a positive integer, got {args.mutant_limit!r}")
    if not args.no_cache:
        OB.use_disk_cache(args.cache_dir or OB.default_cache_dir())
    der = bounds.derive(name, **kw)
    con = Console()
    t = Table(title=f"qbound derive {name}  (status: {der.status}, {der.seconds:.1f} s)")
    for c in ("step", "check", "status", "proof", "worst margin", "statement"):
        t.add_column(c, overflow="fold")
    for s in der.steps:
        wm = "" if s.worst_margin is None else f"{s.worst_margin:.3g}"
        t.add_row(s.name + (" (cited)" if s.cited else ""), s.check, s.status, s.proof_status, wm, s.statement)
    con.print(t)
    ps = der.proof_summary()
    con.print(f"[bold]proof[/bold]: {ps['steps_proved']}/{ps['steps_total']} steps proved by an engine; "
              f"{ps['obligations']} obligations/inductions, {len(ps['rule_applications'])} rule applications"
              + (f"; unproved: {', '.join(u['step'] for u in ps['unproved'])}" if ps["unproved"] else ""))
    if args.certificates:
        from qbound.bounds.certificates import derivation_pairs, write_certificates
        idx = write_certificates(derivation_pairs(der), args.certificates, recheck=args.recheck, derivation=name, timeout_s=rt)
        con.print(f"wrote {idx['count']} SMT-LIB2 certificates and index.json to {args.certificates}"
                  + (f"; recheck: {idx['recheck_summary']['agree']}/{idx['count']} unsat by the second solver"
                     + (f", not confirmed: {idx['recheck_summary']['disagree_or_unknown']}" if idx['recheck_summary']['disagree_or_unknown'] else "")
                     if args.recheck else ""))
        der.extras["_certificates"] = {"dir": args.certificates, "count": idx["count"],
                                       "recheck": idx.get("recheck_summary")}
    if args.mutants:
        from qbound.bounds import mutants as MU
        build, key, base = MU.factory(name)
        res = MU.run(build, key, base, timeout_s=mt, limit=limit)
        der.extras["_mutants"] = res
        if not args.no_cache:
            MU.record(name, res, OB.DEFAULT_CACHE.path)
        con.print(f"[bold]mutants[/bold]: {res['killed']}/{res['total']} killed (kill rate {res['kill_rate']:.1%}, {res['seconds']:.0f} s)")
        for m in res["survivors"][:40]:
            con.print(f"  [yellow]survivor[/yellow] {m['kind']}: {m['name']}")
    cited = [p for p in der.premises if p.kind == "cited"]
    for p in cited:
        con.print(f"[yellow]cited premise[/yellow] {p.name}: {p.statement} ({p.source})")
    con.print("[bold]bound[/bold]:", str(der.bound))
    if name == "adam":
        con.print("[bold]bound (beta1 = 0, fully derived)[/bold]:", str(der.extras["bound_beta1_0"]))
    con.print("[bold]conditions[/bold]:", "; ".join(str(c) for c in der.conditions))
    if args.latex:
        print(der.latex())
    if args.json:
        d = der.to_dict(asymptotics=bounds.rate_table(der.name, derivation=der))
        for k in ("_certificates", "_mutants"):
            if k in der.extras:
                d.setdefault("proof", {})[k[1:]] = der.extras[k]
        _write_json(args.json, d)
        con.print(f"wrote {args.json}")
    return 0 if der.status == "passed" else 1


def run_mantissa(args):
    from rich.console import Console
    from rich.table import Table
    from qbound.bounds.mantissa import required_bits
    name = _name(args.name)
    T = _num(args.T, "--T")
    consts = {}
    if args.beta1 is not None:
        if name != "adam":
            raise InputError("--beta1 applies to adam only")
        consts["beta1"] = _num(args.beta1, "--beta1")
    from qbound.numeric.formats import check_rounding
    res = required_bits(name, T, tol=_num(args.tol, "--tol"), rounding=check_rounding(args.rounding), constants=consts)
    t = Table(title=f"qbound mantissa {name} --T {T:g}  ({res['criterion']})")
    for c in ("component", "bits", "k (q = c T^-k)", "k log2 T", "const"):
        t.add_column(c)
    for X, c in res["components"].items():
        t.add_row(X, str(c["bits"]), str(c["k"]), "" if c["k_log2_T"] is None else f"{c['k_log2_T']:.2f}",
                  "" if c["const"] is None else f"{c['const']:.2f}")
    Console().print(t)
    if args.json:
        _write_json(args.json, res)
    return 0


def run_floor(args):
    from rich.console import Console
    from qbound.bounds.check_config import parse_plan
    from qbound.bounds.floor import error_floor
    name = _name(args.name)
    plan = parse_plan(args.quant)
    b1 = _num(args.beta1, "--beta1")
    if not 0 <= b1 < 1:
        raise InputError("--beta1 must be in [0, 1)")
    res = error_floor(name, plan, beta1=b1)
    con = Console()
    con.print(f"[bold]qbound floor {name}[/bold] plan {args.quant or '(none)'}  q = {res['q']}")
    con.print(f"constants: {res['constants']}   method: {res['method']}")

    def show(label, f):
        if f["finite"]:
            extra = {k: v for k, v in f.items() if k not in ("value", "finite")}
            con.print(f"  {label}: floor = {f['value']:.6g}  {extra}")
        else:
            con.print(f"  {label}: [red]no finite floor[/red]: {f['why']}")
    show("plan", res["floor"])
    for X, f in res.get("per_component", {}).items():
        show(f"{X} alone", f)
    if args.json:
        _write_json(args.json, res)
    return 0


def run_check_config(args):
    from rich.console import Console
    from qbound.bounds.check_config import check_config, parse_plan
    name = _name(args.name)
    hp = {}
    for k in ("beta1", "beta2", "lr", "eps", "beta"):
        v = getattr(args, k)
        if v is not None:
            hp[k] = _num(v, f"--{k}")
    consts = {}
    for k in ("R", "L", "d", "Delta", "X0", "sigma", "B", "r", "W0"):
        v = getattr(args, f"const_{k}")
        if v is not None:
            consts[k] = _num(v, f"--{k}")
    res = check_config(name, parse_plan(args.quant), hp, _num(args.T, "--T"), problem=args.problem, constants=consts)
    con = Console()
    con.print(f"[bold]qbound check-config {name}[/bold] plan {res['plan']} T = {res['T']:g}")
    if res.get("problem"):
        con.print(f"problem {res['problem']}: constants {res['problem_constants']}")
    for e in res["entries"]:
        mark = {True: "[green]holds[/green]", False: "[red]FAILS[/red]", None: "[yellow]unknown[/yellow]"}[e["holds"]]
        con.print(f"  {mark}  {e['item']}: {e['why']}")
    if res["bound"] is not None:
        con.print(f"[bold]bound value[/bold]: {res['bound']:.6g}   ({res['bound_note']})")
    else:
        con.print(f"[bold]bound[/bold]: {res['bound_note']}")
    if args.json:
        _write_json(args.json, res)
    return 0
