"""Run ``qbound sweep`` and ``qbound verify`` units on a ``dask.distributed`` cluster.

The unit of work and the results store stay what they are; only *where* a unit runs changes:

* every unit still to do becomes one Dask task, whose key is the unit's own store key
  (``qbound-sweep-<config key>``, ``qbound-<stage>-<unit key>``), so a unit is never computed twice
  by one run, and two submissions of the same unit share one task;
* the *client* (this process) writes each result to the store the moment its future completes
  (``as_completed``), exactly as the local pool does; workers never touch the store, so a store
  written under Dask resumes on the local pool and the other way round;
* the units are deterministic in their own fields (seeds included), so the records are the same
  whatever the number of workers, the order of completion, or a worker lost and the unit rerun
  elsewhere (the scheduler reschedules the tasks of a dead worker; the client only ever sees one
  result per future, so nothing is stored twice).

Faults: a unit that raises, or whose workers keep dying (``KilledWorker``), is recorded with its
error and the rest go on; losing the scheduler stops the run with :class:`SchedulerLost` (everything
finished is already in the store, a rerun resumes); Ctrl-C and SIGTERM cancel the futures and keep
the store.

``dask`` and ``distributed`` are an optional extra, imported only when ``--dask`` is given.

Targets accepted by ``--dask``:

>>> parse_target("local:2")
DaskTarget(kind='local', workers=2, address=None)
>>> parse_target("tcp://127.0.0.1:8786")
DaskTarget(kind='address', workers=None, address='tcp://127.0.0.1:8786')
>>> parse_target("127.0.0.1:8786").address
'tcp://127.0.0.1:8786'
>>> parse_target("local:0")
Traceback (most recent call last):
...
qbound.numeric.errors.InputError: --dask local:N needs N >= 1 worker processes, got 'local:0'
"""
from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
import traceback
from concurrent.futures import CancelledError
from dataclasses import dataclass

from qbound.numeric.errors import InputError, QboundError

#: the one line printed when ``--dask`` is given without the extra
INSTALL_HINT = 'pip install "qbound[dask]"'

_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss|ucx)://)?([A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$")
ACCEPTED_TARGETS = "local, local:N (N worker processes on this machine) or a scheduler address tcp://HOST:PORT"


class SchedulerLost(QboundError):
    """The connection to the Dask scheduler was lost; finished units are in the store."""


@dataclass(frozen=True)
class DaskTarget:
    """Where to run: ``kind`` is "local" (a LocalCluster of ``workers`` processes) or "address"."""

    kind: str
    workers: int | None = None
    address: str | None = None


def parse_target(text: str) -> DaskTarget:
    """Read a ``--dask`` value: ``local`` / ``local:N`` or a scheduler address (``tcp://`` is implied)."""
    t = str(text).strip()
    if t == "local" or t.startswith("local:"):
        n_txt = t[6:] if t != "local" else ""
        if not n_txt:
            return DaskTarget("local", max(1, min(os.cpu_count() or 1, 8)))
        try:
            n = int(n_txt)
        except ValueError:
            raise InputError(f"--dask local:N needs an integer N, got {t!r}. Accepted: {ACCEPTED_TARGETS}.") from None
        if n < 1:
            raise InputError(f"--dask local:N needs N >= 1 worker processes, got {t!r}")
        return DaskTarget("local", n)
    m = _ADDRESS.match(t)
    if not m or not (0 < int(m.group(3)) < 65536):
        raise InputError(f"cannot read --dask {t!r}. Accepted: {ACCEPTED_TARGETS}.")
    return DaskTarget("address", address=f"{m.group(1) or 'tcp'}://{m.group(2)}:{m.group(3)}")


def import_distributed():
    """``distributed``, or a one-line :class:`InputError` (exit 2) naming the extra to install."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as exc:
        raise InputError(f"--dask needs dask.distributed, which is not installed ({exc.name or exc}): "
                         f"{INSTALL_HINT}") from None
    return distributed


def _ignore_sigint() -> None:
    """Run in each local worker process (in its main thread, where the event loop runs)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _have_bokeh() -> bool:
    import importlib.util
    return importlib.util.find_spec("bokeh") is not None


# ---------------------------------------------------------------------------------------- session
class DaskSession:
    """A connected ``distributed.Client`` (and the LocalCluster it owns, for ``local[:N]``).

    Use as a context manager; ``describe()`` is the line printed at start (scheduler, workers and
    the dashboard address, or "no dashboard").
    """

    def __init__(self, target: DaskTarget | str, *, timeout: float = 20.0):
        self.target = parse_target(target) if isinstance(target, str) else target
        self.timeout = float(timeout)
        self.client = None
        self.cluster = None
        self.lost = False

    def __enter__(self) -> "DaskSession":
        if self.client is not None:  # already connected (open_session, then ``with session``)
            return self
        distributed = import_distributed()
        for name in ("distributed", "distributed.client", "distributed.worker", "distributed.nanny",
                     "distributed.scheduler", "distributed.core", "distributed.comm"):
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            if self.target.kind == "local":
                self.cluster = distributed.LocalCluster(
                    n_workers=self.target.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster, timeout=self.timeout)
                try:  # Ctrl-C reaches the whole process group: this process stops the workers itself
                    self.client.run(_ignore_sigint)
                except Exception:
                    pass
            else:
                try:
                    self.client = distributed.Client(self.target.address, timeout=self.timeout)
                except (OSError, TimeoutError) as exc:
                    raise InputError(f"cannot reach the Dask scheduler at {self.target.address} "
                                     f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                                     f"start one (dask scheduler) or pass --dask local:N") from None
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.lost:  # the client's reconnect attempts would log tracebacks while it closes
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
        for obj in (self.client, self.cluster):
            if obj is None:
                continue
            try:
                obj.close(timeout=5) if obj is self.client else obj.close(timeout=10)
            except Exception:
                pass
        self.client = self.cluster = None

    # -------------------------------------------------------------------------------- information
    def n_workers(self) -> int:
        try:
            return len(self.client.scheduler_info().get("workers", {}))
        except Exception:
            return 0

    def dashboard(self) -> str | None:
        """The dashboard address, or None when the scheduler serves none (no bokeh there)."""
        try:
            services = self.client.scheduler_info().get("services", {})
        except Exception:
            return None
        if "dashboard" not in services:
            return None
        try:  # the scheduler's HTTP server runs without bokeh too, but then serves no dashboard pages
            if not self.client.run_on_scheduler(_have_bokeh):
                return None
        except Exception:
            return None
        return self.client.dashboard_link

    def describe(self) -> str:
        addr = self.client.scheduler.address
        what = (f"LocalCluster of {self.target.workers} worker process(es)" if self.target.kind == "local"
                else f"scheduler {addr}")
        dash = self.dashboard()
        extra = "" if self.target.kind == "address" else f" at {addr}"
        dtext = f"dashboard {dash}" if dash else (
            "no dashboard (pip install bokeh for one)" if self.target.kind == "local" else "no dashboard")
        return f"dask: {what}{extra}, {self.n_workers()} worker(s) connected; {dtext}"

    def wait_for_workers(self, n: int = 1, timeout: float | None = None) -> None:
        self.client.wait_for_workers(n, timeout=timeout or self.timeout)

    # -------------------------------------------------------------------------------- execution
    def run_futures(self, jobs, on_result, *, more=None, bar=None, stall_seconds=None, warn=None,
                    recheck_seconds: float = 2.0) -> None:
        """Submit ``jobs`` (``(key, fn, args, meta)``) and call ``on_result(meta, result, error)`` for
        each future as it completes, in this thread (``error`` is None or ``(text, traceback)``).

        Completed futures are taken in batches from one ``as_completed`` and their results fetched
        with one ``gather`` per batch, so the per-unit cost stays a few messages however slow this
        process is. The loop runs until every submitted future has had its ``on_result``, exactly
        once, whatever happens in between:

        * a batch whose fetch fails (a worker lost after finishing) is tracked again and fetched
          once the scheduler has recomputed or found the data (at most 5 tries, then recorded);
        * a future that was reported complete but whose result was lost before it was taken (its
          worker died: status "lost"/"pending") is tracked again and taken when recomputed, not
          recorded as an error;
        * every ``recheck_seconds`` without a completion, futures that ``as_completed`` no longer
          tracks are tracked again (a future it dropped would otherwise be missed, or end the loop
          early); a future yielded twice is taken once;
        * the watchdog: after ``stall_seconds`` (default :data:`STALL_SECONDS`, or the environment
          variable ``QBOUND_DASK_STALL_S``) with no unit finished, ``warn(line)`` (default: one line
          on stderr) says which units are outstanding, where they run and how many workers are
          connected, and again every ``stall_seconds`` while nothing moves.

        ``more()``, called after each result, returns further jobs to submit (the verify mantissa
        search submits units from the callbacks). ``bar`` is a :class:`FuturesBar`.
        Raises :class:`SchedulerLost` when the scheduler goes away; on any exception (Ctrl-C, SIGTERM,
        an error in ``on_result``) the remaining futures are cancelled first.
        """
        distributed = import_distributed()
        client = self.client
        futs: dict = {}
        fetch_failures: dict = {}
        ac = distributed.as_completed(with_results=False)
        stall = stall_seconds_default() if stall_seconds is None else float(stall_seconds)
        say = warn if warn is not None else _warn_line

        def submit(batch):
            for key, fn, args, meta in batch:
                fut = client.submit(fn, *args, key=key, pure=False)
                futs[fut] = meta
                ac.add(fut)
                if bar is not None:
                    bar.grow()

        def lost(n_left):
            self.lost = True
            return SchedulerLost(
                f"lost the connection to the Dask scheduler {client.scheduler.address} ({n_left} unit(s) "
                f"unfinished); everything finished is kept in the store: rerun the same command (with --dask "
                f"or without) to resume")

        stop = threading.Event()
        poller = None
        if bar is not None:
            poller = threading.Thread(target=self._poll_running, args=(bar, stop), daemon=True)
        with _term_as_interrupt():
            try:
                submit(jobs)
                if poller is not None:
                    poller.start()
                last_done = last_warn = time.monotonic()
                while futs:
                    batch = _wait_batch(ac, recheck_seconds)
                    if client.status != "running":
                        raise lost(len(futs))
                    if not batch:
                        for f in _untracked(ac, futs):
                            ac.add(f)
                        now = time.monotonic()
                        if now - last_done >= stall and now - last_warn >= stall:
                            say(self._stall_message(futs, now - last_done))
                            last_warn = now
                        continue
                    batch = [f for f in dict.fromkeys(batch) if f in futs]  # each future taken once
                    for f in batch:
                        if f.status in ("lost", "pending"):  # its result was lost after it finished
                            ac.add(f)  # yielded again once recomputed
                    batch = [f for f in batch if f.status not in ("lost", "pending")]
                    ok = [f for f in batch if f.status == "finished"]
                    values: dict = {}
                    again: set = set()
                    if ok:
                        try:
                            values = dict(zip(ok, client.gather(ok)))
                        except Exception:  # a holder of the data died, or the scheduler went away
                            if client.status != "running":
                                raise lost(len(futs)) from None
                            for f in ok:
                                fetch_failures[f] = fetch_failures.get(f, 0) + 1
                                if fetch_failures[f] <= 5:
                                    again.add(f)
                                    ac.add(f)  # tracked again: yielded once it is (again) complete
                            time.sleep(0.2)
                    for fut in batch:
                        if fut in again:
                            continue
                        meta = futs.pop(fut)
                        fetch_failures.pop(fut, None)
                        if fut in values:
                            res, err = values[fut], None
                        elif fut.status == "cancelled":
                            try:
                                fut.result(timeout=1)
                                why = "cancelled"
                            except (Exception, CancelledError) as exc:  # FutureCancelledError, with its reason
                                why = str(exc)
                            if client.status != "running" or "connection-lost" in why:
                                raise lost(len(futs) + 1)
                            res, err = None, (f"CancelledError: {why}", "")
                        elif fut.status == "finished":  # fetched 5 times without success
                            res, err = None, ("CommClosedError: the result could not be fetched from the workers", "")
                        else:  # "error": the unit raised, or its workers kept dying (KilledWorker)
                            res, err = None, _error_text((None, fut.exception(timeout=5), fut.traceback(timeout=5)))
                        fut.release()
                        on_result(meta, res, err)
                        last_done = time.monotonic()
                        if bar is not None:
                            bar.finished(failed=err is not None or _is_failure(res))
                        if more is not None:
                            submit(more())
            except BaseException:
                try:
                    if futs and client.status == "running":
                        client.cancel(list(futs))
                except Exception:
                    pass
                raise
            finally:
                stop.set()
                if poller is not None and poller.is_alive():
                    poller.join(timeout=2)

    def _stall_message(self, futs, idle: float) -> str:
        """The watchdog's line: how long nothing finished, which units are outstanding and where."""
        try:
            where = {k: w for w, keys in self.client.processing().items() for k in keys}
        except Exception:
            where = {}
        items = list(futs)
        shown = [f"{f.key} ({f.status}" + (f", running on {where[f.key]})" if f.key in where else ")")
                 for f in items[:STALL_SHOWN]]
        more = f" and {len(items) - STALL_SHOWN} more" if len(items) > STALL_SHOWN else ""
        return (f"dask: no unit finished for {idle:.0f} s; {len(items)} outstanding: {', '.join(shown)}{more}; "
                f"{self.n_workers()} worker(s) connected. Still waiting: Ctrl-C stops, keeping the store "
                f"(rerun to resume)")

    def _poll_running(self, bar, stop) -> None:
        """Refresh the "running" count (tasks the scheduler has on workers) twice a second."""
        while not stop.wait(0.5):
            try:
                n = sum(len(v) for v in self.client.processing().values())
            except Exception:
                return
            bar.set_running(n)


#: seconds without a finished unit before the watchdog names the outstanding units
STALL_SECONDS = 300.0
#: how many outstanding units the watchdog's line names
STALL_SHOWN = 8


def stall_seconds_default() -> float:
    """``QBOUND_DASK_STALL_S`` when set to a positive number, else :data:`STALL_SECONDS`.

    >>> os.environ.pop("QBOUND_DASK_STALL_S", None) and None
    >>> stall_seconds_default()
    300.0
    """
    try:
        v = float(os.environ.get("QBOUND_DASK_STALL_S", ""))
    except ValueError:
        return STALL_SECONDS
    return v if v > 0 and v == v and v != float("inf") else STALL_SECONDS


def _warn_line(text: str) -> None:
    import sys
    print(f"qbound: warning: {text}", file=sys.stderr, flush=True)


def _wait_batch(ac, timeout: float) -> list:
    """The futures ``as_completed`` has ready, waiting at most ``timeout`` seconds for one ([] if none)."""
    deadline = time.monotonic() + timeout
    cond = getattr(ac, "thread_condition", None)  # notified at each completion
    while not ac.has_ready():
        left = deadline - time.monotonic()
        if left <= 0:
            return []
        if cond is not None:
            with cond:
                cond.wait(timeout=min(0.1, left))
        else:  # pragma: no cover - another distributed version
            time.sleep(min(0.01, left))
    return ac.next_batch(block=False)


def _untracked(ac, futs) -> list:
    """The futures of ``futs`` that ``ac`` neither waits on nor holds ready (it would never yield them)."""
    try:
        with ac.lock:
            seen = set(ac.futures) | set(ac.queue.queue)
    except AttributeError:  # pragma: no cover - another distributed version: by count only
        return list(futs) if ac.count() < len(futs) else []
    return [f for f in futs if f not in seen]


def _error_text(res) -> tuple[str, str]:
    """(one-line error, traceback text) from what ``as_completed`` returns for an erred future."""
    exc, tb = res, None
    if isinstance(res, tuple) and len(res) == 3:
        _, exc, tb = res
    text = f"{type(exc).__name__}: {exc}"
    tb_text = "".join(traceback.format_exception(type(exc), exc, tb, limit=6)) if isinstance(exc, BaseException) else ""
    return text, tb_text


def _is_failure(res) -> bool:
    return isinstance(res, dict) and bool(res.get("error"))


class _term_as_interrupt:
    """While active (main thread only), SIGTERM raises KeyboardInterrupt, as Ctrl-C does, unless a
    handler is installed already (the command line's raises its own KeyboardInterrupt, exit 143)."""

    def __enter__(self):
        self.old = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)):
            def on_term(signum, frame):
                raise KeyboardInterrupt
            self.old = signal.signal(signal.SIGTERM, on_term)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


# ---------------------------------------------------------------------------------------- progress
class FuturesBar:
    """One rich progress line over the futures: done / running / failed / reused.

    ``progress`` may be an existing rich ``Progress`` (verify's), to which a line is added;
    otherwise one is made (and started by ``with``).
    """

    def __init__(self, label: str, total: int = 0, reused: int = 0, progress=None, console=None):
        self.own = progress is None
        if progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), console=console)
        self.progress = progress
        self.done = self.failed = self.running = 0
        self.reused = int(reused)
        self.total = int(total) + self.reused
        self._lock = threading.Lock()
        self.label = label
        self.task = progress.add_task(label, total=self.total, completed=self.reused, counts=self._counts())
        self._show()

    def _counts(self) -> str:
        return f"done {self.done}  running {self.running}  failed {self.failed}  reused {self.reused}"

    def _show(self):
        extra = {} if self.own else {"description": f"{self.label} ({self._counts()})"}  # no counts column there
        self.progress.update(self.task, total=self.total, completed=self.done + self.failed + self.reused,
                             counts=self._counts(), **extra)

    def grow(self, n: int = 1):
        with self._lock:
            self.total += n
            self._show()

    def add_reused(self, n: int = 1):
        with self._lock:
            self.reused += n
            self.total += n
            self._show()

    def finished(self, failed: bool = False):
        with self._lock:
            if failed:
                self.failed += 1
            else:
                self.done += 1
            self.running = max(0, self.running - 1)
            self._show()

    def set_running(self, n: int):
        with self._lock:
            self.running = int(n)
            self._show()

    def __enter__(self):
        if self.own:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.own:
            self.progress.stop()


# ---------------------------------------------------------------------------------------- sweep
def sweep_executor(session: DaskSession, *, progress: bool = True, console=None):
    """An executor for :func:`qbound.numeric.sweep.run_sweep` (``executor=``) that runs on ``session``.

    ``executor(fn, todo, write, reused=n)``: one task per config; ``write(record)`` is called by the
    client for each result (a unit that raised gets ``failure_record``, see numeric.sweep).
    """
    from qbound.numeric.sweep import failure_record

    def executor(fn, todo, write, reused=0):
        jobs = [(f"qbound-sweep-{c['key']}", fn, (c,), c) for c in todo]

        def on_result(config, rec, err):
            write(rec if err is None else failure_record(config, err[0], err[1]))

        if not progress:
            session.run_futures(jobs, on_result)
            return
        with FuturesBar("sweep (dask)", reused=reused, console=console) as bar:
            session.run_futures(jobs, on_result, bar=bar)

    return executor


# ---------------------------------------------------------------------------------------- verify
class VerifyRunner:
    """Runs a :class:`qbound.app.verify.sched.Scheduler`'s queue on ``session`` (``Scheduler(runner=)``)."""

    def __init__(self, session: DaskSession):
        self.session = session

    def describe(self) -> str:
        t = self.session.target
        return f"dask local:{t.workers}" if t.kind == "local" else f"dask {t.address}"

    def run(self, sched) -> None:
        from qbound.app.verify.runs import execute

        def take():
            jobs = []
            while sched._queue:
                key, (stage, unit, group) = sched._queue.popitem(last=False)
                jobs.append((f"qbound-{key.replace(':', '-')}", execute, (stage, unit), (key, stage, unit, group)))
            return jobs

        def on_result(meta, res, err):
            key, stage, unit, group = meta
            if err is not None:  # not raised by the unit (execute catches that): the worker died or similar
                res = {"error": err[0], "traceback": err[1], "_seconds": 0.0}
            sched._finish(key, stage, unit, group, res)

        bar = None
        if sched.progress is not None:
            bar = FuturesBar("dask futures", reused=sched.reused, progress=sched.progress)

        def on_result_bar(meta, res, err):
            on_result(meta, res, err)
            if bar is not None and sched.reused > bar.reused:  # units the callbacks found in the store
                bar.add_reused(sched.reused - bar.reused)

        self.session.run_futures(take(), on_result_bar, more=take, bar=bar)


# ---------------------------------------------------------------------------------------- CLI glue
DASK_HELP = ("run the units on Dask: local[:N] (a LocalCluster of N worker processes on 127.0.0.1; N defaults "
             "to the CPU count, at most 8) or the address of a running scheduler, e.g. tcp://HOST:8786 (needs "
             + INSTALL_HINT + "); the store and the results are those of the local pool")


def add_argument(parser) -> None:
    """``--dask TARGET`` on a subcommand (sweep, verify)."""
    parser.add_argument("--dask", metavar="TARGET", default=None, help=DASK_HELP)


def open_session(text: str, console=None) -> DaskSession:
    """Validate ``--dask``, connect (LocalCluster started for local[:N]) and print the describe line."""
    target = parse_target(text)
    import_distributed()  # the one-line install hint before anything starts
    session = DaskSession(target).__enter__()
    try:
        if target.kind == "local":
            session.wait_for_workers(target.workers)
        msg = session.describe()
        if console is not None:
            console.print(msg, highlight=False, markup=False)
        else:
            import sys
            print(msg, file=sys.stderr, flush=True)
    except BaseException:
        session.close()
        raise
    return session


def cli_sweep(args, configs, run_sweep) -> tuple[list, int]:
    """``qbound sweep --dask``: ``run_sweep`` with the Dask executor; returns (records, exit status).

    Status 1 when a unit failed (its error is recorded in the file, a rerun retries it) or the
    scheduler was lost (everything finished is kept; a rerun resumes); the message says which.
    """
    import sys

    from rich.console import Console

    from qbound.numeric.sweep import is_failure
    console = Console(stderr=True)
    session = open_session(args.dask, console)
    try:
        with session:
            recs = run_sweep(configs, args.out, progress=True,
                             executor=sweep_executor(session, progress=True, console=console))
    except SchedulerLost as exc:
        print(f"qbound sweep: {exc}", file=sys.stderr)
        return [], 1
    failed = [r for r in recs if is_failure(r)]
    if failed:
        print(f"qbound sweep: {len(failed)} run(s) failed, e.g. {failed[0]['error'][:200]}; their errors are "
              f"recorded in {args.out} and a rerun retries them", file=sys.stderr)
    return [r for r in recs if not is_failure(r)], 1 if failed else 0


def cli_verify(args, verify, **kw):
    """``qbound verify --dask``: ``verify(..., runner=VerifyRunner(session))``; returns (results, status)
    with status 1 and a message when the scheduler was lost."""
    import sys
    session = open_session(args.dask, kw.get("console"))
    try:
        with session:
            return verify(runner=VerifyRunner(session), **kw), None
    except SchedulerLost as exc:
        print(f"qbound verify: {exc}", file=sys.stderr)
        return None, 1



__all__ = ["DaskSession", "DaskTarget", "FuturesBar", "INSTALL_HINT", "SchedulerLost", "VerifyRunner",
           "import_distributed", "parse_target", "sweep_executor", "add_argument", "open_session", "cli_sweep",
           "cli_verify"]

# ---------------------------------------------------------------------------------------- measurement
def measure(units: int = 200, tiny_steps: int = 1, cpu_units: int = 16, cpu_steps: int = 3000,
            repeats: int = 3, out_dir=None) -> dict:
    """Scheduling overhead per unit (tiny sweep: local:1 vs the in-process local pool, both writing
    the same store) and the speedup of a CPU-bound sweep on local:2 over local:1; clusters are
    started and warmed (each worker has run a unit) before the clock starts. Median of ``repeats``.
    Run as ``python -m qbound.app.dask_runner``; prints JSON.
    """
    import statistics
    import tempfile
    import time as _t

    from qbound.numeric.sweep import SweepSpec, run_sweep

    def grid(n, steps):
        seeds = tuple(range(-(-n // 40)))
        cs = SweepSpec(problem="rosenbrock", optimizers=("adam",), components=("W", "G", "M", "V"),
                       bits=tuple(range(1, 11)), seeds=seeds, steps=steps, baseline=False).configs()
        return cs[:n]

    tmp = tempfile.mkdtemp(prefix="qbound-dask-measure-", dir=out_dir)
    count = [0]

    def timed(fn, configs):
        count[0] += 1
        path = os.path.join(tmp, f"s{count[0]}.jsonl")
        t0 = _t.perf_counter()
        fn(configs, path)
        return _t.perf_counter() - t0

    def on(session):
        return lambda cs, path: run_sweep(cs, path, progress=False, executor=sweep_executor(session, progress=False))

    tiny, cpu = grid(units, tiny_steps), grid(cpu_units, cpu_steps)
    warm = grid(4, 1)
    res: dict = {"load_before": os.getloadavg()}
    local = lambda cs, p: run_sweep(cs, p, workers=1, progress=False)  # noqa: E731
    timed(local, warm)
    t_local = [timed(local, tiny) for _ in range(repeats)]
    t = {}
    for n in (1, 2):  # one cluster at a time, started and warmed before the clock starts
        with DaskSession(DaskTarget("local", n)) as session:
            session.wait_for_workers(n)
            timed(on(session), warm)
            if n == 1:
                t["tiny"] = [timed(on(session), tiny) for _ in range(repeats)]
            t[n] = [timed(on(session), cpu) for _ in range(repeats)]
    t_dask1, t_c1, t_c2 = t["tiny"], t[1], t[2]
    med = statistics.median
    res.update({
        "tiny_units": len(tiny), "tiny_steps": tiny_steps, "seconds_local_pool_1": t_local,
        "seconds_dask_local_1": t_dask1,
        "overhead_ms_per_unit": 1000 * (med(t_dask1) - med(t_local)) / len(tiny),
        "cpu_units": len(cpu), "cpu_steps": cpu_steps, "seconds_cpu_local_1": t_c1, "seconds_cpu_local_2": t_c2,
        "speedup_local2_over_local1": med(t_c1) / med(t_c2), "load_after": os.getloadavg(),
        "cpu_count": os.cpu_count()})
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return res


if __name__ == "__main__":  # python -m qbound.app.dask_runner [units cpu_units cpu_steps repeats]
    import json
    import sys
    a = [int(x) for x in sys.argv[1:5]]
    kw = dict(zip(("units", "cpu_units", "cpu_steps", "repeats"), a))
    print(json.dumps(measure(**kw), indent=1))

