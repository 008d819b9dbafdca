"""The layers are true in the imports: who may import whom, no cycles, every module alone.

Read from the source (every import, those behind `TYPE_CHECKING` included), so a cycle or a
layer violation fails here before it can hide behind a lazy import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tap_audience"

# Layer -> the layers (and outside packages of note) it may import. `core` is the
# protocol-neutral engine; `angus` and `eqworks` own their vendor's parts; `connector` puts
# them together; `singer` and `airbyte` are the output faces; `sandbox` emulates both vendors
# and stands alone.
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "angus": {"core", "angus"},
    "eqworks": {"core", "eqworks"},
    "connector": {"core", "angus", "eqworks", "connector", "sandbox"},
    "singer": {"core", "angus", "eqworks", "connector", "singer", "singer_sdk"},
    # The second face: beside the Singer one, and without singer-sdk.
    "airbyte": {"core", "angus", "eqworks", "connector", "airbyte"},
    "sandbox": {"sandbox"},
    "schemas": set(),
    "__main__": {"singer"},
    "__init__": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """Every tap_audience or singer_sdk module `path` imports, wherever the import is."""
    name = module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c.startswith(("tap_audience", "singer_sdk"))}
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "singer_sdk":
        return "singer_sdk"
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    """module -> the tap_audience modules it imports (a `from pkg import name` of a module
    counts as importing that module). A module's own parent packages are left out: Python
    imports them before the module in any case (`from . import x` names the parent)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for target in imported(path):
            if target in MODULES and target != name and not name.startswith(target + "."):
                edges[name].add(target)
    return edges


def test_each_layer_imports_only_the_layers_below_it():
    violations = [
        f"{name} imports {target}"
        for name, path in MODULES.items()
        for target in sorted(imported(path))
        if layer(target) not in ALLOWED[layer(name)]
    ]
    assert violations == []


def test_the_core_imports_no_singer_sdk_and_no_vendor():
    core = [name for name in MODULES if layer(name) == "core"]
    assert len(core) > 10
    for name in core:
        assert {layer(t) for t in imported(MODULES[name])} <= {"core"}, name


def test_no_import_cycle_between_modules():
    edges = graph()
    cycles, state = [], dict.fromkeys(MODULES, 0)  # 0 new, 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state[target] == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in MODULES:
        if state[module] == 0:
            visit(module, [module])
    assert cycles == []


def test_the_graph_sees_real_imports():
    # A guard for the test itself: known edges are found.
    edges = graph()
    assert "tap_audience.core.http" in edges["tap_audience.core.clients"]
    assert "tap_audience.eqworks.connection" in edges["tap_audience.eqworks.insights"]


def _import_alone(module: str) -> tuple[str, int, str]:
    process = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    last_line = (process.stderr.strip().splitlines() or [""])[-1]
    return module, process.returncode, last_line


@pytest.mark.parametrize("chunk", range(2))
def test_every_module_imports_on_its_own_in_a_fresh_interpreter(chunk):
    modules = [m for i, m in enumerate(sorted(MODULES)) if i % 2 == chunk]
    modules = [m for m in modules if not m.endswith("__main__")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [
            f"{module}: {error}"
            for module, code, error in pool.map(_import_alone, modules)
            if code != 0
        ]
    assert failures == []
