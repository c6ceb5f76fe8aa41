"""An image's working directory and ENTRYPOINT checked in its unpacked root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lambdad.environments.image_start import lookup, start_failure
from lambdad.sandbox.base import SandboxSpec


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    for d in ("usr/bin", "var/task", "etc"):
        (root / d).mkdir(parents=True)
    (root / "usr/bin/busybox").write_text("")
    (root / "usr/bin/busybox").chmod(0o755)
    (root / "usr/bin/private").write_text("")
    (root / "usr/bin/private").chmod(0o750)
    os.symlink("usr/bin", root / "bin")  # relative, at the top
    os.symlink("/usr/bin/busybox", root / "usr/bin/sh")  # absolute: from the root
    os.symlink("../../..", root / "var/task/up")  # .. stops at the root
    os.symlink(str(tmp_path), root / "var/task/host")  # the host's path, taken in the root
    os.symlink("loop", root / "var/task/loop")
    return root


def spec(root: Path, argv: tuple[str, ...], workdir: str, path: str | None = "/bin") -> SandboxSpec:
    env = {} if path is None else {"PATH": path}
    return SandboxSpec(
        env_id="e", argv=argv, env=env, task_dir=Path("/var/task"),
        runtime_dir=Path("/var/runtime"), root_dir=root, workdir=workdir, tmp_mb=512,
    )  # fmt: skip


def failure(root: Path, argv: tuple[str, ...], workdir: str = "/var/task") -> tuple[str, str]:
    out = start_failure(spec(root, argv, workdir))
    if out is None:
        return ("", "")
    doc = json.loads(out.body)
    assert doc["errorType"] == out.error_type
    return doc["errorType"], doc["errorMessage"].removeprefix("RequestId: - Error: ")


def test_links_resolve_inside_the_root(root: Path, tmp_path: Path) -> None:
    assert lookup(root, "/bin/sh") is not None
    assert lookup(root, "/var/task/up/usr/bin/busybox") is not None
    assert lookup(root, "/var/task/host/rootfs/usr/bin/busybox") is None
    assert lookup(root, "/var/task/loop") is None


def test_runnable_entrypoints_start(root: Path) -> None:
    for argv in (("/bin/sh", "-c", "x"), ("busybox",), ("sh",), ("../../bin/sh",)):
        assert failure(root, argv) == ("", ""), argv
    assert failure(root, ("/usr/bin/busybox",), "/tmp") == ("", "")
    assert failure(root, ("/proc/self/exe",)) == ("", "")  # the sandbox's own: left to exec


def test_a_missing_or_unrunnable_entrypoint_is_invalid(root: Path) -> None:
    invalid = "Runtime.InvalidEntrypoint"
    assert failure(root, ("/missing",)) == (
        invalid,
        "fork/exec /missing: no such file or directory",
    )
    assert failure(root, ("/usr/bin/private",)) == (
        invalid, "fork/exec /usr/bin/private: permission denied",
    )  # fmt: skip
    assert failure(root, ("/var/task",))[1] == "fork/exec /var/task: permission denied"
    assert failure(root, ("python",)) == (
        invalid, 'exec: "python": executable file not found in $PATH',
    )  # fmt: skip


def test_a_relative_empty_or_missing_working_directory_is_invalid(root: Path) -> None:
    invalid = "Runtime.InvalidWorkingDir"
    assert failure(root, ("/bin/sh",), "") == (
        invalid, "the working directory '' is invalid, it needs to be an absolute path",
    )  # fmt: skip
    assert failure(root, ("/bin/sh",), "var/task")[0] == invalid
    assert failure(root, ("/bin/sh",), "/nowhere") == (
        invalid, "the working directory '/nowhere' is invalid: no such file or directory",
    )  # fmt: skip
    assert failure(root, ("/bin/sh",), "/usr/bin/busybox")[1].endswith("not a directory")
    assert failure(root, ("/bin/sh",), "/tmp/later")[0] == invalid  # /tmp starts empty
