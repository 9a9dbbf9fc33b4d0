"""``qbound bench torch``: speed of the PyTorch backend (qbound.numeric.pytorch), as ratios.

Measured in one process, every pair timed alternately (best of ``reps``, so background load hits both
sides alike; the machine is often shared), on CPU and, when torch sees one, on a CUDA device:

* one quantized AdamW step with all four components quantized -- ``W=bf16,G=bf16,M=bf16,V=bf16`` and
  ``W=fp8_e4m3fn,...`` (all fp8) and the README's ``M=fp8_e4m3fn,V=bf16`` -- on 10^7 float32
  parameters (10^6 with ``quick``) in four tensors, against ``torch.optim.AdamW(foreach=True)`` on
  the same tensors (target ratio <= 2, moonshot 1.3); on CUDA against ``fused=True`` (target <= 1.5);
* :func:`qbound.numeric.pytorch.quantize` on a float32 CPU tensor against the compiled numpy kernel
  (``qbound.numeric.quantize``) on the same data, result into a preallocated buffer on both sides
  (target ratio <= 2);
* the charlm transformer (preset "cpu"): training tokens per second with the quantized AdamW
  (``W=bf16,G=bf16,M=fp8_e4m3fn,V=bf16``) next to ``torch.optim.AdamW`` on the same model and batches.
"""
from __future__ import annotations

import os
import time

ALL_BF16 = "W=bf16,G=bf16,M=bf16,V=bf16"
ALL_FP8 = "W=fp8_e4m3fn,G=fp8_e4m3fn,M=fp8_e4m3fn,V=fp8_e4m3fn"
README_PLAN = "M=fp8_e4m3fn,V=bf16"
MIXED = "W=bf16,G=bf16,M=fp8_e4m3fn,V=bf16"


def _alternate(fns: dict, reps: int, sync=None) -> dict:
    best = {k: float("inf") for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            if sync:
                sync()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def _params(torch, n, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    ps = [torch.randn(n // 4, generator=g).to(device).requires_grad_() for _ in range(4)]
    for p in ps:
        p.grad = (torch.randn(p.shape, generator=g) * 1e-3).to(device)
    return ps


def bench_adamw_step(torch, n: int, reps: int, device: str = "cpu") -> dict:
    from qbound.numeric.pytorch import QAdamW
    cuda = device != "cpu"
    ref_kw = {"fused": True} if cuda else {"foreach": True}
    opts = {"torch": torch.optim.AdamW(_params(torch, n, device), lr=1e-3, **ref_kw)}
    for name, plan in (("all_bf16", ALL_BF16), ("all_fp8_e4m3fn", ALL_FP8), ("readme_plan", README_PLAN),
                       ("empty_plan", "")):
        opts[name] = QAdamW(_params(torch, n, device), lr=1e-3, quant=plan)
    for o in opts.values():  # first step: state allocation and JIT, not timed
        o.step()
    sync = torch.cuda.synchronize if cuda else None
    best = _alternate({k: o.step for k, o in opts.items()}, reps, sync)
    ref = "torch.optim.AdamW(fused=True)" if cuda else "torch.optim.AdamW(foreach=True)"
    out = {"params": n, "device": device, "reference": ref, "reference_seconds": best["torch"]}
    for k in opts:
        if k != "torch":
            out[k] = {"seconds": best[k], "ratio": best[k] / best["torch"]}
    target = 1.5 if cuda else 2.0
    out["target"] = f"all-four-quantized ratio <= {target}" + ("" if cuda else " (moonshot 1.3)")
    out["target_met"] = max(out["all_bf16"]["ratio"], out["all_fp8_e4m3fn"]["ratio"]) <= target
    return out


def bench_quantize(torch, n: int, reps: int) -> dict:
    import numpy as np

    from qbound.numeric import quantize as np_quantize
    from qbound.numeric.pytorch import quantize
    x = torch.randn(n) * 2.0 ** torch.randint(-4, 5, (n,)).float()
    a = x.numpy()
    buf_np = np.empty_like(a)
    buf_t = torch.empty_like(x)
    out = {"values": n}
    for fmt, mode in (("bf16", "rne"), ("fp8_e4m3fn", "rne"), ("fp4_e2m1", "rne"), ("bf16", "sr")):
        r1, r2 = np.random.default_rng(0), np.random.default_rng(0)
        kw1 = {"rng": r1} if mode == "sr" else {}
        kw2 = {"rng": r2} if mode == "sr" else {}
        try:
            np_quantize(a[:8], fmt, mode, out=buf_np[:8], **kw1)
            fa = lambda: np_quantize(a, fmt, mode, out=buf_np, **kw1)  # noqa: E731
        except TypeError:  # a numeric.rounding without out=
            fa = lambda: np_quantize(a, fmt, mode, **kw1)  # noqa: E731
        fb = lambda: quantize(x, fmt, mode, out=buf_t, **kw2)  # noqa: E731
        best = _alternate({"numba": fa, "torch": fb}, reps)
        out[f"{fmt}_{mode}"] = {"numba_seconds": best["numba"], "torch_seconds": best["torch"],
                                "ratio": best["torch"] / best["numba"]}
    out["target"] = "torch tensor / numba kernel <= 2"
    out["target_met"] = all(v["ratio"] <= 2 for k, v in out.items() if isinstance(v, dict))
    return out


def bench_charlm(torch, steps: int, reps: int, preset: str = "cpu") -> dict:
    import numpy as np

    from qbound.numeric.pytorch import QAdamW
    from qbound.numeric.pytorch.workloads import make_workload, param_groups
    wl = make_workload("charlm", preset=preset)
    rng = np.random.default_rng(0)
    batches = [wl.batch(rng, "cpu") for _ in range(steps)]

    def make(kind):
        model = wl.build("cpu", torch.float32)
        groups = param_groups(model, "adamw", {"weight_decay": 0.1})
        if kind == "torch":
            opt = torch.optim.AdamW(groups, lr=3e-3, weight_decay=0.1, foreach=True)
        else:
            opt = QAdamW(groups, lr=3e-3, weight_decay=0.1, quant=MIXED)
        return model, opt

    runs = {k: make(k) for k in ("torch", "quantized")}

    def train(kind):
        model, opt = runs[kind]
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            wl.loss(model, x, y).backward()
            opt.step()

    for k in runs:  # warm-up (allocation, JIT)
        model, opt = runs[k]
        opt.zero_grad()
        wl.loss(model, *batches[0]).backward()
        opt.step()
    best = _alternate({k: (lambda k=k: train(k)) for k in runs}, reps)
    tok = wl.tokens_per_step() * steps
    return {"preset": preset, "params": sum(p.numel() for p in runs["torch"][0].parameters()), "steps": steps,
            "plan": MIXED, "tokens_per_second_adamw": tok / best["torch"],
            "tokens_per_second_quantized": tok / best["quantized"], "ratio": best["quantized"] / best["torch"]}


def bench_torch(quick: bool = False) -> dict:
    from qbound.numeric.pytorch import TorchMissing, require_torch
    try:
        torch = require_torch()
    except TorchMissing as exc:
        return {"error": str(exc)}
    threads = torch.get_num_threads()
    res = {"torch": torch.__version__, "threads": threads,
           "loadavg_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    n = 10**6 if quick else 10**7
    reps = 3 if quick else 5
    res["adamw_step_cpu"] = bench_adamw_step(torch, n, reps)
    res["quantize_cpu"] = bench_quantize(torch, n, reps)
    res["charlm_cpu"] = bench_charlm(torch, 5 if quick else 20, 2 if quick else 3)
    if torch.cuda.is_available():
        res["adamw_step_cuda"] = bench_adamw_step(torch, n, reps, "cuda")
    else:
        res["cuda"] = "no CUDA device visible to torch: the CUDA target was not measured"
    res["loadavg_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return res


__all__ = ["bench_torch"]
