"""qbound run/sweep --backend torch: same outputs, store and resume as the numpy backend."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason='the PyTorch backend needs torch: pip install "qbound[torch]"')

from qbound.app.cli import main  # noqa: E402
from qbound.numeric.pytorch.sweep import WORKLOAD_NAMES  # noqa: E402
from qbound.numeric.pytorch.workloads import WORKLOADS  # noqa: E402
from qbound.numeric.sweep import load_results  # noqa: E402


def test_workload_names_are_the_registry():
    assert tuple(WORKLOADS) == WORKLOAD_NAMES


def test_run_and_sweep_with_the_torch_backend(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "adamw", "--problem", "charlm", "--problem-args", "preset=tiny", "--backend", "torch",
                 "--steps", "4", "--quant", "M=fp8_e4m3fn,V=bf16", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["meta"]["backend"] == "torch" and d["meta"]["plan"] == "M=fp8_e4m3fn,V=bf16" and len(d["loss"]) == 4
    store = tmp_path / "s.jsonl"
    argv = ["sweep", "--problem", "rosenbrock", "--backend", "torch", "--optimizers", "adam", "--components", "V",
            "--bits", "2,5", "--steps", "5", "--out", str(store)]
    assert main(argv) == 0
    recs = load_results(str(store))
    assert len(recs) == 3 and {r["config"]["backend"] for r in recs} == {"torch"}
    n = len(store.read_text().splitlines())
    assert main(argv) == 0 and len(store.read_text().splitlines()) == n  # resumed: nothing recomputed
    capsys.readouterr()


@pytest.mark.parametrize("argv,msg", [
    (["run", "adam", "--problem", "charlm", "--steps", "2"], "add --backend torch"),
    (["run", "adam", "--backend", "torhc", "--steps", "2"], "Did you mean torch"),
    (["run", "adam", "--backend", "numpy", "--device", "cuda", "--steps", "2"], "--backend torch only"),
])
def test_bad_backend_input_exits_2(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err


def test_bench_torch_parts_report_ratios():
    from qbound.app.bench.torch import bench_adamw_step, bench_quantize
    r = bench_adamw_step(torch, 4000, 1)
    assert r["reference"] == "torch.optim.AdamW(foreach=True)" and r["all_bf16"]["ratio"] > 0
    q = bench_quantize(torch, 4000, 1)
    assert {"bf16_rne", "fp8_e4m3fn_rne", "bf16_sr"} <= set(q) and isinstance(q["target_met"], bool)
