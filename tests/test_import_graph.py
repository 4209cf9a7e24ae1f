"""The package's import graph has no cycle, and the layers point down: the core imports
nothing of the package outside ``core/`` (but the store protocol), and ``AuthContext``
(a value) only the core.

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``: a cycle
hidden there is still a cycle of the design."""

from __future__ import annotations

import ast
from pathlib import Path

import thunderid_mw

ROOT = Path(thunderid_mw.__file__).parent
PACKAGE = "thunderid_mw"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``name`` imports explicitly."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith(PACKAGE):
                continue
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(submodules or ({target} & known))
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that returns to its start), or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> list[str] | None:
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done and (found := visit(target)):
                return found
        stack.pop()
        on_stack.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done and (found := visit(module)):
            return found
    return None


def test_the_graph_is_read_from_the_real_imports() -> None:
    graph = _graph()
    assert "thunderid_mw.client" in graph["thunderid_mw.wsgi"]
    assert "thunderid_mw.core.effects" in graph["thunderid_mw._client_base"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package() -> None:
    assert _cycle(_graph()) is None


def test_the_core_imports_only_the_core() -> None:
    # The store protocol is a type with no IO; the config names it.
    allowed = {f"{PACKAGE}.stores.base"}
    for module, targets in _graph().items():
        if module.startswith(f"{PACKAGE}.core"):
            outside = {t for t in targets if not t.startswith(f"{PACKAGE}.core")} - allowed
            assert not outside, f"{module} imports {outside}"


def test_the_context_is_a_value_importing_only_the_core() -> None:
    targets = _graph()[f"{PACKAGE}.context"]
    assert targets and all(t.startswith(f"{PACKAGE}.core") for t in targets), targets


# What the core may not import: IO, clocks and randomness come to it as effects.
NO_IO = {
    "asyncio", "datetime", "httpx", "random", "redis", "secrets", "select", "selectors",
    "socket", "sqlite3", "ssl", "subprocess", "threading", "time", "uuid",
}  # fmt: skip


def _third_party_and_stdlib_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - {PACKAGE}


def test_the_core_imports_no_io() -> None:
    for name, path in _modules().items():
        if name.startswith(f"{PACKAGE}.core"):
            imported = _third_party_and_stdlib_imports(path)
            assert not imported & NO_IO, f"{name} imports {imported & NO_IO}"
            # Reading the environment and checking a file exists at start-up: config only.
            if name != f"{PACKAGE}.core.config":
                assert "os" not in imported, f"{name} imports os"


def test_the_io_check_sees_the_adapters_io() -> None:
    """The control: the same reading finds httpx in the client layer."""
    assert "httpx" in _third_party_and_stdlib_imports(ROOT / "_http.py")
