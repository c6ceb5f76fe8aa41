"""A function's TMPDIR on the process backend is a host directory: a tree in it as
deep as the function likes must not stop teardown or the next start-up."""

from __future__ import annotations

import os
from pathlib import Path

from lambdad.sandbox.process import ProcessBackend
from lambdad.store.trees import remove_quietly


def deep_tree(root: Path, depth: int) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def test_closing_the_backend_removes_a_tmp_tree_1500_levels_deep(tmp_path: Path) -> None:
    work = tmp_path / "envs"
    (work / "env-1" / "tmp").mkdir(parents=True)
    deep_tree(work / "env-1" / "tmp", 1500)

    ProcessBackend(work).close()

    assert not work.exists()


def test_remove_quietly_takes_deep_trees_and_missing_paths(tmp_path: Path) -> None:
    deep_tree(tmp_path, 1500)

    remove_quietly(tmp_path / "d")
    remove_quietly(tmp_path / "missing")

    assert list(tmp_path.iterdir()) == []
