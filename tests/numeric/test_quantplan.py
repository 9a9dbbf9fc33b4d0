"""QuantPlan: parsing, canonical text, dict round trips, and refusals with accepted values."""
from fractions import Fraction

import numpy as np
import pytest

from qbound.numeric.errors import InputError
from qbound.numeric.formats import get_format
from qbound.numeric.quantplan import COMPONENTS, CompQuant, QuantPlan, Quantizers, mantissa_format


def test_parse_full_plan():
    p = QuantPlan.parse("W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16")
    assert p.W == CompQuant("bf16") and p.W.rounding == "rne"
    assert p.G.fmt == get_format("fp8_e5m2") and p.G.rounding == "sr"
    assert p.M.fmt.name == "fp8_e4m3fn" and p.V.fmt.name == "bf16"
    assert p.master == "fp64" and p.update_format is None
    assert p.quantized() == COMPONENTS


@pytest.mark.parametrize("text", ["", "none", "V=bf16", "W=e8m3:rtz,master=stored", "G=fp16:sr,update=fp32",
                                  "M=fp8_e4m3fn,V=e5m2:rna", "V=bf16,M=fp16,G=fp32,W=tf32",
                                  "G=e8m3:sr8,V=bf16:sr"])
def test_text_round_trip(text):
    p = QuantPlan.parse(text)
    assert QuantPlan.parse(str(p)) == p
    assert QuantPlan.from_dict(p.to_dict()) == p
    d = p.to_dict()
    d.pop("text")
    assert QuantPlan.from_dict(d) == p


def test_canonical_order_and_aliases():
    p = QuantPlan.parse(" v = bfloat16 , w=E8M7 ")
    assert str(p) == "W=e8m7,V=bf16"


def test_python_construction():
    p = QuantPlan(W="bf16", V=("fp16", "sr"), M=get_format("e4m3fn"))
    assert p.V.rounding == "sr" and p.M.fmt.name == "fp8_e4m3fn"
    assert QuantPlan() == QuantPlan.parse("") and QuantPlan().is_empty
    assert QuantPlan.single("V", "bf16") == QuantPlan.parse("V=bf16")
    assert p["W"] is p.W and p.get("G") is None


def test_q_values():
    q = QuantPlan.parse("V=bf16,W=bf16:rtz").q_values()
    assert q["V"] == Fraction(1, 257)  # u/(1+u), u = 2^-8
    assert q["W"] == Fraction(2, 2 ** 8) / (1 + Fraction(2, 2 ** 8))
    assert q["G"] == 0


@pytest.mark.parametrize("text,needle", [
    ("X=bf16", "Accepted: W, G, M, V, master, update"),
    ("V=bf17", "Did you mean bf16"),
    ("V=bf16:rnd", "Accepted: rne, rna, rtz, rup, rdn, sr"),
    ("V=bf16:rme", "Did you mean rne"),
    ("master=stord,W=bf16", "Accepted: fp64, stored"),
    ("master=stored", "needs a format"),
    ("Vbf16", "KEY=VALUE"),
    ("V=bf16,V=fp16", "twice"),
    ("update=fp99", "unknown format"),
    ("G=bf16:sr0", "1..64"),
    ("G=bf16:sr65", "1..64"),
])
def test_bad_plans_are_refused(text, needle):
    with pytest.raises(InputError) as ei:
        QuantPlan.parse(text)
    assert needle in str(ei.value)


def test_mantissa_format_keeps_range():
    for m in range(1, 11):
        f = mantissa_format(m)
        assert (f.exp_bits, f.man_bits, f.emin) == (8, m, -126)


def test_quantizers_identity_and_counts():
    x = np.array([1.0, 1e-50, 1e40, np.nan, 0.0, -3.0])
    qz = Quantizers(QuantPlan.parse("V=bf16"), np.random.SeedSequence(1))
    assert qz("G", x) is x  # no quantizer: the same object, untouched
    y = qz("V", x)
    assert y[1] == 0.0 and np.isinf(y[2]) and np.isnan(y[3])
    assert qz.counts["V"] == {"overflow": 1, "nan": 1, "underflow": 1}
    qz.reset_counts()
    assert qz.counts["V"]["nan"] == 0


def test_sr_streams_depend_only_on_seed():
    p = QuantPlan.parse("G=e8m2:sr")
    x = np.linspace(0.1, 1, 1000)
    a = Quantizers(p, np.random.SeedSequence(5))("G", x)
    b = Quantizers(p, np.random.SeedSequence(5))("G", x)
    c = Quantizers(p, np.random.SeedSequence(6))("G", x)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sr_bits():
    p = QuantPlan.parse("G=e8m2:sr4,M=e8m2:sr64")
    assert p.G.sr_bits == 4 and str(p.M) == "e8m2:sr" and str(p) == "G=e8m2:sr4,M=e8m2:sr"
    with pytest.raises(InputError, match="stochastic rounding only"):
        CompQuant("bf16", "rne", 8)
    # 4 random bits: a value 1/32 of a quantum above the grid point never rounds up (floor(r 2^4) = 0)
    x = np.full(2000, 1.0 + 2.0 ** -7)  # e8m2 quantum at 1 is 2^-2, so r = 2^-5
    qz = Quantizers(p, np.random.SeedSequence(0))
    assert np.all(qz("G", x) == 1.0)
    up = Quantizers(QuantPlan.parse("G=e8m2:sr"), np.random.SeedSequence(0))("G", x)
    assert 0 < np.mean(up > 1.0) < 0.1


@pytest.mark.parametrize("fmt", ["fp8_e4m3fn", "fp8_e5m2", "fp6_e2m3", "bf16"])
def test_counts_match_brute_force(fmt):
    rng = np.random.default_rng(0)
    x = np.ldexp(rng.uniform(-1, 1, 3000), rng.integers(-30, 30, 3000))
    x[::97] = 0.0
    x[::101] = np.nan
    x[::103] = -np.inf
    qz = Quantizers(QuantPlan.parse(f"M={fmt}"), np.random.SeedSequence(0))
    out = qz("M", x)
    huge = float(qz.plan.M.fmt.max_finite)
    want = {"overflow": int(np.sum(np.isfinite(x) & (np.abs(x) > huge))), "nan": int(np.sum(np.isnan(out))),
            "underflow": int(np.sum((out == 0) & (x != 0) & ~np.isnan(x)))}
    assert qz.counts["M"] == want
    qz.reset_counts()
    y = np.ldexp(rng.uniform(0.5, 1, 500), rng.integers(-3, 3, 500))  # nothing special: no count
    assert np.array_equal(qz("M", y), qz("M", -y) * -1)
    assert qz.counts["M"] == {"overflow": 0, "nan": 0, "underflow": 0}


def test_kernel_site_draws_what_one_call_draws():
    """A fused kernel's key for an SR component is the draw one Quantizers call would make."""
    import numpy as np
    from qbound.numeric.rounding import sr_random_stream
    plan = QuantPlan.parse("M=fp8_e4m3fn:sr5,V=bf16")
    a = Quantizers(plan, np.random.SeedSequence(4))
    b = Quantizers(plan, np.random.SeedSequence(4))
    x = np.linspace(-3, 3, 101)
    ref = a("M", x)
    qi, qf, key = b.kernel_site("M")
    assert qi[0] == 1 and qi[5] == 5 and qf[0] == 448.0
    # the same draw: rounding with that key's stream reproduces the call
    from qbound.numeric.rounding import quantize
    R = sr_random_stream(key, x.size, 5)
    assert np.array_equal(quantize(x, "fp8_e4m3fn", "sr", sr_bits=5, sr_random=R), ref)
    assert a.rngs["M"].integers(0, 2**63) == b.rngs["M"].integers(0, 2**63)
    qi, _, key = b.kernel_site("V")
    assert qi[4] == 0 and key == 0  # rne: nothing drawn
    assert b.kernel_site("U")[0][0] == 0  # no update format: inactive


def test_quantizers_use_the_explicit_kernel_api():
    """Quantizers round through quantize(kernel=...), the same bits on either kernel."""
    import numpy as np
    from qbound.numeric import quantplan
    from qbound.numeric.rounding import quantize
    x = np.random.default_rng(0).standard_normal(300) * 1e3
    got = quantplan._round(x, get_format("fp8_e5m2"), "rna", None, "ieee")
    assert np.array_equal(got, quantize(x, "fp8_e5m2", "rna", kernel="reference"))
    assert not hasattr(quantplan, "_FAST_OK")
