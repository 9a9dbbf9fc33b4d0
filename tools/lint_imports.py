#!/usr/bin/env python3
"""Run import-linter (`lint-imports`, contracts in pyproject.toml) on the qbound namespace.

qbound is assembled from several folders ([tool.setuptools] package-dir: numeric/ installs as
qbound.numeric, proofs/ as qbound.proofs, bounds/ as qbound.bounds); with an editable install
``qbound.__path__`` is only qbound/, so import-linter, which walks the package folder, would not see
the three layers.  This script copies the tree as it installs into a temporary folder, puts that
folder first on PYTHONPATH and runs ``lint-imports`` there (extra arguments are passed on).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def stage(dest: Path) -> Path:
    """Copy every package folder of pyproject's package-dir to dest/<dotted path>; return dest."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = cfg["tool"]["setuptools"]["package-dir"]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg, folder in sorted(package_dir.items(), key=lambda kv: kv[0].count(".")):
        target = dest.joinpath(*pkg.split("."))
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / folder, target, ignore=ignore)
    return dest


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with tempfile.TemporaryDirectory(prefix="qbound-lint-imports-") as tmp:
        stage(Path(tmp))
        env = dict(os.environ)
        env["PYTHONPATH"] = tmp + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        exe = shutil.which("lint-imports") or "lint-imports"
        return subprocess.call([exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache", *argv], cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(main())
