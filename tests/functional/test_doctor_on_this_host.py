"""``lambdad doctor`` on this very host: its verdict matches what the server does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lambdad.sandbox.select import full_isolation_possible

LAMBDAD = str(Path(sys.executable).parent / "lambdad")


def test_doctor_exit_status_says_whether_full_isolation_runs_here() -> None:
    proc = subprocess.run(
        [LAMBDAD, "doctor"], capture_output=True, text=True, timeout=60, check=False
    )

    lines = proc.stdout.splitlines()
    assert proc.returncode == (0 if full_isolation_possible() else 1), proc.stdout
    # One line per capability, then what this host cannot honour of a function's
    # configuration ("note"), then the verdict.
    assert all(line.startswith(("ok ", "MISSING ", "note ")) for line in lines[:-1]), lines
    assert {"root", "bwrap", "cgroups", "NAT helper", "runtime python"} <= {
        line[9:].split("  ")[0] for line in lines[:-1]
    }
    assert lines[-1].startswith("isolation: ")
