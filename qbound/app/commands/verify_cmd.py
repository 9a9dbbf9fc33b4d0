"""``qbound verify``: lemmas, derivations, experiments and the report, in one command.

Thin glue over :func:`qbound.app.verify.orchestrate.verify`; the configuration lives in :mod:`qbound.app.verify.config`.
"""
from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser("verify", help="prove, derive, try to falsify by experiment, and write the report",
                       description="Run the embedded default configuration (or --config FILE): the rounding "
                                   "lemmas, the derived bounds, and quantized runs that try to falsify them; "
                                   "write report.md, results.json and PNG figures into --out. Finished work is "
                                   "stored in OUT/store and reused by the next run (resume). Exit status: 0, or 1 "
                                   "when a lower layer raised (the report lists it) or a write failed (disk full; the "
                                   "store is kept), 2 for a bad configuration or output path, 130 on SIGINT, 143 on "
                                   "SIGTERM (workers stopped, store kept: rerun to resume).")
    p.add_argument("--config", metavar="FILE", help="TOML file whose sections replace the defaults "
                                                    "(see --print-config)")
    p.add_argument("--quick", action="store_true", help="a smaller configuration (about a minute; used by CI)")
    p.add_argument("--full", action="store_true", help="the larger transformer grid (charlm preset cpu, 3 seeds; "
                                                     "qbound/app/verify/transformer.py)")
    p.add_argument("--out", metavar="DIR", default="qbound-report", help="output folder (default qbound-report)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: the config's 'workers')")
    p.add_argument("--fresh", action="store_true", help="ignore results stored by an earlier run in DIR/store")
    p.add_argument("--print-config", action="store_true", help="print the embedded default configuration and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    from qbound.app.dask_runner import add_argument as add_dask_argument
    add_dask_argument(p)  # --dask local[:N] | tcp://HOST:PORT
    p.set_defaults(func=run)


def run(args) -> int:
    from qbound.app.verify.config import DEFAULT_TOML, load_config
    from qbound.numeric.errors import InputError
    if args.print_config:
        sys.stdout.write(DEFAULT_TOML)
        return 0
    cfg = load_config(args.config, quick=args.quick)
    if args.full and args.quick:
        raise InputError("--full and --quick exclude each other")
    # the transformer evidence (torch backend): off in --quick, the large grid with --full
    cfg["transformer"] = {"grid": "off" if args.quick else ("full" if args.full else "default")}
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    from rich.console import Console
    from qbound.app.verify.orchestrate import verify
    console = Console(stderr=True)
    cmd = "qbound verify" + (" --quick" if args.quick else "") + (f" --config {args.config}" if args.config else "") \
        + (f" --out {args.out}" if args.out != "qbound-report" else "")
    kw = dict(cfg=cfg, out_dir=args.out, workers=args.workers, fresh=args.fresh, console=console,
              show_progress=not args.no_progress, command=cmd)
    if getattr(args, "dask", None):  # on a Dask cluster instead of the local pool (same store, same results)
        from qbound.app.dask_runner import cli_verify
        res, rc = cli_verify(args, verify, **kw)
        if res is None:
            return rc
    else:
        res = verify(**kw)
    _summary(console, res, args.out)
    real = [e for e in res["errors"] if e.get("status") == "error"]
    return 1 if real else 0


def _summary(console, res, out):
    from rich.table import Table
    t = Table(title="qbound verify: claims", show_lines=False)
    t.add_column("claim")
    t.add_column("verdict")
    t.add_column("why", overflow="fold", max_width=90)
    color = {"supported": "green", "contradicted": "red", "inconclusive": "yellow"}
    for c in res["claims"]:
        t.add_row(c["id"], f"[{color[c['verdict']]}]{c['verdict']}[/]", c["why"][:300])
    console.print(t)
    errs = res["errors"]
    if errs:
        n_err = sum(1 for e in errs if e.get("status") == "error")
        n_miss = len(errs) - n_err
        console.print(f"[red]{n_err} error(s)[/], [yellow]{n_miss} missing layer(s)[/]: see the "
                      f"'Errors and missing layers' section of {out}/report.md")
        for e in errs[:8]:
            console.print(f"  [{'red' if e.get('status') == 'error' else 'yellow'}]{e.get('layer')}[/]: "
                          f"{str(e.get('error'))[:160]}")
    console.print(f"report: {out}/report.md  data: {out}/results.json  "
                  f"({res['run']['units_computed']} units computed, {res['run']['units_reused']} reused, "
                  f"{res['run']['seconds_total']} s)")
