"""The exec path's plan: the interpreter at /var/lang, host directories as overlays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambdad.sandbox import bwrap_plan
from lambdad.sandbox.base import SandboxSpec

TOOLS = bwrap_plan.Tools("/usr/bin/bwrap", "/usr/bin/setpriv", "/usr/bin/unshare")
PYTHON = "/opt/py/3.12/bin/python3.12"
BOOTSTRAP = "/srv/lambdad/runtimes/python/bootstrap.py"


def spec(**changes: Any) -> SandboxSpec:
    values: dict[str, Any] = {
        "env_id": "e1",
        "argv": (PYTHON, BOOTSTRAP),
        "env": {},
        "task_dir": Path("/data/code/abc"),
        "runtime_dir": Path("/srv/lambdad/runtimes"),
        "host_paths": (Path(PYTHON),),
        "tmp_mb": 512,
        **changes,
    }
    return SandboxSpec(**values)


def argv(s: SandboxSpec) -> list[str]:
    return bwrap_plan.bwrap_argv(TOOLS, s, "isolated", 3, 4, 1051)


def test_the_interpreter_prefix_is_at_var_lang_and_run_from_there() -> None:
    a = argv(spec())
    i = a.index("/var/lang")
    assert a[i - 2 : i] == ["--ro-bind", "/opt/py/3.12"]
    assert "/opt/py/3.12" not in a[i + 1 :]  # not also at its host path
    assert a[-2:] == ["/var/lang/bin/python3.12", "/var/runtime/python/bootstrap.py"]


def test_a_distribution_interpreter_runs_from_var_lang_too() -> None:
    s = spec(argv=("/usr/bin/node", "/x/bootstrap.js"), host_paths=(Path("/usr/bin/node"),))
    a = argv(s)
    assert a[a.index("/var/lang") - 1] == "/usr"
    assert "/var/lang/bin/node" in a


def test_a_provided_runtime_has_no_var_lang() -> None:
    a = argv(spec(argv=("{task}/bootstrap",), host_paths=()))
    assert "/var/lang" not in a
    assert a[-1] == "/var/task/bootstrap"


def test_host_directories_become_overlays_before_privileges_go() -> None:
    a = argv(spec(opt_dir=Path("/data/layers/xyz")))
    i = a.index(bwrap_plan.HIDE_BINDS)
    assert a[i - 2 : i] == ["/bin/sh", "-c"]
    assert a[i + 1 : i + 7] == ["sh", "/var/task", "/var/runtime", "/opt", "/var/lang", "--"]
    assert a[i + 7] == TOOLS.setpriv
    # The stage works from / (a working directory in /var/task keeps its bind busy).
    assert a[a.index("--chdir") + 1] == "/"
    assert "cd /var/task" in bwrap_plan.HIDE_BINDS


def test_only_the_interpreter_itself_is_rewritten() -> None:
    s = spec(argv=("/usr/bin/python3.11", BOOTSTRAP), host_paths=(Path("/usr/bin/python3.11"),))
    assert bwrap_plan.rewrite(s, "/usr/bin/python3.11") == "/var/lang/bin/python3.11"
    assert bwrap_plan.rewrite(s, "/usr/local/bin:/usr/bin") == "/usr/local/bin:/usr/bin"
