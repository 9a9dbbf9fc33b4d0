"""Fused optimizer steps (numeric._fused_numba) are bit-identical to the multi-pass reference.

For every optimizer with a fused kernel (the paper's Adam, PyTorch's Adam with and without L2 decay,
AdamW, SGD with momentum with and without Nesterov and decay, Muon's elementwise parts with both
momentum forms, Nesterov, and both Adam rules for its vector parameters), under plans that cover
every format family (IEEE-like, OCP fn FP8, OCP finite FP6/FP4, flush-to-zero, fp32/tf32) and every
rounding mode (incl. sr with 64 and with few random bits) on M and V and rounded update arithmetic,
the fused step and ``step_reference`` started from the same state give the same bits in the deltas
and in the states (NaN compared as NaN, see :func:`bits`), the same counts, and leave the random generators in the same state. The inputs
span many binades and include zeros, overflowing values, infinities and NaN.

A deliberately wrong variant (a fused kernel with one rounding site dropped) must be told apart.
"""
import numpy as np
import pytest

pytest.importorskip("numba")

from qbound.numeric.formats import FloatFormat  # noqa: E402
from qbound.numeric.optimizers import fused_available, make_optimizer  # noqa: E402
from qbound.numeric.quantplan import CompQuant, QuantPlan, Quantizers  # noqa: E402

PLANS = [
    "",
    "M=bf16,V=bf16",
    "M=fp8_e4m3fn:rna,V=fp8_e5m2:rtz",
    "M=fp6_e3m2:rup,V=fp4_e2m1:rdn",
    "M=fp6_e2m3:sr,V=bf16:sr8",
    "M=fp16:sr3,V=fp8_e4m3:sr",
    "M=tf32,V=fp32:rup,update=bf16",
    "M=fp8_e5m2:sr,V=fp8_e4m3fn:sr,update=fp16",
    "M=e8m3:rtz,V=e5m2:rna,update=fp8_e4m3fn",
    "M=bf16:sr,V=fp16:rdn,update=fp4_e2m1",
]

OPTS = [
    ("adam", {}),
    ("adam", {"beta1": 0.0, "eps": 0.0}),
    ("adam-torch", {}),
    ("adam-torch", {"weight_decay": 0.1}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.0}),
    ("sgdm", {}),
    ("sgdm", {"nesterov": True, "weight_decay": 0.05}),
    ("muon", {"polar": "ns"}),
    ("muon", {"polar": "ns", "momentum": "ema", "nesterov": True, "adam": "adam-torch"}),
]


def wild(rng, shape, specials=True):
    """Values over ~60 binades, both signs, with exact zeros, huge values, inf and NaN mixed in."""
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-40, 20, shape))
    if specials:
        flat = x.reshape(-1)
        idx = rng.choice(flat.size, size=min(12, flat.size), replace=False)
        flat[idx] = [0.0, -0.0, 1e6, -7e4, np.inf, -np.inf, np.nan, 1e300, -1e-300, 5e-324, 3.0, -448.0][: idx.size]
    return x


def ftz_plan():
    return QuantPlan(M=CompQuant(FloatFormat("e5m2_ftz", 5, 2, subnormals=False), "rne"),
                     V=CompQuant(FloatFormat("e4m3fn_ftz", 4, 3, policy="fn", subnormals=False), "sr"),
                     update_format=FloatFormat("e6m4_ftz", 6, 4, subnormals=False))


def bits(a):
    """The bit patterns, with every NaN mapped to one pattern: IEEE 754 leaves the sign and payload
    of a NaN produced by arithmetic unspecified, and numpy's own result differs between its SIMD
    and scalar loops (i.e. with the alignment of the arrays), so NaN-ness is compared, not payload."""
    a = np.array(a, dtype=np.float64)
    a[np.isnan(a)] = np.nan
    return a.view(np.uint64)


def run_both(name, hp, plan, shapes, steps=3, seed=0, specials=True):
    """The fused and the reference path from the same start; returns both histories."""
    hist = {}
    for fused in (False, True):
        opt = make_optimizer(name, **hp)
        rng = np.random.default_rng(seed)
        qz = Quantizers(plan, np.random.SeedSequence(seed + 1))
        state = opt.init(shapes)
        for k in state:  # non-zero starting states (the same on both paths)
            state[k] = [None if s is None else np.abs(wild(rng, s.shape, False)) * (k == "v") +
                        wild(rng, s.shape, False) * (k != "v") for s in state[k]]
        rec = []
        for t in range(1, steps + 1):
            params = [wild(rng, s, specials) for s in shapes]
            grads = [wild(rng, s, specials) for s in shapes]
            with np.errstate(all="ignore"):
                d = opt.step(params, grads, state, t, qz, fused=fused)
            rec.append(([bits(x).copy() for x in d],
                        {k: [None if s is None else bits(s).copy() for s in v] for k, v in state.items()},
                        {c: dict(v) for c, v in qz.counts.items()}))
            qz.reset_counts()
        rec.append({c: r.integers(0, 2**63) for c, r in qz.rngs.items()})
        hist[fused] = rec
    return hist[False], hist[True]


def assert_same(ref, fus, label):
    assert len(ref) == len(fus)
    for t, (a, b) in enumerate(zip(ref[:-1], fus[:-1])):
        for x, y in zip(a[0], b[0]):
            bad = np.nonzero(x != y)[0]
            assert bad.size == 0, f"{label} step {t + 1}: delta differs at {bad[:5]}"
        for key in a[1]:
            for x, y in zip(a[1][key], b[1][key]):
                assert (x is None and y is None) or np.array_equal(x, y), f"{label} step {t + 1}: state {key}"
        assert a[2] == b[2], f"{label} step {t + 1}: counts {a[2]} != {b[2]}"
    assert ref[-1] == fus[-1], f"{label}: the random generators were used differently"


def test_fused_is_used_by_default():
    qz = Quantizers(QuantPlan.parse("M=bf16"))
    assert fused_available(qz)
    assert not fused_available(Quantizers(QuantPlan.parse("M=bf16"), record=True))


@pytest.mark.parametrize("name,hp", OPTS, ids=lambda v: v if isinstance(v, str) else ",".join(map(str, v.items())))
@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p or "fp64")
def test_fused_equals_reference(name, hp, plan):
    shapes = [(37,), (6, 9)] if name == "muon" else [(301,), (4, 5)]
    ref, fus = run_both(name, hp, QuantPlan.parse(plan), shapes)
    assert_same(ref, fus, f"{name} {hp} {plan}")


@pytest.mark.parametrize("name,hp", OPTS[::2], ids=lambda v: v if isinstance(v, str) else ",".join(map(str, v.items())))
def test_fused_equals_reference_flush_to_zero(name, hp):
    shapes = [(50,), (5, 7)]
    ref, fus = run_both(name, hp, ftz_plan(), shapes)
    assert_same(ref, fus, f"{name} ftz")


def test_fused_threaded_chunks_equal_reference(monkeypatch):
    """Chunking over threads changes nothing, SR streams included (indexed by the element)."""
    from qbound.numeric import _kernel_numba as K
    monkeypatch.setattr(K, "THREAD_MIN_SIZE", 1000)
    monkeypatch.setenv("QBOUND_THREADS", "3")
    for name, hp in (("adam", {}), ("adamw", {}), ("sgdm", {"nesterov": True})):
        ref, fus = run_both(name, hp, QuantPlan.parse("M=fp8_e4m3fn:sr,V=bf16:sr5,update=bf16"), [(7777,)], steps=2)
        assert_same(ref, fus, name)


def test_harness_run_identical_with_and_without_fusion(monkeypatch):
    """A whole quantized run (the harness calls opt.train_step, or opt.step without fusion) gives the same trajectory either way."""
    from qbound.numeric import optimizers as O
    from qbound.numeric.harness import run
    plan = "W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16,update=bf16"
    a = run("rosenbrock", "adam", plan, steps=30, seed=3)
    monkeypatch.setattr(O, "fused_available", lambda qz: False)
    b = run("rosenbrock", "adam", plan, steps=30, seed=3)
    assert np.array_equal(a.loss, b.loss, equal_nan=True)
    for c in a.counts:
        for k in a.counts[c]:
            assert np.array_equal(a.counts[c][k], b.counts[c][k])


def test_a_wrong_fused_kernel_is_detected(monkeypatch):
    """Dropping Q_V from the fused Adam step must make the comparison fail."""
    from qbound.numeric import optimizers as O
    real = O._sites

    def no_v(qz, comps=("M", "V")):
        qi, qf, keys = real(qz, comps)
        qi[1, 0] = 0  # site V inactive: v is no longer rounded
        return qi, qf, keys

    monkeypatch.setattr(O, "_sites", no_v)
    ref, fus = run_both("adam", {}, QuantPlan.parse("M=bf16,V=fp8_e4m3fn"), [(200,)], specials=False)
    with pytest.raises(AssertionError):
        assert_same(ref, fus, "wrong")
