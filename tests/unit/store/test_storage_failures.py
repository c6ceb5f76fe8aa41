"""A full disk and a damaged database, as the stores report them: AWS-shaped errors
logged in one line, and one clear reason for a database that cannot be opened."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from lambdad.errors import ServiceException
from lambdad.store import blobs as blobs_module
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore, StoreUnreadable


def test_a_blob_written_to_a_full_disk_is_a_service_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = BlobStore(tmp_path / "blobs")
    store.open()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs_module.os, "fsync", full)
    with caplog.at_level(logging.INFO), pytest.raises(ServiceException) as info:
        store.put(b"zip bytes")

    assert "out of storage space" in info.value.message
    assert all(r.exc_info is None for r in caplog.records)
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_a_metadata_write_to_a_full_disk_is_a_service_exception(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "meta.db")
    store.open()
    # SQLite's own limit stands in for a full disk: it answers SQLITE_FULL the same way.
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages + 1}")

    store.put_function("123456789012", "us-east-1", "fits", {})
    with pytest.raises(ServiceException, match="out of storage space"):
        store.put_function("123456789012", "us-east-1", "big", {"pad": "x" * 65536})
    store.close()


@pytest.mark.parametrize(
    "content",
    [b"not a database at all\n" * 100, b"SQLite format 3\x00" + os.urandom(8192)],
    ids=["garbage", "damaged-header"],
)
def test_a_file_that_is_no_database_is_store_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "lambdad.db"
    path.write_bytes(content)

    with pytest.raises(StoreUnreadable) as info:
        SqliteStore(path).open()

    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert "restore it from a backup" in str(info.value)
    assert "\n" not in str(info.value)


def test_other_sqlite_errors_are_not_disguised(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "meta.db")
    store.open()
    store.conn.execute("DROP TABLE functions")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store.put_function("123456789012", "us-east-1", "fn", {})
    store.close()


def test_a_database_that_cannot_be_opened_says_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "lambdad.db"

    with pytest.raises(StoreUnreadable, match="check that the file and its directory"):
        SqliteStore(path).open()
