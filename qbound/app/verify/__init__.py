"""``qbound verify``: plan units of work over the three layers, run them, decide each claim, report.

Modules, in the order a run uses them: :mod:`.config` (the validated configuration and its
embedded defaults), :mod:`.runs` (one unit of work each: a lemma family, a derivation part, a
harness run), :mod:`.store` (the append-only results store that makes a run resumable),
:mod:`.sched` (worker processes), :mod:`.falsify` (bounds against measured runs), :mod:`.stats`
(intervals over seeds), :mod:`.claims` and :mod:`.evidence` (the verdict rule per claim),
:mod:`.figures` and :mod:`.report` (``report.md`` and ``results.json``), and :mod:`.orchestrate`
(all of it in order).
"""
