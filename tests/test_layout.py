"""The package's shape: the module import graph has no cycles (lazy imports included), every
module says what it holds and stays short, and the stage folders exist. Needs no device."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "boda"
STAGES = ("frontend", "ir", "plan", "kernels", "runtime", "devices", "tuner", "remote",
          "compare", "cli")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules) -> set[str]:
    """The boda modules `name` imports anywhere in its body (a name imported from a package
    counts as that package, or as its submodule when it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules and m != name}


def _cycle(graph: dict) -> list | None:
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == "open":
                return stack[stack.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        state[v] = "done"
        stack.pop()
        return None
    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def test_the_module_import_graph_has_no_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["boda.session"] and graph["boda.runtime.engine"]  # the graph was read
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_has_a_docstring_and_stays_short():
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()
            if len(p.read_text().splitlines()) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    bare = [n for n, p in _modules().items()
            if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not bare, f"modules without a docstring: {bare}"


def test_the_top_level_is_the_stages_and_the_api():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert set(STAGES) <= folders
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top == {"__init__.py", "session.py", "errors.py", "version.py"}
