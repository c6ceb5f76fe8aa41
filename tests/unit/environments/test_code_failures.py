"""What the code cache does with trees and archives a tenant made hostile, and with a
full disk: never a RecursionError, never a traceback per request, and a start-up sweep
that goes on past a tree it cannot remove."""

from __future__ import annotations

import asyncio
import errno
import io
import logging
import os
import sys
import zipfile
from pathlib import Path

import pytest

from lambdad.environments.code import CodeCache
from lambdad.environments.layers import OptCache
from lambdad.errors import InvalidZipFileException, ServiceException
from lambdad.store import archives, trees
from lambdad.store.blobs import BlobStore

DEPTH = sys.getrecursionlimit() + 500


def archive(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_sweep_removes_a_tree_deeper_than_the_recursion_limit(
    tmp_path: Path, blobs: BlobStore
) -> None:
    # As an older lambdad left it: a 1,500+ level tree extracted from a tenant's zip.
    cache = CodeCache(tmp_path / "code", blobs, 10 << 20)
    gone = "0" * 64
    root = cache.path(gone)
    root.parent.mkdir()
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(DEPTH):
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)
    trees.make_read_only(root)

    assert cache.sweep() == 1
    assert not root.exists()


def test_sweep_goes_on_past_a_tree_it_cannot_remove(
    tmp_path: Path,
    blobs: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = CodeCache(tmp_path / "code", blobs, 10 << 20)
    for name in ("a" * 64, "b" * 64):
        cache.path(name).mkdir(parents=True)
    real = trees.remove_tree

    def flaky(path: Path) -> None:
        if path.name == "a" * 64:
            raise RecursionError("maximum recursion depth exceeded")
        real(path)

    monkeypatch.setattr(trees, "remove_tree", flaky)

    assert cache.sweep() == 1

    assert cache.path("a" * 64).exists()
    assert not cache.path("b" * 64).exists()
    assert "could not remove the code directory" in caplog.text


def test_opt_sweep_goes_on_past_a_tree_it_cannot_remove(
    tmp_path: Path, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    opt = OptCache(tmp_path / "opt", CodeCache(tmp_path / "code", blobs, 10 << 20))
    for name in ("bad", "good"):
        (tmp_path / "opt" / name).mkdir(parents=True)
    real = trees.remove_tree

    def flaky(path: Path) -> None:
        if path.name == "bad":
            raise OSError(errno.EIO, "I/O error")
        real(path)

    monkeypatch.setattr(trees, "remove_tree", flaky)

    assert opt.sweep() == 1
    assert not (tmp_path / "opt" / "good").exists()


def test_an_archive_too_deep_to_extract_answers_invalid_zip_file(
    tmp_path: Path, blobs: BlobStore
) -> None:
    # Stored before uploads were limited: extraction still refuses it, as AWS answers.
    sha = blobs.put(archive({"d/" * (archives.MAX_DEPTH + 10) + "f": b"x"}))
    cache = CodeCache(tmp_path / "code", blobs, 10 << 20)

    with pytest.raises(InvalidZipFileException, match="could not unzip"):
        asyncio.run(cache.ensure(sha))
    assert [p.name for p in (tmp_path / "code").iterdir()] == []


def test_a_full_disk_at_extraction_is_a_service_exception_without_traceback(
    tmp_path: Path,
    blobs: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sha = blobs.put(archive({"app.py": b"x = 1\n"}))
    cache = CodeCache(tmp_path / "code", blobs, 10 << 20)
    real_open = os.open

    def full(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & os.O_CREAT and path == "app.py":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", full)
    with caplog.at_level(logging.INFO), pytest.raises(ServiceException) as info:
        asyncio.run(cache.ensure(sha))

    assert "out of storage space" in info.value.message
    assert all(r.exc_info is None for r in caplog.records)
    assert "file system is full" in caplog.text
    assert [p.name for p in (tmp_path / "code").iterdir()] == []  # nothing half-written
