"""The layout's rules, read from the source: package boundaries and no import cycles.

Imports inside functions count too: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "retrieval", "finetune", "prompts", "text", "storage")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the modules (of the project, and top-level third-party names) it imports."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = _module_name(path)
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                    found |= {f"{node.module}.{a.name}" for a in node.names}
            graph[name] = found
    return graph


GRAPH = _imports()


def _project(names: set[str]) -> set[str]:
    return {n for n in names if n in GRAPH}


@pytest.mark.parametrize("package, forbidden", [
    ("retrieval", ("assistant", "finetune", "gradio", "fastapi")),
    ("finetune", ("assistant", "retrieval", "gradio", "fastapi")),
    ("prompts", ("assistant", "retrieval", "finetune", "text")),
    ("text", ("assistant", "retrieval", "finetune", "prompts")),
    ("storage", ("assistant", "retrieval", "finetune", "prompts", "text", "gradio", "fastapi")),
    ("assistant.conversation", ("finetune", "gradio", "fastapi", "assistant.web")),
    ("assistant.tools", ("finetune", "gradio", "fastapi", "assistant.web")),
    ("assistant.shop", ("finetune", "gradio", "fastapi", "assistant.web", "assistant.conversation.engine")),
])
def test_package_boundaries(package, forbidden):
    broken = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items() if module == package or module.startswith(package + ".")
        for name in names if any(name == f or name.startswith(f + ".") for f in forbidden)
    )
    assert not broken, broken


def test_no_import_cycles():
    edges = {m: _project(names) - {m} for m, names in GRAPH.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for module in edges:
        edges[module] = {n for n in edges[module] if not (n.startswith(module + ".") and module in PACKAGES + tuple(
            m for m in GRAPH if (REPO / m.replace(".", "/") / "__init__.py").exists()))}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_the_text_leaf_is_used_by_both_assistant_and_finetune():
    users = {m.split(".")[0] for m, names in GRAPH.items() if any(n == "text" or n.startswith("text.") for n in names)}
    assert {"assistant", "finetune"} <= users


def _always_true(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return any(_always_true(v) for v in node.values)
    return False


def test_no_assertion_that_cannot_fail():
    """Assertions on a constant, or an "or" with a constant true operand: they pass whatever the code does."""
    found = []
    for path in (REPO / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert) and _always_true(node.test):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, found
