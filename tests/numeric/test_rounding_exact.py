"""quantize_exact (rational input) agrees with quantize on float64 inputs and avoids double rounding."""
from fractions import Fraction

import numpy as np
import pytest

from qbound.numeric.formats import get_format
from qbound.numeric.rounding import quantize, quantize_exact


def mixed(fmt, n=300, seed=0):
    rng = np.random.default_rng(seed)
    m = fmt.man_bits
    e = rng.integers(fmt.emin - m - 2, fmt.emax + 2, n)
    g = np.ldexp(1.0 + rng.integers(0, 2 ** (m + 1), n) / 2.0 ** (m + 1), e)
    g = g[np.isfinite(g)]
    near = (g.view(np.int64) + rng.integers(-1, 2, g.size)).view(np.float64)
    x = np.concatenate([g, near, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    return np.concatenate([x, -x])


@pytest.mark.parametrize("name", ["bf16", "fp8_e4m3fn", "fp4_e2m1", "e5m7", "fp16"])
def test_agrees_with_quantize_on_float64(name):
    fmt = get_format(name)
    x = mixed(fmt)
    for mode in ("rne", "rna", "rtz", "rup", "rdn"):
        for ov in ("ieee", "saturate"):
            a = quantize_exact(list(x), fmt, mode, overflow=ov)
            b = quantize(x, fmt, mode, overflow=ov)
            assert np.all((a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))), mode
    fin = x[np.isfinite(x)]
    a = quantize_exact([Fraction(v) for v in fin], fmt, "sr", rng=np.random.default_rng(3), sr_bits=12,
                       negative_zero=np.signbit(fin))
    b = quantize(fin, fmt, "sr", rng=np.random.default_rng(3), sr_bits=12)
    assert np.array_equal(a.view(np.uint64), b.view(np.uint64))


def test_no_double_rounding():
    """1 + 2^-8 + 10^-30 is just above the bf16 midpoint of 1 and 1 + 2^-7; float64 loses the 10^-30."""
    X = 1 + Fraction(1, 256) + Fraction(1, 10**30)
    assert float(X) == 1 + 2**-8
    assert quantize(float(X), "bf16") == 1.0  # the float64 tie goes to even
    assert quantize_exact(X, "bf16") == 1 + 2**-7  # the exact value is above the tie
    assert quantize_exact(Fraction("0.999"), "bf16") == 1.0
    assert quantize_exact(Fraction("0.999"), "bf16", "rtz") == 0.99609375
