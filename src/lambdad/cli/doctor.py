"""``lambdad doctor``: what isolation this host can give functions, and how to fix
what is missing.

One line per capability the bwrap backend needs (root, bwrap, each namespace, the
cgroup hierarchy and each controller, setpriv, the NAT helper for outbound network)
and per runtime family found, each present or missing with the fix, then notes on
the function settings lambdad accepts but does not honour here. Exit status 0
when full isolation can run, 1 when lambdad would fall back to the process backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import click

RUNTIME_FIXES = {
    "python": "install CPython 3.x (apt-get install python3, or pyenv install 3.12)",
    "nodejs": "apt-get install nodejs (make install does it as root)",
}


class Capability(Protocol):
    """One thing the bwrap backend needs (``sandbox.select.Capability``, which the
    command line gets through ``server`` and so does not import)."""

    @property
    def name(self) -> str: ...
    @property
    def present(self) -> bool: ...
    @property
    def detail(self) -> str: ...
    @property
    def fix(self) -> str: ...


def report(
    caps: Sequence[Capability],
    runtimes: Mapping[str, str],
    full_isolation: bool,
    limits: Sequence[str] = (),
) -> list[str]:
    """The lines ``doctor`` prints (``limits``: settings this host does not honour)."""
    rows: list[tuple[bool, str, str, str]] = [(c.present, c.name, c.detail, c.fix) for c in caps]
    for family, versions in runtimes.items():
        found = versions not in ("", "none")
        fix = RUNTIME_FIXES.get(family, f"install a {family} interpreter")
        rows.append((found, f"runtime {family}", versions if found else "not found", fix))
    width = max(len(name) for _, name, _, _ in rows)
    lines = []
    for present, name, detail, fix in rows:
        line = f"{'ok' if present else 'MISSING':7}  {name:{width}}  {detail}"
        if not present and fix:
            line += f"  (fix: {fix})"
        lines.append(line)
    lines.extend(f"{'note':7}  {limit}" for limit in limits)
    if full_isolation:
        lines.append("isolation: bwrap (namespaces, cgroups, unprivileged uid) can run here")
    else:
        lines.append(
            "isolation: process — WARNING: functions would run unsandboxed; "
            "fix what is MISSING above"
        )
    return lines


@click.command()
def doctor() -> None:
    """Check what isolation and runtimes this host offers (exit 1 without full isolation)."""
    from lambdad.server import host_check

    host = host_check()
    for line in report(host.capabilities, host.runtimes, host.full_isolation, host.limits):
        click.echo(line)
    raise SystemExit(0 if host.full_isolation else 1)
