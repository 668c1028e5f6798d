"""The layers import one way (docs/architecture.md): no upward import, no
cycle, no tinyexit import hidden inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Package -> folder, as pyproject.toml maps them.
FOLDERS = {
    "tinyexit": "tinyexit",
    "tinyexit.cli": "cli",
    "tinyexit.codegen": "codegen",
    "tinyexit.evaluation": "evaluation",
    "tinyexit.firmware_sim": "firmware_sim",
    "tinyexit.modelmaking": "modelmaking",
    "tinyexit.templates": "templates",
    "tinyexit.boards": "boards",
}
# Rank of each layer: a module may import only modules of its own rank or lower.
READER_IR = {"tinyexit.codegen", "tinyexit.codegen.errors", "tinyexit.codegen.ir", "tinyexit.codegen.reader",
             "tinyexit.codegen.quant", "tinyexit.codegen.fixedpoint", "tinyexit.codegen.verify",
             "tinyexit.codegen.names"}  # fmt: skip
LAYERS = [
    ("reader/IR", lambda m: m in READER_IR or m.split(".")[1:2] in (["templates"], ["boards"])),
    ("codegen", lambda m: m.startswith("tinyexit.codegen")),
    ("firmware_sim", lambda m: m.startswith("tinyexit.firmware_sim")),
    ("evaluation", lambda m: m.startswith("tinyexit.evaluation")),
    ("modelmaking", lambda m: m.startswith("tinyexit.modelmaking")),
    ("cli and API", lambda m: m.startswith("tinyexit.cli") or m in ("tinyexit", "tinyexit.api", "tinyexit.__main__")),
]
RANK = {"reader/IR": 0, "codegen": 1, "firmware_sim": 2, "evaluation": 3, "modelmaking": 3, "cli and API": 4}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def layer(module: str) -> str:
    return next(name for name, test in LAYERS if test(module))


def imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported tinyexit module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names if a.name.startswith("tinyexit"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("tinyexit"):
                    for alias in child.names:
                        sub = f"{target}.{alias.name}"
                        found.append((sub if sub in known else target, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def test_every_module_belongs_to_a_layer():
    for module in modules():
        assert layer(module) in RANK, module


def test_no_upward_import_and_no_peer_import():
    known = modules()
    problems = []
    for module, path in known.items():
        for target, line, _ in imports(module, path, known):
            assert target in known, f"{path}:{line}: imports {target}, which does not exist"
            src, dst = layer(module), layer(target)
            if RANK[dst] > RANK[src] or (RANK[dst] == RANK[src] and dst != src):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {src} imports {dst} ({target})")
    assert problems == []


def test_no_tinyexit_import_inside_a_function():
    known = modules()
    hidden = [f"{path.relative_to(ROOT)}:{line}: {target}" for module, path in known.items()
              for target, line, in_function in imports(module, path, known) if in_function]  # fmt: skip
    assert hidden == []


def test_no_import_cycle():
    known = modules()
    graph = {m: {t for t, _, _ in imports(m, p, known) if t != m} for m, p in known.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def walk(node: str, path: list[str]):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m, [m])
    assert cycles == []


def test_the_checker_finds_an_upward_import(tmp_path):
    """The walk above sees relative imports across layers, and nested ones."""
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from ..firmware_sim.host import run_host\n")
    known = modules()
    found = imports("tinyexit.codegen.fake", fake, known)
    assert found == [("tinyexit.firmware_sim.host", 2, True)]
    assert layer(found[0][0]) == "firmware_sim" and RANK["firmware_sim"] > RANK[layer("tinyexit.codegen.fake")]
