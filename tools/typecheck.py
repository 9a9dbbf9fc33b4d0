#!/usr/bin/env python3
"""Run mypy on qbound's typed public modules, on the tree as it installs.

The modules are listed in pyproject.toml under ``[tool.mypy]``: ``modules`` are checked alone
(``-m``), ``packages`` with every submodule (``-p``); this script reads both keys, mypy ignores them. As for import-linter (tools/lint_imports.py), the package-dir mapping
spans folders that an editable install does not join, so the tree is staged into a temporary
folder first and mypy runs there with that folder as its search path.

Usage:  python tools/typecheck.py [extra mypy arguments]    -- exit status of mypy
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lint_imports import ROOT, stage, tomllib  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    mods = [a for m in cfg.get("modules", []) for a in ("-m", m)]
    mods += [a for p in cfg.get("packages", []) for a in ("-p", p)]
    with tempfile.TemporaryDirectory(prefix="qbound-mypy-") as tmp:
        stage(Path(tmp))
        env = dict(os.environ, MYPYPATH=tmp)
        exe = shutil.which("mypy") or "mypy"
        return subprocess.call([exe, "--config-file", str(ROOT / "pyproject.toml"), *mods, *argv], cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(main())
