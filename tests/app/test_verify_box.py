"""verify uses a problem's box for the Adam bound's X only when every run stayed in it."""
from qbound.app.verify.falsify import bound_values, problem_constants

CASE = {"problem": "rosenbrock", "optimizer": "adam", "hparams": {"lr": 1e-3, "beta1": 0.0}}


def test_the_box_is_used_only_when_the_runs_stayed_in_it():
    c = problem_constants("rosenbrock", {})
    box = float(c["box"])
    v, how = bound_values("adam", CASE, "W=bf16", 100, c, r_est=1.0, x_inf_max=box / 2)
    assert v["Bx"] == box and "stayed in it" in how["Bx"]
    for x in (box * 1.01, None):   # a run left the box / the iterates were not recorded: no box (oo)
        v, how = bound_values("adam", CASE, "W=bf16", 100, c, r_est=1.0, x_inf_max=x)
        assert "Bx" not in v and how["Bx"].startswith("not used")
