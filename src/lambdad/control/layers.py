"""Layers: versioned zip archives that functions extract, in order, into /opt.

A layer version is immutable: its archive lives in the content-addressed blob
store (the same one as function code) and its document in the store, as a child
of kind ``layer`` under the name ``layer:<LayerName>`` (a name no function can
have) keyed by its zero-padded version number. An index document per layer
(kind ``layer-index``) remembers the last version number ever published, so
numbers are never reused, even after every version was deleted. Deleting a
version deletes its archive only once no other layer version and no function
version uses it (``BlobStore.release``).

Each layer version has its own resource policy (``AddLayerVersionPermission``),
which decides whether another account may use it. ``resolve`` checks a
function's ``Layers`` parameter and answers what the function needs to run them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import paging
from lambdad.control.paging import LIST_PAGE_MAX
from lambdad.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model import function as fmodel
from lambdad.model import policy
from lambdad.model.arn import layer_arn
from lambdad.model.scope import Scope
from lambdad.store import archives
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.blobs import BlobStore

log = logging.getLogger(__name__)

KIND = "layer"
INDEX_KIND = "layer-index"
INDEX_NAME = "layer:"
MAX_LAYERS = 5
NOT_FOUND = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
POLICY_PRECONDITION = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy "
    "API to retrieve the latest Revision Id"
)
GET_LAYER_VERSION = "lambda:GetLayerVersion"

_LAYER_ARN = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<name>[a-zA-Z0-9_-]+)(?::(?P<version>\d+))?"
)


@dataclass(frozen=True, slots=True)
class LayerRef:
    account: str
    region: str
    name: str

    def arn(self, version: int | None = None) -> str:
        return layer_arn(self.region, self.account, self.name, version)


def _store_name(name: str) -> str:
    return f"layer:{name}"


def _key(version: int) -> str:
    return f"{version:09d}"


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

    # -- names and look-ups ------------------------------------------------------------

    def _ref(self, scope: Scope, layer_name: str) -> LayerRef:
        m = _LAYER_ARN.fullmatch(layer_name)
        if m is not None:
            return LayerRef(m["account"], m["region"], m["name"])
        return LayerRef(scope.account, scope.region, layer_name)

    def _version_doc(self, ref: LayerRef, version: int) -> Doc | None:
        return self.store.get_child(
            KIND, ref.account, ref.region, _store_name(ref.name), _key(version)
        )

    def _readable(self, scope: Scope, ref: LayerRef, version: int) -> Doc:
        """A layer version the caller may read, or the error AWS answers."""
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        doc = self._version_doc(ref, version)
        if ref.region != scope.region:
            raise ResourceNotFoundException(NOT_FOUND)
        if ref.account != scope.account:
            self._check_shared(scope, ref, version, doc)
        if doc is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return doc

    def _check_shared(self, scope: Scope, ref: LayerRef, version: int, doc: Doc | None) -> None:
        """Another account's layer version only with its permission; one that does not
        exist is refused the same way (whether it exists is its owner's to tell)."""
        request = policy.AccessRequest(
            action=GET_LAYER_VERSION, resource=ref.arn(version), account=scope.account
        )
        if doc is None or not policy.allows(doc.get("Policy", []), request):
            raise policy.access_denied(request)

    def _own(self, scope: Scope, layer_name: str, action: str) -> LayerRef:
        """A layer of the caller's own; another account's may only be read (GetLayerVersion)."""
        ref = self._ref(scope, layer_name)
        if ref.account != scope.account or ref.region != scope.region:
            request = policy.AccessRequest(
                action=f"lambda:{action}", resource=ref.arn(), account=scope.account
            )
            raise policy.access_denied(request)
        return ref

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
        ref = self._own(scope, params["LayerName"], "PublishLayerVersion")
        data = self._content(scope, params["Content"] or {})
        if len(data) > self.settings.max_zipped_bytes:
            raise RequestTooLargeException(
                "Request must be smaller than 69905067 bytes for the PublishLayerVersion operation"
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
            self.store.put_child(
                KIND, ref.account, ref.region, _store_name(ref.name), _key(version), doc
            )
        log.info("published layer %s version %d", ref.name, version)
        return self._full(ref, doc, url)

    def get(
        self, scope: Scope, layer_name: str, version: int, url: Callable[[str], str]
    ) -> dict[str, Any]:
        ref = self._ref(scope, layer_name)
        return self._full(ref, self._readable(scope, ref, version), url)

    def get_by_arn(self, scope: Scope, arn: str, url: Callable[[str], str]) -> dict[str, Any]:
        m = _LAYER_ARN.fullmatch(arn)
        if m is None or m["version"] is None:
            raise ResourceNotFoundException(NOT_FOUND)
        ref = LayerRef(m["account"], m["region"], m["name"])
        return self._full(ref, self._readable(scope, ref, int(m["version"])), url)

    def delete(self, scope: Scope, layer_name: str, version: int) -> None:
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        ref = self._own(scope, layer_name, "DeleteLayerVersion")
        with self.store.transaction():
            doc = self._version_doc(ref, version)
            if doc is None:
                return  # AWS answers success for a version that does not exist
            self.store.delete_child(
                KIND, ref.account, ref.region, _store_name(ref.name), _key(version)
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
        rows = self.store.list_children(KIND, ref.account, ref.region, _store_name(ref.name))
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
        ref = self._ref(scope, layer_name)
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

    # -- permissions ----------------------------------------------------------------------

    def _own_version(
        self, scope: Scope, layer_name: str, version: int, action: str
    ) -> tuple[LayerRef, Doc]:
        ref = self._own(scope, layer_name, action)
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        doc = self._version_doc(ref, version)
        if doc is None:
            raise ResourceNotFoundException(f"Layer version {ref.arn(version)} does not exist.")
        return ref, doc

    def add_permission(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        version = int(params["VersionNumber"])
        with self.store.transaction():
            ref, doc = self._own_version(
                scope, params["LayerName"], version, "AddLayerVersionPermission"
            )
            revision = params.get("RevisionId")
            if revision is not None and revision != doc.get("PolicyRevisionId"):
                raise PreconditionFailedException(POLICY_PRECONDITION)
            statements: list[dict[str, Any]] = list(doc.get("Policy", []))
            if any(s["Sid"] == params["StatementId"] for s in statements):
                raise ResourceConflictException(
                    f"The statement id ({params['StatementId']}) provided already exists. Please "
                    "provide a new statement id, or remove the existing statement."
                )
            statement = policy.layer_statement(params, ref.arn(version))
            statements.append(statement)
            policy.check_size(statements)
            doc["Policy"] = statements
            doc["PolicyRevisionId"] = str(uuid.uuid4())
            self._save(ref, version, doc)
        return {"Statement": policy.to_json(statement), "RevisionId": doc["PolicyRevisionId"]}

    def get_policy(self, scope: Scope, layer_name: str, version: int) -> dict[str, Any]:
        _, doc = self._own_version(scope, layer_name, version, "GetLayerVersionPolicy")
        if not doc.get("Policy"):
            raise ResourceNotFoundException(NO_POLICY)
        return {
            "Policy": policy.to_json(policy.document(doc["Policy"])),
            "RevisionId": doc["PolicyRevisionId"],
        }

    def remove_permission(
        self, scope: Scope, layer_name: str, version: int, sid: str, revision: str | None
    ) -> None:
        with self.store.transaction():
            ref, doc = self._own_version(scope, layer_name, version, "RemoveLayerVersionPermission")
            statements = list(doc.get("Policy", []))
            if not any(s["Sid"] == sid for s in statements):
                raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
            if revision is not None and revision != doc.get("PolicyRevisionId"):
                raise PreconditionFailedException(POLICY_PRECONDITION)
            doc["Policy"] = [s for s in statements if s["Sid"] != sid]
            doc["PolicyRevisionId"] = str(uuid.uuid4())
            self._save(ref, version, doc)

    def _save(self, ref: LayerRef, version: int, doc: Doc) -> None:
        self.store.put_child(
            KIND, ref.account, ref.region, _store_name(ref.name), _key(version), doc
        )

    # -- functions' layers ----------------------------------------------------------------

    def resolve(self, scope: Scope, arns: list[str]) -> list[dict[str, Any]]:
        """Check a function's ``Layers`` and describe each: Arn, CodeSize, Sha256Hex,
        UnzippedSize, in the given order."""
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValueException(f"Cannot reference more than {MAX_LAYERS} layers.")
        parsed: list[tuple[str, re.Match[str] | None]] = [
            (arn, _LAYER_ARN.fullmatch(arn)) for arn in arns
        ]
        for _, m in parsed:
            if m is not None and m["region"] != scope.region:
                raise InvalidParameterValueException(
                    "Layers are not in the same region as the function. Layers are expected to "
                    f"be in region {scope.region}."
                )
        seen: dict[tuple[str, str], str] = {}
        for arn, m in parsed:
            if m is None:
                continue
            key = (m["account"], m["name"])
            if key in seen:
                raise InvalidParameterValueException(
                    "Two different versions of the same layer are not allowed to be referenced "
                    f"in the same function. {seen[key]} and {arn} are versions of the same layer."
                )
            seen[key] = arn
        out: list[dict[str, Any]] = []
        for arn, m in parsed:
            doc = None
            if m is not None and m["version"] is not None:
                ref = LayerRef(m["account"], m["region"], m["name"])
                version = int(m["version"])
                doc = self._version_doc(ref, version)
                if ref.account != scope.account:
                    self._check_shared(scope, ref, version, doc)
            if doc is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            out.append(
                {
                    "Arn": arn,
                    "CodeSize": doc["CodeSize"],
                    "Sha256Hex": doc["Sha256Hex"],
                    "UnzippedSize": doc["UnzippedSize"],
                }
            )
        return out
