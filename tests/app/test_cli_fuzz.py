"""Hypothesis fuzz of the command-line surface (issue 10): whatever the arguments, qbound answers
with an exit status in {0, 1, 2} and at most one-line messages, never a traceback or an "internal
error". Examples are bounded (small step counts when valid) so the test stays fast."""
import contextlib
import io

import pytest

hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from qbound.app.cli import main  # noqa: E402

WEIRD = st.sampled_from(["", " ", "-1", "0", "1", "nan", "inf", "-inf", "1e309", "10.5", "abc", "\u00b2", "1e99999",
                         "9" * 60, "0x1p-3", "1-1000000000", "-", ",", "=", "a=b", "lr=abc", "d=1e11",
                         "d=100000000000", "V=bf16:sr\u00b2", "sr\u00b2", "W=bf16,V=fp8_e4m3fn", "RNE", "Adam", "SR", "rtz",
                         "fp8", "bf16", "e8m3", "e99m99", "none", "\x00", "../x", "/nonexistent/x"])
TEXT = st.one_of(WEIRD, st.text(min_size=0, max_size=12))
SMALL_STEPS = st.one_of(st.integers(-3, 8).map(str), st.sampled_from(["10000001", "1" * 25, "x", "1.5", "-0"]))


def _opt(name, values):
    return st.one_of(st.just([]), values.map(lambda v: [name, v]))


def _run_args():
    return st.tuples(
        st.sampled_from(["adam", "Adam", "muon", "sgdm", "adamw", "adamm", ""]),
        _opt("--problem", st.one_of(st.sampled_from(["rosenbrock", "quadratic", "matrix-ls", "Quadratic"]), TEXT)),
        _opt("--problem-args", st.one_of(st.sampled_from(["d=3", "d=0", "d=-1", "d=1.5", "m=100000,n=100000",
                                                          "sigma=nan", "kappa=inf"]), TEXT)),
        _opt("--quant", TEXT), _opt("--hp", TEXT), _opt("--lr", TEXT),
        _opt("--seed", st.one_of(st.integers(-3, 3).map(str), TEXT)),
    ).map(lambda t: ["run", t[0], "--steps", "3", *sum(t[1:], [])])


def _run_steps():
    return SMALL_STEPS.map(lambda s: ["run", "adam", "--problem", "quadratic", "--problem-args", "d=3",
                                      "--steps", s])


def _quantize_args():
    return st.tuples(
        st.lists(TEXT.filter(lambda s: not s.startswith("--")), min_size=1, max_size=3),
        st.one_of(st.sampled_from(["bf16", "BF16", "fp8_e4m3fn", "e5m2", "fp4", "e2m1fn"]), TEXT),
        _opt("--rounding", st.one_of(st.sampled_from(["rne", "RNE", "sr", "rtz", "rup"]), TEXT)),
        _opt("--seed", st.one_of(st.integers(-2, 2).map(str), TEXT)),
        _opt("--sr-bits", st.one_of(st.integers(-1, 70).map(str), TEXT)),
        st.sampled_from([[], ["--exact"], ["--json"], ["--overflow", "saturate"], ["--overflow", "x"]]),
    ).map(lambda t: ["quantize", "--format", t[1], *t[2], *t[3], *t[4], *t[5], "--", *t[0]])


def _sweep_args(out):
    return st.tuples(
        _opt("--optimizers", st.one_of(st.sampled_from(["adam", "Adam", "adam,muon", "x"]), TEXT)),
        _opt("--components", st.one_of(st.sampled_from(["V", "v", "all", "W,X"]), TEXT)),
        st.one_of(st.sampled_from(["2", "1-3", "0", "53", "1-1000000000", "3-1"]), TEXT),
        _opt("--seeds", st.one_of(st.sampled_from(["0", "-1", "0-100000000", "0,1"]), TEXT)),
        _opt("--rounding", st.one_of(st.sampled_from(["rne", "RNE", "sr", "sr4"]), TEXT)),
        _opt("--exp-bits", st.one_of(st.integers(-1, 12).map(str), TEXT)),
        _opt("--workers", st.sampled_from(["0", "1", "-1", "x"])),
        SMALL_STEPS,
    ).map(lambda t: ["sweep", "--problem", "quadratic", "--problem-args", "d=2", *t[0], *t[1], "--bits", t[2],
                     *t[3], *t[4], *t[5], *t[6], "--steps", t[7], "--no-baseline", "--out", out])


def _misc_args(tmp):
    return st.one_of(
        st.tuples(TEXT, _opt("--out-dir", TEXT), _opt("--select", TEXT)).map(
            lambda t: ["plot", t[0] or "missing.jsonl", *t[1], *t[2]]),
        st.lists(TEXT, max_size=3).map(lambda names: ["formats", *names]),
        st.tuples(_opt("--out", TEXT), _opt("--workers", st.sampled_from(["0", "-3", "x"]))).map(
            lambda t: ["verify", "--config", f"{tmp}/missing.toml", *t[0], *t[1]]),
        st.just(["verify", "--print-config"]),
        st.lists(TEXT, max_size=2),
    )


def _check(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
    e = err.getvalue()
    assert rc in (0, 1, 2), (argv, rc, e)
    assert "Traceback" not in e and "internal error" not in e, (argv, e)
    for line in e.splitlines():
        if line.startswith("qbound") and ": error:" in line:
            assert len(line) < 2000, argv


FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(argv=st.one_of(_run_args(), _run_steps(), _quantize_args()))
def test_fuzz_run_and_quantize(argv):
    _check(argv)


@FUZZ
@given(data=st.data())
def test_fuzz_sweep_plot_verify(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fz")
    argv = data.draw(st.one_of(_sweep_args(str(tmp / "s.jsonl")), _misc_args(str(tmp))))
    _check(argv)


# ---------------------------------------------------------------- prove, derive, mantissa, floor, check-config, bench
CLAIMS = st.sampled_from(["rnd(a*b) == a*b", "abs(rnd(a+b) - (a+b)) <= u*abs(a+b)", "rnd(a) == a", "rnd(x/2)",
                          "a <", "rnd(a*b", "foo(a) == a", "x < 1e99999999", "rnd(a+b) >= a+b and not a < b",
                          "min(a, b) <= rnd(b1*a + (1-b1)*b) <= max(a, b)", "sqrt(a) >= 0", "fma(a, b, c) == a",
                          "ulp(a) > 0", "1/0 < a", "a == a implies rnd(a) == a", "((((((a))))))"])
TINY_FORMATS = st.one_of(st.sampled_from(["fp4", "fp4_e2m1", "e2m1fn", "fp6_e2m3", "FP4", "fp8_e4m3fn"]), TEXT)


def _prove_args():
    return st.tuples(
        st.one_of(CLAIMS, TEXT),
        TINY_FORMATS,
        _opt("--rounding", st.one_of(st.sampled_from(["rne", "RNE", "sr", "rtz", "rdn"]), TEXT)),
        _opt("--engine", st.one_of(st.sampled_from(["auto", "exhaustive", "z3", "Exhaustive"]), TEXT)),
        _opt("--timeout", st.sampled_from(["0", "-1", "nan", "inf", "1e-9", "2", "x", "1e400"])),
        _opt("--const", st.sampled_from(["b1=0.9", "b1=abc", "b1", "=1", "b1=1e99999", "b1=0.5", "u=2"])),
        _opt("--assume", st.one_of(st.sampled_from(["a > 0", "a >", "b != 0", "q(a)"]), TEXT)),
        st.sampled_from([[], ["--explain"], ["--cross-check"], ["--jobs", "0"], ["--suite", "nope"]]),
    ).map(lambda t: ["prove", "--claim", t[0], "--format", t[1], *sum(t[2:], [])])


def _theory_args(tmp):
    name = st.sampled_from(["adam", "muon", "Adam", "sgd", ""])
    num = st.one_of(st.sampled_from(["0", "-1", "0.9", "1", "1.5", "nan", "inf", "3e16", "1e400", "1000"]), TEXT)
    return st.one_of(
        st.tuples(name, _opt("--T", num), _opt("--tol", num), _opt("--beta1", num),
                  _opt("--rounding", st.one_of(st.sampled_from(["rtz", "rne", "sr"]), TEXT))).map(
            lambda t: ["mantissa", t[0], *sum(t[1:], [])]),
        st.tuples(name, _opt("--quant", st.one_of(st.sampled_from(["W=bf16", "V=fp8_e4m3fn:sr", "X=bf16"]), TEXT)),
                  _opt("--beta1", num)).map(lambda t: ["floor", t[0], *sum(t[1:], [])]),
        st.tuples(name, _opt("--quant", TEXT), _opt("--T", num), _opt("--lr", num), _opt("--beta1", num),
                  _opt("--beta2", num), _opt("--eps", num), _opt("--problem", st.sampled_from(["rosenbrock", "x"])),
                  _opt("--R", num)).map(lambda t: ["check-config", t[0], *sum(t[1:], [])]),
        # derive: only what is refused before any derivation runs (a derivation takes seconds)
        st.tuples(st.sampled_from(["sgd", "", "Adamm", "muon2"]), st.sampled_from(
            [[], ["--recheck"], ["--mutant-limit", "x"], ["--mutant-timeout", "-1"], ["--recheck-timeout", "nan"],
             ["--json", "/nonexistent/d.json"]])).map(lambda t: ["derive", t[0], *t[1]]),
        st.tuples(st.one_of(st.sampled_from(["quantise", "", "ALL", "prove2"]), TEXT),
                  st.sampled_from([[], ["--json", "/nonexistent/b.json"], ["--quick"]])).filter(
            lambda t: t[0].lower() not in ("quantize", "harness", "prove", "derive", "torch", "all")).map(
            lambda t: ["bench", t[0], *t[1]]),
    )


@FUZZ
@given(argv=_prove_args())
def test_fuzz_prove(argv):
    _check(argv)


@FUZZ
@given(data=st.data())
def test_fuzz_mantissa_floor_check_config_derive_bench(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fz")
    _check(data.draw(_theory_args(str(tmp))))


@pytest.mark.parametrize("rc,err", [(1, "Traceback (most recent call last):\n  ..."), (3, ""),
                                    (1, "qbound: internal error: KeyError")])
def test_the_fuzz_check_rejects_a_bad_answer(monkeypatch, rc, err):
    """_check itself can fail: a traceback, an exit status outside {0, 1, 2}, an internal error."""
    import sys

    def fake_main(argv):
        print(err, file=sys.stderr)
        return rc
    monkeypatch.setitem(globals(), "main", fake_main)
    with pytest.raises(AssertionError):
        _check(["formats"])
