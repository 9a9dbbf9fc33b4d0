"""The error root, the one "did you mean" helper, and the eXmY spelling rule."""
import warnings

import pytest

from qbound.numeric.errors import InputError, QboundError, check_choice, did_you_mean
from qbound.numeric.formats import FormatError, FormatSpellingWarning, get_format


def test_check_choice_accepts_and_rejects():
    assert check_choice("rtz", ("rne", "rtz"), what="mode") == "rtz"
    with pytest.raises(InputError, match=r"unknown mode 'rnz'\. Did you mean rne|rtz"):
        check_choice("rnz", ("rne", "rtz"), what="mode")
    with pytest.raises(InputError, match=r"unknown mode 'zzzz'\. Accepted: rne, rtz\.$"):
        check_choice("zzzz", ("rne", "rtz"), what="mode")


def test_error_tree():
    assert issubclass(InputError, QboundError) and issubclass(InputError, ValueError)
    assert issubclass(FormatError, InputError)
    assert did_you_mean("bf61", ["bf16", "fp16"]).startswith(" Did you mean bf16")
    assert did_you_mean("q", ["bf16"]) == ""


@pytest.mark.parametrize("plain,ocp", [("e2m1", "fp4_e2m1"), ("e3m2", "fp6_e3m2"), ("e2m3", "fp6_e2m3")])
def test_exmy_is_ieee_like_and_fn_is_ocp(plain, ocp):
    with pytest.warns(FormatSpellingWarning, match=ocp):
        f = get_format(plain)
    assert f.policy == "ieee" and f.has_inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_format(plain + "fn") is get_format(ocp)
    assert get_format(ocp).policy == "none"
    assert get_format(ocp).max_finite > f.max_finite  # the IEEE-like one reserves the top binade
