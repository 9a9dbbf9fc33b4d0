"""Running a suite: its (format, rounding) units, the families in canonical order, and the
serial or forked execution of the units.

``lemmas_for`` chains the families of :data:`FAMILIES`; each family decides by itself which modes
and formats it covers, so the order of the records is the order of this tuple, then the order
inside each family. ``iter_suite`` yields the records of every unit in order (also with ``jobs`` >
1, where the units are decided in forked worker processes).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from qbound.numeric.formats import FloatFormat, get_format
from qbound.numeric.rounding import quantize
from qbound.proofs.suite import arith, conversion, exactness, optimizer, overflow, stochastic, subnormal
from qbound.proofs.suite.common import Unit
from qbound.proofs.verdict import LemmaResult

DEFAULT_FORMATS = ("fp32", "fp16", "bf16", "fp8_e4m3fn", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1")
DEFAULT_ROUNDINGS = ("rne", "rtz", "sr")
DEFAULT_CONSTS = {"beta1": 0.9, "beta2": 0.999, "lr": 1e-3, "eps": 1e-8}
#: the formats of the ``quick`` suite (when no formats are given)
QUICK_FORMATS = ("fp8_e4m3fn", "bf16")
SUITES = ("default", "quick")

#: the lemma families, in the order their records appear for one unit
FAMILIES: tuple[Callable[[Unit], Iterator[LemmaResult]], ...] = (
    conversion.lemmas, arith.lemmas, subnormal.lemmas, overflow.lemmas, exactness.lemmas, optimizer.lemmas,
    stochastic.lemmas,
)


def lemmas_for(fmt: FloatFormat, mode: str, consts: dict, timeout=30.0, smt2_dir=None) -> Iterator[LemmaResult]:
    """Yield the LemmaResults of one (format, rounding), family by family.

    >>> from qbound.numeric.formats import get_format
    >>> [r.lemma_id for r in lemmas_for(get_format("fp4_e2m1"), "sr", DEFAULT_CONSTS)]
    ['conv.relerr', 'opt.beta1', 'opt.beta2', 'sr.unbiased', 'sr.bias']
    """
    u = Unit(fmt, mode, consts, timeout, smt2_dir)
    for family in FAMILIES:
        yield from family(u)


def _units(name, formats, roundings, consts):
    from qbound.numeric.errors import InputError
    if name not in SUITES:
        from qbound.numeric.errors import did_you_mean
        raise InputError(f"unknown suite {name!r}.{did_you_mean(name, SUITES, n=1, cutoff=0.6)} "
                         f"Accepted: {', '.join(SUITES)}.")
    fmts = [get_format(f) for f in (formats or (DEFAULT_FORMATS if name == "default" else QUICK_FORMATS))]
    from qbound.numeric.formats import check_rounding
    rnds = [check_rounding(r) for r in (roundings or DEFAULT_ROUNDINGS)]
    cs = dict(DEFAULT_CONSTS)
    for k, v in (consts or {}).items():
        if k not in DEFAULT_CONSTS:
            raise InputError(f"unknown optimizer constant {k!r}; accepted: {', '.join(DEFAULT_CONSTS)}")
        cs[k] = float(v)
    return [(f, r) for f in fmts for r in rnds], cs


def _run_unit(args):
    fmt, mode, cs, timeout, smt2_dir = args
    return list(lemmas_for(fmt, mode, cs, timeout, smt2_dir))


def iter_suite(name="default", formats=None, roundings=None, consts=None, timeout=30.0, smt2_dir=None, jobs=1):
    """Yield LemmaResults of a suite one by one, in canonical order (see module docstring).

    ``jobs`` > 1 decides the (format, rounding) units in that many forked worker processes; the
    results and their order are the same as with ``jobs=1``.
    """
    units, cs = _units(name, formats, roundings, consts)
    if jobs > 1 and len(units) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        quantize(np.array([1.0]), units[0][0], "rne")  # compile/warm the rounding kernel before forking
        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
            futs = [ex.submit(_run_unit, (f, r, cs, timeout, smt2_dir)) for f, r in units]
            for fu in futs:
                yield from fu.result()
        return
    for f, r in units:
        yield from lemmas_for(f, r, cs, timeout, smt2_dir)


def run_suite(name="default", formats=None, roundings=None, progress=True, consts=None, timeout=30.0,
              on_result=None, smt2_dir=None, jobs=1) -> list:
    """Run a suite and return the list of LemmaResults; ``on_result(r)`` is called as each arrives.
    ``smt2_dir``: write every SMT query the suite issues as SMT-LIB2 there; ``jobs``: worker processes."""
    out = []
    gen = iter_suite(name, formats, roundings, consts, timeout, smt2_dir, jobs)
    if progress:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as pg:
            task = pg.add_task("proving", total=None)
            for r in gen:
                out.append(r)
                pg.update(task, description=f"[{len(out)}] {r.lemma_id} {r.format} {r.rounding}: {r.verdict.status}")
                if on_result:
                    on_result(r)
    else:
        for r in gen:
            out.append(r)
            if on_result:
                on_result(r)
    return out
