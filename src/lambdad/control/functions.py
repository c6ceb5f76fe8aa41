"""The function-management half of the Lambda API, over the store.

Owns functions and their versions: create, read, list, update code and
configuration, publish, delete, tags and account settings (publishing and listing
versions in ``versions.py``, uploaded code in ``uploads.py``, SnapStart's rules in
``model/snapstart.py``). Rendering follows AWS:
a stored version document holds the configuration fields plus lambdad's own
(``CodeSha256Hex``, the sealed environment), and ``render`` turns it into the
``FunctionConfiguration`` shape, and ``resolve`` into the typed ``RunnableVersion``
the data plane runs (model/version.py). Changes are published on the ``ChangeHub``
(model/changes.py) so that warm environments of the old code are retired. The public
look-ups (``function_ref``, ``function_doc``, ``not_found``) serve the other control
services.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import paging, uploads
from lambdad.control.tags import MAX_TAGS, FunctionTags
from lambdad.control.versions import Versions
from lambdad.errors import (
    ForeignFunctionDenied,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model import function as fmodel
from lambdad.model import snapstart
from lambdad.model.arn import LATEST, FunctionRef, function_arn, merge_qualifier, parse_function_ref
from lambdad.model.changes import ChangeHub, FunctionListener
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion, from_configuration
from lambdad.secrets import Sealer
from lambdad.store import archives
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.blobs import BlobStore, archives_of

log = logging.getLogger(__name__)

# Also used by the other control modules, which page the same way.
LIST_PAGE_MAX = paging.LIST_PAGE_MAX

PRECONDITION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)

ChangeListener = FunctionListener
# Resolves a function's Layers parameter (see control/layers.py).
LayerResolver = Callable[[Scope, list[str]], list[dict[str, Any]]]


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
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.sealer = sealer
        self.clock = clock
        self.code_fetcher = code_fetcher
        self.layers = layers
        # Also where SnapStart versions published or deleted are told (snapshots taken
        # and dropped by environments/snapstart_jobs.py).
        self.changes = changes if changes is not None else ChangeHub()
        self.versions = Versions(self, self.changes)
        self.tags = FunctionTags(self)

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(scope, name, version)`` after a version changes or is deleted
        (version None: the whole function)."""
        self.changes.on_function_change(listener)

    def changed(self, scope: Scope, name: str, version: str | None) -> None:
        """Tell the listeners a version changed (None: the whole function)."""
        self.changes.function_changed(scope, name, version)

    def _ingest(self, scope: Scope, code: dict[str, Any]) -> archives.ArchiveSummary:
        return uploads.ingest(self.settings, self.store, self.blobs, scope, code, self.code_fetcher)

    # -- look-ups ----------------------------------------------------------------------

    def function_ref(
        self, scope: Scope, function_name: str, field: str = "functionName"
    ) -> FunctionRef:
        """A function name, partial or full ARN, parsed; refused if it names another
        region, or another account (without saying whether that function exists)."""
        ref = parse_function_ref(function_name, field=field)
        if ref.region is not None and ref.region != scope.region:
            # Each region is a separate world, even for a full ARN.
            raise ResourceNotFoundException(
                f"Functions from '{ref.region}' are not reachable in this region ('{scope.region}')"
            )
        if ref.account is not None and ref.account != scope.account:
            # Another account's function: as AWS, refused without saying whether it exists.
            resource = function_arn(scope.region, ref.account, ref.name, ref.qualifier)
            raise ForeignFunctionDenied(scope.account, resource)
        return ref

    def not_found(
        self, scope: Scope, name: str, qualifier: str | None = None
    ) -> ResourceNotFoundException:
        """The error AWS answers for a function (or qualifier) that does not exist."""
        return ResourceNotFoundException(
            f"Function not found: {function_arn(scope.region, scope.account, name, qualifier)}"
        )

    def function_doc(self, scope: Scope, name: str) -> Doc:
        """The function's stored document (tags, reserved concurrency), or not found."""
        doc = self.store.get_function(scope.account, scope.region, name)
        if doc is None:
            raise self.not_found(scope, name)
        return doc

    def _version_doc(self, scope: Scope, name: str, qualifier: str | None) -> tuple[str, Doc]:
        version = self.resolve_qualifier(scope, name, qualifier)
        doc = self.store.get_version(scope.account, scope.region, name, version)
        if doc is None:
            raise self.not_found(scope, name, qualifier)
        return version, doc

    def resolve_qualifier(self, scope: Scope, name: str, qualifier: str | None) -> str:
        """The version a qualifier names: $LATEST, a number, or an alias's target."""
        if qualifier is None or qualifier == LATEST or qualifier.isdigit():
            return qualifier or LATEST
        alias = self.store.get_child("alias", scope.account, scope.region, name, qualifier)
        if alias is None:
            raise self.not_found(scope, name, qualifier)
        return str(alias["FunctionVersion"])

    def render(
        self, scope: Scope, name: str, version: str, doc: Doc, as_qualifier: str | None = None
    ) -> dict[str, Any]:
        """A stored version in the FunctionConfiguration shape.

        ``as_qualifier``: the qualifier the caller named (an alias, or an explicit
        $LATEST), which AWS puts in FunctionArn instead of the version's own.
        """
        out = {k: v for k, v in doc.items() if not k.startswith("_") and k != "CodeSha256Hex"}
        out["FunctionName"] = name
        own = None if version == LATEST else version
        out["FunctionArn"] = function_arn(scope.region, scope.account, name, as_qualifier or own)
        out["Version"] = version
        if not out.get("KMSKeyArn"):
            out.pop("KMSKeyArn", None)
        if "_env" in doc:
            env: dict[str, Any] = {"Variables": self.unseal(scope, name, doc)}
            out["Environment"] = env
        snapstart.render(out, version)
        if "Runtime" in out:
            out["RuntimeVersionConfig"] = {
                "RuntimeVersionArn": fmodel.runtime_version_arn(scope.region, out["Runtime"])
            }
        return out

    def unseal(self, scope: Scope, name: str, doc: Doc) -> dict[str, str]:
        """A stored version's environment variables, unsealed."""
        return self.sealer.unseal(doc["_env"], function_arn(scope.region, scope.account, name))

    def resolve(self, scope: Scope, function_name: str, qualifier: str | None) -> RunnableVersion:
        """The version an invoke runs (aliases resolved by the caller's router)."""
        ref = self.function_ref(scope, function_name)
        qual = merge_qualifier(ref, qualifier)
        version, doc = self._version_doc(scope, ref.name, qual)
        env = self.unseal(scope, ref.name, doc) if "_env" in doc else {}
        # Tags choose how environments are built (lambdad:network); a tag change is a
        # change of the function, so a cached resolve never carries stale ones.
        fdoc = self.store.get_function(scope.account, scope.region, ref.name) or {}
        return from_configuration(
            scope,
            ref.name,
            version,
            self.render(scope, ref.name, version, doc),
            code_sha256_hex=doc["CodeSha256Hex"],
            environment=env,
            layer_sha256_hex=tuple(doc.get("_layers", ())),
            tags=fdoc.get("Tags") or {},
            invoked_as=qual,
        )

    # -- create --------------------------------------------------------------------------

    def create_function(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        ref = self.function_ref(scope, params["FunctionName"])
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                "Unsupported value for qualifier, function name or ARN must not contain a "
                "qualifier."
            )
        name = ref.name
        package_type = params.get("PackageType", "Zip")
        if package_type != "Zip":
            raise InvalidParameterValueException(
                "lambdad runs .zip file archives only; PackageType must be Zip."
            )
        fmodel.check_limits(params)
        fmodel.check_role(params.get("Role"), scope.account)
        fmodel.check_runtime(params.get("Runtime"), params.get("Handler"), today=self.clock.today())
        snapstart.check_runtime(params.get("SnapStart"), params.get("Runtime"))
        snapstart.check_storage(params.get("SnapStart"), params.get("EphemeralStorage"))
        variables = fmodel.check_environment(params.get("Environment"))
        if len(params.get("Tags") or {}) > MAX_TAGS:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        layers = self._resolve_layers(scope, params.get("Layers"))
        if self.store.get_function(scope.account, scope.region, name) is not None:
            raise ResourceConflictException(f"Function already exist: {name}")
        summary = self._ingest(scope, params["Code"])
        try:
            doc: Doc = fmodel.default_config(name, scope.region)
            for key in fmodel.PASSTHROUGH:
                if key in params:
                    doc[key] = params[key]
            if "Architectures" in params:
                doc["Architectures"] = params["Architectures"]
            snapstart.configure(doc, params)
            if "LoggingConfig" in params:
                doc["LoggingConfig"] = {
                    "LogFormat": "Text",
                    "LogGroup": f"/aws/lambda/{name}",
                    **params["LoggingConfig"],
                }
            uploads.set_code(doc, summary)
            uploads.set_layers(doc, layers, self.settings.max_unzipped_bytes)
            self._set_env(scope, name, doc, variables)
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
        except BaseException:
            # Refused after its upload: the archive goes unless something else uses it.
            self.blobs.release(self.store, [summary.sha256_hex])
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
        out.update(
            State="Pending",
            StateReason="The function is being created.",
            StateReasonCode="Creating",
        )
        out.pop("LastUpdateStatus", None)
        return out

    def _resolve_layers(self, scope: Scope, arns: list[str] | None) -> list[dict[str, Any]] | None:
        """The layers a Layers parameter names, checked (None: the parameter is absent)."""
        if arns is None:
            return None
        if self.layers is None:
            for arn in arns:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            return []
        return self.layers(scope, arns)

    def _set_env(self, scope: Scope, name: str, doc: Doc, variables: dict[str, str] | None) -> None:
        if variables is None:
            return
        doc.pop("Environment", None)
        doc["_env"] = self.sealer.seal(
            variables,
            function_arn(scope.region, scope.account, name),
            doc.get("KMSKeyArn") or None,
        )

    def stamp(self, doc: Doc) -> None:
        """A new LastModified and RevisionId for a changed version document."""
        doc["LastModified"] = fmodel.now_iso(self.clock.now())
        doc["RevisionId"] = str(uuid.uuid4())

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
        fdoc = self.function_doc(scope, ref.name)
        version, doc = self._version_doc(scope, ref.name, qual)
        result: dict[str, Any] = {
            "Configuration": self.render(scope, ref.name, version, doc, qual),
            "Code": {"RepositoryType": "S3", "Location": code_url(doc["CodeSha256Hex"])},
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
        self.function_doc(scope, ref.name)
        version, doc = self._version_doc(scope, ref.name, qual)
        return self.render(scope, ref.name, version, doc, qual)

    def list_functions(
        self, scope: Scope, marker: str | None, max_items: int | None, all_versions: bool
    ) -> dict[str, Any]:
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
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
                    functions.append(self.render(scope, name, LATEST, latest))
        result: dict[str, Any] = {"Functions": functions}
        if more:
            result["NextMarker"] = paging.encode_marker(page[-1][0])
        return result

    # -- update -------------------------------------------------------------------------

    def latest_for_update(
        self, scope: Scope, function_name: str, revision_id: str | None
    ) -> tuple[str, Doc]:
        ref = self.function_ref(scope, function_name)
        if ref.qualifier is not None and ref.qualifier != LATEST:
            raise InvalidParameterValueException(
                "Unsupported value for qualifier, function name or ARN must not contain a "
                "qualifier."
            )
        doc = self.store.get_version(scope.account, scope.region, ref.name, LATEST)
        if doc is None:
            raise self.not_found(scope, ref.name)
        if revision_id is not None and revision_id != doc["RevisionId"]:
            raise PreconditionFailedException(PRECONDITION_MESSAGE)
        return ref.name, doc

    def update_code(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, doc = self.latest_for_update(scope, params["FunctionName"], params.get("RevisionId"))
        if params.get("DryRun"):
            return self.render(scope, name, LATEST, doc)
        sources = ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri")
        code: dict[str, Any] = {k: params[k] for k in sources if k in params}
        if "Architectures" in params:
            fmodel.check_limits({"Architectures": params["Architectures"]})
        summary = self._ingest(scope, code)
        replaced = archives_of(doc)
        try:
            if "Architectures" in params:
                doc["Architectures"] = params["Architectures"]
            uploads.set_code(doc, summary)
            uploads.set_layers(doc, None, self.settings.max_unzipped_bytes)
            self.stamp(doc)
            self.store.put_version(scope.account, scope.region, name, LATEST, doc)
        except BaseException:
            # Refused after its upload: the archive goes unless something else uses it.
            self.blobs.release(self.store, [summary.sha256_hex])
            raise
        self.blobs.release(self.store, replaced - archives_of(doc))
        self.changed(scope, name, LATEST)
        if params.get("Publish"):
            return self.publish_version(scope, {"FunctionName": name})
        return self._in_progress(self.render(scope, name, LATEST, doc))

    def update_configuration(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, doc = self.latest_for_update(scope, params["FunctionName"], params.get("RevisionId"))
        fmodel.check_limits(params)
        fmodel.check_role(params.get("Role"), scope.account)
        runtime = params.get("Runtime", doc.get("Runtime"))
        handler = params.get("Handler", doc.get("Handler"))
        if "Runtime" in params or "Handler" in params:
            fmodel.check_runtime(runtime, handler, today=self.clock.today())
        layers = self._resolve_layers(scope, params.get("Layers"))
        variables = fmodel.check_environment(params.get("Environment"))
        if variables is None and "KMSKeyArn" in params and "_env" in doc:
            # A new key: the variables are sealed again with it.
            variables = self.unseal(scope, name, doc)
        for key in fmodel.PASSTHROUGH:
            if key in params:
                doc[key] = params[key]
        snapstart.configure(doc, params)
        if "LoggingConfig" in params:
            doc["LoggingConfig"] = {**doc.get("LoggingConfig", {}), **params["LoggingConfig"]}
        replaced = archives_of(doc)
        uploads.set_layers(doc, layers, self.settings.max_unzipped_bytes)
        self._set_env(scope, name, doc, variables)
        self.stamp(doc)
        self.store.put_version(scope.account, scope.region, name, LATEST, doc)
        self.blobs.release(self.store, replaced - archives_of(doc))
        self.changed(scope, name, LATEST)
        return self._in_progress(self.render(scope, name, LATEST, doc))

    @staticmethod
    def _in_progress(config: dict[str, Any]) -> dict[str, Any]:
        config.update(
            LastUpdateStatus="InProgress",
            LastUpdateStatusReason="The function is being created.",
            LastUpdateStatusReasonCode="Creating",
        )
        return config

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
        self.function_doc(scope, ref.name)
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
            self.changed(scope, ref.name, None)
            self.changes.snapshots_deleted(scope, ref.name, snapshotted)
            log.info("deleted function %s in %s/%s", ref.name, scope.account, scope.region)
            return
        if not qual.isdigit():
            raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
        doc = self.store.get_version(scope.account, scope.region, ref.name, qual)
        if doc is None:
            raise self.not_found(scope, ref.name, qual)
        for alias, adoc in self.store.list_children("alias", scope.account, scope.region, ref.name):
            weights = adoc.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
            if adoc.get("FunctionVersion") == qual or qual in weights:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: "
                    f"[{alias}]"
                )
        self.store.delete_version(scope.account, scope.region, ref.name, qual)
        self.blobs.release(self.store, archives_of(doc))
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

    # -- account --------------------------------------------------------------------------

    def account_settings(self, scope: Scope) -> dict[str, Any]:
        count = 0
        total = 0
        reserved = 0
        for account, region, name, fdoc in self.store.iter_all_functions():
            if account != scope.account or region != scope.region:
                continue
            count += 1
            reserved += int(fdoc.get("ReservedConcurrency") or 0)
            for _, doc in self.store.list_versions(account, region, name):
                total += int(doc.get("CodeSize", 0))
        limit = self.settings.account_concurrency
        return {
            "AccountLimit": {
                "TotalCodeSize": self.settings.code_storage_limit,
                "CodeSizeUnzipped": self.settings.max_unzipped_bytes,
                "CodeSizeZipped": self.settings.max_zipped_bytes,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - reserved,
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": count},
        }
