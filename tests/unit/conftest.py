"""Fixtures the unit tests share: the stores, opened in memory or under ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    """An empty metadata store in memory, closed after the test."""
    s = SqliteStore(":memory:")
    s.open()
    yield s
    s.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    """An empty archive store under ``tmp_path``."""
    b = BlobStore(tmp_path / "blobs")
    b.open()
    return b
