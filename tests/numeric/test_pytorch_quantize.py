"""qbound.numeric.pytorch.quantize: bit-identical to numeric.rounding.quantize, and to torch's own casts."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason='the PyTorch backend needs torch: pip install "qbound[torch]"')

from qbound.numeric.formats import registry  # noqa: E402
from qbound.numeric.pytorch.rounding import quantize, result_dtype, sr_stream_torch  # noqa: E402
from qbound.numeric.rounding import quantize as np_quantize, sr_random_stream  # noqa: E402

MODES = ("rne", "rna", "rtz", "rup", "rdn", "sr")
FORMATS = tuple(registry()) + ("e8m3", "e5m1", "e3m1", "e6m20")
ALL16 = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device available to torch")


def _same(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))))


def _ref(x, fmt, mode, seed=1, overflow="ieee"):
    kw = {"rng": np.random.default_rng(seed)} if mode == "sr" else {}
    return np_quantize(x.double().numpy(), fmt, mode, overflow=overflow, **kw)


def _got(x, fmt, mode, path, seed=1, overflow="ieee", **kw):
    if mode == "sr":
        kw["rng"] = np.random.default_rng(seed)
    return quantize(x, fmt, mode, path=path, overflow=overflow, **kw).double().cpu().numpy()


FAST_FORMATS = ("bf16", "fp8_e4m3fn", "e3m1")


@pytest.mark.parametrize("src", ["float16", "bfloat16"])
@pytest.mark.parametrize("fmt", [f if f in FAST_FORMATS else pytest.param(f, marks=pytest.mark.slow) for f in FORMATS])
def test_every_16bit_input_every_mode_both_kernels(src, fmt):
    x = ALL16.view(getattr(torch, src))
    for mode in MODES:
        ref = _ref(x, fmt, mode)
        for path in ("numba", "torch"):
            assert _same(ref, _got(x, fmt, mode, path)), (src, fmt, mode, path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wide_inputs_every_mode(dtype):
    rng = np.random.default_rng(3)
    n = 4000
    bits = rng.integers(0, 1 << 62, size=n, dtype=np.int64) * rng.choice([-1, 1], size=n)
    x64 = bits.view(np.float64)  # every exponent, NaN and inf patterns included
    x = torch.from_numpy(x64.copy()) if dtype == "float64" else torch.from_numpy(
        (rng.standard_normal(n) * 10.0 ** rng.integers(-45, 38, n)).astype(np.float32))
    x = torch.cat([x, torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan")], dtype=x.dtype)])
    for fmt in ("bf16", "fp8_e4m3fn", "fp4_e2m1", "e11m3"):
        for mode in MODES:
            for ov in ("ieee", "saturate"):
                ref = _ref(x, fmt, mode, overflow=ov)
                for path in ("numba", "torch"):
                    assert _same(ref, _got(x, fmt, mode, path, overflow=ov)), (dtype, fmt, mode, path, ov)


@pytest.mark.parametrize("name,dtype,overflow", [("bf16", "bfloat16", "ieee"), ("fp8_e5m2", "float8_e5m2", "ieee"),
                                                  ("fp8_e4m3fn", "float8_e4m3fn", "saturate")])
@pytest.mark.parametrize("src", ["float16", "bfloat16"])
def test_agrees_with_torch_casts_on_every_16bit_input(name, dtype, overflow, src):
    """torch's casts round to nearest even; its float8_e4m3fn cast saturates finite overflow at 448."""
    x = ALL16.view(getattr(torch, src))
    ref = x.to(getattr(torch, dtype)).double().numpy()
    assert _same(ref, quantize(x, name, overflow=overflow).double().numpy())
    if name == "fp8_e4m3fn":  # the wrong overflow policy must be caught: ieee gives NaN beyond 464
        assert not _same(ref, quantize(x, name, overflow="ieee").double().numpy())


def test_a_wrong_kernel_is_caught():
    """The comparison used above rejects a kernel that rounds ties the wrong way."""
    x = ALL16.view(torch.bfloat16)
    assert not _same(_ref(x, "fp8_e4m3fn", "rne"), _got(x, "fp8_e4m3fn", "rna", "torch"))


def test_sr_stream_matches_numpy_and_is_unbiased():
    for key, k in ((0, 64), (12345, 7), ((1 << 64) - 5, 33)):
        assert np.array_equal(sr_stream_torch(key, 257, k).numpy().view(np.uint64), sr_random_stream(key, 257, k))
    # E[Q(x)] = x: x = 1 + 3/8 ulp of e8m2 between 1 and 1.25; 20000 draws
    x = torch.full((20000,), 1.0 + 0.25 * 3 / 8, dtype=torch.float64)
    for path in ("numba", "torch"):
        q = quantize(x, "e8m2", "sr", rng=np.random.default_rng(0), path=path)
        assert set(q.unique().tolist()) == {1.0, 1.25}
        p_up = float((q == 1.25).double().mean())
        assert abs(p_up - 3 / 8) < 4 * (3 / 8 * 5 / 8 / 20000) ** 0.5
    # with K random bits the rounding-up probability is floor(r 2^K) / 2^K: K = 1 and r = 3/8 never round up
    q = quantize(x[:2000], "e8m2", "sr", sr_bits=1, rng=np.random.default_rng(0), path="torch")
    assert bool((q == 1.0).all())


def test_result_dtype_and_out():
    x = torch.tensor([0.999, 1e-3, 3.0])
    assert quantize(x, "bf16").dtype == torch.float32
    assert quantize(x.to(torch.bfloat16), "fp16").dtype == torch.float64   # fp16 values are not all bf16
    assert quantize(x.double(), "fp8_e4m3fn").dtype == torch.float64
    assert result_dtype(registry()["fp8_e4m3fn"], torch.bfloat16) == torch.bfloat16
    out = torch.empty(3, dtype=torch.float64)
    r = quantize(x, "bf16", "rtz", out=out)
    assert r is out and out[0].item() == 0.99609375
    with pytest.raises(ValueError):
        quantize(x, "bf16", "sr")  # sr needs an rng
    with pytest.raises(TypeError):
        quantize(np.ones(3), "bf16")


@cuda
def test_cuda_matches_cpu():
    x = ALL16.view(torch.bfloat16)
    for fmt in ("bf16", "fp8_e4m3fn", "fp4_e2m1"):
        for mode in MODES:
            assert _same(_ref(x, fmt, mode), _got(x.cuda(), fmt, mode, "auto"))
