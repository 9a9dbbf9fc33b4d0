"""The static import graph (tools/import_graph.py): no layering violation, no cycle; and the check
is shown to fail on purpose on small broken trees."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "import_graph.py"


def _load():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_graph", mod)
    spec.loader.exec_module(mod)
    return mod


ig = _load()


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_function_level_cycle_is_found(tmp_path):
    _write(tmp_path, {
        "numeric/__init__.py": "",
        "numeric/a.py": "from . import b\n",
        "numeric/b.py": "def f():\n    from qbound.numeric.a import x\n    return x\n",
        "qbound/__init__.py": "",
    })
    graph, bad, cyc = ig.analyse(tmp_path)
    assert graph["qbound.numeric.a"] == {"qbound.numeric.b"}
    assert graph["qbound.numeric.b"] == {"qbound.numeric.a"}
    assert bad == []
    assert cyc == [["qbound.numeric.a", "qbound.numeric.b"]]
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "import cycle" in run.stdout and "qbound.numeric.a" in run.stdout


def test_layering_violation_is_found(tmp_path):
    _write(tmp_path, {
        "numeric/__init__.py": "",
        "numeric/low.py": "def f():\n    import qbound.app.cli\n",
        "bounds/__init__.py": "",
        "bounds/theory.py": "from ..numeric import low\n",
        "qbound/__init__.py": "",
        "qbound/app/__init__.py": "",
        "qbound/app/cli.py": "from qbound.bounds import theory\n",
    })
    graph, bad, cyc = ig.analyse(tmp_path)
    assert bad == [("qbound.numeric.low", "qbound.app.cli")]
    assert cyc == [["qbound.app.cli", "qbound.bounds.theory", "qbound.numeric.low"]]
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "layering violation: qbound.numeric.low imports qbound.app.cli" in run.stdout


def test_clean_tree_passes(tmp_path):
    _write(tmp_path, {
        "numeric/__init__.py": "def lazy():\n    from qbound.numeric import a\n",
        "numeric/a.py": "import math\n",
        "proofs/__init__.py": "from qbound.numeric.a import math\n",
        "qbound/__init__.py": "",
    })
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_repository_has_no_layering_violation_and_no_cycle():
    graph, bad, cyc = ig.analyse(ROOT)
    assert "qbound.bounds.derivation" in graph and "qbound.app.cli" in graph
    assert bad == [], bad
    assert cyc == [], cyc
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
