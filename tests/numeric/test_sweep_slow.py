"""A bigger sweep (slow): the issue's grid shape on matrix-ls, 1 vs 2 workers, then the plots."""
import pytest

from qbound.app.plots import plot_sweep
from qbound.numeric.sweep import SweepSpec, run_sweep

pytestmark = pytest.mark.slow


def test_full_grid_is_worker_independent_and_plots(tmp_path):
    spec = SweepSpec(problem="matrix-ls", optimizers=("adam", "muon"), hparams={"adam": {"lr": 1e-2}},
                     components=("W", "G", "M", "V"), bits=tuple(range(1, 11)), seeds=(0,), steps=200)
    a = run_sweep(spec, tmp_path / "a.jsonl", workers=1, progress=False)
    b = run_sweep(spec, tmp_path / "b.jsonl", workers=2, progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert len(a) == 2 * (1 + 4 * 10) and strip(a) == strip(b)
    paths = plot_sweep(b, tmp_path / "plots")
    assert len(paths) == 2 * 4 + 1
