"""The compiled enumerator's kernel (double-double exactness, static exactness, sr outcome loops,
symmetry) against the numpy engine on small formats, and deliberately wrong variants it must reject:
(a) float64 error margins shrunk to 0, (b) the a<->b symmetry forced on a non-symmetric claim,
(c) sr evaluated for one outcome only, (d) an unroller that merges the outcome copies, (e) the float64
filter kernel without its error bounds, (f) the order filter over one outcome, (g) the rounding of an
approximation decided without its error interval."""
from __future__ import annotations

import numpy as np
import pytest

import qbound.proofs.engines.compiled as comp
from qbound.proofs.engines import get_engine
from qbound.proofs.engines.exhaustive import ExhaustiveEngine
from qbound.proofs.exact import build_claim


def _both(c):
    comp._CACHE.clear()
    return get_engine("compiled").decide(c), ExhaustiveEngine().decide(c)


def _same(v1, v2, c):
    if v1.status != v2.status:
        return False
    if v1.falsified:
        return {k: v1.counterexample[k]["hex"] for k in c.vars} == {k: v2.counterexample[k]["hex"] for k in c.vars}
    return True


@pytest.mark.parametrize("claim,hyps,fmt,mode", [
    ("abs(rnd(a+b) - (a+b)) <= u*abs(a+b)", ["tiny <= abs(a+b) <= huge"], "fp8_e5m2", "sr"),
    ("abs(rnd(a+b) - (a+b)) <= u/2*abs(a+b)", ["tiny <= abs(a+b) <= huge"], "fp8_e5m2", "sr"),
    ("abs(fma(a, b, a) - (a*b + a)) <= u*abs(a*b + a)", ["tiny <= abs(a*b + a) <= huge"], "fp6_e3m2", "sr"),
    ("abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*(abs(a*b) + abs(rnd(a*b) + a)) + 2*minsub",
     ["abs(a*b + a) <= huge/2", "abs(a*b) <= huge"], "fp6_e3m2", "sr"),
    ("rnd(rnd(a*b) + a) >= a*b + a", [], "fp6_e3m2", "sr"),
    ("min(a,b) <= rnd((a+b)/2) <= max(a,b)", [], "fp6_e3m2", "sr"),
    ("abs(rnd(a+b) - (a+b)) <= ulp(a+b)/2", ["abs(a+b) <= huge"], "fp8_e4m3fn", "rne"),
    ("abs(rnd(a/b) - a/b) <= u*abs(a/b)", ["b != 0", "tiny <= abs(a/b) <= huge"], "fp6_e3m2", "rtz"),
    ("rnd(a*b + a) == rnd(rnd(a*b) + a)", [], "fp8_e5m2", "rne"),
])
@pytest.mark.parametrize("unroll", [True, False])
def test_kernel_matches_numpy(monkeypatch, claim, hyps, fmt, mode, unroll):
    """Both kernel shapes (sr outcome loops unrolled, or nested loops in the order of least work)."""
    monkeypatch.setattr(comp, "UNROLL", unroll)
    c = build_claim(claim, fmt, mode, assume=hyps)
    v1, v2 = _both(c)
    assert _same(v1, v2, c), (v1.status, v2.status)
    comp._CACHE.clear()


def test_broken_unroller_is_caught(monkeypatch):
    """(d) The unrolled copies must keep one name per outcome combination: an unroller that drops the
    outcome suffixes lets the last copy of the first disjunct (rnd(a*b) away from zero: true) overwrite
    the others before the final check reads it, and a claim false toward zero is proved."""
    import re
    c = build_claim("abs(rnd(a*b)) >= abs(a*b) or rnd(b*b) != rnd(b*b)", "fp6_e3m2", "sr",
                    assume=["abs(a*b) <= huge", "abs(b*b) <= huge"])
    v1, v2 = _both(c)
    assert v1.falsified and v2.falsified
    orig = comp._unroll

    def broken(lines, nr, outcomes, max_lines=comp.UNROLL_MAX_LINES):
        return [re.sub(r"(t\d+)(_[01])+", r"\1", ln) for ln in orig(lines, nr, outcomes, max_lines)]

    monkeypatch.setattr(comp, "_unroll", broken)
    w1, _ = _both(c)
    assert w1.status == "proved"
    comp._CACHE.clear()


def test_wrong_margin_is_caught(monkeypatch):
    """(a) sqrt(a)^2 <= a + a*minsub^4 is true (equality up to a gap of 2^-64 relative, below float64's
    resolution). With the float64 margins, the kernel leaves the close cases to the exact evaluator and
    proves it; with the margins 0, float64's fl(sqrt(2))^2 = 2(1 + 2^-52) is taken as decided and a
    counterexample comes out, which the exact replay rejects: never a wrong verdict, but the kernel
    itself is shown wrong without its margins."""
    c = build_claim("sqrt(a)*sqrt(a) <= a + a*minsub*minsub*minsub*minsub", "fp8_e5m2", "rne",
                    assume=["a > 0", "a <= 1000"])
    v1, v2 = _both(c)
    assert v2.status == "proved" and _same(v1, v2, c) and v1.details["exact_fallback"] > 0
    monkeypatch.setattr(comp, "margins", lambda: {"eps": 0.0, "slack_rel": 0.0, "slack_abs": 0.0})
    w1, _ = _both(c)
    assert w1.status == "unknown" and "bad_model" in w1.details
    comp._CACHE.clear()


@pytest.mark.parametrize("claim", ["a - b <= 0", "min(a, b) == a", "rnd(a/b) <= 1"])
def test_symmetric_false_and_forced_symmetry_caught(monkeypatch, claim):
    """(b) symmetric() is False for claims that change under a<->b; forcing the i <= j reduction on
    them gives a result the numpy engine contradicts."""
    assert comp.symmetric(build_claim(claim, "fp6_e3m2", "rne")) is False
    # false only at pairs whose a comes after b in enumeration (pattern) order
    c = build_claim("implies(a >= 0 and b >= 0, a <= b)", "fp6_e3m2", "rne")
    assert comp.symmetric(c) is False
    v1, v2 = _both(c)
    assert _same(v1, v2, c)
    monkeypatch.setattr(comp, "symmetric", lambda claim: True)
    w1, _ = _both(c)
    assert not _same(w1, v2, c)
    comp._CACHE.clear()


@pytest.mark.parametrize("claim,only", [
    ("abs(rnd(a*b)) >= abs(a*b)", 1),   # true away from zero, false toward zero
    ("abs(rnd(a*b)) <= abs(a*b)", 0),   # true toward zero, false away
])
def test_sr_one_outcome_caught(monkeypatch, claim, only):
    """(c) sr must hold for both outcomes: evaluating one outcome only proves a false claim."""
    c = build_claim(claim, "fp6_e3m2", "sr", assume=["abs(a*b) <= huge"])
    v1, v2 = _both(c)
    assert v2.falsified and _same(v1, v2, c)
    monkeypatch.setattr(comp, "_outcomes", lambda nr: np.array([only], dtype=np.int64))
    w1, _ = _both(c)
    assert w1.status == "proved" and not _same(w1, v2, c)
    comp._CACHE.clear()


@pytest.mark.parametrize("fmt,mode", [("fp16", "sr"), ("bf16", "sr"), ("fp16", "rne"), ("bf16", "rtz")])
def test_bit_level_rounding_matches_exact_rounding(fmt, mode):
    """The kernel's rounding (bit masks in the target's normal range, frexp/ldexp below it) equals the
    exact rounding of :func:`~qbound.proofs.exact.round_fraction` on doubles from the subnormal range to
    past the largest value, grid points and midpoints included."""
    assert _rounding_mismatches(fmt, mode) == 0


def test_wrong_mask_width_is_caught(monkeypatch):
    """(e) The same comparison with the mask one bit too narrow (a format with one more fraction bit)."""
    monkeypatch.setattr(comp, "_HELPERS", comp._HELPERS.replace("SHIFT = np.uint64(52 - MAN)", "SHIFT = np.uint64(51 - MAN)"))
    assert _rounding_mismatches("fp16", "sr") > 0


def _rounding_mismatches(fmt, mode):
    from fractions import Fraction

    from qbound.proofs.exact import round_fraction
    c = build_claim("rnd(a*b) == rnd(a*b)", fmt, mode)
    comp._CACHE.clear()
    ns, _ = comp._compile(c)
    bad = 0
    f = c.fmt
    rng = np.random.default_rng(5)
    xs = np.ldexp(rng.uniform(1, 2, 3000), rng.integers(f.emin - f.man_bits - 2, f.emax + 2, 3000))
    grid = np.ldexp(rng.integers(1 << f.man_bits, 2 << f.man_bits, 1000).astype(float), rng.integers(f.emin, f.emax, 1000) - f.man_bits)
    xs = np.concatenate([xs, grid, grid + np.ldexp(1.0, np.frexp(grid)[1] - f.man_bits - 2), -xs])
    for x in xs:
        x = float(x)
        if mode == "sr":
            got = ns["_rnd_sr"](x, 0.0)
            want = tuple(float(round_fraction(Fraction(x), f, "sr", away)) for away in (False, True))
        else:
            got = ns["_rnd_det"](x, 0.0)
            want = float(round_fraction(Fraction(x), f, mode))
        bad += got != want
    comp._CACHE.clear()
    return bad


@pytest.mark.parametrize("claim,hyps,fmt,mode", [
    ("abs(rnd(rnd(a*b) + a) - (a*b + a)) <= u*(abs(a*b) + abs(rnd(a*b) + a)) + 2*minsub",
     ["abs(a*b + a) <= huge/2", "abs(a*b) <= huge"], "fp6_e3m2", "sr"),
    ("rnd(rnd(a*b) + a) >= a*b + a", [], "fp6_e3m2", "sr"),
    ("abs(rnd(a/b) - a/b) <= u*abs(a/b)", ["b != 0", "tiny <= abs(a/b) <= huge"], "fp6_e3m2", "rtz"),
])
@pytest.mark.parametrize("fast,order", [(False, False), (True, False)])
def test_exact_kernel_alone_matches_numpy(monkeypatch, claim, hyps, fmt, mode, fast, order):
    """Without the float64 filter (FAST_FIRST off) the exact kernel decides every assignment itself;
    with the filter but not its order-comparison end, the filter compares per outcome combination."""
    monkeypatch.setattr(comp, "FAST_FIRST", fast)
    monkeypatch.setattr(comp, "ORDER_FILTER", order)
    c = build_claim(claim, fmt, mode, assume=hyps)
    v1, v2 = _both(c)
    assert _same(v1, v2, c), (v1.status, v2.status)
    comp._CACHE.clear()


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("claim,truth", [("(a*b + a) - a >= a*b", "proved"), ("(a*b + a) - a > a*b", "falsified")])
def test_wide_format_identity(monkeypatch, fast, claim, truth):
    """On e8m3 (too many exact fallbacks for the numpy engine) against the known truth: (a*b + a) - a
    is a*b exactly, so >= holds everywhere and > nowhere."""
    monkeypatch.setattr(comp, "FAST_FIRST", fast)
    comp._CACHE.clear()
    v = get_engine("compiled").decide(build_claim(claim, "e8m3", "rne"))
    assert v.status == truth
    comp._CACHE.clear()


def test_filter_without_error_bounds_is_caught(monkeypatch):
    """(e) The filter kernel computes a*b + a and then - a in float64 with error bounds; on e8m3 (a
    129-binade range) fl(a*b + a) = a for tiny a*b, so the filter's left side is 0 while the exact one
    is a*b. With its bounds it is unsure there and the exact kernel proves the (true) claim; with the
    bounds 0 the filter decides those assignments, and its counterexample is one the exact replay
    rejects."""
    c = build_claim("(a*b + a) - a >= a*b", "e8m3", "rne")
    comp._CACHE.clear()
    assert get_engine("compiled").decide(c).status == "proved"
    orig = comp._body

    def no_bounds(claim, mg, fast):
        body, nr = orig(claim, mg, fast)
        return (body.replace("= _slack(", "= 0.0 * _slack(") if fast else body), nr

    monkeypatch.setattr(comp, "_body", no_bounds)
    comp._CACHE.clear()
    w1 = get_engine("compiled").decide(c)
    assert w1.status == "unknown" and "bad_model" in w1.details
    comp._CACHE.clear()


def test_order_filter_over_one_outcome_is_caught(monkeypatch):
    """(f) The order filter must take the least value of the larger side over its outcome copies:
    with the largest instead (some outcome, not every one), rnd(a*b) >= a*b under sr holds at every
    assignment for the away-from-zero outcome, and the false claim is proved."""
    c = build_claim("rnd(a*b) >= a*b", "fp6_e3m2", "sr", assume=["a*b > 0", "a*b <= huge"])
    v1, v2 = _both(c)
    assert v1.falsified and _same(v1, v2, c)
    orig = comp._body

    def some_outcome(claim, mg, fast):
        body, nr = orig(claim, mg, fast)
        if fast:
            body = body.replace("acc_p = np.inf", "acc_p = -np.inf").replace("acc_p = min(acc_p,", "acc_p = max(acc_p,")
        return body, nr

    monkeypatch.setattr(comp, "_body", some_outcome)
    w1, _ = _both(c)
    assert w1.status == "proved"
    comp._CACHE.clear()


def _patch_helper(monkeypatch, name, new_src):
    """Replace one helper of the kernel template (``def name(...)`` up to the next ``@njit``)."""
    import re
    pat = re.compile(r"def " + name + r"\(.*?(?=\n@njit)", re.S)
    assert pat.search(comp._HELPERS)
    monkeypatch.setattr(comp, "_HELPERS", pat.sub(lambda m: new_src.strip("\n").replace("{", "{{").replace("}", "}}"),
                                                   comp._HELPERS, count=1))


def test_rounding_of_an_approximation_is_decided_by_its_interval(monkeypatch):
    """rnd() of an inexact argument (a*a*a + b + a on e8m3 does not fit a double-double when the
    binades are far apart) is decided when the whole error interval rounds alike: the claim (rounding
    is monotone) is proved with about 3e4 exact fallbacks; leaving every such rounding unsure (the
    first version) needs more than the engine's limit of them."""
    from qbound.proofs.engines.base import Unsupported
    c = build_claim("implies(b >= 0, rnd(a*a*a + b + a) >= rnd(a*a*a + a))", "e8m3", "rne")
    comp._CACHE.clear()
    v = get_engine("compiled").decide(c)
    assert v.status == "proved" and 0 < v.details["exact_fallback"] < comp.MAX_FALLBACK
    _patch_helper(monkeypatch, "_determined", "def _determined(a, d):\n    return False\n")
    comp._CACHE.clear()
    with pytest.raises(Unsupported, match="exact evaluation"):
        get_engine("compiled").decide(c)
    comp._CACHE.clear()


@pytest.mark.parametrize("broken", [False, True])
@pytest.mark.parametrize("mode", ["rtz", "rne", "sr"])
def test_interval_rounding_that_ignores_the_error_is_caught(monkeypatch, mode, broken):
    """(g) _determined(a, d) on e8m3 (spacing 2^-3 at 1): a grid point (a boundary for rtz and sr) or,
    under rne, a midpoint, with any error d > 0, is not determined; a point inside a cell with a small
    d is, with a d reaching the next boundary it is not; an interval across 0 never is. A version that
    ignores d (decides by a alone) is caught."""
    if broken:
        _patch_helper(monkeypatch, "_determined", "def _determined(a, d):\n    return math.isfinite(a) and not _boundary(a)\n")
    comp._CACHE.clear()
    ns, _ = comp._compile(build_claim("rnd(a) >= a - 1", "e8m3", mode))
    det = ns["_determined"]
    boundary = 1.0625 if mode == "rne" else 1.0
    inside = 1.03125 if mode == "rne" else 1.0625
    got = [det(boundary, 1e-20), det(inside, 1e-20), det(inside, 0.1), det(1e-300, 1e-200)]
    assert (got == [False, True, False, False]) != broken, got
    comp._CACHE.clear()
