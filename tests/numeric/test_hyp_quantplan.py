"""QuantPlan round trips over plans drawn by qbound.testing.plans (dogfooding): text and dict forms
give the same plan back, and q_values are the formats' sharp relative error bounds."""
from __future__ import annotations

from fractions import Fraction

import pytest

pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402

from qbound.numeric import COMPONENTS, QuantPlan  # noqa: E402
from qbound.testing import formats, plans  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::qbound.numeric.formats.FormatSpellingWarning")


@settings(max_examples=60, deadline=None)
@given(plan=plans(update_formats=formats(names=["fp32", "bf16", "fp16"], ieee_like=False)))
def test_text_and_dict_forms_round_trip(plan):
    assert QuantPlan.parse(str(plan)) == plan
    assert QuantPlan.from_dict(plan.to_dict()) == plan
    assert str(QuantPlan.parse(str(plan))) == str(plan)


@settings(max_examples=60, deadline=None)
@given(plan=plans())
def test_q_values_are_the_sharp_bounds(plan):
    q = plan.q_values()
    for c in COMPONENTS:
        cq = plan[c]
        assert q[c] == (cq.fmt.rel_error_bound(cq.rounding) if cq else Fraction(0))
        assert (c in plan.quantized()) == (cq is not None)
