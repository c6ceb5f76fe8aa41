"""Which runtimes start behind the extensions' launcher (and so are exec'd, not forked)."""

from __future__ import annotations

from pathlib import Path

from lambdad.environments.blueprint import EXTENSIONS_LAUNCHER, launch_argv
from lambdad.runtimes.table import Launch

PYTHON = Launch("python", Path("/usr/bin/python3.12"), ("/usr/bin/python3.12", "/rt/bootstrap.py"))
PROVIDED = Launch("provided", None, ("{task}/bootstrap",))


def test_without_extensions_or_wrapper_the_runtime_starts_as_the_table_says() -> None:
    assert launch_argv(PYTHON, (), {}) == PYTHON.argv
    # A custom runtime ignores the wrapper variable, as on AWS.
    assert launch_argv(PROVIDED, (), {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/w"}) == PROVIDED.argv


def test_external_extensions_put_the_launcher_first() -> None:
    argv = launch_argv(PROVIDED, ("recorder",), {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/w"})
    assert argv == ("/bin/sh", str(EXTENSIONS_LAUNCHER), "-", "{task}/bootstrap")


def test_a_wrapper_runs_a_managed_runtime_through_the_launcher() -> None:
    argv = launch_argv(PYTHON, (), {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh"})
    assert argv == ("/bin/sh", str(EXTENSIONS_LAUNCHER), "wrap", *PYTHON.argv)
