"""qbound on dask.distributed: a real scheduler and real worker processes on 127.0.0.1 (no mocks).

What is checked: the records of a sweep run on Dask are those of the local pool (all fields but the
wall-clock ``seconds``); a worker process killed in the middle of a sweep loses nothing and stores
nothing twice; a failing unit is recorded with its error and the rest go on; an interrupted Dask run
resumes on the local pool and the other way round; losing the scheduler stops the run keeping what
finished; without the extra, ``--dask`` is a one-line error (exit 2).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

pytest.importorskip("distributed")

from qbound.app.dask_runner import DaskSession, parse_target, sweep_executor  # noqa: E402
from qbound.numeric.errors import InputError  # noqa: E402
from qbound.numeric.sweep import SweepSpec, load_results, run_sweep  # noqa: E402

HOST = "127.0.0.1"
# 100 tiny units: 4 components x 5 mantissa lengths x 5 seeds, 20 Adam steps on Rosenbrock
GRID = dict(problem="rosenbrock", optimizers=("adam",), components=("W", "G", "M", "V"), bits=(1, 2, 3, 4, 5),
            seeds=(0, 1, 2, 3, 4), steps=20, baseline=False)
GRID_ARGS = ["--problem", "rosenbrock", "--optimizers", "adam", "--components", "W,G,M,V", "--bits", "1-5",
             "--seeds", "0-4", "--steps", "20", "--no-baseline"]


# ------------------------------------------------------------------------------- a real cluster
class Cluster:
    """``dask scheduler`` and ``dask worker`` processes (no nanny: a killed worker stays dead)."""

    def __init__(self, tmp_path, n_workers=2):
        self.file = str(tmp_path / "scheduler.json")
        env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", HOST, "--port", "0",
             "--dashboard-address", f"{HOST}:0", "--scheduler-file", self.file],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        t0 = time.time()
        while not os.path.exists(self.file) or not os.path.getsize(self.file):
            if time.time() - t0 > 60 or self.scheduler.poll() is not None:
                self.close()
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.05)
        time.sleep(0.1)
        with open(self.file) as fh:
            self.address = json.load(fh)["address"]
        assert self.address.startswith(f"tcp://{HOST}:")
        self.workers = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--host", HOST, "--nthreads", "1",
             "--no-nanny", "--dashboard-address", f"{HOST}:0", "--death-timeout", "60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) for _ in range(n_workers)]

    def add_worker(self):
        """Start one more worker process (after the others were killed)."""
        env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
        self.workers.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--host", HOST, "--nthreads", "1",
             "--no-nanny", "--dashboard-address", f"{HOST}:0", "--death-timeout", "60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))

    def session(self, n_workers=None):
        s = DaskSession(self.address).__enter__()
        s.wait_for_workers(n_workers or len(self.workers), timeout=60)
        return s

    def close(self):
        for p in getattr(self, "workers", []) + [self.scheduler]:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)


@pytest.fixture
def own_cluster(tmp_path):
    """A cluster for one test (which kills a worker or the scheduler)."""
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A cluster shared by the tests that leave it as they found it."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def configs():
    return SweepSpec(**GRID).configs()


@pytest.fixture(scope="module")
def reference(configs, tmp_path_factory):
    """The local pool's records (one process, in order), by key, without wall-clock seconds."""
    path = tmp_path_factory.mktemp("ref") / "local.jsonl"
    run_sweep(configs, path, workers=1, progress=False)
    return by_key(path)


def raw_records(path) -> list[dict]:
    """Every complete record line of a store file as written (header and torn tail left out)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.split("\n")[:-1]:
        if line.strip():
            rec = json.loads(line)
            if "key" in rec:
                out.append(rec)
    return out


def by_key(path) -> dict:
    """Records by key, without the wall-clock ``seconds`` (and the line checksum, which covers it);
    fails on a key stored twice."""
    recs = raw_records(path)
    counts = Counter(r["key"] for r in recs)
    dup = [k for k, n in counts.items() if n > 1]
    assert not dup, f"{len(dup)} key(s) stored twice in {path}"
    return {r["key"]: {k: v for k, v in r.items() if k not in ("seconds", "checksum")} for r in recs}


def lines(path) -> int:
    """Number of records in a store file."""
    return len(raw_records(path))


# ------------------------------------------------------------------------------- parsing, no cluster
def test_parse_target_accepts_the_two_forms_and_refuses_the_rest():
    assert parse_target("local").kind == "local" and parse_target("local").workers >= 1
    assert parse_target("local:3").workers == 3
    assert parse_target("tcp://10.1.2.3:8786").address == "tcp://10.1.2.3:8786"
    assert parse_target("tls://sched.example:8786").address == "tls://sched.example:8786"
    for bad in ("local:0", "local:x", "remote", "tcp://host", "http://h:1", "h:99999", ""):
        with pytest.raises(InputError):
            parse_target(bad)


def test_progress_counts_done_running_failed_reused():
    from rich.progress import BarColumn, Progress, TextColumn

    from qbound.app.dask_runner import FuturesBar
    p = Progress(TextColumn("{task.description}"), BarColumn())  # verify's own Progress: no counts column
    bar = FuturesBar("dask futures", reused=3, progress=p)
    bar.grow(5)
    bar.set_running(2)
    bar.finished()
    bar.finished(failed=True)
    bar.add_reused(1)
    task = p.tasks[0]
    assert (task.completed, task.total) == (1 + 1 + 4, 5 + 4)
    assert task.description == "dask futures (done 1  running 0  failed 1  reused 4)"  # 2 running, 2 ended


def test_without_the_extra_dask_is_a_one_line_error_and_the_rest_works(tmp_path):
    """``distributed`` made unimportable in a fresh interpreter: ``--dask`` exits 2 naming the extra,
    and the same sweep without ``--dask`` runs."""
    code = ("import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
            "from qbound.app.cli import main\n"
            "grid = ['sweep', '--problem', 'rosenbrock', '--optimizers', 'adam', '--components', 'V', '--bits', '2',\n"
            "        '--steps', '5', '--out']\n"
            "rc = main(grid + [sys.argv[1], '--dask', 'local:1'])\n"
            "print('RC', rc, file=sys.stderr)\n"
            "sys.exit(main(grid + [sys.argv[2]]))\n")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    r = subprocess.run([sys.executable, "-c", code, str(a), str(b)], capture_output=True, text=True, timeout=180)
    first = r.stderr.split("RC ")[0]
    assert "RC 2" in r.stderr, r.stderr
    err = [ln for ln in first.splitlines() if ln.strip()]
    assert len(err) == 1 and 'pip install "qbound[dask]"' in err[0], r.stderr
    assert not a.exists()
    assert r.returncode == 0, r.stderr
    assert len(load_results(b)) == 2  # baseline + one grid point


def test_unreachable_scheduler_is_a_one_line_error():
    import socket
    with socket.socket() as s:  # a free port on loopback that nobody listens on
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        DaskSession(f"tcp://{HOST}:{port}", timeout=2).__enter__()


# ------------------------------------------------------------------------------- against a real scheduler
def test_dask_sweep_is_identical_to_the_local_pool_and_resumes_both_ways(cluster, configs, reference, tmp_path):
    """Half the grid on Dask, the rest on the local pool (resumed), then the other way round: every
    record equals the local pool's; a wrong variant (one altered record) is told apart."""
    ca, cb = configs[:30], configs[30:60]
    with cluster.session() as s:
        a = tmp_path / "dask_then_local.jsonl"
        run_sweep(ca[:15], a, executor=sweep_executor(s, progress=True))
        assert lines(a) == 15
        run_sweep(ca, a, workers=2, progress=False)  # the local pool resumes: only the other 15 run
        assert lines(a) == 30 and by_key(a) == {c["key"]: reference[c["key"]] for c in ca}

        b = tmp_path / "local_then_dask.jsonl"
        run_sweep(cb[15:], b, workers=1, progress=False)
        assert lines(b) == 15
        run_sweep(cb, b, executor=sweep_executor(s, progress=False))  # Dask resumes
        assert lines(b) == 30 and by_key(b) == {c["key"]: reference[c["key"]] for c in cb}

    wrong = dict(reference)
    k = next(iter(wrong))
    rec = json.loads(json.dumps(wrong[k]))
    rec["summary"]["final_grad_norm2"] = float(rec["summary"]["final_grad_norm2"]) * (1 + 2 ** -52) + 1e-300
    wrong[k] = rec
    assert wrong != reference


def test_killing_one_of_two_workers_mid_sweep_loses_nothing_and_stores_nothing_twice(
        own_cluster, configs, reference, tmp_path):
    cluster = own_cluster
    out = tmp_path / "killed.jsonl"
    killed = {}

    with cluster.session() as s:
        pids = s.client.run(os.getpid)  # worker address -> pid

        def killer():
            while lines(out) < 20:
                time.sleep(0.005)
            for _ in range(400):  # the worker that has a unit in hand right now
                busy = [a for a, keys in s.client.processing().items() if keys]
                if busy:
                    killed["addr"], killed["keys"] = busy[0], list(s.client.processing()[busy[0]])
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed["at"] = lines(out)
                    return
                time.sleep(0.005)

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        recs = run_sweep(configs, out, executor=sweep_executor(s, progress=False))
        t.join(timeout=10)
        alive = s.n_workers()
    assert killed.get("keys"), "no worker was busy when the sweep was past 20 results"
    assert killed["at"] < 100, "the sweep had finished before the kill"
    assert alive == 1
    assert len(recs) == 100 and lines(out) == 100
    assert by_key(out) == reference


def _jobs(todo):
    from qbound.numeric.sweep import run_config
    return [(f"qbound-sweep-{c['key']}", run_config, (c,), c) for c in todo]


def test_a_result_lost_after_it_finished_is_recomputed_not_recorded_as_an_error(own_cluster, configs, reference):
    """Every unit finishes; while the client takes the first result, both workers (holding the
    other results, already reported complete) are killed; a new worker joins. The lost results are
    recomputed and taken once each: no unit recorded as an error, none twice, all equal to the local
    pool. (The runner used to read such a future's "exception", which waits for the recompute and
    is None, and recorded "NoneType: None" for a unit that succeeded.)"""
    cluster = own_cluster
    todo = configs[:12]
    jobs = _jobs(todo)
    got, seen_lost = [], {}
    with cluster.session() as s:
        pids = s.client.run(os.getpid)

        def on_result(c, rec, err):
            got.append((c["key"], rec, err))
            if seen_lost:
                return
            mine = f"qbound-sweep-{c['key']}"
            others = [k for k, _, _, _ in jobs if k != mine]
            t0 = time.time()
            while time.time() - t0 < 60:  # every other unit done: its result is held by a worker
                st = s.client.futures
                if all(k in st and st[k].status == "finished" for k in others):
                    break
                time.sleep(0.01)
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            t0 = time.time()
            while time.time() - t0 < 60:
                st = s.client.futures
                lost_now = [k for k in others if k in st and st[k].status != "finished"]
                if lost_now:
                    seen_lost["keys"] = lost_now
                    break
                time.sleep(0.01)
            cluster.add_worker()

        s.run_futures(jobs, on_result)
    assert seen_lost.get("keys"), "no result was lost: the test did not exercise the case"
    assert [k for k, _, err in got if err is not None] == []
    assert Counter(k for k, _, _ in got) == Counter(c["key"] for c in todo)
    for k, rec, _ in got:
        assert {kk: v for kk, v in rec.items() if kk != "seconds"} == reference[k]


class _DroppingAsCompleted:
    """``distributed.as_completed`` that never yields the first future added (a missed future)."""

    def __init__(self, real):
        self.real, self.dropped = real, []

    def __call__(self, *a, **kw):
        ac = self.real(*a, **kw)
        add = ac.add

        def add_once(f):
            if not self.dropped:
                self.dropped.append(f.key)
                return
            add(f)
        ac.add = add_once
        return ac


def test_a_future_that_as_completed_misses_is_tracked_again(cluster, configs, reference, monkeypatch):
    """A future dropped by ``as_completed`` (never yielded) used to end the loop early with its
    unit silently missing; the recheck tracks it again and its result is taken."""
    import distributed
    todo = configs[:6]
    dropping = _DroppingAsCompleted(distributed.as_completed)
    monkeypatch.setattr(distributed, "as_completed", dropping)
    got = []
    with cluster.session() as s:
        s.run_futures(_jobs(todo), lambda c, rec, err: got.append((c["key"], rec, err)), recheck_seconds=0.2)
    assert dropping.dropped == [f"qbound-sweep-{todo[0]['key']}"]
    assert sorted(k for k, _, _ in got) == sorted(c["key"] for c in todo)
    assert all(err is None for _, _, err in got)


def test_the_watchdog_names_the_outstanding_units(cluster):
    """No unit finished for ``stall_seconds``: one line names the outstanding unit and where it runs;
    with a longer limit, nothing is said."""
    lines_said = []
    with cluster.session() as s:
        s.run_futures([("qbound-test-sleeper", time.sleep, (1.5,), "m")], lambda *a: None,
                      stall_seconds=0.3, warn=lines_said.append, recheck_seconds=0.1)
        assert lines_said, "the watchdog said nothing"
        assert "no unit finished for" in lines_said[0] and "1 outstanding: qbound-test-sleeper" in lines_said[0]
        assert "running on tcp://" in " ".join(lines_said) and "worker(s) connected" in lines_said[0]
        quiet = []
        s.run_futures([("qbound-test-sleeper-2", time.sleep, (0.5,), "m")], lambda *a: None,
                      stall_seconds=30, warn=quiet.append, recheck_seconds=0.1)
        assert quiet == []


def test_a_failing_unit_is_recorded_with_its_error_and_the_rest_go_on(cluster, configs, reference, tmp_path):
    bad = dict(configs[3], optimizer="no-such-optimizer", key="0" * 16)
    todo = configs[:10] + [bad]
    out = tmp_path / "fail.jsonl"
    with cluster.session() as s:
        recs = run_sweep(todo, out, executor=sweep_executor(s, progress=False))
    assert len(recs) == 11
    failed = [r for r in recs if r.get("error")]
    assert [r["key"] for r in failed] == [bad["key"]] and "no-such-optimizer" in failed[0]["error"]
    assert "Traceback" in failed[0]["traceback"]
    good = {k: v for k, v in by_key(out).items() if k != bad["key"]}
    assert good == {c["key"]: reference[c["key"]] for c in configs[:10]}
    assert len(load_results(out)) == 10  # readers (plots) do not see the failure
    # a rerun retries the failed unit only (the local pool stops at a unit that raises, as it always did)
    with pytest.raises(InputError, match="no-such-optimizer"):
        run_sweep(todo, out, workers=1, progress=False)
    assert lines(out) == 11


@pytest.mark.slow
def test_losing_the_scheduler_stops_the_run_keeping_what_finished(own_cluster, configs, reference, tmp_path):
    cluster = own_cluster
    from qbound.app.dask_runner import SchedulerLost
    out = tmp_path / "lost.jsonl"

    def killer():
        while lines(out) < 15:
            time.sleep(0.005)
        cluster.scheduler.kill()

    s = cluster.session()
    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        with pytest.raises(SchedulerLost, match="rerun"):
            run_sweep(configs, out, executor=sweep_executor(s, progress=False))
    finally:
        s.close()
    n = lines(out)
    assert 15 <= n < 100
    part = by_key(out)
    assert part == {k: reference[k] for k in part}
    run_sweep(configs, out, workers=2, progress=False)  # resumes on the local pool
    assert by_key(out) == reference


def test_sigterm_cancels_a_dask_sweep_keeping_the_store_and_the_local_pool_resumes(
        cluster, configs, reference, tmp_path):
    out = tmp_path / "term.jsonl"
    args = [a if a != "0-4" else "0-1" for a in GRID_ARGS]  # 40 of the 100 units
    p = subprocess.Popen([sys.executable, "-m", "qbound.app.cli", "sweep", *args, "--out", str(out),
                          "--dask", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while lines(out) < 10 and p.poll() is None and time.time() - t0 < 60:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err  # the command line's SIGTERM status
    n = lines(out)
    assert 10 <= n < 40, n
    assert "terminated" in err and "Traceback" not in err
    with cluster.session() as s:  # the cancelled futures are gone from the cluster
        assert not any(s.client.processing().values())
    mine = [c for c in configs if c["seed"] < 2]
    run_sweep(mine, out, workers=1, progress=False)
    assert by_key(out) == {c["key"]: reference[c["key"]] for c in mine}


@pytest.mark.slow
def test_sigint_on_a_local_pool_sweep_then_resume_on_a_local_cluster(configs, reference, tmp_path):
    out = tmp_path / "int.jsonl"
    p = subprocess.Popen([sys.executable, "-m", "qbound.app.cli", "sweep", *GRID_ARGS, "--out", str(out),
                          "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while lines(out) < 10 and p.poll() is None and time.time() - t0 < 60:
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert 10 <= lines(out) < 100
    from qbound.app.cli import main
    assert main(["sweep", *GRID_ARGS, "--out", str(out), "--dask", "local:2"]) == 0
    assert by_key(out) == reference


# ------------------------------------------------------------------------------- qbound verify
def _tiny_verify_cfg(seeds):
    from qbound.app.verify.config import default_config, validate
    return validate({
        **default_config(quick=True),
        "seeds": seeds, "workers": 1,
        "lemmas": {"enabled": False, "suite": "default", "formats": [], "roundings": []},
        "derive": {"names": []},
        "grid": {"components": ["V", "M"], "mantissa": [2, 3], "exponent_bits": 8, "rounding": "rne", "steps": 20,
                 "compare_bits": [], "case": [{"optimizer": "adam", "problem": "quadratic",
                                               "problem_args": {"d": 4, "sigma": 0.5}, "hparams": {"lr": 0.01}}]},
        "trajectory": {"plans": [], "steps": 5},
        "thresholds": {**default_config(quick=True)["thresholds"], "formats": []},
        "scaling": {**default_config(quick=True)["scaling"], "components": [], "floor_plans": []},
    })


def _store(root) -> dict:
    out = {}
    for f in sorted(os.listdir(root)):
        if f.endswith(".jsonl"):
            for k, v in by_key(os.path.join(root, f)).items():
                v = {kk: vv for kk, vv in v.items() if kk != "version"}
                if isinstance(v.get("result"), dict):
                    v["result"] = {kk: vv for kk, vv in v["result"].items() if "seconds" not in kk}
                out[(f, k)] = v
    return out


@pytest.mark.slow
def test_verify_on_dask_equals_the_local_pool_and_resumes_both_ways(cluster, tmp_path):
    from qbound.app.dask_runner import VerifyRunner
    from qbound.app.verify.orchestrate import verify
    local = verify(_tiny_verify_cfg([0, 1]), tmp_path / "local", workers=1, show_progress=False)
    with cluster.session() as s:
        d1 = verify(_tiny_verify_cfg([0]), tmp_path / "d", show_progress=False, runner=VerifyRunner(s))
        assert d1["run"]["scheduler"] == f"dask {cluster.address}" and d1["run"]["units_computed"] > 0
        # Dask -> local pool: the rest of the work only
        d2 = verify(_tiny_verify_cfg([0, 1]), tmp_path / "d", workers=2, show_progress=False)
        assert d2["run"]["units_reused"] == d1["run"]["units_computed"]
        # local pool -> Dask
        verify(_tiny_verify_cfg([1]), tmp_path / "e", workers=1, show_progress=False)
        e = verify(_tiny_verify_cfg([0, 1]), tmp_path / "e", show_progress=False, runner=VerifyRunner(s))
        assert e["run"]["units_reused"] > 0 and e["run"]["units_computed"] > 0
    for res in (d2, e):
        assert [r["per_seed"] for r in res["bounds"]] == [r["per_seed"] for r in local["bounds"]]
        assert [(c["id"], c["verdict"]) for c in res["claims"]] == [(c["id"], c["verdict"]) for c in local["claims"]]
    assert _store(tmp_path / "d" / "store") == _store(tmp_path / "local" / "store")
    assert _store(tmp_path / "e" / "store") == _store(tmp_path / "local" / "store")
