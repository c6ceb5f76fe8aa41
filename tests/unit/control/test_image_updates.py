"""UpdateFunctionCode of an image function when the function changes during the pull."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.functions import FunctionService
from lambdad.control.images import ImageCode
from lambdad.errors import ResourceConflictException, ResourceNotFoundException
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


class Images:
    """Takes any URI at once; ``during`` runs while it "pulls"."""

    def __init__(self) -> None:
        self.during: Callable[[], None] = lambda: None
        self.released: list[set[str]] = []

    def release(self, metadata: Any, digests: set[str]) -> None:
        self.released.append(set(digests))

    def take(self, scope: Scope, uri: str) -> ImageCode:
        self.during()
        digest = "sha256:" + uri[-1] * 64
        return ImageCode(uri, f"{uri}@{digest}", digest, "123456789012/app")


@pytest.fixture
def service(store: SqliteStore, blobs: BlobStore) -> tuple[FunctionService, Images]:
    images = Images()
    svc = FunctionService(
        Settings(), store, blobs, Sealer(bytes(range(32))), FakeClock(),
        function_images=images,  # type: ignore[arg-type]
    )  # fmt: skip
    svc.create_function(
        EAST,
        {"FunctionName": "img", "Role": ROLE, "PackageType": "Image", "Code": {"ImageUri": "u:a"}},
    )
    return svc, images


def digest_of(svc: FunctionService) -> Any:
    return svc.get_configuration(EAST, "img", None)["CodeSha256"]


def test_a_change_during_the_pull_is_a_conflict(service: tuple[FunctionService, Images]) -> None:
    svc, images = service
    images.during = lambda: svc.update_configuration(EAST, {"FunctionName": "img", "Timeout": 9})
    with pytest.raises(ResourceConflictException) as caught:
        svc.update_code(EAST, {"FunctionName": "img", "ImageUri": "u:b"})
    assert "An update is in progress for resource: arn:aws:lambda:" in caught.value.message
    config = svc.get_configuration(EAST, "img", None)
    assert (config["Timeout"], digest_of(svc)) == (9, "a" * 64)
    assert images.released == [{"sha256:" + "b" * 64}]  # the image taken for nothing
    images.during = lambda: None
    svc.update_code(EAST, {"FunctionName": "img", "ImageUri": "u:b"})
    assert digest_of(svc) == "b" * 64


def test_the_images_versions_stop_running_are_released(
    service: tuple[FunctionService, Images],
) -> None:
    svc, images = service
    svc.update_code(EAST, {"FunctionName": "img", "ImageUri": "u:b"})
    svc.publish_version(EAST, {"FunctionName": "img"})
    svc.update_code(EAST, {"FunctionName": "img", "ImageUri": "u:c"})
    assert images.released == [{"sha256:" + "a" * 64}, {"sha256:" + "b" * 64}]
    svc.delete_function(EAST, "img", "1")
    svc.delete_function(EAST, "img", None)
    assert images.released[2:] == [{"sha256:" + "b" * 64}, {"sha256:" + "c" * 64}]

    # A create refused after its pull gives its image back.
    def twin_created_meanwhile() -> None:
        images.during = lambda: None
        params = {"FunctionName": "twin", "Role": ROLE, "PackageType": "Image"}
        svc.create_function(EAST, {**params, "Code": {"ImageUri": "u:e"}})

    images.during = twin_created_meanwhile
    with pytest.raises(ResourceConflictException):
        svc.create_function(
            EAST,
            {"FunctionName": "twin", "Role": ROLE, "PackageType": "Image",
             "Code": {"ImageUri": "u:d"}},
        )  # fmt: skip
    assert images.released[-1] == {"sha256:" + "d" * 64}


def test_a_function_deleted_during_the_pull_stays_deleted(
    service: tuple[FunctionService, Images],
) -> None:
    svc, images = service
    images.during = lambda: svc.delete_function(EAST, "img", None)
    with pytest.raises(ResourceNotFoundException):
        svc.update_code(EAST, {"FunctionName": "img", "ImageUri": "u:b"})
    with pytest.raises(ResourceNotFoundException):
        svc.get_configuration(EAST, "img", None)
