#!/usr/bin/env python3
"""Static import graph of qbound: layering violations and import cycles.

Every ``import`` / ``from ... import`` node is counted, wherever it sits (module level, inside a
function, under ``if TYPE_CHECKING``), relative imports are resolved, and ``from pkg import sub``
counts as an import of the submodule ``pkg.sub`` when that submodule exists (otherwise of ``pkg``).
The implicit import of a parent package (``import a.b`` runs ``a/__init__``) is not counted as an
edge, so a package's ``__init__`` may load its own submodules lazily.

Usage:  python tools/import_graph.py [ROOT]   -- exit 1 when a violation or a cycle is found.
Importable: ``analyse(root)`` returns ``(graph, violations, cycles)``.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

# folder (relative to the repository root) -> the package name it installs as
PACKAGE_DIRS: dict[str, str] = {
    "numeric": "qbound.numeric",
    "proofs": "qbound.proofs",
    "bounds": "qbound.bounds",
    "qbound": "qbound",
}

# lower index = lower layer; a module may import only its own layer or lower ones
LAYERS: list[str] = ["qbound.numeric", "qbound.proofs", "qbound.bounds", "qbound.testing", "qbound.app"]


def module_files(root: Path, package_dirs: dict[str, str] | None = None) -> dict[str, Path]:
    """Map module name -> file for every .py file under the package folders."""
    package_dirs = PACKAGE_DIRS if package_dirs is None else package_dirs
    out: dict[str, Path] = {}
    for folder, pkg in package_dirs.items():
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = list(rel.parts)
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([pkg, *parts]) if parts else pkg
            out[name] = path
    return out


def _is_package(name: str, files: dict[str, Path]) -> bool:
    p = files.get(name)
    return p is not None and p.name == "__init__.py"


def _resolve_target(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` is or lies inside; None if outside the project."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in modules:
            return cand
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that the file of module ``name`` imports, anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                t = _resolve_target(alias.name, modules)
                if t:
                    found.add(t)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                src = f"{base}.{node.module}" if node.module else base
            else:
                src = node.module or ""
            for alias in node.names:
                sub = f"{src}.{alias.name}"
                if alias.name != "*" and sub in modules:
                    found.add(sub)
                else:
                    t = _resolve_target(src, modules)
                    if t:
                        found.add(t)
    found.discard(name)
    return found


def build_graph(root: Path, package_dirs: dict[str, str] | None = None) -> dict[str, set[str]]:
    modules = module_files(root, package_dirs)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer_of(name: str, layers: list[str] | None = None) -> int | None:
    layers = LAYERS if layers is None else layers
    for i, pkg in enumerate(layers):
        if name == pkg or name.startswith(pkg + "."):
            return i
    return None


def violations(graph: dict[str, set[str]], layers: list[str] | None = None) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a lower layer imports a higher one."""
    bad = []
    for src in sorted(graph):
        ls = layer_of(src, layers)
        if ls is None:
            continue
        for dst in sorted(graph[src]):
            ld = layer_of(dst, layers)
            if ld is not None and ld > ls:
                bad.append((src, dst))
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    return sorted(result)


def analyse(root: Path, package_dirs: dict[str, str] | None = None, layers: list[str] | None = None):
    graph = build_graph(Path(root), package_dirs)
    return graph, violations(graph, layers), cycles(graph)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    graph, bad, cyc = analyse(root)
    for src, dst in bad:
        print(f"layering violation: {src} imports {dst}")
    for comp in cyc:
        print(f"import cycle ({len(comp)} modules): {{{', '.join(comp)}}}")
    if bad or cyc:
        return 1
    print(f"import graph ok: {len(graph)} modules, no layering violation, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
