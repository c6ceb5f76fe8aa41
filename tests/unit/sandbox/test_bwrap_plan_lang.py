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


def staged(a: list[str]) -> dict[str, str]:
    """Staging path -> the host directory bwrap binds there."""
    return {a[i + 2]: a[i + 1] for i, x in enumerate(a) if x == "--ro-bind"}


def test_the_interpreter_prefix_is_shown_at_var_lang_and_run_from_there() -> None:
    s = spec()
    a = argv(s)
    assert bwrap_plan.shown_dirs(s)[0] == ("/opt/py/3.12", "/var/lang")
    assert staged(a)["/dev/shm/l0"] == "/opt/py/3.12"
    assert list(staged(a).values()).count("/opt/py/3.12") == 1  # not at its host path
    assert a[-2:] == ["/var/lang/bin/python3.12", "/var/runtime/python/bootstrap.py"]


def test_a_distribution_interpreter_runs_from_var_lang_too() -> None:
    s = spec(argv=("/usr/bin/node", "/x/bootstrap.js"), host_paths=(Path("/usr/bin/node"),))
    assert bwrap_plan.shown_dirs(s)[0] == ("/usr", "/var/lang")
    assert "/var/lang/bin/node" in argv(s)


def test_a_provided_runtime_has_no_var_lang() -> None:
    s = spec(argv=("{task}/bootstrap",), host_paths=())
    assert "/var/lang" not in argv(s)
    assert [inside for _, inside in bwrap_plan.shown_dirs(s)] == ["/var/task", "/var/runtime"]
    assert argv(s)[-1] == "/var/task/bootstrap"


def test_host_directories_are_staged_then_shown_as_overlays_before_privileges_go() -> None:
    s = spec(opt_dir=Path("/data/layers/xyz"))
    a = bwrap_plan.bwrap_argv(TOOLS, s, "isolated", 3, 4, 1051, data_fds={bwrap_plan.FSTAB: 9})
    # No host directory is bound where the sandbox shows it: only under the staging
    # tmpfs, which the stage unmounts.
    assert staged(a) == {
        "/dev/shm/l0": "/opt/py/3.12",
        "/dev/shm/l1": "/data/code/abc",
        "/dev/shm/l2": "/srv/lambdad/runtimes",
        "/dev/shm/l3": "/data/layers/xyz",
        **{k: v for k, v in staged(a).items() if not k.startswith("/dev/shm/")},
    }
    assert not {"/var/task", "/var/runtime", "/opt", "/var/lang"} & set(staged(a))
    i = a.index("--ro-bind-data", a.index("/dev/shm/l3"))
    assert a[i + 1 : i + 3] == ["9", "/dev/shm/fstab"]
    assert bwrap_plan.overlay_fstab(s).decode().splitlines() == [
        f"overlay {inside} overlay ro,nosuid,nodev,lowerdir=/dev/shm/l{n}:/dev/shm/e 0 0"
        for n, inside in enumerate(("/var/lang", "/var/task", "/var/runtime", "/opt"))
    ]
    i = a.index(bwrap_plan.HIDE_BINDS)
    assert a[i - 2 : i] == ["/bin/sh", "-c"]
    assert a[i + 2] == TOOLS.setpriv
    # The stage works from / (a working directory under a staging bind keeps it busy).
    assert a[a.index("--chdir") + 1] == "/"
    assert "umount -n -R /dev/shm && cd /var/task" in bwrap_plan.HIDE_BINDS


def test_only_the_interpreter_itself_is_rewritten() -> None:
    s = spec(argv=("/usr/bin/python3.11", BOOTSTRAP), host_paths=(Path("/usr/bin/python3.11"),))
    assert bwrap_plan.rewrite(s, "/usr/bin/python3.11") == "/var/lang/bin/python3.11"
    assert bwrap_plan.rewrite(s, "/usr/local/bin:/usr/bin") == "/usr/local/bin:/usr/bin"
