"""Assertions that turn a rounding lemma, a quantizer or a convergence bound into a test.

Each helper returns quietly (with what it found) when the check passes and raises
:class:`CounterexampleError`, an ``AssertionError``, when it does not; the message names the
counterexample in decimal and hex with the exact error, and the pytest plugin repeats it in a
report section "qbound counterexample".

* :func:`assert_lemma`: the claim holds for every value of the format (:func:`qbound.proofs.prove`:
  exhaustive enumeration or an SMT solver); a falsified claim shows the counterexample, an unknown
  verdict fails with the engine's reason unless ``allow_unknown=True``.
* :func:`assert_rounds_like`: a user's quantizer ``fn`` gives, bit for bit, what qbound's exact
  rounding gives (``qbound.numeric.quantize``) on inputs drawn by Hypothesis where rounding bites
  (:func:`qbound.testing.strategies.rounding_inputs`); the first differing input is shrunk and shown.
* :func:`assert_bound_holds`: the statistic of ``qbound verify`` (:mod:`qbound.numeric.stats`):
  a bound B is broken only when the lower end of the Student-t 95% interval of the measured mean
  over seeds lies above B.
* :func:`assert_no_stagnation`: a run never has ``window`` consecutive steps in which (at least
  ``max_lost_frac`` of) the coordinates' non-zero updates were all swallowed by rounding.

>>> assert_lemma("rnd(-x) == -rnd(x)", "fp8_e4m3fn").status          # symmetric rounding
'proved'
>>> assert_bound_holds([0.9, 1.1, 1.0], bound=2.0)["status"]
'holds'
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from qbound.numeric.errors import InputError
from qbound.numeric.formats import FloatFormat, check_rounding, get_format

__all__ = ["CounterexampleError", "assert_lemma", "assert_rounds_like", "assert_bound_holds",
           "assert_no_stagnation", "describe_value", "adam_tau_measure"]


class CounterexampleError(AssertionError):
    """A qbound assertion failed. ``kind`` says which one (lemma, unknown, rounding, bound, stagnation,
    vacuous), ``counterexample`` holds the data (a dict, or None for an unknown verdict) and
    :meth:`report` the readable text that the pytest plugin shows."""

    qbound_counterexample = True  # what the pytest plugin looks for (no import needed there)

    def __init__(self, kind: str, message: str, counterexample: dict | None = None, lines=()):
        super().__init__(message + ("\n" + "\n".join(lines) if lines else ""))
        self.kind = kind
        self.counterexample = counterexample
        self.headline = message
        self.lines = list(lines)

    def report(self) -> str:
        return "\n".join([self.headline, *self.lines])


# ----------------------------------------------------------------------------- exact text
def exact_decimal(v) -> str:
    """Exact decimal text of a dyadic rational (every float), else ``p/q``; inf/nan as words.

    >>> exact_decimal(0.1), exact_decimal(Fraction(1, 3)), exact_decimal(-0.0)
    ('0.1000000000000000055511151231257827021181583404541015625', '1/3', '-0')
    """
    if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
        return repr(float(v))
    if isinstance(v, (float, np.floating)) and float(v) == 0:
        return "-0" if math.copysign(1.0, float(v)) < 0 else "0"
    x = Fraction(v) if not isinstance(v, (float, np.floating)) else Fraction(float(v))
    if x.denominator == 1:
        return str(x.numerator)
    d = x.denominator
    if d & (d - 1):
        return f"{x.numerator}/{x.denominator}"
    k = d.bit_length() - 1
    digits = str(abs(x.numerator) * 5 ** k).rjust(k + 1, "0")
    return ("-" if x < 0 else "") + (digits[:-k] + "." + digits[-k:]).rstrip("0").rstrip(".")


def short_exact(x) -> str:
    """The exact decimal when it is short (at most 32 characters), else the float's repr and the exact
    value as ``n*2^k`` (n odd).

    >>> short_exact(1.00390625), short_exact(2.0 ** -134), short_exact(3 * 2.0 ** -140), short_exact(0.1)
    ('1.00390625', '4.591774807899561e-41 (= 2^-134)', '2.152394441202919e-42 (= 3*2^-140)', '0.1 (= 3602879701896397*2^-55)')
    """
    text = exact_decimal(x)
    if len(text) <= 32 or "/" in text:
        return text
    fx = _frac(x)
    n, d = fx.numerator, fx.denominator
    k = -(d.bit_length() - 1)
    while n % 2 == 0 and n:
        n //= 2
        k += 1
    exact = f"2^{k}" if abs(n) == 1 else f"{n}*2^{k}"
    return f"{float(fx)!r} (= {'-' if n == -1 else ''}{exact})"


def describe_value(x, fmt=None) -> str:
    """``decimal (hex in fmt)`` for a value; the hex part only when ``fmt`` holds it exactly.

    >>> describe_value(1.00390625, "fp32")
    '1.00390625 (0x3f808000 in fp32)'
    >>> describe_value(1.00390625, "bf16")
    '1.00390625 (not a bf16 value)'
    """
    text = short_exact(x) if not (isinstance(x, (float, np.floating)) and (not math.isfinite(float(x))
                                                                         or float(x) == 0)) else exact_decimal(x)
    if fmt is None:
        return text
    fmt = get_format(fmt)
    try:
        bits = fmt.encode(float(x))
    except (ValueError, OverflowError):
        return f"{text} (not a {fmt.name} value)"
    if math.isfinite(float(x)) and Fraction(float(x)) != _frac(x):
        return f"{text} (not a {fmt.name} value)"
    return f"{text} ({fmt.hex(bits)} in {fmt.name})"


def _frac(x) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(float(x))


def _as_float(y) -> float:
    """A user's result as a float64 (Python floats, numpy and ml_dtypes scalars, 0-d or 1-element arrays,
    torch tensors)."""
    if hasattr(y, "detach"):  # torch tensor
        y = y.detach().cpu().double().numpy()
    arr = np.asarray(y)
    if arr.size != 1:
        raise InputError(f"the quantizer returned {arr.size} values for one input; return one number")
    with np.errstate(invalid="ignore"):
        return float(arr.astype(np.float64).reshape(()))


def _same(a: float, b: float) -> bool:
    """Bit-identical as values: equal with the same sign of zero, or both NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _error_text(y: float, x: float) -> str:
    if not (math.isfinite(y) and math.isfinite(x)):
        return "n/a (not finite)"
    err = Fraction(y) - Fraction(x)
    rel = f", relative {float(abs(err) / abs(Fraction(x))):.6g}" if x != 0 else ""
    return f"{short_exact(err)}{rel}"


# ----------------------------------------------------------------------------- assert_lemma
def assert_lemma(claim: str, fmt, rounding: str = "rne", *, assume=(), consts=None, allow_unknown: bool = False,
                 engine: str = "auto", timeout: float = 30.0, var_format=None):
    """Assert that ``claim`` holds for every value of ``fmt`` (see :func:`qbound.proofs.prove`).

    Returns the :class:`~qbound.proofs.Verdict` when it is proved (or unknown with
    ``allow_unknown=True``). A falsified claim raises :class:`CounterexampleError` with each variable
    in decimal and hex, both sides of the claim and their exact difference; an unknown verdict raises
    it with the engine's reason.

    >>> try:
    ...     assert_lemma("abs(rnd(x*y) - x*y) <= u/2 * abs(x*y)", "fp8_e4m3fn", assume=["tiny <= abs(x*y) <= huge"])
    ... except CounterexampleError as exc:
    ...     print(exc.report())
    lemma falsified in fp8_e4m3fn (rne): abs(rnd(x*y) - x*y) <= u/2 * abs(x*y)
      assuming tiny <= abs(x*y) <= huge
      counterexample:
        x = ... (0x... in fp8_e4m3fn)
        y = ... (0x... in fp8_e4m3fn)
        ...left side  = ...
        right side = ...
        left - right = ... (exact)
      decided by ...
    """
    from qbound.proofs.prover import prove
    fmt = get_format(fmt)
    check_rounding(rounding)
    assume = [assume] if isinstance(assume, str) else list(assume)
    v = prove(claim, fmt, rounding, assume=assume, consts=consts, engine=engine, timeout=timeout,
              var_format=var_format)
    where = f"{fmt.name} ({rounding})"
    hyp = [f"  assuming {a}" for a in assume]
    if v.status == "proved":
        return v
    if v.status == "unknown":
        if allow_unknown:
            return v
        raise CounterexampleError(
            "unknown", f"lemma undecided in {where}: {claim}", None,
            hyp + [f"  engine {v.engine}: {v.reason or 'no reason given'}",
                   "  (an unknown verdict is never a proof; pass allow_unknown=True to accept it)"])
    cex = dict(v.counterexample or {})
    vfmt = get_format(var_format) if var_format is not None else fmt
    lines = hyp + ["  counterexample:"]
    for name, val in sorted(cex.items()):
        if isinstance(val, dict) and "hex" in val and "decimal" in val:  # a variable of the claim
            lines.append(f"    {name} = {val['decimal']} ({val['hex']} in {vfmt.name})")
    rounded = cex.get("rounded")
    if isinstance(rounded, dict):  # every rnd(...) of the claim at the counterexample, when the engine lists them
        for expr, r in rounded.items():
            if isinstance(r, dict) and "value" in r:
                text = str(r["value"])
                try:  # the exact value from the bit pattern
                    text = exact_decimal(fmt.decode(int(str(r["hex"]), 16)))
                except (KeyError, TypeError, ValueError):
                    pass
                lines.append(f"    {expr} = {text}" + (f" ({r['hex']} in {fmt.name})" if r.get("hex") else ""))
    # both sides exactly when the engine gives them (lhs_exact/rhs_exact), else as it prints them
    lhs = cex.get("lhs_exact") or cex.get("lhs")
    rhs = cex.get("rhs_exact") or cex.get("rhs")
    if lhs is not None or rhs is not None:
        lines.append(f"    left side  = {lhs}")
        lines.append(f"    right side = {rhs}")
        try:
            lines.append(f"    left - right = {short_exact(Fraction(str(lhs)) - Fraction(str(rhs)))} (exact)")
        except (ValueError, ZeroDivisionError, TypeError):
            pass
    lines.append(f"  decided by {v.engine} {v.engine_version}".rstrip())
    raise CounterexampleError("lemma", f"lemma falsified in {where}: {claim}", cex, lines)


# ----------------------------------------------------------------------------- assert_rounds_like
def assert_rounds_like(fn, fmt, rounding: str = "rne", *, source="fp64", inputs=None, settings=None,
                       overflow: str = "ieee"):
    """Assert that the quantizer ``fn(x)`` rounds like qbound into ``fmt`` with ``rounding``, bit for bit.

    Hypothesis draws inputs ``x`` (default :func:`~qbound.testing.strategies.rounding_inputs` of
    ``fmt`` from ``source``: ties, their neighbours, binade edges, the overflow threshold, subnormals;
    or the strategy ``inputs``), calls ``fn(x)`` (``x`` a float, or a numpy/ml_dtypes scalar of
    ``source``'s type) and compares the result with :func:`qbound.numeric.quantize` (same value and
    sign of zero, NaN for NaN). For ``sr`` the result must be one of the two neighbours of ``x``.
    ``settings`` is a :class:`hypothesis.settings` (default: Hypothesis' profile, without deadline).

    The first differing input, shrunk, is reported in decimal and hex with both results and their
    exact errors. It runs its own Hypothesis search, so call it from a plain test, not from inside
    a ``@given`` test (there, compare ``fn(x)`` with ``qbound.numeric.quantize(x, ...)`` directly).

    >>> import numpy as np
    >>> def to_bf16(x):       # round to nearest even on the bits of a float32: right
    ...     b = np.array(x, dtype=np.float32).view(np.uint32)
    ...     b = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    ...     return float(b.view(np.float32))
    >>> assert_rounds_like(to_bf16, "bf16", "rne", source="fp32")
    """
    try:
        from hypothesis import given
        from hypothesis import settings as hsettings
    except ImportError:
        raise ImportError("assert_rounds_like draws its inputs with hypothesis: pip install 'qbound[testing]'") from None

    from qbound.numeric.rounding import quantize
    from qbound.testing.strategies import rounding_inputs
    fmt = get_format(fmt)
    src = get_format(source)
    check_rounding(rounding)
    if not callable(fn):
        raise InputError(f"fn must be a callable taking one number, got {type(fn).__name__}")
    strategy = inputs if inputs is not None else rounding_inputs(fmt, src)

    def expected(x) -> list[float]:
        if rounding != "sr":
            return [float(quantize(x, fmt, rounding, overflow=overflow))]
        down = float(quantize(x, fmt, "rtz", overflow=overflow))
        up = float(quantize(x, fmt, "rup" if float(x) > 0 else "rdn", overflow=overflow))
        return [down, up]

    def check(x):
        want = expected(x)
        got = _as_float(fn(x))
        if any(_same(got, w) for w in want):
            return
        xf = float(x)
        lines = [f"  input     x = {describe_value(xf, src)}"]
        lines.append(f"  qbound    {'one of ' if len(want) > 1 else ''}"
                     + " or ".join(describe_value(w, fmt) for w in want))
        for w in want:
            lines.append(f"            error {_error_text(w, xf)}")
        lines.append(f"  fn(x)     = {describe_value(got, fmt)}")
        lines.append(f"            error {_error_text(got, xf)}")
        cex = {"x": {"decimal": exact_decimal(xf), "hex": _hex_or_none(xf, src)},
               "expected": [exact_decimal(w) for w in want], "got": exact_decimal(got),
               "format": fmt.name, "rounding": rounding, "source": src.name}
        name = getattr(fn, "__name__", repr(fn))
        raise CounterexampleError("rounding", f"{name} does not round like qbound into {fmt.name} ({rounding})",
                                  cex, lines)

    base = settings if settings is not None else hsettings(deadline=None)
    test = base(given(strategy)(check))
    test()


def _hex_or_none(x: float, fmt: FloatFormat):
    try:
        return fmt.hex(fmt.encode(x))
    except (ValueError, OverflowError):
        return None


# ----------------------------------------------------------------------------- assert_bound_holds
def _measure(run, measure) -> float:
    if isinstance(run, (int, float, np.integer, np.floating)) and not isinstance(run, bool):
        return float(run)
    if callable(measure):
        return float(measure(run))
    if hasattr(run, "summary"):  # a Trajectory
        s = run.summary()
        if measure in s:
            v = s[measure]
            return math.inf if v is None else float(v)
        arr = getattr(run, measure, None)
        if arr is not None:
            return float(np.mean(arr))
        raise InputError(f"unknown measure {measure!r}; a Trajectory has {', '.join(sorted(s))}")
    if isinstance(run, dict):
        d = run.get("summary", run)
        if measure not in d:
            raise InputError(f"run record has no {measure!r}; keys: {', '.join(sorted(d))}")
        v = d[measure]
        return math.inf if v is None else float(v)
    raise InputError(f"a run is a number, a Trajectory or a summary dict, got {type(run).__name__}")


def _bound_value(bound, constants) -> tuple[float, str]:
    constants = dict(constants or {})
    if isinstance(bound, str):
        from qbound.bounds import evaluate_bound
        return float(evaluate_bound(bound, constants)), f"the {bound} bound"
    if callable(bound) and not hasattr(bound, "free_symbols"):
        return float(bound(**constants) if constants else bound()), getattr(bound, "__name__", "bound")
    if hasattr(bound, "free_symbols"):  # a SymPy expression
        subs = {s: constants[s.name] for s in bound.free_symbols if s.name in constants}
        missing = sorted(s.name for s in bound.free_symbols if s.name not in constants)
        if missing:
            raise InputError(f"missing value(s) for symbol(s) {', '.join(missing)} of the bound")
        return float(bound.subs(subs).evalf(30)), str(bound)
    if isinstance(bound, (int, float, Fraction, np.integer, np.floating)) and not isinstance(bound, bool):
        return float(bound), "bound"
    raise InputError(f"bound must be a number, a derivation name ('adam', 'muon'), a SymPy expression or a "
                     f"callable, got {type(bound).__name__}")


def adam_tau_measure(beta1: float):
    """The quantity the Adam bound is about, as ``qbound verify`` measures it on one run:
    E_tau ||grad F(x_tau)||^2 with P[tau = j] proportional to 1 - beta1^(N - j), j = 0..N-1 (uniform
    for beta1 = 0: the mean of ``grad_norm2``).

    >>> import numpy as np
    >>> class Run: grad_norm2 = np.array([4.0, 2.0, 1.0])
    >>> round(adam_tau_measure(0.0)(Run()), 6), round(adam_tau_measure(0.5)(Run()), 6)   # 7/8, 3/4, 1/2 weights
    (2.333333, 2.588235)
    """
    beta1 = float(beta1)

    def measure(run) -> float:
        g = np.asarray(run.grad_norm2, dtype=np.float64)
        n = g.size
        if n == 0:
            return math.nan
        w = 1.0 - beta1 ** (n - np.arange(n)) if beta1 > 0 else np.ones(n)
        return float(np.sum(w / w.sum() * g))
    measure.__name__ = f"E_tau ||grad F||^2 (beta1={beta1:g})"
    return measure


def assert_bound_holds(runs, bound, constants=None, *, measure="auto", confidence: float = 0.95,
                       allow_vacuous: bool = False) -> dict:
    """Assert that measured runs (one per seed) do not break ``bound``, by the rule of ``qbound verify``.

    ``runs``: numbers, :class:`~qbound.numeric.Trajectory` objects or their summary dicts, at least
    two (one seed can never falsify). ``measure``: the quantity the bound is about, a summary key
    (``"mean_grad_norm2"``, (1/T) sum_t ||grad F(x_t)||^2) or a callable on a run; the default
    ``"auto"`` is :func:`adam_tau_measure` (``constants["beta1"]``) for the ``"adam"`` bound, as
    ``qbound verify`` measures it, and ``"mean_grad_norm2"`` otherwise. ``bound``:
    a number, ``"adam"``/``"muon"`` (:func:`qbound.bounds.evaluate_bound` at ``constants``), a SymPy
    expression (substituted with ``constants``) or a callable taking ``constants`` as keywords.

    With the mean m and the Student-t interval [lo, hi] of the measurements
    (:func:`qbound.numeric.stats.mean_ci`), the bound B is broken only when lo > B: then
    :class:`CounterexampleError`. A mean above B inside the noise passes with status
    ``"exceeds-within-noise"``. An infinite B (a condition of the bound fails at these constants)
    fails as vacuous unless ``allow_vacuous=True``. Returns the summary dict (status, mean, lo,
    hi, n, bound, per_run).

    >>> assert_bound_holds([1.0, 2.0, 3.0], 1.5)["status"]          # mean above, but within noise
    'exceeds-within-noise'
    >>> try:
    ...     assert_bound_holds([2.0, 2.1, 1.9], 1.5)
    ... except CounterexampleError as exc:
    ...     print(exc.headline)
    bound broken: the lower end of the 95% interval, 1.75159, exceeds the bound 1.5
    """
    from qbound.numeric.stats import falsified, mean_ci
    runs = list(runs)
    if len(runs) < 2:
        raise InputError(f"assert_bound_holds needs at least 2 runs (seeds): one run gives no interval, got {len(runs)}")
    if measure == "auto":
        measure = (adam_tau_measure((constants or {}).get("beta1", 0.0)) if bound == "adam"
                   else "mean_grad_norm2")
    xs = [_measure(r, measure) for r in runs]
    B, what = _bound_value(bound, constants)
    if math.isnan(B):
        raise InputError(f"{what} evaluates to NaN at these constants")
    s = mean_ci(xs, confidence)
    out = dict(s, bound=B, per_run=xs, measure=measure if isinstance(measure, str) else getattr(measure, "__name__", "measure"))
    if math.isinf(B) and B > 0:
        out["status"] = "vacuous"
        if allow_vacuous:
            return out
        raise CounterexampleError("vacuous", f"{what} is infinite at these constants (one of its conditions fails): "
                                  "nothing is tested", out, [f"  constants: {dict(constants or {})}"])
    status = falsified(s, B)
    out["status"] = status
    if status != "FALSIFIED":
        return out
    pct = f"{100 * confidence:g}%"
    lines = [f"  {out['measure']} per run: {', '.join(f'{x:.6g}' for x in xs)}",
             f"  mean {s['mean']:.6g}, {pct} interval [{s['lo']:.6g}, {s['hi']:.6g}] over n = {s['n']} runs",
             f"  {what} = {B:.6g}; lower end - bound = {s['lo'] - B:.6g}"]
    if constants:
        lines.append(f"  constants: {dict(constants)}")
    raise CounterexampleError("bound", f"bound broken: the lower end of the {pct} interval, {s['lo']:.6g}, exceeds "
                              f"the bound {B:.6g}", out, lines)


# ----------------------------------------------------------------------------- assert_no_stagnation
def assert_no_stagnation(run, *, window: int | None = None, max_lost_frac: float = 1.0, start: int = 0,
                         which: str = "lost_update") -> dict:
    """Assert that a run does not stagnate: no ``window`` consecutive steps (from step ``start`` on)
    in each of which at least ``max_lost_frac`` of the coordinates lost their non-zero update.

    ``run`` is a :class:`~qbound.numeric.Trajectory` (or a sequence of per-step fractions).
    ``which="lost_update"`` reads ``lost_update_frac`` (rounding of W - delta swallowed the update),
    ``"stale_w"`` reads ``stale_w_frac`` (the quantized weights the gradient sees did not change).
    ``window`` defaults to max(5, T // 10). A diverged run (``diverged_at``) is not stagnation and is
    not judged here. Returns {"longest": length of the longest stalled stretch, "at": its first step}.

    >>> assert_no_stagnation([0.0, 1.0, 1.0, 0.0] * 10)["longest"]
    2
    >>> try:
    ...     assert_no_stagnation([0.0] * 5 + [1.0] * 30)
    ... except CounterexampleError as exc:
    ...     print(exc.headline)
    run stagnates: from step 6 on, 30 consecutive steps lost their update (lost_update_frac >= 1)
    """
    if which not in ("lost_update", "stale_w"):
        raise InputError(f"which must be 'lost_update' or 'stale_w', got {which!r}")
    if not (0 < max_lost_frac <= 1):
        raise InputError(f"max_lost_frac must be in (0, 1], got {max_lost_frac}")
    attr = f"{which}_frac"
    fr = np.asarray(getattr(run, attr) if hasattr(run, attr) else run, dtype=np.float64)
    T = int(fr.size)
    window = max(5, T // 10) if window is None else int(window)
    if window < 1:
        raise InputError(f"window must be >= 1, got {window}")
    stalled = np.nan_to_num(fr, nan=0.0) >= max_lost_frac
    stalled[:start] = False
    best, best_at, cur, cur_at = 0, None, 0, None
    for k, s in enumerate(stalled):
        if s:
            if cur == 0:
                cur_at = k
            cur += 1
            if cur > best:
                best, best_at = cur, cur_at
        else:
            cur = 0
    out = {"longest": best, "at": None if best_at is None else best_at + 1, "window": window, "steps": T}
    if best < window:
        return out
    assert best_at is not None  # best >= window >= 1: some run of stalled steps started
    step = best_at + 1  # steps are numbered 1..T; entry k is step k + 1
    lines = [f"  steps {step}..{step + best - 1} of {T}; window {window}"]
    loss = getattr(run, "loss", None)
    gn = getattr(run, "grad_norm2", None)
    if loss is not None and gn is not None and best_at < len(loss):
        lines.append(f"  at step {step}: loss {float(loss[best_at]):.6g}, ||grad||^2 {float(gn[best_at]):.6g}")
    meta = getattr(run, "meta", None) or {}
    if meta.get("plan") is not None or meta.get("command"):
        lines.append(f"  plan {meta.get('plan')}; rerun: {meta.get('command', '')}".rstrip())
    raise CounterexampleError("stagnation", f"run stagnates: from step {step} on, {best} consecutive steps lost their "
                              f"update ({attr} >= {max_lost_frac:g})", out, lines)
