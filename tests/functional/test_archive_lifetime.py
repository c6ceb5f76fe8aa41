"""Code and layer archives leave the blob store with the last thing that uses them
(lambdad.store.blobs.BlobStore.release, from DeleteLayerVersion and DeleteFunction),
over a SQLite store in memory and blobs on disk."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.functions import FunctionService
from lambdad.control.layers import LayerService
from lambdad.errors import InvalidParameterValueException
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")
OTHER = Scope("210987654321", "us-east-1")
LIBRARY = {"python/lib.py": "X = 1\n"}
HANDLER = {"app.py": "def handler(event, context):\n    return event\n"}


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


class Platform:
    def __init__(self, tmp_path: Path) -> None:
        settings = Settings()
        clock = FakeClock()
        self.store = SqliteStore(":memory:")
        self.store.open()
        self.blobs = BlobStore(tmp_path / "blobs")
        self.blobs.open()
        self.layers = LayerService(settings, self.store, self.blobs, clock)
        self.functions = FunctionService(
            settings,
            self.store,
            self.blobs,
            Sealer(bytes(range(32)), tmp_path / "kms"),
            clock,
            layers=self.layers.resolve,
        )

    def publish_layer(
        self, name: str, files: dict[str, str] = LIBRARY, scope: Scope = EAST
    ) -> dict[str, Any]:
        params = {"LayerName": name, "Content": {"ZipFile": zip_of(files)}}
        return self.layers.publish(scope, params, lambda sha: f"url:{sha}")

    def create_function(
        self, name: str, files: dict[str, str] = HANDLER, **params: Any
    ) -> dict[str, Any]:
        return self.functions.create_function(
            EAST,
            {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": f"arn:aws:iam::{EAST.account}:role/r",
                "Handler": "app.handler",
                "Code": {"ZipFile": zip_of(files)},
                **params,
            },
        )

    def layer_blob(self, layer: dict[str, Any]) -> Path:
        """The file a layer version's archive is stored in (its download URL names it)."""
        return self.blobs.path(layer["Content"]["Location"].removeprefix("url:"))

    def code_blob(self, name: str, qualifier: str | None = None) -> Path:
        return self.blobs.path(self.functions.resolve(EAST, name, qualifier).code_sha256_hex)


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    yield platform
    platform.store.close()


def test_deleting_a_layer_version_deletes_its_archive(p: Platform) -> None:
    layer = p.publish_layer("lib")
    blob = p.layer_blob(layer)
    assert blob.is_file()

    p.layers.delete(EAST, "lib", layer["Version"])

    assert not blob.exists()


def test_an_archive_two_layer_versions_share_stays_until_both_are_deleted(p: Platform) -> None:
    first, second = p.publish_layer("lib"), p.publish_layer("other")
    mine, theirs = p.publish_layer("same"), p.publish_layer("same", scope=OTHER)
    blob = p.layer_blob(first)
    assert {p.layer_blob(x) for x in (second, mine, theirs)} == {blob}

    p.layers.delete(EAST, "lib", first["Version"])
    p.layers.delete(EAST, "other", second["Version"])
    p.layers.delete(EAST, "same", mine["Version"])
    assert blob.is_file()  # another account's layer version has the same bytes

    p.layers.delete(OTHER, "same", theirs["Version"])
    assert not blob.exists()


def test_a_function_keeps_a_deleted_layer_version_until_it_is_deleted(p: Platform) -> None:
    layer = p.publish_layer("lib")
    blob = p.layer_blob(layer)
    p.create_function("fn", Layers=[layer["LayerVersionArn"]])

    p.layers.delete(EAST, "lib", layer["Version"])

    # A new environment of the function still finds the layer's archive to extract.
    assert blob.is_file()
    assert p.functions.resolve(EAST, "fn", None).layer_sha256_hex == (blob.stem,)
    p.functions.delete_function(EAST, "fn", None)
    assert not blob.exists()


def test_deleting_a_function_deletes_its_code_unless_another_function_has_it(
    p: Platform,
) -> None:
    p.create_function("fn")
    p.create_function("twin")
    p.create_function("other", files={"app.py": "def handler(e, c):\n    return 1\n"})
    blob, other = p.code_blob("fn"), p.code_blob("other")
    assert p.code_blob("twin") == blob

    p.functions.delete_function(EAST, "fn", None)
    assert blob.is_file()

    p.functions.delete_function(EAST, "twin", None)
    assert not blob.exists()
    assert other.is_file()


def test_deleting_a_version_deletes_only_code_nothing_else_runs(p: Platform) -> None:
    p.create_function("fn")
    v1 = p.functions.publish_version(EAST, {"FunctionName": "fn"})["Version"]
    old = p.code_blob("fn", v1)
    p.functions.update_code(
        EAST,
        {"FunctionName": "fn", "ZipFile": zip_of({"app.py": "def handler(e, c):\n    pass\n"})},
    )
    v2 = p.functions.publish_version(EAST, {"FunctionName": "fn"})["Version"]
    new = p.code_blob("fn", v2)

    p.functions.delete_function(EAST, "fn", v2)
    assert new.is_file()  # $LATEST runs it

    p.functions.delete_function(EAST, "fn", v1)
    assert not old.exists()


def test_a_layer_archive_that_is_also_function_code_stays_with_the_function(
    p: Platform,
) -> None:
    layer = p.publish_layer("lib", files=HANDLER)
    p.create_function("fn")
    blob = p.code_blob("fn")
    assert p.layer_blob(layer) == blob

    p.layers.delete(EAST, "lib", layer["Version"])
    assert blob.is_file()

    p.functions.delete_function(EAST, "fn", None)
    assert not blob.exists()


def test_code_replaced_on_latest_goes_unless_a_version_still_runs_it(p: Platform) -> None:
    p.create_function("fn")
    first = p.code_blob("fn")
    v1 = p.functions.publish_version(EAST, {"FunctionName": "fn"})["Version"]
    p.functions.update_code(EAST, {"FunctionName": "fn", "ZipFile": zip_of({"app.py": "A = 1\n"})})
    second = p.code_blob("fn")
    assert first.is_file()  # version 1 runs it

    p.functions.update_code(EAST, {"FunctionName": "fn", "ZipFile": zip_of({"app.py": "B = 2\n"})})

    assert not second.exists()
    assert p.code_blob("fn", v1) == first
    assert first.is_file()


def test_a_deleted_layer_versions_archive_goes_when_its_last_function_moves_on(
    p: Platform,
) -> None:
    old = p.publish_layer("lib")
    p.create_function("fn", Layers=[old["LayerVersionArn"]])
    p.layers.delete(EAST, "lib", old["Version"])
    new = p.publish_layer("lib", files={"python/lib.py": "X = 2\n"})

    p.functions.update_configuration(
        EAST, {"FunctionName": "fn", "Layers": [new["LayerVersionArn"]]}
    )

    assert not p.layer_blob(old).exists()
    assert p.layer_blob(new).is_file()
    # A change that keeps the layers keeps their archives.
    p.functions.update_configuration(EAST, {"FunctionName": "fn", "Timeout": 9})
    assert p.layer_blob(new).is_file()


def test_an_archive_released_while_the_same_bytes_are_published_is_written_again(
    p: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = p.publish_layer("lib")
    put = p.blobs.put
    deleted: list[int] = []

    def put_while_the_last_user_goes(data: bytes, sha256_hex: str | None = None) -> str:
        digest = put(data, sha256_hex)
        if not deleted:  # another request deletes the only other version in between
            p.layers.delete(EAST, "lib", old["Version"])
            deleted.append(old["Version"])
        return digest

    monkeypatch.setattr(p.blobs, "put", put_while_the_last_user_goes)
    new = p.publish_layer("lib")

    assert deleted == [old["Version"]]
    assert p.layer_blob(new) == p.layer_blob(old)
    assert p.layer_blob(new).is_file()


def test_a_function_refused_after_its_upload_leaves_no_archive(p: Platform) -> None:
    layer = p.publish_layer("big", {"python/big.py": "x = 1\n" * 4000})
    # Small enough for the code alone, not for the code with its layer.
    p.functions.settings = dataclasses.replace(p.functions.settings, max_unzipped_bytes=8000)

    with pytest.raises(InvalidParameterValueException):
        p.create_function("too-big", Layers=[layer["LayerVersionArn"]])

    # The layer's archive is the only one left.
    assert sorted(p.blobs.root.glob("*/*.zip")) == [p.layer_blob(layer)]
