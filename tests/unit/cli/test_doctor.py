"""``lambdad doctor``: one line per capability and runtime, present or missing with the
fix, and exit status 0 only when full isolation can run (capabilities are faked: no
probing of this host)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lambdad.cli.main import main
from lambdad.runtimes.table import RuntimeTable
from lambdad.sandbox import select
from lambdad.sandbox.select import Capability


def host(**missing: str) -> list[Capability]:
    """Every capability full isolation needs, present unless named in ``missing``."""
    names = [
        "root",
        "bwrap",
        "namespace mnt",
        "namespace pid",
        "namespace ipc",
        "namespace uts",
        "namespace net",
        "cgroups",
        "cgroup controller memory",
        "cgroup controller cpu",
        "cgroup controller pids",
        "NAT helper",
        "setpriv",
        "sandbox probe",
    ]
    return [Capability(n, n not in missing, missing.get(n, "fine"), f"fix {n}") for n in names]


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, list[list[Capability]]]:
    found: list[list[Capability]] = [host()]
    monkeypatch.setattr(select, "capabilities", lambda: found[0])
    monkeypatch.setattr(
        RuntimeTable, "available", lambda self: {"python": "3.11, 3.12", "nodejs": "none"}
    )
    return CliRunner(), found


def test_full_isolation_exits_0_and_lists_every_capability(
    doctor: tuple[CliRunner, list[list[Capability]]],
) -> None:
    runner, _ = doctor

    result = runner.invoke(main, ["doctor"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ok", "root", "fine"]
    assert len([line for line in lines if line.startswith("ok ")]) == 15
    assert "ok       runtime python            3.11, 3.12" in lines
    assert (
        "MISSING  runtime nodejs            not found  "
        "(fix: apt-get install nodejs (make install does it as root))"
    ) in lines
    assert lines[-1].startswith("isolation: bwrap")


@pytest.mark.parametrize(
    "missing",
    [
        "root",
        "bwrap",
        "namespace net",
        "cgroups",
        "cgroup controller pids",
        "setpriv",
        "sandbox probe",
    ],
)
def test_anything_isolation_needs_missing_exits_1_with_the_fix(
    doctor: tuple[CliRunner, list[list[Capability]]], missing: str
) -> None:
    runner, found = doctor
    found[0] = host(**{missing: "not here"})

    result = runner.invoke(main, ["doctor"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    line = next(x for x in lines if x[9:].startswith(f"{missing} "))
    assert line.startswith("MISSING")
    assert line.endswith(f"not here  (fix: fix {missing})")
    assert lines[-1].startswith("isolation: process — WARNING")


def test_no_nat_helper_still_isolates(doctor: tuple[CliRunner, list[list[Capability]]]) -> None:
    runner, found = doctor
    found[0] = host(**{"NAT helper": "not found"})

    result = runner.invoke(main, ["doctor"])

    assert result.exit_code == 0
    assert "MISSING  NAT helper" in result.output


def test_without_the_probe_isolation_is_not_claimed() -> None:
    # Not root (or no bwrap): capabilities() runs no probe, so there is no such line.
    caps = [c for c in host() if c.name != "sandbox probe"]
    assert not select.full_isolation_possible(caps)


def test_settings_not_honoured_here_are_noted_before_the_verdict(
    doctor: tuple[CliRunner, list[list[Capability]]],
) -> None:
    runner, _ = doctor

    lines = runner.invoke(main, ["doctor"]).output.splitlines()

    notes = [line for line in lines if line.startswith("note ")]
    assert any("java*" in line and "invokes fail" in line for line in notes)
    assert any("VpcConfig, FileSystemConfigs" in line for line in notes)
    assert any(line.split()[1] == "architecture" for line in notes)
    assert lines.index(notes[-1]) == len(lines) - 2
