"""Harness: determinism, indexing, lost updates, counts, states, JSON round trip, CLI."""
import json

import numpy as np
import pytest

from qbound.app.cli import main
from qbound.numeric.errors import InputError
from qbound.numeric.harness import run
from qbound.numeric.problems import make_problem
from qbound.numeric.trajectory import Trajectory


def test_same_seed_same_run_and_seed_matters():
    kw = dict(problem_kw={"batch": 8, "m": 6, "n": 4, "N": 40})
    a = run("matrix-ls", "adam", "G=e8m3:sr", 20, 1, **kw)
    b = run("matrix-ls", "adam", "G=e8m3:sr", 20, 1, **kw)
    c = run("matrix-ls", "adam", "G=e8m3:sr", 20, 2, **kw)
    assert np.array_equal(a.grad_norm2, b.grad_norm2) and a.final_loss == b.final_loss
    assert not np.array_equal(a.grad_norm2, c.grad_norm2)


def test_indexing_convention():
    prob = make_problem("quadratic", d=4, kappa=10.0)
    tr = run(prob, "sgdm", "", 5, 0, hparams={"lr": 0.01}, record_states=True)
    assert len(tr.loss) == len(tr.grad_norm2) == 5
    assert tr.loss[0] == prob.loss(prob.x0())
    assert tr.grad_norm2[0] == prob.grad_norm2(prob.x0())
    assert np.array_equal(tr.states["x"][0], prob.x0()[0])
    x_last = tr.states["x"][-1] - 0.01 * tr.states["m"][-1]
    assert tr.final_loss == prob.loss([x_last])


def test_lost_updates_when_weights_stored_in_bf16():
    # tiny learning rate: every update is below half an ulp of the bf16 weights, so all are lost
    tr = run("quadratic", "sgdm", "W=bf16,master=stored", 10, 0, problem_kw={"d": 8}, hparams={"lr": 1e-6})
    assert np.all(tr.lost_update_frac == 1.0) and np.all(tr.stale_w_frac == 1.0)
    assert tr.final_loss == tr.loss[0]
    # with full-precision master weights the updates accumulate although Q_W(x) has not moved yet
    tr2 = run("quadratic", "sgdm", "W=bf16", 10, 0, problem_kw={"d": 8}, hparams={"lr": 1e-8})
    assert np.all(tr2.lost_update_frac == 0.0)
    assert tr2.final_loss < tr2.loss[0]
    assert np.all(tr2.stale_w_frac == 1.0)


def test_counts_overflow_and_divergence():
    # the paper-form Adam's m is a sum ~ g/(1-beta1): on Rosenbrock it exceeds fp8_e4m3fn's 448
    tr = run("rosenbrock", "adam", "M=fp8_e4m3fn", 50, 0, hparams={"lr": 1e-2})
    tot = tr.count_totals()
    assert tot["M"]["overflow"] >= 1 and tot["M"]["nan"] >= 1
    assert tr.diverged_at is not None and np.isnan(tr.final_loss)
    assert np.all(np.isnan(tr.loss[tr.diverged_at:]))
    # underflow: x0 = 1 scaled by 1e-9 gradients fall below fp8_e5m2's smallest subnormal 2^-16
    prob = make_problem("quadratic", d=3, kappa=1.0, rotate=False)
    prob.A = prob.A * 1e-9
    tr = run(prob, "sgdm", "G=fp8_e5m2", 3, 0)
    assert list(tr.counts["G"]["underflow"]) == [3, 3, 3]
    assert tr.final_loss == tr.loss[0]


def test_update_format_and_json_round_trip(tmp_path):
    tr = run("digits-logreg", "adamw", "W=bf16,V=bf16,update=bf16", 5, 0, record_states=True)
    path = tmp_path / "t.json"
    tr.save(path, include_states=True)
    back = Trajectory.load(path)
    assert np.array_equal(back.grad_norm2, tr.grad_norm2)
    assert back.meta["plan"] == "W=bf16,V=bf16,update=bf16"
    assert back.states["v"].shape == (5, 650)
    assert "qbound run adamw --problem digits-logreg" in back.meta["command"]
    d = json.loads(path.read_text())
    assert set(d["summary"]) >= {"final_grad_norm2", "mean_lost_update_frac", "counts"}


def test_rerun_command_reproduces(tmp_path, capsys):
    tr = run("rosenbrock", "muon", "V=e8m3,G=e8m4:sr", 30, 7, problem_kw={"d": 3, "sigma": 0.1},
             hparams={"adam_lr": 0.01})
    argv = __import__("shlex").split(tr.meta["command"])[1:] + ["--out", str(tmp_path / "r.json")]
    assert main(argv) == 0
    back = Trajectory.load(tmp_path / "r.json")
    assert np.array_equal(back.grad_norm2, tr.grad_norm2)


def test_cli_run_and_errors(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["run", "adam", "--problem", "rosenbrock", "--quant", "V=bf16", "--steps", "50",
                 "--seed", "0", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert len(d["grad_norm2"]) == 50 and d["meta"]["plan"] == "V=bf16"
    assert main(["run", "adma"]) == 2
    assert "Did you mean adam" in capsys.readouterr().err
    assert main(["run", "adam", "--quant", "Q=bf16"]) == 2
    assert main(["run", "adam", "--problem", "rosenbrok"]) == 2
    assert main(["run", "adam", "--hp", "lr"]) == 2
    assert main(["run", "adam", "--steps", "-1"]) == 2


def test_bad_steps():
    with pytest.raises(InputError):
        run("rosenbrock", "adam", "", -3, 0)


def test_cli_run_reference(tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", "sgdm", "--problem", "quadratic", "--problem-args", "d=3", "--hp", "lr=1e-3",
                 "--steps", "20", "--reference", "--out", str(out)]) == 0
    ref = json.loads(out.read_text())["reference"]
    assert ref["max_x_err"] < 1e-12 and len(ref["x_err"]) == 20
    assert main(["run", "sgdm", "--problem", "digits-logreg", "--steps", "2", "--reference"]) == 2
