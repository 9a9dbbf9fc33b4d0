"""Grid sweeps of quantized runs: optimizer x component x mantissa bits x seed, in parallel, resumable.

Each grid point is one run of :func:`numeric.harness.run` with a plan that quantizes a single
component X in {W, G, M, V} to the IEEE-like format ``e{exp_bits}m{bits}`` (default 8 exponent bits:
the range of fp32/bf16, so only the precision varies with ``bits``), plus one unquantized baseline per
(optimizer, seed) (component "none"). ``components`` may also contain "all" (all four at once).

* Every run is keyed by the SHA-256 of its full configuration (problem and its keywords, optimizer
  and *all* its hyperparameters after defaults, plan text, steps, seed), so a rerun of an interrupted
  sweep skips every run already in the output file, and changing any setting makes a new key.
* Every run's randomness comes from its own seed (see numeric/harness.py), never from the worker,
  so the records are identical for any number of workers (only their order in the file differs;
  :func:`load_results` returns them in grid order).
* Records are appended to a JSON Lines store (header line, one checksummed line per finished run,
  written with ``os.write`` at once; see :mod:`qbound.numeric.jsonlstore`). A file that is not a
  sweep store is refused, never rewritten; a torn or edited record is skipped and recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field

import numpy as np

from qbound.numeric.errors import InputError
from qbound.numeric.jsonlstore import Appender, read_store, repair_tail
from qbound.numeric.quantplan import COMPONENTS, CompQuant, QuantPlan, mantissa_format

SWEEP_COMPONENTS = COMPONENTS + ("all",)
TRACE_POINTS = 200


# ---------------------------------------------------------------------- small parsers (CLI helpers)
def parse_value(s: str):
    """'1e-3' -> 0.001, '5' -> 5, 'true' -> True, anything else stays text."""
    t = s.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_kv(text: str | None) -> dict:
    """'lr=1e-3,beta2=0.99' -> {'lr': 0.001, 'beta2': 0.99}."""
    out: dict = {}
    if not text:
        return out
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise InputError(f"expected KEY=VALUE items separated by commas, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = parse_value(v)
    return out


_INT_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")

#: the most values one list option (--bits, --seeds) may expand to, and the most runs in a grid
MAX_LIST = 100_000
MAX_GRID = 100_000


def parse_int_list(text: str, what: str = "values", lo: int | None = None, hi: int | None = None,
                   max_count: int = MAX_LIST) -> list[int]:
    """'1-10' -> [1..10], '1,3,5' -> [1, 3, 5], '0-2,7' -> [0, 1, 2, 7].

    Every value must lie in [lo, hi] and the list may hold at most ``max_count`` values; both are
    checked before a range is expanded, so ``1-1000000000`` is refused at once:

    >>> parse_int_list("0-2,7")
    [0, 1, 2, 7]
    >>> parse_int_list("1-1000000000", "mantissa bits", lo=1, hi=52)
    Traceback (most recent call last):
    ...
    qbound.numeric.errors.InputError: mantissa bits must be in [1, 52], got 1000000000 in '1-1000000000'
    """
    items = []
    for part in str(text).split(","):
        if not part.strip():
            continue
        m = _INT_ITEM.match(part)
        if not m:
            raise InputError(f"bad {what} {text!r}: expected integers and ranges like '1-10' or '1,3,5'")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise InputError(f"bad {what} range {part.strip()!r}: the end is below the start")
        for v in (a, b):
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
                raise InputError(f"{what} must be {'in ' if hi is not None else ''}{rng}, got {v} in {text!r}")
        items.append((a, b))
    if not items:
        raise InputError(f"no {what} given")
    count = sum(b - a + 1 for a, b in items)
    if count > max_count:
        raise InputError(f"{text!r} gives {count} {what}; at most {max_count} are accepted")
    out: list[int] = []
    for a, b in items:
        out.extend(range(a, b + 1))
    return out


# ---------------------------------------------------------------------- grid
@dataclass
class SweepSpec:
    """The grid. ``hparams`` maps optimizer name -> its hyperparameters."""

    problem: str = "rosenbrock"
    problem_kw: dict = field(default_factory=dict)
    optimizers: tuple = ("adam",)
    hparams: dict = field(default_factory=dict)
    components: tuple = COMPONENTS
    bits: tuple = tuple(range(1, 11))
    exp_bits: int = 8
    rounding: str = "rne"
    seeds: tuple = (0,)
    steps: int = 500
    master: str = "fp64"
    baseline: bool = True

    def configs(self) -> list[dict]:
        """Every run of the grid, in a fixed order (optimizer, seed, baseline first, component, bits)."""
        from qbound.numeric.harness import build_optimizer, build_problem, check_seed, check_steps
        check_steps(self.steps, "steps", lo=1)
        for sd in self.seeds:
            check_seed(sd, "seeds")
        n = len(self.optimizers) * len(self.seeds) * (int(bool(self.baseline)) + len(self.components) * len(self.bits))
        if n > MAX_GRID:
            raise InputError(f"the grid has {n} runs ({len(self.optimizers)} optimizers x {len(self.seeds)} seeds x "
                             f"({int(bool(self.baseline))} + {len(self.components)} components x {len(self.bits)} "
                             f"bit counts)); at most {MAX_GRID} are accepted")
        for c in self.components:
            if c not in SWEEP_COMPONENTS:
                raise InputError(f"unknown sweep component {c!r}. Accepted: {', '.join(SWEEP_COMPONENTS)}.")
        try:  # validates the rounding mode (rne, ..., sr, srK)
            CompQuant.parse(f"fp32:{self.rounding}")
        except InputError:
            raise
        except (TypeError, ValueError):
            raise InputError(f"unknown rounding mode {self.rounding!r}. Accepted: rne, rna, rtz, rup, rdn, sr, "
                             f"srK (K random bits, 1..64)") from None
        pspec = build_problem(self.problem, self.problem_kw).spec()
        pname = pspec.pop("name")
        out = []
        for oname in self.optimizers:
            ospec = build_optimizer(oname, self.hparams.get(oname, {})).spec()
            oname_c = ospec.pop("name")
            for seed in self.seeds:
                base = {"problem": pname, "problem_kw": pspec, "optimizer": oname_c, "hparams": ospec,
                        "steps": int(self.steps), "seed": int(seed)}
                if self.baseline:
                    plan = QuantPlan()
                    out.append({**base, "component": "none", "man_bits": None, "exp_bits": None,
                                "rounding": None, "plan": str(plan)})
                for comp in self.components:
                    for b in self.bits:
                        fmt = mantissa_format(b, self.exp_bits)
                        cq = CompQuant.parse(f"{fmt.name}:{self.rounding}")
                        comps = COMPONENTS if comp == "all" else (comp,)
                        if self.master == "stored" and "W" not in comps:
                            raise InputError("master=stored needs W among the quantized components")
                        plan = QuantPlan(**{c: cq for c in comps}, master=self.master)
                        out.append({**base, "component": comp, "man_bits": int(b), "exp_bits": int(self.exp_bits),
                                    "rounding": self.rounding, "plan": str(plan)})
        for c in out:
            c["key"] = config_key(c)
        return out


def config_key(config: dict) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of everything that determines a run."""
    fields = {k: config[k] for k in ("problem", "problem_kw", "optimizer", "hparams", "plan", "steps", "seed")}
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _subsample(a: np.ndarray, n: int = TRACE_POINTS):
    T = len(a)
    if T == 0:
        return [], []
    idx = np.unique(np.round(np.geomspace(1, T, num=min(n, T))).astype(int) - 1)
    vals = [float(v) if np.isfinite(v) else None for v in a[idx]]
    return idx.tolist(), vals


def run_config(config: dict) -> dict:
    """Run one grid point and return its JSON record (used by the worker processes)."""
    from qbound.numeric.harness import run
    tr = run(config["problem"], config["optimizer"], config["plan"], config["steps"], config["seed"],
             problem_kw=config["problem_kw"], hparams=config["hparams"])
    steps_idx, gvals = _subsample(tr.grad_norm2)
    _, lvals = _subsample(tr.loss)
    return {
        "key": config["key"],
        "config": {k: v for k, v in config.items() if k != "key"},
        "summary": tr.summary(),
        "trace": {"step": steps_idx, "grad_norm2": gvals, "loss": lvals},
        "command": tr.meta["command"],
        "version": tr.meta["version"],
        "seconds": tr.meta["seconds"],
    }


STORE_KIND = "sweep"
_HINT = "Pass --out a new file name or an existing sweep .jsonl file."


def _is_record(rec: dict) -> bool:
    return isinstance(rec.get("key"), str) and isinstance(rec.get("config"), dict)


def _read_done(path, *, repair: bool = True) -> dict:
    """Finished records in ``path`` by key (see :mod:`qbound.numeric.jsonlstore`).

    A file that is not a sweep store is refused with :class:`InputError` and left byte-identical. A
    torn, corrupt, non-UTF-8 or hand-edited record is skipped with a warning (and so recomputed); a
    torn last line is cut off (only the bytes after the last newline change).
    """
    got = read_store(path, STORE_KIND, _is_record, hint=_HINT)
    if repair and got.torn_tail:
        repair_tail(path)
    return {rec["key"]: rec for rec in got.records}


def failure_record(config: dict, error: str, traceback: str = "") -> dict:
    """The record of a run that raised: its key and config, the error, no results.

    A failure is kept in the file (so it is reported) but is not a finished run: the next
    :func:`run_sweep` reruns it, and :func:`load_results` leaves it out unless asked.

    >>> rec = failure_record({"key": "k1", "steps": 3}, "ValueError: bad")
    >>> is_failure(rec), rec["config"]
    (True, {'steps': 3})
    """
    from qbound.numeric.trajectory import package_version
    return {"key": config["key"], "config": {k: v for k, v in config.items() if k != "key"},
            "error": str(error), "traceback": str(traceback or ""), "version": package_version()}


def is_failure(rec: dict) -> bool:
    """Whether a sweep record is a failed run (see :func:`failure_record`)."""
    return bool(rec.get("error"))


def run_sweep(spec_or_configs, out_path, *, workers: int = 1, progress: bool = True, executor=None) -> list[dict]:
    """Run every grid point not yet in ``out_path`` and return all records in grid order.

    ``workers`` > 1 uses a process pool; results do not depend on it. ``executor``, when given,
    runs the units instead of the pool (the application passes one for a Dask cluster, so this
    module never imports dask): ``executor(run_config, todo, write, reused=n)`` calls
    ``write(record)`` in this process for each finished unit, as it arrives. A record marked as a
    failure (:func:`failure_record`) in an earlier run is rerun.
    """
    configs = spec_or_configs.configs() if isinstance(spec_or_configs, SweepSpec) else list(spec_or_configs)
    workers = int(workers)
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    done = _read_done(out_path)
    todo = [c for c in configs if c["key"] not in done or is_failure(done[c["key"]])]
    seen = set()
    todo = [c for c in todo if not (c["key"] in seen or seen.add(c["key"]))]
    d = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(d):
        raise InputError(f"cannot write {out_path}: the folder {d} does not exist")

    bar = None
    if progress and executor is None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        bar = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       TextColumn("{task.description}"))
    with Appender(out_path, STORE_KIND) as app:
        def write(rec):
            app.append(rec)
            done[rec["key"]] = rec

        def label(c):
            return f"{c['optimizer']} {c['component']} m={c['man_bits']} seed={c['seed']}"

        if bar:
            bar.start()
            task = bar.add_task(f"{len(configs) - len(todo)} already done", total=len(configs),
                                completed=len(configs) - len(todo))
        try:
            if executor is not None:
                if todo:
                    executor(run_config, todo, write, reused=len(configs) - len(todo))
            elif workers == 1 or len(todo) <= 1:
                for c in todo:
                    write(run_config(c))
                    if bar:
                        bar.update(task, advance=1, description=label(c))
            else:
                _run_pool(todo, workers, write, lambda c: bar.update(task, advance=1, description=label(c))
                          if bar else None)
        finally:
            if bar:
                bar.stop()
    return [done[c["key"]] for c in configs if c["key"] in done]


def worker_init():
    """Initializer of every worker process: SIGINT ignored (Ctrl-C reaches the whole process group;
    the parent handles it and stops the pool) and SIGTERM back to its default (a handler inherited
    from the parent through fork would turn it into a KeyboardInterrupt traceback in the worker)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


_ignore_sigint = worker_init  # the old name


def stop_pool(ex, futures=()) -> None:
    """Stop a ProcessPoolExecutor now: terminate (then kill) its workers and reap them, so no worker
    outlives an interrupted parent. The pending futures are left to the pool, which fails them
    with BrokenProcessPool (cancelling them here as well makes its manager thread print an
    InvalidStateError traceback); ``futures`` is accepted for the callers' convenience."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=False)
    for p in procs:
        try:
            p.terminate()
        except Exception:  # pragma: no cover - already gone
            pass
    for p in procs:
        try:
            p.join(timeout=2)
            if p.is_alive():
                p.kill()
                p.join(timeout=2)
        except Exception:  # pragma: no cover
            pass


def _run_pool(todo, workers, write, advance):
    """Run configs in a process pool, writing each record as it arrives. On Ctrl-C or SIGTERM the
    pending runs are cancelled and the workers terminated; finished records are already on disk.
    (Used without the command line, SIGTERM is turned into KeyboardInterrupt here; the command line
    installs its own handler, which exits with status 143.)"""
    import signal
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    def on_term(signum, frame):
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    own = main_thread and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    old = signal.signal(signal.SIGTERM, on_term) if own else None
    ex = ProcessPoolExecutor(max_workers=workers, initializer=worker_init)
    futs = {}
    try:
        futs = {ex.submit(run_config, c): c for c in todo}
        for f in as_completed(futs):
            write(f.result())
            advance(futs[f])
    except BaseException:
        stop_pool(ex, futs)
        raise
    else:
        ex.shutdown(wait=True)
    finally:
        if own:
            signal.signal(signal.SIGTERM, old)


def load_results(path, include_failed: bool = False) -> list[dict]:
    """The valid records of a sweep file in file order, one per key (the last record of a key
    wins); failed runs only with ``include_failed``. Skipped lines give one :class:`StoreWarning`."""
    if not os.path.exists(path):
        raise InputError(f"no such sweep file: {path}")
    got = read_store(path, STORE_KIND, _is_record,
                     hint="qbound plot reads the .jsonl file written by qbound sweep --out.")
    by_key: dict = {}
    for rec in got.records:
        by_key.pop(rec["key"], None)
        by_key[rec["key"]] = rec
    return [r for r in by_key.values() if include_failed or not is_failure(r)]


__all__ = ["SweepSpec", "run_sweep", "run_config", "config_key", "load_results", "parse_kv", "parse_int_list",
           "parse_value", "failure_record", "is_failure"]
