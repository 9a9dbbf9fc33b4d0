"""``qbound prove``: decide a custom claim, or run a lemma suite.

    qbound prove --claim "abs(rnd(a*b) - a*b) <= u/(1+u)*abs(a*b)" --format bf16 \
        --assume "tiny <= abs(a*b) <= huge"
    qbound prove --suite default [--format F]... [--rounding R]... [--json FILE] [--latex FILE]

Exit status: 0 when every verdict is as expected (custom claims: proved), 1 otherwise, 2 on bad input.
"""
from __future__ import annotations

import json
import sys


def register(sub):
    p = sub.add_parser("prove", help="decide rounding lemmas (custom --claim or a --suite)")
    p.add_argument("--claim", help="claim text (see proofs.claims for the language)")
    p.add_argument("--suite", help="run a lemma suite: default | quick")
    p.add_argument("--format", action="append", dest="formats", metavar="F",
                   help="target format (custom claim: exactly one; suite: repeatable)")
    p.add_argument("--rounding", action="append", dest="roundings", metavar="R",
                   help="rounding mode (rne rna rtz rup rdn sr); suite: repeatable")
    p.add_argument("--var-format", help="format the claim's variables range over (default: --format)")
    p.add_argument("--assume", action="append", default=[], metavar="EXPR", help="hypothesis (repeatable)")
    p.add_argument("--const", action="append", default=[], metavar="NAME=VALUE",
                   help="constant (custom claims: exact decimal; suite: beta1, beta2, lr, eps)")
    p.add_argument("--engine", default="auto", help="auto | exhaustive | z3 | bitwuzla | cvc5")
    p.add_argument("--timeout", type=_timeout, default=30.0,
                   help="seconds for the whole decision of a claim (suite: per query); positive, finite (default 30)")
    p.add_argument("--explain", action="store_true",
                   help="custom claim: print the plan (methods by predicted cost, why others do not apply) and what was tried")
    p.add_argument("--cross-check", action="store_true",
                   help="custom claim: decide again with a second method; a disagreement is an error (exit 1), never a verdict")
    p.add_argument("--smt2-dir", help="write every SMT query (custom claim or suite) as SMT-LIB2 files here")
    p.add_argument("--jobs", type=int, default=2, help="suite: worker processes (default 2; results identical)")
    p.add_argument("--json", metavar="FILE",
                   help="write the results as one JSON document (a suite: {schema, results: [...]})")
    p.add_argument("--jsonl", metavar="FILE",
                   help="suite only: stream one JSON record per (lemma, format, rounding) line as each is decided")
    p.add_argument("--latex", metavar="FILE", help="write a LaTeX table of the proved statements")
    p.set_defaults(func=run)


def _timeout(text):
    import argparse
    import math
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive finite number of seconds, got {text!r}")
    return t


def run(args) -> int:
    from qbound.numeric.errors import InputError
    if bool(args.claim) == bool(args.suite):
        raise InputError("give exactly one of --claim EXPR or --suite NAME")
    if args.claim:
        return _claim(args)
    return _suite(args)


def _meta(args):
    from qbound.app.cli import version
    return {"qbound_version": version(), "command": "qbound " + " ".join(sys.argv[1:])}


def _claim(args) -> int:
    from qbound.numeric.errors import InputError
    from qbound.proofs import prove
    from qbound.proofs.claims import parse_const
    fmts = args.formats or []
    if len(fmts) != 1:
        raise InputError("a custom claim needs exactly one --format")
    rnds = args.roundings or ["rne"]
    if len(rnds) != 1:
        raise InputError("a custom claim takes one --rounding")
    from qbound.proofs.planner import Disagreement
    consts = dict(parse_const(c) for c in args.const)
    if args.smt2_dir:
        import os
        if os.path.exists(args.smt2_dir) and not os.path.isdir(args.smt2_dir):
            raise InputError(f"--smt2-dir {args.smt2_dir!r} exists and is not a directory")
    try:
        v = prove(args.claim, fmts[0], rnds[0], assume=args.assume, consts=consts, engine=args.engine,
                  timeout=args.timeout, smt2_dir=args.smt2_dir, var_format=args.var_format,
                  explain=getattr(args, "explain", False), cross_check=getattr(args, "cross_check", False))
    except Disagreement as exc:
        from rich.console import Console
        Console(stderr=True).print(f"[bold red]ERROR[/] {exc}")
        return 1
    rec = {"claim": args.claim, "assume": args.assume, "format": fmts[0], "rounding": rnds[0],
           "consts": {k: str(v_) for k, v_ in consts.items()}, "engine_requested": args.engine,
           "verdict": v.to_dict(), **_meta(args)}
    _print_claim(rec)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
    return 0 if v.status == "proved" else 1


def _print_claim(rec):
    from rich.console import Console
    from rich.table import Table
    v = rec["verdict"]
    con = Console()
    if not con.is_terminal:
        con = Console(width=160)
    color = {"proved": "green", "falsified": "red", "unknown": "yellow"}[v["status"]]
    label = "PROVED, VACUOUSLY (no value satisfies the hypotheses)" if v.get("vacuous") else v["status"].upper()
    con.print(f"[bold {color}]{label}[/] by {v['engine']} {v['engine_version']} in {v['seconds']:.3f} s (wall time of the whole decision)")
    con.print(f"claim: {rec['claim']}   format {rec['format']}  rounding {rec['rounding']}")
    for a in rec["assume"]:
        con.print(f"assume: {a}")
    if v["reason"]:
        con.print(f"reason: {v['reason']}")
    det = v.get("details") or {}
    if det.get("explain"):
        con.print(det["explain"], markup=False, highlight=False)
    if det.get("cross_check"):
        cc = det["cross_check"]
        con.print(f"cross-check: {cc.get('method') or 'none'} -> {cc.get('status')}"
                  + (" (agrees)" if cc.get("agrees") else f" {cc.get('note', '')}"))
    if det.get("smt2"):
        con.print(f"SMT-LIB2: {det['smt2']}" + (f"\nreplay: {det['replay']}" if det.get("replay") else ""),
                  markup=False, highlight=False)
    cx = v["counterexample"]
    if cx:
        t = Table(title="counterexample")
        t.add_column("name", no_wrap=True)
        t.add_column("value (exact in the format)", no_wrap=True)
        t.add_column("hex", no_wrap=True)
        for k, val in cx.items():
            if isinstance(val, dict) and "hex" in val:
                t.add_row(k, str(val.get("sci") or val.get("decimal")), str(val["hex"]))
        for k, val in (cx.get("rounded") or {}).items():
            t.add_row(k, str(val["value"]), str(val["hex"]) + (f"  sr: {val['sr']}" if val.get("sr") else ""))
        t.add_row("lhs", str(cx.get("lhs")), "")
        t.add_row("rhs", str(cx.get("rhs")), "")
        if cx.get("excess") is not None:
            t.add_row("lhs - rhs", str(cx.get("excess")), "exact values in the JSON (lhs_exact, rhs_exact)")
        con.print(t)


def _write_json_atomic(path, doc) -> None:
    """One JSON document, written to a temporary file beside ``path`` and renamed over it."""
    import os
    import tempfile
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".qbound-", suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, sort_keys=True, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _suite(args) -> int:
    import time
    from qbound.proofs.claims import parse_const
    from qbound.proofs.suite import run_suite
    consts = {k: float(v) for k, v in (parse_const(c) for c in args.const)}
    meta = _meta(args)
    from qbound.numeric.jsonlstore import JsonLines
    fh = JsonLines(args.jsonl) if args.jsonl else None
    t0 = time.perf_counter()
    records = []

    def on_result(r):
        rec = r.to_dict()
        rec.update(meta)
        records.append(rec)
        if fh:
            fh.write(rec)  # the whole line or nothing (a full disk leaves no partial record)
    try:
        res = run_suite(args.suite, formats=args.formats, roundings=args.roundings, progress=True,
                        consts=consts, timeout=args.timeout, on_result=on_result, smt2_dir=args.smt2_dir,
                        jobs=max(1, args.jobs))
    finally:
        if fh:
            fh.close()
    wall = time.perf_counter() - t0
    if args.json:
        _write_json_atomic(args.json, {"schema": "qbound.prove/1", "suite": args.suite, "results": records})
    _print_suite(res, wall)
    if args.latex:
        with open(args.latex, "w") as f:
            f.write(latex_table(res))
    return 0 if not any(r.surprise for r in res) else 1


def _print_suite(res, wall):
    from collections import Counter
    from rich.console import Console
    from rich.table import Table
    con = Console()
    if not con.is_terminal:
        con = Console(width=150)
    t = Table(title="qbound prove: lemma suite")
    for c in ("lemma", "format", "mode", "verdict", "expected", "engine", "s"):
        t.add_column(c, overflow="fold", no_wrap=c in ("lemma", "verdict"))
    for r in res:
        st = r.verdict.status
        color = "red" if r.surprise else {"proved": "green", "falsified": "cyan", "unknown": "yellow"}[st]
        t.add_row(r.lemma_id, r.format, r.rounding, f"[{color}]{st}{' (SURPRISE)' if r.surprise else ''}[/]",
                  r.expected, r.verdict.engine, f"{r.verdict.seconds:.2f}")
    con.print(t)
    cnt = Counter(r.verdict.status for r in res)
    sur = [r for r in res if r.surprise]
    con.print(f"{len(res)} results: {dict(cnt)}; wall {wall:.1f} s")
    if sur:
        con.print(f"[bold red]{len(sur)} SURPRISES[/] (verdict differs from the library's expectation):")
        for r in sur:
            con.print(f"  [red]{r.lemma_id} {r.format} {r.rounding}: {r.verdict.status} (expected {r.expected}) "
                      f"{r.verdict.reason[:120]}[/]")


def latex_table(res) -> str:
    """LaTeX table of the proved statements."""
    def esc(s):
        return (str(s).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("&", r"\&")
                .replace("%", r"\%").replace("#", r"\#").replace("$", r"\$").replace("{", r"\{").replace("}", r"\}"))
    lines = [r"\begin{tabular}{llllp{7cm}l}", r"\hline",
             r"lemma & format & mode & verdict & statement & engine \\", r"\hline"]
    for r in res:
        if r.verdict.status != "proved":
            continue
        lines.append(f"{esc(r.lemma_id)} & {esc(r.format)} & {esc(r.rounding)} & proved & "
                     f"\\texttt{{{esc(r.statement)}}} & {esc(r.verdict.engine)} \\\\")
    lines += [r"\hline", r"\end{tabular}", ""]
    return "\n".join(lines)
