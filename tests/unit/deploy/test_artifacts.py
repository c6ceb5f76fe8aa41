"""Uploaded stack code: read only by the account that uploaded it, forgotten once no
stack or change set of the account names it (after a grace), the archive deleted when
no account keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdad.deploy.artifacts import GRACE, Artifacts
from lambdad.deploy.errors import ValidationError
from lambdad.deploy.stack_records import Where
from lambdad.model.artifacts import ARTIFACT_BUCKET
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

A, B = Where("111111111111", "us-east-1"), Where("222222222222", "us-east-1")


def test_uploads_by_account_and_their_collection(store: SqliteStore, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    blobs.open()
    clock = [0.0]
    artifacts = Artifacts(store, blobs, lambda: clock[0])
    key = artifacts.put(A, b"zip")
    assert artifacts.read(A, ARTIFACT_BUCKET, key) == b"zip"
    assert artifacts.read(A, "a-real-bucket", key) is None
    with pytest.raises(ValidationError, match="not uploaded"):
        artifacts.read(B, ARTIFACT_BUCKET, key)

    artifacts.put(B, b"zip")
    assert artifacts.collect(A, []) == []  # within its grace
    clock[0] = GRACE + 1
    assert artifacts.collect(A, [f"CodeUri: {key}"]) == []  # still named
    assert artifacts.collect(A, []) == [key]
    assert blobs.exists(key)  # B keeps it
    assert artifacts.collect(B, []) == [key]
    assert not blobs.exists(key)
