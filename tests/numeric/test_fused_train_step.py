"""Whole fused training steps (``Optimizer.train_step``) are bit-identical to the multi-pass oracle.

``train_step_reference`` is the sequence numeric.harness runs (Q_G on the raw gradient, the update
with Q_M, Q_V and U, x_t = U(x - delta), Q_W(x_t) with master="stored", else the next evaluation
point Q_W(x_t)); the fused form does all of it in one compiled pass per parameter (Muon: two passes
around the polar factor). For every optimizer and option set of test_fused.py, under plans that put
every format family and every rounding mode (sr with 64 and few random bits) on W, G, M, V, with
both master modes and rounded update arithmetic, several steps are run from the same start, feeding
x_t back, and the new weights, evaluation points, deltas, states, counts and the generators' final
states must agree bit for bit (NaN compared as NaN). Thread chunking must not matter.

Deliberately wrong variants (Q_G or Q_W dropped from the fused step) must be told apart.
"""
import numpy as np
import pytest

pytest.importorskip("numba")

from qbound.numeric.optimizers import make_optimizer  # noqa: E402
from qbound.numeric.quantplan import QuantPlan, Quantizers  # noqa: E402

from test_fused import OPTS, bits, ftz_plan, wild  # noqa: E402

PLANS = [
    "",
    "W=bf16,G=fp8_e5m2,M=fp8_e4m3fn,V=bf16",                      # the bench's plan
    "W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16",
    "W=fp8_e4m3fn:rna,G=fp8_e4m3:rtz,M=fp8_e4m3fn:rna,V=fp8_e5m2:rtz",
    "W=fp6_e3m2:rup,G=fp4_e2m1:rdn,M=fp6_e3m2:rup,V=fp4_e2m1:rdn,master=stored",
    "W=fp16:sr,G=fp6_e2m3:sr7,M=fp6_e2m3:sr,V=bf16:sr8",
    "W=bf16:sr3,G=fp16:sr,M=fp16:sr3,V=fp8_e4m3:sr,master=stored,update=bf16",
    "W=tf32:rdn,G=fp32:rup,M=tf32,V=fp32:rup,update=bf16",
    "G=fp8_e5m2:sr,M=fp8_e5m2:sr,V=fp8_e4m3fn:sr,update=fp16",
    "W=e8m3:rtz,M=e8m3:rtz,V=e5m2:rna,update=fp8_e4m3fn",
    "W=fp4_e2m1:sr,G=bf16:sr,M=bf16:sr,V=fp16:rdn,update=fp4_e2m1,master=stored",
]


def run_both(name, hp, plan, shapes, steps=3, seed=0, specials=True, want_d=True):
    hist = {}
    for fused in (False, True):
        opt = make_optimizer(name, **hp)
        rng = np.random.default_rng(seed)
        qz = Quantizers(plan, np.random.SeedSequence(seed + 1))
        state = opt.init(shapes)
        for k in state:
            state[k] = [None if s is None else np.abs(wild(rng, s.shape, False)) * (k == "v") +
                        wild(rng, s.shape, False) * (k != "v") for s in state[k]]
        x = [wild(rng, s, specials) for s in shapes]
        rec = []
        for t in range(1, steps + 1):
            grads = [wild(rng, s, specials) for s in shapes]
            x_before = [bits(p).copy() for p in x]
            with np.errstate(all="ignore"):
                res = opt.train_step(x, grads, state, t, qz, fused=fused, deltas=want_d)
            assert [bits(p).tolist() for p in x] == [b.tolist() for b in x_before], "x was changed"
            rec.append(([bits(p) for p in res.x], [bits(p) for p in res.xq],
                        None if res.deltas is None else [bits(p) for p in res.deltas],
                        {k: [None if s is None else bits(s).copy() for s in v] for k, v in state.items()},
                        {c: dict(v) for c, v in qz.counts.items()}))
            qz.reset_counts()
            x = [np.where(np.isfinite(p), p, 1.5) for p in res.x]  # keep the next steps informative
        rec.append({c: r.integers(0, 2**63) for c, r in qz.rngs.items()})
        hist[fused] = rec
    return hist[False], hist[True]


def assert_same(ref, fus, label):
    assert len(ref) == len(fus)
    for t, (a, b) in enumerate(zip(ref[:-1], fus[:-1])):
        for what, ia in (("x_t", 0), ("xq", 1), ("delta", 2)):
            if a[ia] is None or b[ia] is None:
                assert a[ia] is None and b[ia] is None, f"{label} step {t + 1}: {what} missing"
                continue
            for x, y in zip(a[ia], b[ia]):
                assert x.shape == y.shape, f"{label} step {t + 1}: {what} shape"
                bad = np.nonzero(x.reshape(-1) != y.reshape(-1))[0]
                assert bad.size == 0, f"{label} step {t + 1}: {what} differs at {bad[:5]}"
        for key in a[3]:
            for x, y in zip(a[3][key], b[3][key]):
                assert (x is None and y is None) or np.array_equal(x, y), f"{label} step {t + 1}: state {key}"
        assert a[4] == b[4], f"{label} step {t + 1}: counts {a[4]} != {b[4]}"
    assert ref[-1] == fus[-1], f"{label}: the random generators were used differently"


def _ids(v):
    return v if isinstance(v, str) else ",".join(map(str, v.items()))


@pytest.mark.parametrize("name,hp", OPTS, ids=_ids)
@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p or "fp64")
def test_train_step_fused_equals_reference(name, hp, plan):
    shapes = [(37,), (6, 9)] if name == "muon" else [(301,), (4, 5)]
    ref, fus = run_both(name, hp, QuantPlan.parse(plan), shapes)
    assert_same(ref, fus, f"{name} {hp} {plan}")


@pytest.mark.parametrize("name,hp", OPTS[::3], ids=_ids)
def test_train_step_without_deltas(name, hp):
    shapes = [(37,), (6, 9)] if name == "muon" else [(301,)]
    ref, fus = run_both(name, hp, QuantPlan.parse(PLANS[2]), shapes, want_d=False)
    assert_same(ref, fus, f"{name} no deltas")
    assert fus[0][2] is None


@pytest.mark.parametrize("name,hp", OPTS[::2], ids=_ids)
@pytest.mark.parametrize("master", ["fp64", "stored"])
def test_train_step_flush_to_zero(name, hp, master):
    p = ftz_plan()
    plan = p.with_(W=p.M, G=p.V, master=master)
    ref, fus = run_both(name, hp, plan, [(50,), (5, 7)])
    assert_same(ref, fus, f"{name} ftz {master}")


def test_train_step_threaded_chunks_equal_reference(monkeypatch):
    """Chunking over threads changes nothing, SR streams of every site included."""
    from qbound.numeric import _kernel_numba as K
    monkeypatch.setattr(K, "THREAD_MIN_SIZE", 1000)
    monkeypatch.setenv("QBOUND_THREADS", "3")
    plan = QuantPlan.parse("W=bf16:sr,G=fp8_e5m2:sr,M=fp8_e4m3fn:sr,V=bf16:sr5,update=bf16")
    for name, hp in (("adam", {}), ("adamw", {}), ("sgdm", {"nesterov": True}), ("adam-torch", {})):
        ref, fus = run_both(name, hp, plan, [(7777,)], steps=2)
        assert_same(ref, fus, name)
        ref2, fus2 = run_both(name, hp, plan.with_(master="stored"), [(7777,)], steps=2)
        assert_same(ref2, fus2, name + " stored")


def test_train_step_matches_the_harness_sequence():
    """The reference whole step is the harness's: run its steps by hand and compare with run()."""
    from qbound.numeric.harness import run
    from qbound.numeric.problems import make_problem
    plan = QuantPlan.parse("W=bf16:sr,G=bf16:sr,M=bf16,V=fp16:sr")
    traj = run("quadratic", "adam", plan, steps=8, seed=5)
    assert traj.diverged_at is None and np.all(np.isfinite(traj.loss))
    problem = make_problem("quadratic")
    for fused in (False, True):
        noise_ss, q_ss = np.random.SeedSequence(5).spawn(2)  # (spawn advances a SeedSequence)
        noise_rng = np.random.default_rng(noise_ss)
        qz = Quantizers(plan, q_ss)
        opt = make_optimizer("adam")
        x = [np.array(p, dtype=np.float64) for p in problem.x0()]
        state = opt.init([p.shape for p in x])
        xq = [qz("W", p, i) for i, p in enumerate(x)]
        losses = []
        for t in range(1, 9):
            losses.append(problem.evaluate(x)[0])
            g = problem.stoch_grad(xq, noise_rng)
            x, xq, _ = opt.train_step(x, g, state, t, qz, fused=fused)
        assert np.array_equal(np.array(losses), traj.loss), f"fused={fused}"


@pytest.mark.parametrize("drop", ["G", "W"])
def test_a_wrong_whole_step_is_detected(monkeypatch, drop):
    """Dropping Q_G or Q_W from the fused whole step must make the comparison fail."""
    from qbound.numeric import optimizers as O
    real = O._sites

    def without(qz, comps=("M", "V")):
        return real(qz, tuple(c for c in comps if c != drop))

    monkeypatch.setattr(O, "_sites", without)
    ref, fus = run_both("adam", {}, QuantPlan.parse("W=bf16,G=fp8_e5m2,M=bf16,V=fp8_e4m3fn"), [(200,)],
                        specials=False)
    with pytest.raises(AssertionError):
        assert_same(ref, fus, "wrong")
