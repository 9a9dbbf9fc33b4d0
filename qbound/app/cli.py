"""The ``qbound`` command: thin glue over library functions.

Each group of subcommands lives in its own module under ``qbound/app/commands/`` and exposes
``register(subparsers)``; registration must stay cheap (heavy imports happen inside handlers).
Bad user input (:class:`numeric.errors.InputError`) exits with status 2 and a message that says
what is accepted.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from qbound._version import version  # noqa: F401  (re-exported: qbound.app.cli.version)
from qbound.numeric.errors import InputError

#: command modules, in the order their subcommands appear in --help
COMMAND_MODULES = (
    "qbound.app.commands.verify_cmd",
    "qbound.app.commands.numeric_cmds",
    "qbound.app.commands.harness_cmds",
    "qbound.app.commands.prove_cmd",
    "qbound.app.commands.derive_cmds",
    "qbound.app.commands.bench_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbound",
        description="Convergence bounds, rounding lemmas and experiments for quantized adaptive optimizers.",
    )
    parser.add_argument("--version", action="version", version=f"qbound {version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that layer's commands are not written yet
                continue
            raise
        mod.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings reach the user as one line, without the source location."""
    print(f"qbound: warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except InputError as exc:
        print(f"qbound {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nqbound {args.command}: interrupted; results written so far are kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``qbound ... | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if args.debug:
            raise
        print(f"qbound {args.command}: internal error: {type(exc).__name__}: {exc} "
              f"(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    return 0 if rc is None else int(rc)


if __name__ == "__main__":
    sys.exit(main())
