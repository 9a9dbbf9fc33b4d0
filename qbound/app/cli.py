"""The ``qbound`` command: thin glue over library functions.

Each group of subcommands lives in its own module under ``qbound/app/commands/`` and exposes
``register(subparsers)``; registration must stay cheap (heavy imports happen inside handlers).
This module is the one place that turns every expected error into one line and an exit status
(a traceback only with ``--debug``):

====== =====================================================================================
status meaning
====== =====================================================================================
0      success
1      the work failed for a stated reason: a lower layer raised, a write failed (disk full,
       read-only), a worker process died, memory ran out; results stored so far are kept
2      bad input (:class:`numeric.errors.InputError`): the message says what is accepted
130    interrupted by SIGINT (Ctrl-C); results stored so far are kept, rerun to resume
143    terminated by SIGTERM; handled like SIGINT (workers stopped, store kept)
141    the reader of stdout went away (``qbound ... | head``)
====== =====================================================================================

Before a command starts, :func:`preflight` checks what can be checked without doing any work:
every output path (not empty, not a directory where a file is written or the reverse, its folder
exists, writable), worker counts >= 1, seeds >= 0, step counts within
:data:`numeric.harness.MAX_STEPS`, ``--T`` a whole number, learning rates and betas finite. Names of
optimizers, problems, rounding modes, overflow policies, engines and derivations are
case-insensitive everywhere on the command line (``Adam``, ``RNE``): they are lowercased here, and
output always uses the lowercase spelling.
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C (workers stopped, store kept)."""


def _on_sigterm(signum, frame):
    raise Terminated()


# ----------------------------------------------------------------------------- preflight
#: argument destinations lowercased before a command runs (names are case-insensitive)
LOWERCASE_DESTS = ("rounding", "roundings", "optimizer", "optimizers", "problem", "overflow", "engine", "master")
#: commands whose positional ``name`` is an optimizer or derivation name
_NAME_COMMANDS = ("derive", "mantissa", "floor", "check-config")
#: (command or None for all, dest) -> "file" | "dir": output paths checked before the work starts
OUTPUT_PATHS = {("verify", "out"): "dir", (None, "out"): "file", (None, "json"): "file", (None, "jsonl"): "file",
                (None, "latex"): "file", (None, "smt2_dir"): "dir", (None, "out_dir"): "dir"}


def check_output_path(path, kind: str, flag: str) -> None:
    """Refuse an output path that cannot be written, before any work (InputError, exit 2).

    A file: not empty, not an existing directory, its folder exists and is writable (or the file is).
    A directory: not empty, not an existing file; it, or the nearest folder above it that exists, is
    a writable directory (missing folders are created by the command).
    """
    from pathlib import Path
    if not str(path).strip():
        raise InputError(f"{flag} needs a path, got an empty string")
    p = Path(path)
    if kind == "file":
        if p.is_dir():
            raise InputError(f"{flag} {path}: is a directory; give a file name")
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise InputError(f"{flag} {path}: the folder {parent} does not exist")
        target = p if p.exists() else parent
        if not os.access(target, os.W_OK):
            raise InputError(f"{flag} {path}: {'the file' if target is p else 'the folder ' + str(parent)} "
                             f"is not writable")
        return
    if p.exists() and not p.is_dir():
        raise InputError(f"{flag} {path}: is a file, not a directory")
    q = p
    while not q.exists():
        if q.parent == q:
            break
        q = q.parent
    if not q.is_dir():
        raise InputError(f"{flag} {path}: {q} is a file, not a directory")
    if not os.access(q, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: {q} is not writable")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _finite_number(text, flag: str) -> float | None:
    import math
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None  # not a number: the command reports it in its own words
    if not math.isfinite(x):
        raise InputError(f"{flag} must be a finite number, got {text}")
    return x


def preflight(args) -> None:
    """Checks that need no work (see the module docstring); raises InputError."""
    cmd = getattr(args, "command", None)
    for dest in LOWERCASE_DESTS:
        v = getattr(args, dest, None)
        if isinstance(v, str):
            setattr(args, dest, v.strip().lower())
        elif isinstance(v, list):
            setattr(args, dest, [x.strip().lower() if isinstance(x, str) else x for x in v])
    if cmd in _NAME_COMMANDS and isinstance(getattr(args, "name", None), str):
        args.name = args.name.strip().lower()
    for (c, dest), kind in OUTPUT_PATHS.items():
        if c not in (None, cmd) or (c is None and (cmd, dest) in OUTPUT_PATHS):
            continue
        v = getattr(args, dest, None)
        if isinstance(v, str) and not (dest == "out" and cmd == "verify" and getattr(args, "print_config", False)):
            check_output_path(v, kind, _flag(dest))
    for dest in ("workers", "jobs"):
        v = getattr(args, dest, None)
        if isinstance(v, int) and not 1 <= v <= 1024:
            raise InputError(f"{_flag(dest)} must be an integer in [1, 1024], got {v}")
    v = getattr(args, "seed", None)
    if isinstance(v, int) and v < 0:
        raise InputError(f"--seed must be a non-negative integer, got {v}")
    v = getattr(args, "steps", None)
    if isinstance(v, int) and not isinstance(v, bool):
        from qbound.numeric.harness import check_steps
        check_steps(v, "--steps")
    v = getattr(args, "T", None)
    if isinstance(v, str):
        x = _finite_number(v, "--T")
        if x is not None and (x != int(x) or x < 1):
            raise InputError(f"--T is a number of iterations: a whole number >= 1, got {v}")
    for dest in ("lr", "beta1", "beta2", "beta", "eps", "tol"):
        v = getattr(args, dest, None)
        if isinstance(v, (str, float)):
            x = _finite_number(v, _flag(dest))
            if dest == "lr" and x is not None and x <= 0:
                raise InputError(f"--lr must be a positive finite number, got {v}")


def _worker_died(exc) -> bool:
    try:
        from concurrent.futures.process import BrokenProcessPool
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, BrokenProcessPool)


def main(argv=None) -> int:
    import signal
    import threading
    old_show, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        return _main(argv, signal, threading)
    finally:
        warnings.showwarning = old_show


def _main(argv, signal, threading) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    name = f"qbound {args.command}"
    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        preflight(args)
        rc = args.func(args)
    except InputError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"\n{name}: terminated (SIGTERM); workers stopped, results written so far are kept; rerun the "
              f"same command to resume.", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; results written so far are kept; rerun the same command to resume.",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``qbound ... | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if args.debug:
            raise
        print(f"{name}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)
    return 0 if rc is None else int(rc)


def _one_line(exc: BaseException) -> str:
    """The one-line message of an unexpected or environmental error."""
    import errno
    from qbound.numeric.errors import QboundError
    if isinstance(exc, QboundError):
        return str(exc)
    if _worker_died(exc):
        return ("a worker process died (killed, or out of memory); every result finished before it is kept; "
                "rerun the same command to resume")
    if isinstance(exc, MemoryError):
        return (f"out of memory ({exc or 'MemoryError'}); results stored so far are kept; use smaller sizes "
                f"or fewer workers")
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    if isinstance(exc, OSError):
        why = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"{why}{where}; results stored so far are kept"
    return (f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)").replace("\n", " ")


if __name__ == "__main__":
    sys.exit(main())
