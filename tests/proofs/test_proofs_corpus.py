"""The issue-16 corpus (tests/proofs/corpus16.py): first the independent truth of every entry is
checked (brute force / witness / sampling, never through qbound.proofs), then qbound decides each
claim: a decided verdict must equal the truth (0 wrong); the score (decided correctly) is printed.
Entries are fast by default; the whole corpus, with the slow entries, is marked slow."""
import math
from fractions import Fraction

import numpy as np
import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import quantize, quantize_exact
from qbound.proofs import prove

from corpus16 import CORPUS  # noqa: E402  (tests/proofs is on sys.path via rootdir conftest)


def _consts(e, fmt):
    """The corpus constants, computed independently: rnd(DECIMAL) by quantize_exact, else exact."""
    out = {}
    for k, v in e["consts"].items():
        v = str(v).replace(" ", "")
        if v.startswith("rnd(") and v.endswith(")"):
            out[k] = Fraction(quantize_exact(Fraction(v[4:-1]), fmt, e["mode"] if e["mode"] != "sr" else "rne"))
        elif v.startswith("1-2**-"):
            out[k] = 1 - Fraction(1, 2 ** int(v[6:]))
        else:
            out[k] = Fraction(v)
    return out


def _ulp_np(fmt):
    def ulp(x):
        x = np.abs(np.asarray(x, dtype=np.float64))
        _, e = np.frexp(x)
        E = np.maximum(e - 1, fmt.emin)
        out = np.ldexp(1.0, E - fmt.man_bits)
        return np.where(x == 0, float(fmt.min_subnormal), out)
    return ulp


def _ulp_frac(fmt):
    def ulp(x):
        x = abs(Fraction(x))
        if x == 0:
            return fmt.min_subnormal
        e = x.numerator.bit_length() - x.denominator.bit_length()
        if Fraction(2) ** e > x:
            e -= 1
        return Fraction(2) ** (max(e, fmt.emin) - fmt.man_bits)
    return ulp


def _K(e, fmt, np_mode=True):
    K = {"u": float(fmt.unit_roundoff(e["mode"])), "tiny": float(fmt.min_normal), "huge": float(fmt.max_finite),
         "minsub": float(fmt.min_subnormal), "ulp": _ulp_np(fmt)}
    K.update({k: float(v) for k, v in _consts(e, fmt).items()})
    return K


def _values(fmt):
    _, vals = fmt.all_patterns_values()
    return vals[np.isfinite(vals)]


def _brute_truth(e):
    from qbound.proofs.exact import build_claim   # only for the variable names and their order
    fmt = get_format(e["fmt"])
    names = build_claim(e["claim"], fmt, e["mode"], assume=e["assume"], consts=e["consts"]).var_order
    vals = _values(fmt)
    if len(names) == 2:
        a = np.repeat(vals, len(vals))
        b = np.tile(vals, len(vals))
    else:
        a, b = vals, np.zeros_like(vals)
    modes = [e["mode"]] if e["mode"] != "sr" else ["rtz", "away"]
    ok = True
    for m in modes:
        if m == "away":
            def R(x):
                with np.errstate(all="ignore"):
                    return np.where(x < 0, quantize(x, fmt, "rdn"), quantize(x, fmt, "rup"))
        else:
            def R(x, m=m):
                with np.errstate(all="ignore"):
                    return quantize(x, fmt, m)
        with np.errstate(all="ignore"):
            res = e["ev"](a, b, R, _K(e, fmt))
        ok = ok and bool(np.all(res))
    return ok


def _eval_at(e, point):
    """Evaluate the claim text at a point with Fractions and quantize_exact (independent of
    proofs.exact): the corpus is trusted text, so Python's eval with a small namespace suffices."""
    fmt = get_format(e["fmt"])
    ns = {"abs": abs, "min": min, "max": max, "ulp": _ulp_frac(fmt),
          "u": fmt.unit_roundoff(e["mode"]), "tiny": fmt.min_normal, "huge": fmt.max_finite,
          "minsub": fmt.min_subnormal, **_consts(e, fmt), **point}

    def rnd(x):
        r = quantize_exact(Fraction(x), fmt, e["mode"])
        return Fraction(r) if math.isfinite(r) else r
    ns["rnd"] = rnd

    def fix(t):
        return t.replace("/", "*Fraction(1)/").replace("**-", "**-")
    ns["Fraction"] = Fraction
    hyp = all(eval(fix(h), {"__builtins__": {}}, ns) for h in e["assume"])
    return hyp, eval(fix(e["claim"]), {"__builtins__": {}}, ns)


def _sample_truth(e, n=3000):
    """A theorem's sanity check: no violation among random points (not a proof)."""
    fmt = get_format(e["fmt"])
    from qbound.proofs.exact import build_claim
    names = build_claim(e["claim"], fmt, e["mode"], assume=e["assume"], consts=e["consts"]).var_order
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 1 << fmt.total_bits, size=(n, len(names)))
    for row in bits:
        vals = [fmt.decode(int(b)) for b in row]
        if not all(math.isfinite(v) for v in vals):
            continue
        try:
            hyp, ok = _eval_at(e, {k: Fraction(v) for k, v in zip(names, vals)})
        except (ZeroDivisionError, TypeError):
            continue
        if hyp and not ok:
            return False
    return True


IDS = [f"{i:02d}-{e['fmt']}-{e['mode']}-{e['claim'][:40]}" for i, e in enumerate(CORPUS)]


def test_corpus_size_and_mix():
    assert len(CORPUS) >= 60
    wide = [e for e in CORPUS if get_format(e["fmt"]).total_bits >= 16]
    assert len(wide) * 2 >= len(CORPUS)


@pytest.mark.parametrize("e", CORPUS, ids=IDS)
def test_truth_is_established_independently(e):
    if e["kind"] == "brute":
        assert _brute_truth(e) == e["truth"]
    elif e["kind"] == "witness":
        hyp, ok = _eval_at(e, e["ev"])
        assert hyp and not ok and e["truth"] is False
    else:
        assert e["truth"] is True and e["why"]
        if get_format(e["fmt"]).total_bits <= 32:
            assert _sample_truth(e, n=300)


def _decide(e, timeout):
    return prove(e["claim"], e["fmt"], e["mode"], assume=e["assume"], consts=e["consts"], timeout=timeout)


FAST = [e for e in CORPUS if not e["slow"]]


@pytest.mark.parametrize("e", FAST, ids=[i for i, e in zip(IDS, CORPUS) if not e["slow"]])
def test_corpus_never_wrong(e):
    v = _decide(e, timeout=10)
    if v.status != "unknown":
        assert (v.status == "proved") == e["truth"], (v.status, v.engine, e["why"])
        assert not v.vacuous


@pytest.mark.slow
@pytest.mark.parametrize("e", [e for e in CORPUS if e["slow"]], ids=[i for i, e in zip(IDS, CORPUS) if e["slow"]])
def test_corpus_never_wrong_slow(e):
    v = _decide(e, timeout=60)
    if v.status != "unknown":
        assert (v.status == "proved") == e["truth"], (v.status, v.engine, e["why"])


@pytest.mark.slow
def test_corpus_score(capsys):
    """The whole corpus with a 60 s budget per claim: 0 wrong, score printed."""
    import time
    rows, right, wrong = [], 0, 0
    for i, e in enumerate(CORPUS):
        t0 = time.perf_counter()
        v = _decide(e, timeout=60)
        dt = time.perf_counter() - t0
        if v.status != "unknown":
            if (v.status == "proved") == e["truth"]:
                right += 1
            else:
                wrong += 1
        rows.append(f"{IDS[i]:<60} {v.status:<10} {v.engine:<40} {dt:7.2f} s")
    with capsys.disabled():
        print("\n".join(rows))
        print(f"corpus: {right}/{len(CORPUS)} decided correctly, {wrong} wrong")
    assert wrong == 0
