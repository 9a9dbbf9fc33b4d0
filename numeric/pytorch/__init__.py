"""The PyTorch backend of the ground layer: bit-exact quantization of tensors, quantized optimizers
as ``torch.optim.Optimizer`` subclasses, and real training workloads that need no download.

torch is optional (``pip install "qbound[torch]"``); this package and its modules import without it
and raise :class:`TorchMissing` (with the install line) when used.

* :func:`quantize` ``(tensor, fmt, rounding="rne", *, rng=None, ...)``: bit-identical to
  :func:`qbound.numeric.quantize` on CPU and CUDA tensors (float16, bfloat16, float32, float64).
* Optimizers taking a :class:`qbound.numeric.QuantPlan` (or its text, the CLI's ``--quant``):
  :class:`QAdam` (the paper's form), :class:`QAdamTorch` (torch.optim.Adam), :class:`QAdamW`,
  :class:`QMuon` (Newton-Schulz or exact polar), :class:`QSGDM`; ``make_torch_optimizer(name, ...)``
  uses the names of :func:`qbound.numeric.make_optimizer`. ``diagnostics=True`` records lost updates,
  never-decreasing v coordinates and overflow/NaN/underflow counts per component.
* Workloads (``workloads``): ``charlm`` (a small causal transformer trained character-level on
  ``pydoc_data.topics``) and ``digits-cnn``; :func:`train` runs one and returns a Trajectory.

Submodules load on first use.
"""
from __future__ import annotations

from qbound._lazy import exports as _lazy_exports

_EXPORTS = {
    "TorchMissing": "_torch", "require_torch": "_torch",
    "quantize": "rounding", "result_dtype": "rounding", "sr_stream_torch": "rounding",
    "QuantizedOptimizer": "optim", "QAdam": "optim", "QAdamTorch": "optim", "QAdamW": "optim",
    "QMuon": "optim", "QSGDM": "optim", "make_torch_optimizer": "optim", "TORCH_OPTIMIZERS": "optim",
    "WORKLOADS": "workloads", "make_workload": "workloads", "train": "workloads",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = _lazy_exports(globals(), _EXPORTS, __all__)
