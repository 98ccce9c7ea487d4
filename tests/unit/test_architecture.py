"""The shape of the code: where modules sit and which way imports go.

Every import counts, at module level, inside functions and under TYPE_CHECKING alike.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "chains", "retrievers")
TOP_OF_APP = {"__init__", "__main__", "api", "answers", "errors", "evaluation"}
INTERFACES = ("app.cli", "app.serve", "app.mcp")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported_names(path: Path, module: str) -> Iterator[str]:
    """Every module named by an import statement anywhere in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {
        name: {target for target in imported_names(path, name) if target in modules} - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_circle() -> None:
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


def test_the_circle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_go_app_then_chains_then_retrievers() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in import_graph().items()
        for target in targets
        if (source.startswith("chains") and target.startswith("app"))
        or (source.startswith("retrievers") and target.split(".")[0] in ("app", "chains"))
    ]
    assert wrong == []


def test_only_interfaces_call_the_engine_and_nothing_calls_an_interface() -> None:
    def is_interface(name: str) -> bool:
        return any(name == root or name.startswith(root + ".") for root in INTERFACES)

    wrong = []
    for source, targets in import_graph().items():
        for target in targets:
            if target == "app.api" and not (is_interface(source) or source == "app"):
                wrong.append(f"{source} imports app.api")
            if is_interface(target) and not (is_interface(source) or source == "app.__main__"):
                wrong.append(f"{source} imports {target}")
    assert wrong == []


def test_the_top_of_app_holds_only_the_engine_and_its_vocabulary() -> None:
    top = {path.stem for path in (ROOT / "app").glob("*.py")}
    assert top == TOP_OF_APP


def test_no_module_outside_the_config_and_the_store_builder_reads_the_index_folder() -> None:
    readers = sorted(
        name
        for name, path in our_modules().items()
        if "settings.index_dir" in path.read_text(encoding="utf-8")
    )
    assert readers == ["app.retrieval"]
