"""The function-management half of the Lambda API: ``FunctionService``.

Owns a function's life: CreateFunction, GetFunction, GetFunctionConfiguration,
ListFunctions and DeleteFunction (of the function or of one version). The rest it
hands on, and is the one facade the API handlers and the other services call:
reading, rendering and resolving into the runnable version in ``resolve.py``, changes
of $LATEST in ``function_config.py``, publishing and listing versions in
``versions.py``, tags in ``tags.py``, uploaded code in ``uploads.py``, SnapStart's
rules in ``model/snapstart.py``. Changes are published on the ``ChangeHub``
(model/changes.py) so that warm environments of the old code are retired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import images, paging, uploads
from lambdad.control.code_verify import BINDING_KIND as CODE_SIGNING_BINDING
from lambdad.control.function_config import (
    CapacityCheck,
    CodeCheck,
    FunctionConfig,
    LayerResolver,
    RoleCheck,
)
from lambdad.control.resolve import Resolver
from lambdad.control.tags import MAX_TAGS, FunctionTags
from lambdad.control.versions import Versions
from lambdad.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model import function as fmodel
from lambdad.model import snapstart, vpc
from lambdad.model.arn import (
    LATEST,
    MAX_NAME_LENGTH,
    FunctionRef,
    merge_qualifier,
    parse_function_ref,
)
from lambdad.model.changes import ChangeHub, FunctionListener
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.secrets import Sealer
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.blobs import BlobStore, archives_of

log = logging.getLogger(__name__)


class FunctionService:
    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        blobs: BlobStore,
        sealer: Sealer,
        clock: Clock,
        code_fetcher: uploads.CodeFetcher | None = None,
        layers: LayerResolver | None = None,
        changes: ChangeHub | None = None,
        code_check: CodeCheck | None = None,
        role_check: RoleCheck | None = None,
        capacity_check: CapacityCheck | None = None,
        function_images: images.FunctionImages | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.clock = clock
        # Also where SnapStart versions published or deleted are told (snapshots taken
        # and dropped by environments/snapstart_jobs.py).
        self.changes = changes if changes is not None else ChangeHub()
        self.resolver = Resolver(store, sealer)
        self.config = FunctionConfig(
            settings,
            store,
            blobs,
            sealer,
            clock,
            self.resolver,
            self.changes,
            code_fetcher=code_fetcher,
            layers=layers,
            code_check=code_check,
            role_check=role_check,
            capacity_check=capacity_check,
            function_images=function_images,
        )
        self.versions = Versions(self, self.changes)
        self.tags = FunctionTags(self)

    def on_change(self, listener: FunctionListener) -> None:
        """Call ``listener(scope, name, version)`` after a version changes or is deleted
        (version None: the whole function)."""
        self.changes.on_function_change(listener)

    def changed(self, scope: Scope, name: str, version: str | None) -> None:
        """Tell the listeners a version changed (None: the whole function)."""
        self.changes.function_changed(scope, name, version)

    # -- look-ups, rendering and resolve (resolve.py) -----------------------------------

    def function_ref(
        self, scope: Scope, function_name: str, field: str = "functionName"
    ) -> FunctionRef:
        return self.resolver.function_ref(scope, function_name, field)

    def not_found(
        self, scope: Scope, name: str, qualifier: str | None = None
    ) -> ResourceNotFoundException:
        return self.resolver.not_found(scope, name, qualifier)

    def function_doc(self, scope: Scope, name: str, qualifier: str | None = None) -> Doc:
        return self.resolver.function_doc(scope, name, qualifier)

    def resolve_qualifier(self, scope: Scope, name: str, qualifier: str | None) -> str:
        return self.resolver.resolve_qualifier(scope, name, qualifier)

    def render(
        self, scope: Scope, name: str, version: str, doc: Doc, as_qualifier: str | None = None
    ) -> dict[str, Any]:
        return self.resolver.render(scope, name, version, doc, as_qualifier)

    def unseal(self, scope: Scope, name: str, doc: Doc) -> dict[str, str]:
        return self.resolver.unseal(scope, name, doc)

    def resolve(self, scope: Scope, function_name: str, qualifier: str | None) -> RunnableVersion:
        return self.resolver.resolve(scope, function_name, qualifier)

    # -- changes of $LATEST (function_config.py) ----------------------------------------

    def latest_for_update(
        self, scope: Scope, function_name: str, revision_id: str | None
    ) -> tuple[str, Doc]:
        return self.config.latest_for_update(scope, function_name, revision_id)

    def stamp(self, doc: Doc) -> None:
        self.config.stamp(doc)

    def update_code(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        out = self.config.update_code(scope, params)
        if params.get("Publish") and not params.get("DryRun"):
            return self.publish_version(scope, {"FunctionName": out["FunctionName"]})
        return out

    def update_configuration(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        return self.config.update_configuration(scope, params)

    # -- create --------------------------------------------------------------------------

    def create_function(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        if len(parse_function_ref(params["FunctionName"], long_names=True).name) > MAX_NAME_LENGTH:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{params['FunctionName']}' at "
                "'functionName' failed to satisfy constraint: Member must have length less "
                f"than or equal to {MAX_NAME_LENGTH}"
            )
        ref = self.function_ref(scope, params["FunctionName"])
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                "Unsupported value for qualifier, function name or ARN must not contain a "
                "qualifier."
            )
        name = ref.name
        image = params.get("PackageType", "Zip") == images.IMAGE
        if image:
            images.check_image_params(params)
            image_uri = images.image_uri_of(params["Code"])
        fmodel.check_limits(params)
        self.config.check_references(scope, params)
        if not image:
            today = self.clock.today()
            fmodel.check_runtime(params.get("Runtime"), params.get("Handler"), today=today)
        snapstart.check_runtime(params.get("SnapStart"), params.get("Runtime"))
        snapstart.check_storage(params.get("SnapStart"), params.get("EphemeralStorage"))
        variables = fmodel.check_environment(params.get("Environment"))
        if len(params.get("Tags") or {}) > MAX_TAGS:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        layers = self.config.resolve_layers(scope, params.get("Layers"))
        if self.store.get_function(scope.account, scope.region, name) is not None:
            raise ResourceConflictException(f"Function already exist: {name}")
        config_arn = params.get("CodeSigningConfigArn")
        signing: dict[str, str] = {}
        if image:
            image_code = self.config.take_image(scope, image_uri)
            summary = None
        else:
            summary = self.config.ingest(scope, params["Code"], (name, config_arn), signing)
        try:
            doc: Doc = fmodel.default_config(name, scope.region)
            doc.update(signing)
            for key in fmodel.PASSTHROUGH:
                if key in params:
                    doc[key] = params[key]
            if "VpcConfig" in params:
                doc["VpcConfig"] = vpc.vpc_config(
                    params["VpcConfig"] or {}, scope.account, self.config.vpc_networks
                )
            if "Architectures" in params:
                doc["Architectures"] = params["Architectures"]
            snapstart.configure(doc, params)
            if "LoggingConfig" in params:
                doc["LoggingConfig"] = fmodel.logging_config(name, None, params["LoggingConfig"])
            if summary is not None:
                uploads.set_code(doc, summary)
            else:
                images.set_image_code(doc, image_code)
            uploads.set_layers(doc, layers, self.settings.max_unzipped_bytes)
            self.config.seal_environment(scope, name, doc, variables)
            self.stamp(doc)
            function_doc: Doc = {
                "Tags": dict(params.get("Tags") or {}),
                "LatestPublished": 0,
                "Created": doc["LastModified"],
            }
            with self.store.transaction():
                if self.store.get_function(scope.account, scope.region, name) is not None:
                    raise ResourceConflictException(f"Function already exist: {name}")
                self.store.put_function(scope.account, scope.region, name, function_doc)
                self.store.put_version(scope.account, scope.region, name, LATEST, doc)
                if config_arn:
                    binding = {"CodeSigningConfigArn": config_arn}
                    self.store.put_child(
                        CODE_SIGNING_BINDING, scope.account, scope.region, name, "", binding
                    )
        except BaseException:
            # Refused after its upload: the archive goes unless something else uses it.
            if summary is not None:
                self.blobs.release(self.store, [summary.sha256_hex])
            else:
                self.config.release_images({image_code.digest})
            raise
        log.info("created function %s in %s/%s", name, scope.account, scope.region)
        published = None
        if params.get("Publish"):
            published = self.publish_version(scope, {"FunctionName": name})["Version"]
        out = self.render(scope, name, LATEST, doc)
        if published is not None:
            # AWS answers with the function's own ARN and the version it published.
            out["Version"] = published
        # AWS answers CreateFunction while the function is still being set up.
        return fmodel.as_creating(out)

    # -- read ---------------------------------------------------------------------------

    def get_function(
        self,
        scope: Scope,
        function_name: str,
        qualifier: str | None,
        code_url: Callable[[str], str],
    ) -> dict[str, Any]:
        ref = self.function_ref(scope, function_name)
        qual = merge_qualifier(ref, qualifier)
        fdoc = self.function_doc(scope, ref.name, qual)
        version, doc = self.resolver.version_doc(scope, ref.name, qual)
        code = (
            images.code_location(doc)
            if images.is_image(doc)
            else {"RepositoryType": "S3", "Location": code_url(doc["CodeSha256Hex"])}
        )
        result: dict[str, Any] = {
            "Configuration": self.render(scope, ref.name, version, doc, qual),
            "Code": code,
        }
        if fdoc.get("Tags"):
            result["Tags"] = fdoc["Tags"]
        if fdoc.get("ReservedConcurrency") is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": fdoc["ReservedConcurrency"]}
        return result

    def get_configuration(
        self, scope: Scope, function_name: str, qualifier: str | None
    ) -> dict[str, Any]:
        ref = self.function_ref(scope, function_name)
        qual = merge_qualifier(ref, qualifier)
        self.function_doc(scope, ref.name, qual)
        version, doc = self.resolver.version_doc(scope, ref.name, qual)
        return self.render(scope, ref.name, version, doc, qual)

    def list_functions(
        self, scope: Scope, marker: str | None, max_items: int | None, all_versions: bool
    ) -> dict[str, Any]:
        limit = min(max_items or paging.LIST_PAGE_MAX, paging.LIST_PAGE_MAX)
        after = paging.decode_marker(marker)
        rows = self.store.list_functions(scope.account, scope.region, after, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        functions: list[dict[str, Any]] = []
        for name, _ in page:
            if all_versions:
                for version, doc in self.store.list_versions(scope.account, scope.region, name):
                    # Listing every version, AWS names $LATEST explicitly in its ARN.
                    qual = LATEST if version == LATEST else None
                    functions.append(self.render(scope, name, version, doc, as_qualifier=qual))
            else:
                latest = self.store.get_version(scope.account, scope.region, name, LATEST)
                if latest is not None:
                    item = self.render(scope, name, LATEST, latest)
                    # AWS's list leaves the states and the runtime version out.
                    for key in fmodel.NOT_LISTED:
                        item.pop(key, None)
                    functions.append(item)
        result: dict[str, Any] = {"Functions": functions}
        if more:
            result["NextMarker"] = paging.encode_marker(page[-1][0])
        return result

    # -- versions ------------------------------------------------------------------------

    def publish_version(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        return self.versions.publish(scope, params)

    def list_versions(
        self, scope: Scope, function_name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        return self.versions.list(scope, function_name, marker, max_items)

    def finish_snapshot(
        self,
        scope: Scope,
        name: str,
        version: str,
        error: str | None,
        reason_code: str = snapstart.FUNCTION_ERROR,
    ) -> None:
        """See ``Versions.finish_snapshot``."""
        self.versions.finish_snapshot(scope, name, version, error, reason_code)

    # -- delete --------------------------------------------------------------------------

    def delete_function(self, scope: Scope, function_name: str, qualifier: str | None) -> None:
        ref = self.function_ref(scope, function_name)
        qual = merge_qualifier(ref, qualifier)
        self.function_doc(scope, ref.name, qual)
        if qual is None or qual == LATEST:
            if qual == LATEST:
                raise InvalidParameterValueException(
                    "$LATEST version cannot be deleted without deleting the function."
                )
            snapshotted = [
                v
                for v, d in self.store.list_versions(scope.account, scope.region, ref.name)
                if v != LATEST and snapstart.applies(d)
            ]
            versions = self.store.list_versions(scope.account, scope.region, ref.name)
            used = archives_of(*(d for _, d in versions))
            self.store.delete_function(scope.account, scope.region, ref.name)
            self.blobs.release(self.store, used)
            self.config.release_images(images.version_digests(*(d for _, d in versions)))
            self.changed(scope, ref.name, None)
            self.changes.snapshots_deleted(scope, ref.name, snapshotted)
            log.info("deleted function %s in %s/%s", ref.name, scope.account, scope.region)
            return
        if not qual.isdigit():
            raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
        doc = self.store.get_version(scope.account, scope.region, ref.name, qual)
        if doc is None:
            # As on AWS: deleting a version the function does not have changes nothing.
            return
        for alias, adoc in self.store.list_children("alias", scope.account, scope.region, ref.name):
            weights = adoc.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
            if adoc.get("FunctionVersion") == qual or qual in weights:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: "
                    f"[{alias}]"
                )
        self.store.delete_version(scope.account, scope.region, ref.name, qual)
        self.blobs.release(self.store, archives_of(doc))
        self.config.release_images(images.version_digests(doc))
        self.changed(scope, ref.name, qual)
        if snapstart.applies(doc):
            self.changes.snapshots_deleted(scope, ref.name, [qual])

    # -- tags (control/tags.py) ----------------------------------------------------------

    def tag_resource(self, scope: Scope, resource: str, tags: dict[str, str]) -> None:
        self.tags.tag(scope, resource, tags)

    def untag_resource(self, scope: Scope, resource: str, keys: list[str]) -> None:
        self.tags.untag(scope, resource, keys)

    def list_tags(self, scope: Scope, resource: str) -> dict[str, Any]:
        return self.tags.list(scope, resource)
