"""The import contract (tools/import_contract.py) over small made-up packages: an
upward import, a private name taken from another part, a cycle and an oversize
module fail; allowlisted ones are tolerated until they are gone, then reported stale.
"""

from __future__ import annotations

import import_contract as ic
import pytest
from import_contract import Contract, Module, build_graph, check_imports, check_sizes


def package(**sources: str) -> list[Module]:
    """Modules named like ``control__functions`` -> ``lambdad.control.functions``."""
    modules = [Module("lambdad", '"""root"""', is_package=True)]
    parts = {name.split("__")[0] for name in sources if "__" in name}
    modules.extend(Module(f"lambdad.{p}", "", is_package=True) for p in sorted(parts))
    modules.extend(
        Module("lambdad." + name.replace("__", "."), source) for name, source in sources.items()
    )
    return modules


LAYERED = {
    "api__app": "from lambdad.control.functions import FunctionService\n",
    "control__functions": "from lambdad.model.function import Config\n",
    "model__function": "class Config: ...\n",
    "invoke__sync": "from lambdad.environments import pool\n",
    "environments__pool": "import lambdad.sandbox.base\n",
    "sandbox__base": "from lambdad.runtimes.table import RuntimeTable\n",
    "runtimes__table": "from lambdad import config\n",
    "config": "",
}


def check(contract: Contract, **sources: str) -> ic.Report:
    return check_imports(build_graph(package(**sources)), contract)


def contract(**allowlists: object) -> Contract:
    """The real rules with empty allowlists (or the ones given)."""
    return Contract(**{"allowed_edges": {}, "allowed_cycles": {}, **allowlists})  # type: ignore[arg-type]


def test_imports_that_point_down_pass() -> None:
    report = check(contract(), **LAYERED)
    assert report.ok, [v.message for v in report.violations]


@pytest.mark.parametrize(
    ("module", "source", "arrow"),
    [
        ("control__quotas", "from lambdad.api.app import App\n", "control may not import api"),
        ("sandbox__bwrap", "import lambdad.environments.pool\n", "sandbox may not import"),
        ("model__arn", "from lambdad.invoke import sync\n", "model may not import invoke"),
        ("cli__main", "from lambdad.control.functions import X\n", "cli may not import control"),
    ],
)
def test_an_upward_import_fails(module: str, source: str, arrow: str) -> None:
    report = check(contract(), **LAYERED, **{module: source})
    assert not report.ok
    assert any(arrow in v.message for v in report.violations), report.violations


def test_imports_under_type_checking_and_in_functions_count() -> None:
    typed = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lambdad.api.app import App\n"
    )
    lazy = "def f():\n    from lambdad.invoke.sync import run\n"
    assert not check(contract(), **LAYERED, control__typed=typed).ok
    assert not check(contract(), **LAYERED, environments__lazy=lazy).ok


def test_relative_imports_are_resolved() -> None:
    upward = "from ..api import app\n"
    report = check(contract(), **LAYERED, control__rel=upward)
    [violation] = report.violations
    assert violation.key == ("lambdad.control.rel", "lambdad.api.app")


def test_a_private_name_of_another_part_fails() -> None:
    reach_in = "from lambdad.control.functions import _not_found\n"
    report = check(contract(), **LAYERED, invoke__route=reach_in)
    assert [v.kind for v in report.violations] == ["private"]
    # Within a part, private names are its own business.
    assert check(contract(), **LAYERED, control__versions=reach_in).ok


def test_a_cycle_between_modules_fails() -> None:
    report = check(
        contract(),
        **LAYERED,
        control__a="from lambdad.control import b\n",
        control__b="import lambdad.control.a\n",
    )
    [cycle] = report.violations
    assert cycle.kind == "cycle"
    assert cycle.key == frozenset({"lambdad.control.a", "lambdad.control.b"})


def test_a_part_outside_the_contract_fails() -> None:
    report = check(contract(), **LAYERED, gadgets__x="")
    assert [v.kind for v in report.violations] == ["unknown part"]


def test_an_allowlisted_edge_is_tolerated_and_reported_stale_once_gone() -> None:
    edge = ("lambdad.environments.pool", "lambdad.control.functions")
    allowing = contract(allowed_edges={edge: "typed version work"})
    upward = "import lambdad.sandbox.base\nfrom lambdad.control.functions import F\n"
    report = check(allowing, **{**LAYERED, "environments__pool": upward})
    assert report.ok
    assert [v.key for v in report.tolerated] == [edge]
    # Another upward import from the same module is not covered by the entry.
    also = upward + "from lambdad.invoke.sync import run\n"
    assert not check(allowing, **{**LAYERED, "environments__pool": also}).ok
    # Once the import is gone, the entry is stale: reported, not a failure.
    fixed = check(allowing, **LAYERED)
    assert fixed.ok
    assert len(fixed.stale) == 1


def test_an_allowlisted_cycle_may_not_grow() -> None:
    pair = frozenset({"lambdad.control.a", "lambdad.control.b"})
    allowing = contract(allowed_cycles={pair: "to be broken"})
    two = {
        "control__a": "from lambdad.control import b\n",
        "control__b": "import lambdad.control.a\n",
    }
    assert check(allowing, **LAYERED, **two).ok
    three = {
        **two,
        "control__b": "import lambdad.control.c\n",
        "control__c": "import lambdad.control.a\n",
    }
    assert not check(allowing, **LAYERED, **three).ok


def test_the_real_contract_forbids_upward_arrows() -> None:
    real = Contract()
    assert real.may_import("lambdad.api.app", "lambdad.control.functions")
    assert real.may_import("lambdad.cli.main", "lambdad.server")
    assert real.may_import("lambdad.platform", "lambdad.sandbox.select")
    assert real.may_import("lambdad.sandbox.bwrap", "lambdad.store.trees")
    assert not real.may_import("lambdad.cli.main", "lambdad.platform")
    assert not real.may_import("lambdad.control.credentials", "lambdad.api.sigv4")
    assert not real.may_import("lambdad.store.sqlite", "lambdad.control.functions")
    assert not real.may_import("lambdad.observe.logs", "lambdad.invoke.sync")


def test_sizes_over_the_limit_fail_unless_exempt_or_allowlisted() -> None:
    big = Module("lambdad.control.huge", "x = 1\n" * 601)
    small = [Module(f"lambdad.control.m{i}", "x = 1\n" * 100) for i in range(3)]
    assert not check_sizes([big, *small], exempt={}, allowed_oversize={}).ok
    exempt = {"lambdad.control.huge": "copied into environments"}
    assert check_sizes([big, *small], exempt=exempt, allowed_oversize={}).ok
    tolerated = check_sizes([big, *small], exempt={}, allowed_oversize=exempt)
    assert tolerated.ok
    assert tolerated.tolerated


def test_the_median_is_reported_and_enforced_when_asked() -> None:
    modules = [Module(f"lambdad.control.m{i}", "x = 1\n" * 200) for i in range(3)]
    reported = check_sizes(modules, exempt={}, allowed_oversize={}, enforce_median=False)
    assert reported.ok
    assert "median 200" in reported.notes[0]
    enforced = check_sizes(modules, exempt={}, allowed_oversize={}, enforce_median=True)
    assert not enforced.ok
