"""The mpmath reference run: the float64 path's own error is tiny next to any quantization effect."""
import pytest

from qbound.numeric.errors import InputError
from qbound.numeric.reference import reference_run


@pytest.mark.parametrize("problem,opt,hp,kw", [
    ("rosenbrock", "adam", {"lr": 3e-2}, {"d": 2}),
    ("quadratic", "adam-torch", {"lr": 1e-2}, {"d": 4, "kappa": 100.0}),
    ("rosenbrock", "sgdm", {"lr": 1e-4, "nesterov": True}, {"d": 3}),
])
def test_float64_path_error_is_small(problem, opt, hp, kw):
    r = reference_run(problem, opt, 300, hp, problem_kw=kw, prec=160)
    print(f"\n{problem}/{opt}: max |x64 - x_exact| = {r['max_x_err']:.3g}, "
          f"max rel err of ||grad||^2 = {r['max_grad_norm2_rel_err']:.3g}")
    assert 0 < r["max_x_err"] < 1e-12  # float64 does round, but drifts by far less than any quantization step
    assert r["max_grad_norm2_rel_err"] < 1e-8
    assert abs(r["final_grad_norm2_float64"] - r["final_grad_norm2_exact"]) <= 1e-8 * r["final_grad_norm2_exact"] + 1e-300


def test_reference_refuses_what_it_cannot_do():
    with pytest.raises(InputError):
        reference_run("digits-logreg", "adam", 3)
    with pytest.raises(InputError):
        reference_run("rosenbrock", "muon", 3)
    with pytest.raises(InputError):
        reference_run("rosenbrock", "adam", 3, problem_kw={"sigma": 0.1})
