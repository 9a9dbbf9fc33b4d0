"""Properties of the rounding kernel over every kind of format, with qbound.testing's strategies
(dogfooding): values of a format round to themselves, the kernel agrees with the exact-rational
oracle and with ml_dtypes at ties and binade edges, rounding is monotone and odd-symmetric, and the
relative error stays within the format's sharp bound in the normal range."""
from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from qbound.numeric import get_format, quantize, quantize_exact  # noqa: E402
from qbound.testing import assert_rounds_like, formats, rounding_inputs, rounding_modes, values  # noqa: E402

DETERMINISTIC = rounding_modes(stochastic=False)
SMALL_FORMATS = formats(max_bits=16, max_man_bits=10)

pytestmark = pytest.mark.filterwarnings("ignore::qbound.numeric.formats.FormatSpellingWarning")


@settings(max_examples=40, deadline=None)
@given(fmt=SMALL_FORMATS, mode=DETERMINISTIC, data=st.data())
def test_values_of_the_format_round_to_themselves(fmt, mode, data):
    x = data.draw(values(fmt), label="x")
    q = float(quantize(x, fmt, mode))
    if math.isnan(x):
        assert math.isnan(q)
    else:
        assert q == x and math.copysign(1, q) == math.copysign(1, x)


@settings(max_examples=50, deadline=None)
@given(fmt=SMALL_FORMATS, mode=DETERMINISTIC, data=st.data())
def test_kernel_agrees_with_the_exact_oracle_where_rounding_bites(fmt, mode, data):
    x = data.draw(rounding_inputs(fmt), label="x")
    fast = float(quantize(x, fmt, mode))
    exact = float(quantize_exact(Fraction(x), fmt, mode, negative_zero=math.copysign(1, x) < 0))
    assert fast == exact or (math.isnan(fast) and math.isnan(exact))
    if fast == 0:
        assert math.copysign(1, fast) == math.copysign(1, exact)


@settings(max_examples=50, deadline=None)
@given(fmt=SMALL_FORMATS, mode=DETERMINISTIC, data=st.data())
def test_rounding_is_monotone(fmt, mode, data):
    a = data.draw(rounding_inputs(fmt), label="a")
    b = data.draw(rounding_inputs(fmt), label="b")
    lo, hi = min(a, b), max(a, b)
    qa, qb = float(quantize(lo, fmt, mode)), float(quantize(hi, fmt, mode))
    if not (math.isnan(qa) or math.isnan(qb)):
        assert qa <= qb


@settings(max_examples=50, deadline=None)
@given(fmt=SMALL_FORMATS, data=st.data())
def test_rounding_is_odd_symmetric(fmt, data):
    x = data.draw(rounding_inputs(fmt), label="x")
    for mode, mirror in (("rne", "rne"), ("rna", "rna"), ("rtz", "rtz"), ("rup", "rdn")):
        q, qm = float(quantize(x, fmt, mode)), float(quantize(-x, fmt, mirror))
        assert (math.isnan(q) and math.isnan(qm)) or q == -qm


@settings(max_examples=50, deadline=None)
@given(fmt=SMALL_FORMATS, mode=DETERMINISTIC, data=st.data())
def test_relative_error_within_the_sharp_bound_in_the_normal_range(fmt, mode, data):
    x = data.draw(rounding_inputs(fmt, min_value=float(fmt.min_normal), max_value=float(fmt.max_finite)),
                  label="x")
    q = Fraction(float(quantize(x, fmt, mode)))
    rel = abs(q - Fraction(x)) / Fraction(x)
    bound = fmt.rel_error_bound(mode)
    assert rel <= bound if fmt.rel_error_bound_attained(mode) else rel < bound


def _ml_dtype(name):
    import ml_dtypes
    return {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp8_e5m2": ml_dtypes.float8_e5m2,
            "fp8_e4m3fn": ml_dtypes.float8_e4m3fn, "fp6_e3m2": getattr(ml_dtypes, "float6_e3m2fn", None),
            "fp6_e2m3": getattr(ml_dtypes, "float6_e2m3fn", None), "fp4_e2m1": getattr(ml_dtypes, "float4_e2m1fn", None),
            }[name]


@pytest.mark.parametrize("name", ["bf16", "fp16", "fp8_e5m2", "fp8_e4m3fn", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1"])
def test_ml_dtypes_casts_round_like_qbound(name):
    dt = _ml_dtype(name)
    if dt is None:
        pytest.skip(f"this ml_dtypes has no {name}")

    def cast(x):
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            return float(np.float64(x).astype(dt))
    # ml_dtypes saturates the formats without inf and NaN, as quantize's "ieee" overflow policy does
    assert_rounds_like(cast, get_format(name), "rne", settings=settings(max_examples=100, deadline=None, database=None))
