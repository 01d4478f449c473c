"""The import graph: no cycles among our packages, and every pure module under contract.

The graph holds every import, function-level and ``TYPE_CHECKING`` ones included: a cycle
that only the type checker follows still means two modules that cannot be read apart.
``lint-imports`` (run by ``make test``) checks the layer contracts in pyproject.toml; these
tests check what a contract cannot say.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "connectors", "reconciliation", "schemas", "fixtures", "bench")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    g = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        g.add_import(importer=a, imported=b)
    assert cycles(g) == [["p.a", "p.b", "p.c"]]


#: Cycles that their owner is breaking, each checked by its own strict xfail below.
PENDING: dict[str, str] = {}


def _pending(component: list[str]) -> bool:
    return any(all(m.startswith(f"{p}.") for m in component) for p in PENDING)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(graph: grimp.ImportGraph, package: str) -> None:
    ours = [c for c in cycles(graph) if c[0].split(".")[0] == package and not _pending(c)]
    assert ours == []


@pytest.mark.parametrize(
    "package",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=why))
        for p, why in PENDING.items()
    ],
)
def test_no_import_cycle_pending(graph: grimp.ImportGraph, package: str) -> None:
    assert [c for c in cycles(graph) if c[0].startswith(f"{package}.")] == []


def test_every_pure_reconciliation_module_is_under_the_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    pure = next(c for c in contracts if c["source_modules"][0].startswith("reconciliation."))
    modules = {
        f"reconciliation.{p.stem}"
        for p in (ROOT / "reconciliation").glob("*.py")
        if p.stem != "__init__"
    }
    missing = modules - set(pure["source_modules"])
    assert not missing, f"add {sorted(missing)} to the first contract in pyproject.toml"
    assert set(pure["source_modules"]) <= modules
    assert {"sqlalchemy", "gateway", "connectors"} <= set(pure["forbidden_modules"])
