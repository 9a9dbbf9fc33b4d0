"""A small scheduler for ``qbound verify``: units run in worker processes, results stored as they come.

``submit(stage, unit, group, callback)`` either finds the unit's result in the
:class:`~qbound.app.verify.store.ResultStore` (resume: the callback fires at once, nothing is recomputed)
or queues it. ``run()`` executes queued units in ``workers`` processes (``workers == 1``: in this
process, in submission order), appends each result to the store the moment it arrives, and calls the
unit's callback, which may submit further units (the mantissa search does). Identical units submitted
twice run once. Results never depend on the number of workers: each unit is deterministic in its
own fields (seeds included), and readers look results up by key, not by arrival order.
"""
from __future__ import annotations

import concurrent.futures as cf
from collections import OrderedDict

from qbound.app.verify.runs import execute
from qbound.app.verify.store import ResultStore, unit_key


class Scheduler:
    def __init__(self, store: ResultStore, workers: int = 1, progress=None, version: str = "", runner=None):
        self.store = store
        self.runner = runner              # e.g. qbound.app.dask_runner.VerifyRunner: runs the queue instead
        self.workers = max(1, int(workers))
        self.progress = progress          # optional rich Progress
        self.version = version
        self._tasks: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._queue: "OrderedDict[str, tuple]" = OrderedDict()
        self._waiting: dict[str, list] = {}
        self.computed = 0
        self.reused = 0
        self._ran: set[str] = set()       # units computed by this scheduler (failures included)

    # ------------------------------------------------------------------ progress
    def _task(self, group):
        if self.progress is None:
            return None
        if group not in self._tasks:
            self._tasks[group] = self.progress.add_task(group, total=0)
        return self._tasks[group]

    def _grow(self, group):
        t = self._task(group)
        self._totals[group] = self._totals.get(group, 0) + 1
        if t is not None:
            self.progress.update(t, total=self._totals[group])

    def _advance(self, group):
        t = self._task(group)
        if t is not None:
            self.progress.advance(t)

    # ------------------------------------------------------------------ API
    def submit(self, stage: str, unit: dict, group: str = "", callback=None):
        key = f"{stage}:{unit_key(unit)}"
        # a unit that failed in an earlier run is recomputed; one computed in this run is not rerun
        rec = self.store.get(stage, unit) if key in self._ran else self.store.reusable(stage, unit)
        if rec is not None:
            self.reused += 1
            self._grow(group or stage)
            self._advance(group or stage)
            if callback:
                callback(rec["result"])
            return
        if key in self._waiting:           # already queued or running: just add the callback
            if callback:
                self._waiting[key].append(callback)
            return
        self._waiting[key] = [callback] if callback else []
        self._queue[key] = (stage, unit, group or stage)
        self._grow(group or stage)

    def _finish(self, key, stage, unit, group, result):
        seconds = result.pop("_seconds", 0.0)
        self.store.put(stage, unit, result, seconds=seconds, version=self.version)
        self.computed += 1
        self._ran.add(key)
        self._advance(group)
        for cb in self._waiting.pop(key, []):
            cb(result)

    def run(self):
        if self.runner is not None:       # another executor (a Dask cluster) drains the queue via _finish
            self.runner.run(self)
            return
        if self.workers == 1:
            while self._queue:
                key, (stage, unit, group) = self._queue.popitem(last=False)
                self._finish(key, stage, unit, group, execute(stage, unit))
            return
        from qbound.numeric.sweep import stop_pool, worker_init
        pool = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=worker_init)
        running: dict = {}
        try:
            while self._queue or running:
                while self._queue and len(running) < 2 * self.workers:
                    key, (stage, unit, group) = self._queue.popitem(last=False)
                    running[pool.submit(execute, stage, unit)] = (key, stage, unit, group)
                done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    key, stage, unit, group = running.pop(fut)
                    self._finish(key, stage, unit, group, fut.result())
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM), a write failed or a worker died: what is stored stays;
            # the workers are terminated and reaped, not left running
            stop_pool(pool, list(running))
            raise
        pool.shutdown(wait=True)
