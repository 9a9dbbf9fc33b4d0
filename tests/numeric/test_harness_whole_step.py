"""numeric.harness runs the whole quantized step through Optimizer.train_step (one compiled pass
per parameter) when it can; the multi-pass loop (rounding calls one by one) stays as the
reference. Both must give the same trajectory bit for bit: losses, gradient norms, lost/stale
fractions, every per-step overflow/NaN/underflow count (the whole step rounds x_t to W at the end
of step t, the loop at the start of step t + 1: the harness books it where the loop does), and
the same stochastic-rounding draws.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from qbound.numeric import harness as H  # noqa: E402
from qbound.numeric import optimizers as O  # noqa: E402

PLANS = ["", "W=bf16,G=fp8_e5m2,M=fp8_e4m3fn,V=bf16", "W=bf16:sr,G=fp8_e5m2:sr,M=bf16:sr,V=fp16",
         "W=fp8_e4m3fn,G=fp8_e4m3fn,V=fp8_e5m2,M=fp8_e5m2", "W=bf16,master=stored,G=bf16",
         "G=fp4_e2m1,W=fp6_e3m2:sr", "W=fp4_e2m1,M=fp4_e2m1"]
OPTS = [("adam", {}), ("adam", {"beta1": 0.0}), ("adamw", {}), ("sgdm", {}), ("adam_torch", {})]


def _same(r1, r2) -> bool:
    ok = all(np.array_equal(getattr(r1, a), getattr(r2, a), equal_nan=True)
             for a in ("loss", "grad_norm2", "lost_update_frac", "stale_w_frac"))
    ok &= all(np.array_equal(r1.counts[c][k], r2.counts[c][k]) for c in r1.counts for k in r1.counts[c])
    ok &= r1.diverged_at == r2.diverged_at
    ok &= (r1.final_loss == r2.final_loss) or (np.isnan(r1.final_loss) and np.isnan(r2.final_loss))
    return bool(ok)


def _reference(monkeypatch, *args, **kw):
    with monkeypatch.context() as mp:
        mp.setattr(O, "fused_available", lambda qz: False)
        return H.run(*args, **kw)


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("opt,hp", OPTS)
@pytest.mark.parametrize("problem", ["quadratic", "rosenbrock"])
def test_whole_step_harness_equals_multipass(monkeypatch, problem, opt, hp, plan):
    r1 = H.run(problem, H.build_optimizer(opt, hp), plan, steps=60, seed=3)
    r2 = _reference(monkeypatch, problem, H.build_optimizer(opt, hp), plan, steps=60, seed=3)
    assert _same(r1, r2)


def test_counts_are_booked_where_the_loop_books_them(monkeypatch):
    """A plan whose W rounding overflows or underflows: the per-step W counts agree, not only
    their sums (a whole step booking Q_W(x_t) at step t would shift them by one)."""
    plan = "W=fp8_e4m3fn,G=fp8_e4m3fn"
    r1 = H.run("digits-logreg", H.build_optimizer("adam", {"lr": 0.05}), plan, steps=20, seed=1)
    r2 = _reference(monkeypatch, "digits-logreg", H.build_optimizer("adam", {"lr": 0.05}), plan, steps=20, seed=1)
    w = r1.counts["W"]
    assert sum(int(w[k].sum()) for k in w) > 0, "the plan must make W counts"
    assert _same(r1, r2)
    shifted = {k: np.roll(v, 1) for k, v in w.items()}
    assert any(not np.array_equal(shifted[k], r2.counts["W"][k]) for k in w), "the check must see a shift"


def test_the_comparison_can_fail(monkeypatch):
    """A different run (another seed, so other noise and other sr draws) is told apart."""
    plan = "W=bf16:sr,G=fp8_e5m2:sr"
    r1 = H.run("quadratic", H.build_optimizer("adam", {}), plan, steps=30, seed=1)
    r2 = _reference(monkeypatch, "quadratic", H.build_optimizer("adam", {}), plan, steps=30, seed=2)
    assert not _same(r1, r2)
