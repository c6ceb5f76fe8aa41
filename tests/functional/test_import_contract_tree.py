"""The import contract over lambdad's own source tree: an upward import added to it
is caught (whatever else the tree holds while issue 13's refactors land)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import import_contract as ic
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "lambdad"


@dataclass(frozen=True)
class Tree:
    modules: list[ic.Module]
    violations: frozenset[object]  # the keys of the tree's own, before anything is added


@pytest.fixture(scope="module")
def tree() -> Tree:
    """The tree read and checked once for the module (each test changes a copy)."""
    modules = ic.read_package(SRC)
    violations = ic.check_imports(ic.build_graph(modules)).violations
    return Tree(modules, frozenset(v.key for v in violations))


def violations_with(tree: Tree, name: str, added: str) -> set[object]:
    modules = tree.modules
    changed = [
        ic.Module(m.name, m.source + added, m.is_package) if m.name == name else m for m in modules
    ]
    assert changed != modules, f"{name} is not in the tree"
    after = {v.key for v in ic.check_imports(ic.build_graph(changed)).violations}
    return after - tree.violations


@pytest.mark.parametrize(
    ("module", "added", "edge"),
    [
        ("lambdad.model.arn", "from lambdad.api import app\n", "lambdad.api.app"),
        (
            "lambdad.control.aliases",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import lambdad.invoke.sync\n",
            "lambdad.invoke.sync",
        ),
        (
            "lambdad.sandbox.base",
            "def f():\n    from lambdad import platform\n",
            "lambdad.platform",
        ),
    ],
)
def test_an_upward_import_added_to_the_tree_fails(
    tree: Tree, module: str, added: str, edge: str
) -> None:
    assert (module, edge) in violations_with(tree, module, added)


def test_a_new_cycle_in_the_tree_fails(tree: Tree) -> None:
    # errors is imported by model modules; making it import one back closes a cycle.
    new = violations_with(tree, "lambdad.errors", "from lambdad.model import arn\n")
    assert any(isinstance(k, frozenset) and "lambdad.errors" in k for k in new), new
