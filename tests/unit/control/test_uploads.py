"""Uploaded code: where an archive comes from, the limits on it, and what a version
document records of it and of its layers."""

from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest

from lambdad.config import Settings
from lambdad.control import uploads
from lambdad.errors import (
    CodeStorageExceededException,
    InvalidParameterValueException,
    RequestEntityTooLargeException,
)
from lambdad.model.scope import Scope
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")


def zip_of(source: str = "x = 1\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("app.py", date_time=(2024, 1, 1, 0, 0, 0)), source)
    return buf.getvalue()


def test_zipfile_is_taken_as_base64_or_as_bytes() -> None:
    data = zip_of()
    assert uploads.read_source(EAST, {"ZipFile": base64.b64encode(data).decode()}, None) == data
    assert uploads.read_source(EAST, {"ZipFile": data}, None) == data
    with pytest.raises(InvalidParameterValueException, match="Could not unzip"):
        uploads.read_source(EAST, {"ZipFile": "not base64!"}, None)


def test_an_s3_location_is_fetched_for_the_account_that_asked() -> None:
    asked: list[tuple[Scope, dict[str, Any]]] = []

    def fetch(scope: Scope, code: dict[str, Any]) -> bytes:
        asked.append((scope, code))
        return b"zip"

    code = {"S3Bucket": "b", "S3Key": "k"}
    assert uploads.read_source(EAST, code, fetch) == b"zip"
    assert asked == [(EAST, code)]
    with pytest.raises(InvalidParameterValueException, match="NoSuchBucket"):
        uploads.read_source(EAST, code, None)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ({"ImageUri": "repo/image:1"}, "create it with PackageType Image"),
        ({}, "Please provide a source"),
        ({"S3Bucket": "b"}, "Please provide a source"),
    ],
)
def test_other_sources_are_refused(code: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterValueException, match=message):
        uploads.read_source(EAST, code, None)


@dataclass
class Stores:
    store: SqliteStore
    blobs: BlobStore


@pytest.fixture
def stores(store: SqliteStore, blobs: BlobStore) -> Stores:
    return Stores(store, blobs)


def test_ingest_stores_the_archive_by_digest(stores: Stores) -> None:
    data = zip_of()
    summary = uploads.ingest(Settings(), stores.store, stores.blobs, EAST, {"ZipFile": data}, None)
    assert summary.size == len(data)
    assert stores.blobs.get(summary.sha256_hex) == data


def test_ingest_refuses_an_archive_over_the_zipped_limit(stores: Stores) -> None:
    data = zip_of("x" * 10_000)
    settings = Settings(max_zipped_bytes=len(data) - 1)
    with pytest.raises(RequestEntityTooLargeException) as info:
        uploads.ingest(settings, stores.store, stores.blobs, EAST, {"ZipFile": data}, None)
    assert info.value.message == f"Zipped size must be smaller than {len(data) - 1} bytes"
    assert info.value.status == 413


def test_code_from_s3_is_held_to_the_unzipped_limit_only(stores: Stores) -> None:
    data = zip_of("x" * 10_000)
    settings = Settings(max_zipped_bytes=len(data) - 1)
    s3 = {"S3Bucket": "b", "S3Key": "k"}
    summary = uploads.ingest(settings, stores.store, stores.blobs, EAST, s3, lambda *_: data)
    assert summary.size == len(data)
    settings = Settings(max_unzipped_bytes=100)
    with pytest.raises(InvalidParameterValueException) as info:
        uploads.ingest(settings, stores.store, stores.blobs, EAST, s3, lambda *_: data)
    assert info.value.message == "Unzipped size must be smaller than 100 bytes"


def test_ingest_refuses_past_the_accounts_code_storage(stores: Stores) -> None:
    stores.store.put_function(EAST.account, EAST.region, "fn", {})
    stores.store.put_version(EAST.account, EAST.region, "fn", "$LATEST", {"CodeSize": 900})
    data = zip_of()
    settings = Settings(code_storage_limit=900 + len(data) - 1)
    assert uploads.total_code_size(stores.store) == 900
    with pytest.raises(CodeStorageExceededException):
        uploads.ingest(settings, stores.store, stores.blobs, EAST, {"ZipFile": data}, None)


def layer(sha: str, unzipped: int) -> dict[str, Any]:
    arn = f"arn:aws:lambda:us-east-1:123456789012:layer:{sha}:1"
    return {"Arn": arn, "CodeSize": 10, "Sha256Hex": sha, "UnzippedSize": unzipped}


def test_layers_are_recorded_in_order_and_counted_with_the_code() -> None:
    doc: dict[str, Any] = {"_unzipped": 100}
    uploads.set_layers(doc, [layer("a", 10), layer("b", 20)], max_unzipped=130)
    assert [x["Arn"].split(":")[6] for x in doc["Layers"]] == ["a", "b"]
    assert (doc["_layers"], doc["_layers_unzipped"]) == (["a", "b"], 30)
    # None leaves the layers as they are, but the limit is checked again.
    doc["_unzipped"] = 101
    with pytest.raises(InvalidParameterValueException, match="The actual size is 131 bytes"):
        uploads.set_layers(doc, None, max_unzipped=130)
    uploads.set_layers(doc, [], max_unzipped=130)
    assert "Layers" not in doc
    assert (doc["_layers"], doc["_layers_unzipped"]) == ([], 0)
