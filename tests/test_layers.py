"""The package's layering, checked on its import graph (docs/architecture.md, "Layers").

Every module of ``metamat`` is parsed with ``ast``; every ``import`` counts, also those inside functions
(they run when the function runs, so they still tie the modules together). The test fails on

(a) an import cycle between modules, and
(b) an upward import: a module importing from a layer listed after its own.

Layers, lowest first (a module may import from its own layer and the ones before it):

    errors, files, threads -> geometry -> data -> featurize -> tasks -> train -> models -> pretrained
    -> active -> screen -> evaluate -> fewshot -> potentials -> app, cli

``fewshot`` is the module
``metamat/fewshot.py``: few-shot predictions for a user's support/query tables (with
``metamat/fewshot_inputs.py``, its inputs and model wrappers, in the same layer).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import metamat

PACKAGE = Path(metamat.__file__).resolve().parent

LAYERS: list[tuple[str, ...]] = [
    ("errors", "files", "threads"),
    ("geometry",),
    ("data",),
    ("featurize",),
    ("tasks",),
    ("train",),
    ("models",),
    ("pretrained",),
    ("active",),
    ("screen",),
    ("evaluate",),
    ("fewshot", "fewshot_inputs"),
    ("potentials",),
    ("app", "cli", "__main__"),
]
LAYER_OF = {top: i for i, names in enumerate(LAYERS) for top in names}

def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its body (function-level imports included)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import sub`` imports the module pkg.sub if there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        for target in targets:
            while target and target not in modules:  # import a.b.c of a module a.b.c or its package
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("metamat"):
                out.add(target)
    return out


@functools.cache
def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    names = set(modules)
    return {name: imports_of(name, path, names) for name, path in modules.items()}


def layer(module: str) -> int | None:
    """Layer index of a module (``None`` for the package root ``metamat`` itself)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    if parts[1] not in LAYER_OF:
        raise AssertionError(f"{module}: package {parts[1]!r} has no layer; add it to LAYERS and to "
                             "docs/architecture.md")
    return LAYER_OF[parts[1]]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_sees_function_level_and_relative_imports() -> None:
    # the parser itself, on known facts of the tree: a function-level import and a package-level re-export
    graph = import_graph()
    assert "metamat.geometry.neighbors" in graph["metamat.data.structures"]  # imported inside functions
    assert "metamat.evaluate.metrics" in graph["metamat.evaluate"]
    assert "metamat.app.bench" in graph["metamat.cli"]


def test_no_import_cycles() -> None:
    cycles = strongly_connected(import_graph())
    assert not cycles, "import cycles (each list is one strongly connected set of modules):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_upward_imports() -> None:
    bad = []
    for module, targets in import_graph().items():
        here = layer(module)
        for target in sorted(targets):
            there = layer(target)
            if here is not None and there is not None and there > here:
                bad.append(f"{module} -> {target} ({LAYERS[here][0]} imports {LAYERS[there][0]})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_library_modules_never_print() -> None:
    # terminal output lives in metamat.app (and the shell metamat.cli) only
    offenders = []
    for module, path in all_modules().items():
        if layer(module) == LAYER_OF["app"]:
            continue
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print":
                offenders.append(f"{module}:{n.lineno} print()")
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                names = [n.module] if isinstance(n, ast.ImportFrom) and n.module else [a.name for a in n.names]
                offenders += [f"{module}:{n.lineno} imports {m}" for m in names if m.split(".")[0] in ("rich", "tqdm")]
    assert not offenders, "library modules that print (move the output to metamat.app):\n" + "\n".join(offenders)
