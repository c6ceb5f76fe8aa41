"""The import contract over lambdad's own source tree: an upward import added to it
is caught (whatever else the tree holds while issue 13's refactors land)."""

from __future__ import annotations

from pathlib import Path

import import_contract as ic
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "lambdad"


def violations_with(modules: list[ic.Module], name: str, added: str) -> set[object]:
    before = {v.key for v in ic.check_imports(ic.build_graph(modules)).violations}
    changed = [
        ic.Module(m.name, m.source + added, m.is_package) if m.name == name else m for m in modules
    ]
    assert changed != modules, f"{name} is not in the tree"
    after = {v.key for v in ic.check_imports(ic.build_graph(changed)).violations}
    return after - before


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
def test_an_upward_import_added_to_the_tree_fails(module: str, added: str, edge: str) -> None:
    modules = ic.read_package(SRC)
    assert (module, edge) in violations_with(modules, module, added)


def test_a_new_cycle_in_the_tree_fails() -> None:
    modules = ic.read_package(SRC)
    # errors is imported by model modules; making it import one back closes a cycle.
    new = violations_with(modules, "lambdad.errors", "from lambdad.model import arn\n")
    assert any(isinstance(k, frozenset) and "lambdad.errors" in k for k in new), new
