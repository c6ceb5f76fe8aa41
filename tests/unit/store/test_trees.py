"""Walks over tenant-shaped trees (lambdad.store.trees): deeper than Python's recursion
limit and than PATH_MAX, read-only, with links that must never be followed."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from lambdad.store import trees

# Deeper than the recursion limit, and (with 3-byte steps) past PATH_MAX too.
DEPTH = sys.getrecursionlimit() + 500


def deep_tree(root: Path, depth: int = DEPTH, *, mode: int = 0o555) -> None:
    """``root/d/d/.../d/leaf`` built with descriptors (the full path is too long)."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    chain = [fd]
    try:
        for _ in range(depth):
            os.mkdir("dd", dir_fd=chain[-1])
            nxt = os.open("dd", os.O_RDONLY | os.O_DIRECTORY, dir_fd=chain[-1])
            os.close(chain.pop())
            chain.append(nxt)
        leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o444, dir_fd=chain[-1])
        os.close(leaf)
    finally:
        for fd in chain:
            os.close(fd)
    trees.make_read_only(root)  # every directory 0555 on the way, iteratively too
    if mode != 0o555:
        os.chmod(root, mode)


def depth_of(root: Path) -> int:
    seen = 0

    def on_dir(fd: int, subdirs: list[str], others: list[str]) -> None:
        nonlocal seen
        seen += 1

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        trees.walk(fd, on_dir=on_dir)
    finally:
        os.close(fd)
    return seen


def test_remove_tree_deeper_than_the_recursion_limit_and_path_max(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    deep_tree(root)
    assert depth_of(root) == DEPTH + 1

    trees.remove_tree(root)

    assert not root.exists()
    assert list(tmp_path.iterdir()) == []


def test_make_read_only_reaches_the_bottom(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    deep_tree(root)
    modes: list[int] = []

    def on_dir(fd: int, subdirs: list[str], others: list[str]) -> None:
        for name in subdirs:
            modes.append(stat.S_IMODE(os.stat(name, dir_fd=fd).st_mode))

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        trees.walk(fd, on_dir=on_dir)
    finally:
        os.close(fd)
    assert modes == [0o555] * DEPTH
    trees.remove_tree(root)


def test_remove_tree_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    (root / "a" / "to-dir").symlink_to(outside)
    (root / "to-file").symlink_to(outside / "precious")
    trees.make_read_only(root)

    trees.remove_tree(root)

    assert not root.exists()
    assert (outside / "precious").read_text() == "keep"
    assert stat.S_IMODE(outside.stat().st_mode) != 0o555


def test_remove_tree_of_a_link_or_missing_path(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir")

    trees.remove_tree(tmp_path / "link")
    trees.remove_tree(tmp_path / "missing")

    assert (tmp_path / "dir").is_dir()
    assert not (tmp_path / "link").is_symlink()


def test_overlay_of_deep_trees_later_wins(tmp_path: Path) -> None:
    one, two, dest = tmp_path / "one", tmp_path / "two", tmp_path / "dest"
    deep_tree(one)
    (two / "dd").mkdir(parents=True)
    (two / "dd" / "x").write_text("two")
    (two / "link").symlink_to("dd/x")
    dest.mkdir()

    trees.overlay(one, dest)
    trees.overlay(two, dest)

    assert depth_of(dest) == DEPTH + 1
    assert (dest / "dd" / "x").read_text() == "two"
    assert os.readlink(dest / "link") == "dd/x"
    trees.remove_tree(dest)
    trees.remove_tree(one)


def test_overlay_replaces_a_directory_with_a_file_and_back(tmp_path: Path) -> None:
    one, two, dest = tmp_path / "one", tmp_path / "two", tmp_path / "dest"
    (one / "p" / "q").mkdir(parents=True)
    (one / "f").mkdir()
    two.mkdir()
    (two / "p").write_text("file now")
    (two / "f").mkdir()
    (two / "f" / "inner").write_text("merged")
    trees.make_read_only(one)
    dest.mkdir()

    trees.overlay(one, dest)
    trees.make_writable(dest)
    trees.overlay(two, dest)

    assert (dest / "p").read_text() == "file now"
    assert (dest / "f" / "inner").read_text() == "merged"
    trees.remove_tree(one)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_remove_tree_of_unreadable_directories(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    os.chmod(root / "a" / "b", 0)
    os.chmod(root / "a", 0)

    trees.remove_tree(root)

    assert not root.exists()
