"""Container-image functions (``PackageType: Image``) in the control plane.

CreateFunction and UpdateFunctionCode take an ``ImageUri``: it is mapped to the
operator's registry (``model/image_uri.py``), its tag resolved to a digest there, and
the image pulled and unpacked before the version is stored (``store/images.py``), so a
bad image is refused in the request that names it and a cold start never waits on a
registry. The version records the URI as given, the digest (``CodeSha256``, as AWS
shows an image's) and ``ResolvedImageUri``; ``GetFunction`` answers them with
``RepositoryType: ECR``.

AWS's rules and messages: Handler, Runtime and Layers are refused for images; an
image function's code is updated by ``ImageUri`` only and a .zip function's never.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.errors import InvalidParameterValueException
from lambdad.model import image_uri
from lambdad.model.image_config import ImageOverrides, ImageRun
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.images import ImageStore
from lambdad.store.images import version_digests as version_digests

IMAGE = "Image"
NOT_FOR_IMAGES = (
    "Please don't provide Handler or Runtime or Layer when the intended function "
    "PackageType is Image."
)
NO_SNAPSTART = "SnapStart is not supported for functions with PackageType Image."
IMAGE_URI_NEEDED = "Please provide ImageUri when updating a function with packageType Image."
NO_IMAGE_URI_FOR_ZIP = (
    "Please don't provide ImageUri when updating a function with packageType Zip."
)
ZIP_SOURCES = ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion")


@dataclass(frozen=True, slots=True)
class ImageCode:
    """An ImageUri taken: what the version document records of it."""

    uri: str
    resolved_uri: str
    digest: str
    repository: str


class FunctionImages:
    """Takes the ImageUri of a function's code (``take``)."""

    def __init__(self, store: ImageStore, trusted: Callable[[str], bool]) -> None:
        self.store = store
        # Accounts the operator trusts with the server's own position: they may name
        # the operator's registry directly (any repository there).
        self.trusted = trusted

    def take(self, scope: Scope, uri: str) -> ImageCode:
        """Map, resolve, pull and unpack ``uri`` (blocking: a worker thread's)."""
        ref = self.parse(scope, uri)
        digest = self.store.resolve(ref)
        self.store.ensure(ref, digest)
        return ImageCode(uri, ref.resolved_uri(digest), digest, ref.repository)

    def release(self, metadata: MetadataStore, digests: Iterable[str]) -> None:
        """Images versions stopped running (removed later if none runs them)."""
        self.store.release(metadata, digests)

    def parse(self, scope: Scope, uri: str) -> image_uri.ImageRef:
        return image_uri.parse_image_uri(
            uri,
            account=scope.account,
            region=scope.region,
            registry=self.store.registry,
            trusted=self.trusted(scope.account),
        )


def is_image(doc: Mapping[str, Any]) -> bool:
    return doc.get("PackageType") == IMAGE


def check_image_params(params: Mapping[str, Any]) -> None:
    """Handler, Runtime and Layers have no place in an image function's settings."""
    if any(params.get(k) is not None for k in ("Handler", "Runtime", "Layers")):
        raise InvalidParameterValueException(NOT_FOR_IMAGES)
    if (params.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions":
        # AWS takes SnapStart for managed runtimes only (lambdad's wording).
        raise InvalidParameterValueException(NO_SNAPSTART)


def image_uri_of(code: Mapping[str, Any]) -> str:
    """The ``ImageUri`` of a CreateFunction ``Code`` of an image function."""
    uri = code.get("ImageUri")
    if not uri or any(code.get(k) is not None for k in ZIP_SOURCES):
        raise InvalidParameterValueException("Please provide a source for function code.")
    return str(uri)


def update_uri(doc: Mapping[str, Any], params: Mapping[str, Any]) -> str | None:
    """The ImageUri an UpdateFunctionCode carries for ``doc``'s function (None: a .zip
    function's update), refused as AWS refuses a mismatch."""
    uri = params.get("ImageUri")
    if is_image(doc):
        if not uri or any(params.get(k) is not None for k in ZIP_SOURCES):
            raise InvalidParameterValueException(IMAGE_URI_NEEDED)
        return str(uri)
    if uri:
        raise InvalidParameterValueException(NO_IMAGE_URI_FOR_ZIP)
    return None


def set_image_code(doc: Doc, code: ImageCode) -> None:
    doc["PackageType"] = IMAGE
    doc["CodeSize"] = 0
    doc["CodeSha256"] = code.digest.removeprefix("sha256:")
    doc.pop("CodeSha256Hex", None)
    doc["_image"] = {
        "Uri": code.uri,
        "ResolvedUri": code.resolved_uri,
        "Digest": code.digest,
        "Repository": code.repository,
    }


def code_location(doc: Mapping[str, Any]) -> dict[str, str]:
    """GetFunction's ``Code`` of an image function."""
    image = doc.get("_image") or {}
    return {
        "RepositoryType": "ECR",
        "ImageUri": str(image.get("Uri", "")),
        "ResolvedImageUri": str(image.get("ResolvedUri", "")),
    }


def image_run(doc: Mapping[str, Any]) -> ImageRun | None:
    """What an environment of ``doc``'s version runs, for an image function."""
    image = doc.get("_image")
    if not is_image(doc) or not image:
        return None
    overrides = ImageOverrides.from_config(doc.get("ImageConfig"))
    return ImageRun(str(image["Digest"]), str(image["Repository"]), overrides)


def render_image_config(out: dict[str, Any]) -> None:
    """An image function's ``ImageConfig`` as FunctionConfiguration shows it."""
    config = out.pop("ImageConfig", None)
    if out.get("PackageType") == IMAGE and config:
        out["ImageConfigResponse"] = {"ImageConfig": config}
