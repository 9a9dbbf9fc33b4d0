"""The qbound pytest plugin: run a test over formats and rounding modes, show counterexamples.

Registered as the ``pytest11`` entry point ``qbound`` (pip installs it with qbound); it imports
nothing of qbound at start-up and does not need hypothesis, so it never slows down or breaks a
pytest run that does not use it.

* ``@pytest.mark.qbound_formats("bf16", "fp8_e4m3fn", roundings=("rne", "rtz"))`` on a test that
  takes the fixture ``qbound_format`` (a :class:`~qbound.numeric.FloatFormat`) and optionally
  ``qbound_rounding`` (a mode name) runs it once per format and mode (ids ``[bf16-rne]`` ...).
  ``@pytest.mark.qbound_roundings("rne", "sr")`` gives the modes separately; the default is ``rne``.
  ``"all"`` stands for every registry format (or every rounding mode).
* ``--qbound-formats bf16,e5m7`` and ``--qbound-roundings rne,rna`` replace the markers' lists for
  the whole run (e.g. to try every test on a new format), and parametrize tests that take the
  fixtures without a marker.
* A failure raised by :mod:`qbound.testing.assertions` (a :class:`CounterexampleError`, also when
  Hypothesis re-raises it after shrinking) adds a section "qbound counterexample" to the report: the
  format, the rounding mode, the input in decimal and hex, and the exact error.
"""
from __future__ import annotations

import pytest

FORMAT_FIXTURE = "qbound_format"
ROUNDING_FIXTURE = "qbound_rounding"


def pytest_addoption(parser):
    group = parser.getgroup("qbound", "qbound formats and rounding modes")
    group.addoption("--qbound-formats", dest="qbound_formats", default=None, metavar="NAMES",
                    help="comma-separated formats (registry names, eXmY, or 'all') for tests that take the "
                         "qbound_format fixture; replaces the lists of @pytest.mark.qbound_formats")
    group.addoption("--qbound-roundings", dest="qbound_roundings", default=None, metavar="MODES",
                    help="comma-separated rounding modes (rne, rna, rtz, rup, rdn, sr, or 'all') for tests that "
                         "take the qbound_rounding fixture")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "qbound_formats(*formats, roundings=None): run the test once per format (fixture qbound_format) "
                   "and rounding mode (fixture qbound_rounding); see qbound.testing.plugin")
    config.addinivalue_line(
        "markers", "qbound_roundings(*modes): the rounding modes for the fixture qbound_rounding (default rne)")


def _split(text):
    return [t.strip() for t in str(text).split(",") if t.strip()]


def _format_names(metafunc):
    opt = metafunc.config.getoption("qbound_formats", None)
    mark = metafunc.definition.get_closest_marker("qbound_formats")
    if opt:
        names = _split(opt)
    elif mark is not None and mark.args:
        names = [n for a in mark.args for n in (a if isinstance(a, (list, tuple)) else [a])]
    else:
        return None
    if any(isinstance(n, str) and n.strip().lower() == "all" for n in names):
        from qbound.numeric.formats import registry
        return list(registry().values())
    from qbound.numeric.errors import InputError
    from qbound.numeric.formats import get_format
    try:
        return [get_format(n) for n in names]
    except InputError as exc:
        raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {exc}") from None


def _rounding_names(metafunc):
    opt = metafunc.config.getoption("qbound_roundings", None)
    mark = metafunc.definition.get_closest_marker("qbound_formats")
    rmark = metafunc.definition.get_closest_marker("qbound_roundings")
    if opt:
        modes = _split(opt)
    elif rmark is not None and rmark.args:
        modes = list(rmark.args)
    elif mark is not None and mark.kwargs.get("roundings"):
        r = mark.kwargs["roundings"]
        modes = [r] if isinstance(r, str) else list(r)
    else:
        modes = ["rne"]
    from qbound.numeric.errors import InputError
    from qbound.numeric.formats import ROUNDING_MODES, check_rounding
    if any(m.strip().lower() == "all" for m in modes):
        return list(ROUNDING_MODES)
    try:
        return [check_rounding(m.strip().lower()) for m in modes]
    except InputError as exc:
        raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {exc}") from None


def pytest_generate_tests(metafunc):
    wants_f = FORMAT_FIXTURE in metafunc.fixturenames
    wants_r = ROUNDING_FIXTURE in metafunc.fixturenames
    marked = metafunc.definition.get_closest_marker("qbound_formats") is not None
    if not (wants_f or wants_r):
        if marked:
            raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: @pytest.mark.qbound_formats needs the test to take "
                             f"the fixture {FORMAT_FIXTURE} (and optionally {ROUNDING_FIXTURE})")
        return
    if wants_f:
        fmts = _format_names(metafunc)
        if fmts is None:
            raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid} takes {FORMAT_FIXTURE}: name the formats with "
                             f"@pytest.mark.qbound_formats('bf16', ...) or --qbound-formats bf16,...")
        metafunc.parametrize(FORMAT_FIXTURE, fmts, ids=[f.name for f in fmts], indirect=True)
    if wants_r:
        modes = _rounding_names(metafunc)
        metafunc.parametrize(ROUNDING_FIXTURE, modes, ids=modes, indirect=True)


@pytest.fixture
def qbound_format(request):
    """The format this instance of the test runs with (a qbound.numeric.FloatFormat)."""
    return request.param


@pytest.fixture
def qbound_rounding(request):
    """The rounding mode this instance of the test runs with (rne, rna, rtz, rup, rdn or sr)."""
    return request.param


def _find_counterexample_errors(exc, seen=None):
    """Every qbound CounterexampleError inside ``exc`` (its causes, contexts and exception groups)."""
    seen = set() if seen is None else seen
    if exc is None or id(exc) in seen:
        return []
    seen.add(id(exc))
    found = [exc] if getattr(exc, "qbound_counterexample", False) else []
    for sub in getattr(exc, "exceptions", ()) or ():
        found += _find_counterexample_errors(sub, seen)
    found += _find_counterexample_errors(exc.__cause__, seen)
    found += _find_counterexample_errors(exc.__context__, seen)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or call.excinfo is None:
        return
    errors = _find_counterexample_errors(call.excinfo.value)
    if not errors:
        return
    rep = outcome.get_result()
    params = getattr(getattr(item, "callspec", None), "params", {})
    head = []
    if FORMAT_FIXTURE in params:
        head.append(f"format: {getattr(params[FORMAT_FIXTURE], 'name', params[FORMAT_FIXTURE])}")
    if ROUNDING_FIXTURE in params:
        head.append(f"rounding: {params[ROUNDING_FIXTURE]}")
    body = "\n\n".join(e.report() for e in errors)
    rep.sections.append(("qbound counterexample", "\n".join(head + [body])))
