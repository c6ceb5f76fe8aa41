"""Layers: versioned zip archives that functions extract, in order, into /opt.

Owns a layer's versions: PublishLayerVersion (the content taken in: a zip file or an
S3 object), GetLayerVersion(ByArn), DeleteLayerVersion, ListLayerVersions and
ListLayers. A layer version is immutable: its archive lives in the content-addressed
blob store (the same one as function code), its document in the store (where, and who
may use it: ``layer_refs.py``). Version numbers are never reused, even after every
version was deleted. Deleting a version deletes its archive only once no other layer
version and no function version uses it (``BlobStore.release``).

``LayerService`` is also the facade the API handlers call for a version's resource
policy (``layer_permissions.py``) and functions for their ``Layers`` parameter
(``function_layers.py``).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import function_layers, layer_refs, paging
from lambdad.control.layer_permissions import LayerPermissions
from lambdad.control.layer_refs import (
    INDEX_KIND,
    INDEX_NAME,
    KIND,
    LAYER_ARN,
    NOT_FOUND,
    LayerRef,
    version_key,
)
from lambdad.control.paging import LIST_PAGE_MAX
from lambdad.errors import (
    InvalidParameterValueException,
    RequestEntityTooLargeException,
    ResourceNotFoundException,
)
from lambdad.model import function as fmodel
from lambdad.model.scope import Scope
from lambdad.store import archives
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.blobs import BlobStore

log = logging.getLogger(__name__)


class LayerService:
    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        blobs: BlobStore,
        clock: Clock,
        code_fetcher: Callable[[Scope, dict[str, Any]], bytes] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.clock = clock
        self.code_fetcher = code_fetcher
        self.permissions = LayerPermissions(store)

    # -- reading ---------------------------------------------------------------------

    def _readable(self, scope: Scope, ref: LayerRef, version: int) -> Doc:
        """A layer version the caller may read, or the error AWS answers."""
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        doc = layer_refs.version_doc(self.store, ref, version)
        if ref.region != scope.region:
            raise ResourceNotFoundException(NOT_FOUND)
        if ref.account != scope.account:
            layer_refs.check_shared(scope, ref, version, doc)
        if doc is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return doc

    # -- rendering ----------------------------------------------------------------------

    def _item(self, ref: LayerRef, doc: Doc) -> dict[str, Any]:
        """A LayerVersionsListItem."""
        out: dict[str, Any] = {
            "LayerVersionArn": ref.arn(doc["Version"]),
            "Version": doc["Version"],
            "CreatedDate": doc["CreatedDate"],
        }
        # AWS lists a description only when there is one.
        if doc.get("Description"):
            out["Description"] = doc["Description"]
        for key in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if key in doc:
                out[key] = doc[key]
        return out

    def _full(self, ref: LayerRef, doc: Doc, url: Callable[[str], str]) -> dict[str, Any]:
        """The PublishLayerVersion / GetLayerVersion shape."""
        out = self._item(ref, doc)
        out["Description"] = doc.get("Description", "")
        out["LayerArn"] = ref.arn()
        out["Content"] = {
            "Location": url(doc["Sha256Hex"]),
            "CodeSha256": doc["CodeSha256"],
            "CodeSize": doc["CodeSize"],
        }
        return out

    # -- publish / read / delete -----------------------------------------------------------

    def _content(self, scope: Scope, content: dict[str, Any]) -> bytes:
        if content.get("ZipFile") is not None:
            data = content["ZipFile"]
            if isinstance(data, str):
                try:
                    return base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    raise InvalidParameterValueException(archives.UNZIP_FAILED) from None
            return bytes(data)
        if content.get("S3Bucket") and content.get("S3Key"):
            if self.code_fetcher is None:
                raise InvalidParameterValueException(
                    "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error "
                    "Message: The specified bucket does not exist"
                )
            return self.code_fetcher(scope, content)
        raise InvalidParameterValueException("Missing Content")

    def publish(
        self, scope: Scope, params: dict[str, Any], url: Callable[[str], str]
    ) -> dict[str, Any]:
        ref = layer_refs.own(scope, params["LayerName"], "PublishLayerVersion")
        content = params["Content"] or {}
        data = self._content(scope, content)
        # As for a function's code: only a direct upload is held to the zipped limit.
        if content.get("ZipFile") is not None and len(data) > self.settings.max_zipped_bytes:
            raise RequestEntityTooLargeException(
                f"Zipped size must be smaller than {self.settings.max_zipped_bytes} bytes"
            )
        summary = archives.inspect_archive(data, max_unzipped=self.settings.max_unzipped_bytes)
        self.blobs.put(data, summary.sha256_hex)  # the slow write, outside the store's lock
        doc: Doc = {
            "Description": params.get("Description", ""),
            "CreatedDate": fmodel.now_iso(self.clock.now()),
            "CodeSha256": summary.code_sha256,
            "CodeSize": summary.size,
            "Sha256Hex": summary.sha256_hex,
            "UnzippedSize": summary.unzipped_size,
        }
        for key in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if key in params:
                doc[key] = params[key]
        with self.store.transaction():
            # Written again (a look-up, unless it is gone) in the transaction that records
            # the reference: a delete of the last other user of these bytes may have
            # released it since; no release can come between this and the reference.
            self.blobs.put(data, summary.sha256_hex)
            index = self.store.get_child(
                INDEX_KIND, ref.account, ref.region, INDEX_NAME, ref.name
            ) or {"LatestVersion": 0}
            version = int(index["LatestVersion"]) + 1
            index["LatestVersion"] = version
            doc["Version"] = version
            self.store.put_child(INDEX_KIND, ref.account, ref.region, INDEX_NAME, ref.name, index)
            layer_refs.save_version(self.store, ref, version, doc)
        log.info("published layer %s version %d", ref.name, version)
        return self._full(ref, doc, url)

    def get(
        self, scope: Scope, layer_name: str, version: int, url: Callable[[str], str]
    ) -> dict[str, Any]:
        ref = layer_refs.ref_of(scope, layer_name)
        return self._full(ref, self._readable(scope, ref, version), url)

    def get_by_arn(self, scope: Scope, arn: str, url: Callable[[str], str]) -> dict[str, Any]:
        m = LAYER_ARN.fullmatch(arn)
        if m is None or m["version"] is None:
            raise ResourceNotFoundException(NOT_FOUND)
        ref = LayerRef(m["account"], m["region"], m["name"])
        return self._full(ref, self._readable(scope, ref, int(m["version"])), url)

    def delete(self, scope: Scope, layer_name: str, version: int) -> None:
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        ref = layer_refs.own(scope, layer_name, "DeleteLayerVersion")
        with self.store.transaction():
            doc = layer_refs.version_doc(self.store, ref, version)
            if doc is None:
                return  # AWS answers success for a version that does not exist
            self.store.delete_child(
                KIND, ref.account, ref.region, ref.store_name, version_key(version)
            )
        # The archive stays while a function version still uses it (they keep running
        # a deleted layer version, as on AWS) or another layer version has the same bytes.
        self.blobs.release(self.store, [doc["Sha256Hex"]])
        log.info("deleted layer %s version %d", ref.name, version)

    # -- lists ------------------------------------------------------------------------------

    @staticmethod
    def _matches(doc: Doc, runtime: str | None, architecture: str | None) -> bool:
        if runtime is not None and runtime not in doc.get("CompatibleRuntimes", []):
            return False
        return architecture is None or architecture in doc.get("CompatibleArchitectures", [])

    def _versions(self, ref: LayerRef) -> list[Doc]:
        rows = self.store.list_children(KIND, ref.account, ref.region, ref.store_name)
        return sorted((doc for _, doc in rows), key=lambda d: -int(d["Version"]))

    def list_versions(
        self,
        scope: Scope,
        layer_name: str,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> dict[str, Any]:
        ref = layer_refs.ref_of(scope, layer_name)
        if ref.account != scope.account or ref.region != scope.region:
            return {"LayerVersions": []}
        before = paging.decode_marker(marker)
        docs = [
            d
            for d in self._versions(ref)
            if self._matches(d, runtime, architecture)
            and (before is None or int(d["Version"]) < int(before))
        ]
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        page = docs[:limit]
        result: dict[str, Any] = {"LayerVersions": [self._item(ref, d) for d in page]}
        if len(docs) > limit:
            result["NextMarker"] = paging.encode_marker(str(page[-1]["Version"]))
        return result

    def list_layers(
        self,
        scope: Scope,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> dict[str, Any]:
        after = paging.decode_marker(marker)
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        layers: list[dict[str, Any]] = []
        more = False
        for name, _ in self.store.list_children(
            INDEX_KIND, scope.account, scope.region, INDEX_NAME
        ):
            if after is not None and name <= after:
                continue
            ref = LayerRef(scope.account, scope.region, name)
            latest = next(
                (d for d in self._versions(ref) if self._matches(d, runtime, architecture)), None
            )
            if latest is None:
                continue
            if len(layers) == limit:
                more = True
                break
            layers.append(
                {
                    "LayerName": name,
                    "LayerArn": ref.arn(),
                    "LatestMatchingVersion": self._item(ref, latest),
                }
            )
        result: dict[str, Any] = {"Layers": layers}
        if more:
            result["NextMarker"] = paging.encode_marker(layers[-1]["LayerName"])
        return result

    # -- permissions (layer_permissions.py) and functions' layers (function_layers.py) ---

    def add_permission(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        return self.permissions.add_permission(scope, params)

    def get_policy(self, scope: Scope, layer_name: str, version: int) -> dict[str, Any]:
        return self.permissions.get_policy(scope, layer_name, version)

    def remove_permission(
        self, scope: Scope, layer_name: str, version: int, sid: str, revision: str | None
    ) -> None:
        self.permissions.remove_permission(scope, layer_name, version, sid, revision)

    def resolve(self, scope: Scope, arns: list[str]) -> list[dict[str, Any]]:
        """See ``function_layers.resolve``."""
        return function_layers.resolve(self.store, scope, arns)
