from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdad.sandbox.cgroups import V1_CONTROLLERS, CgroupManager, EnvironmentCgroup


def cgroup(root: Path, present: int) -> EnvironmentCgroup:
    """A v1 environment cgroup under ``root`` whose first ``present`` hierarchies exist."""
    for controller in V1_CONTROLLERS[:present]:
        (root / controller / "lambdad" / "env-1").mkdir(parents=True)
        (root / controller / "lambdad" / "env-1" / "tasks").write_text("")
    return EnvironmentCgroup(CgroupManager("v1", root), "env-1")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_join_files_are_opened_each_once(tmp_path: Path) -> None:
    fds = cgroup(tmp_path, len(V1_CONTROLLERS)).open_joins()
    try:
        assert len(fds) == len(V1_CONTROLLERS)
        assert all(os.get_inheritable(fd) is False for fd in fds)
    finally:
        for fd in fds:
            os.close(fd)


def test_none_is_left_open_when_one_cannot_be_opened(tmp_path: Path) -> None:
    partial = cgroup(tmp_path, len(V1_CONTROLLERS) - 1)
    before = open_fds()

    with pytest.raises(FileNotFoundError):
        partial.open_joins()

    assert open_fds() == before
