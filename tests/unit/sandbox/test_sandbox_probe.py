"""The bwrap probe that decides whether functions are sandboxed at all: a failure that
passes must not leave them unsandboxed."""

from __future__ import annotations

import stat
from pathlib import Path

from lambdad.sandbox import select


def _fake_bwrap(tmp_path: Path, failures: int) -> str:
    """A bwrap that fails its first ``failures`` runs, then succeeds."""
    count = tmp_path / "count"
    count.write_text("0")
    script = tmp_path / "bwrap"
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{count}"); echo $((n + 1)) > "{count}"\n'
        f'if [ "$n" -lt {failures} ]; then\n'
        '  echo "bwrap: Creating new namespace failed" >&2; exit 1\n'
        "fi\n"
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_a_probe_that_fails_once_is_tried_again(tmp_path: Path) -> None:
    assert select._probe(_fake_bwrap(tmp_path, 1)).present


def test_a_probe_that_keeps_failing_says_why(tmp_path: Path) -> None:
    probe = select._probe(_fake_bwrap(tmp_path, 5))
    assert not probe.present
    assert "Creating new namespace failed" in probe.detail
