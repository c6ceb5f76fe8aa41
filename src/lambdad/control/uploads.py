"""A function's uploaded code and layers, as a version document records them.

Where the archive comes from (``ZipFile``, base64 or raw, or an S3 location), the
limits AWS puts on it (zipped size, unzipped size with the layers, the account's
code storage), storing it by digest, and the size and digest members a version
document carries.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from lambdad.config import Settings
from lambdad.errors import (
    CodeStorageExceededException,
    InvalidParameterValueException,
    RequestEntityTooLargeException,
)
from lambdad.model.scope import Scope
from lambdad.store import archives
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.blobs import BlobStore

# Fetches an S3 ``Code`` for the account of the scope, with that account's identity.
CodeFetcher = Callable[[Scope, dict[str, Any]], bytes]


def read_source(scope: Scope, code: dict[str, Any], fetcher: CodeFetcher | None) -> bytes:
    """The archive a ``Code`` (or UpdateFunctionCode) parameter names."""
    if code.get("ImageUri"):
        raise InvalidParameterValueException(
            "ImageUri is the code of a container image function: create it with PackageType Image."
        )
    if code.get("ZipFile") is not None:
        data = code["ZipFile"]
        if isinstance(data, str):
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidParameterValueException(
                    "Could not unzip uploaded file. Please check your file, then try to "
                    "upload again."
                ) from None
        return bytes(data)
    if code.get("S3Bucket") and code.get("S3Key"):
        if fetcher is None:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error "
                "Message: The specified bucket does not exist"
            )
        return fetcher(scope, code)
    raise InvalidParameterValueException("Please provide a source for function code.")


def ingest(
    settings: Settings,
    store: MetadataStore,
    blobs: BlobStore,
    scope: Scope,
    code: dict[str, Any],
    fetcher: CodeFetcher | None,
    check: Callable[[bytes], object] | None = None,
) -> archives.ArchiveSummary:
    """Validate and store an uploaded archive (``check``: called with its bytes before
    anything is stored, to refuse it by raising)."""
    data = read_source(scope, code, fetcher)
    # Only a direct upload is held to the zipped limit; code from S3 only to the
    # unzipped one, as on AWS.
    if code.get("ZipFile") is not None and len(data) > settings.max_zipped_bytes:
        raise RequestEntityTooLargeException(
            f"Zipped size must be smaller than {settings.max_zipped_bytes} bytes"
        )
    summary = archives.inspect_archive(data, max_unzipped=settings.max_unzipped_bytes)
    if check is not None:
        check(data)
    if total_code_size(store) + summary.size > settings.code_storage_limit:
        raise CodeStorageExceededException("Code storage limit exceeded.")
    blobs.put(data, summary.sha256_hex)
    return summary


def total_code_size(store: MetadataStore) -> int:
    """The zipped size of every version of every function stored."""
    total = 0
    for account, region, name, _ in store.iter_all_functions():
        for _, doc in store.list_versions(account, region, name):
            total += int(doc.get("CodeSize", 0))
    return total


def set_code(doc: Doc, summary: archives.ArchiveSummary) -> None:
    doc["CodeSize"] = summary.size
    doc["CodeSha256"] = summary.code_sha256
    doc["CodeSha256Hex"] = summary.sha256_hex
    doc["_unzipped"] = summary.unzipped_size


def set_layers(doc: Doc, layers: list[dict[str, Any]] | None, max_unzipped: int) -> None:
    """Record the layers a Layers parameter resolved to (None: unchanged), then check
    the unzipped limit, which covers the function and its layers together."""
    if layers is not None:
        if layers:
            doc["Layers"] = [{"Arn": x["Arn"], "CodeSize": x["CodeSize"]} for x in layers]
        else:
            doc.pop("Layers", None)
        doc["_layers"] = [x["Sha256Hex"] for x in layers]
        doc["_layers_unzipped"] = sum(int(x["UnzippedSize"]) for x in layers)
    total = int(doc.get("_unzipped", 0)) + int(doc.get("_layers_unzipped", 0))
    if total > max_unzipped:
        raise InvalidParameterValueException(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{max_unzipped} bytes. The actual size is {total} bytes."
        )
