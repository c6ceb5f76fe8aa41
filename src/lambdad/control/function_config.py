"""Changing $LATEST: ``UpdateFunctionCode`` and ``UpdateFunctionConfiguration``, with
their ``RevisionId`` precondition, and the steps ``CreateFunction`` shares with them
(code taken in, the ``Layers`` parameter checked, the environment sealed, a new revision
stamped).

Only $LATEST changes; a published version is $LATEST frozen (``versions.py``). Each
change releases the archives the version no longer uses and is published on the
``ChangeHub``, so that warm environments of the old configuration are retired. Publishing
after an update (``Publish``) is left to ``FunctionService``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import images, uploads
from lambdad.control.resolve import Resolver
from lambdad.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
)
from lambdad.model import function as fmodel
from lambdad.model import snapstart, vpc
from lambdad.model.arn import LATEST, function_arn
from lambdad.model.changes import ChangeHub
from lambdad.model.role_trust import CANNOT_ASSUME
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store import archives
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.blobs import BlobStore, archives_of

PRECONDITION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)

# Resolves a function's Layers parameter (see control/function_layers.py).
LayerResolver = Callable[[Scope, list[str]], list[dict[str, Any]]]
# Checks a package against the function's code signing configuration (the one named,
# else the one it uses): (scope, function name, config ARN or None, archive) -> the
# signing members its version records (control/code_verify.py).
CodeCheck = Callable[[Scope, str, str | None, bytes], dict[str, str]]
# Whether Lambda may assume a role (the operator's declared roles: store/roles.py).
RoleCheck = Callable[[str], bool]
# Checks a CapacityProviderConfig names an existing provider (raises if not).
CapacityCheck = Callable[[Scope, "dict[str, Any] | None"], None]
# The members a version records of the package's signing.
SIGNING_MEMBERS = ("SigningProfileVersionArn", "SigningJobArn")


class FunctionConfig:
    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        blobs: BlobStore,
        sealer: Sealer,
        clock: Clock,
        resolver: Resolver,
        changes: ChangeHub,
        code_fetcher: uploads.CodeFetcher | None = None,
        layers: LayerResolver | None = None,
        code_check: CodeCheck | None = None,
        role_check: RoleCheck | None = None,
        capacity_check: CapacityCheck | None = None,
        function_images: images.FunctionImages | None = None,
    ) -> None:
        self.settings = settings
        self.images = function_images
        self.code_check = code_check
        self.role_check = role_check
        self.capacity_check = capacity_check
        # The operator's VPCs, read once (ValueError: malformed, refused at start-up).
        self.vpc_networks = vpc.parse_networks(settings.vpc_networks)
        self.store = store
        self.blobs = blobs
        self.sealer = sealer
        self.clock = clock
        self.resolver = resolver
        self.changes = changes
        self.code_fetcher = code_fetcher
        self.layers = layers

    # -- the steps CreateFunction shares ---------------------------------------------------

    def ingest(
        self,
        scope: Scope,
        code: dict[str, Any],
        function: tuple[str, str | None] | None = None,
        signing: dict[str, str] | None = None,
    ) -> archives.ArchiveSummary:
        """A ``Code`` parameter's archive, checked and stored (see ``uploads.ingest``).

        ``function``: (name, code signing config ARN named in the request) of the function
        the code is for, to check against its code signing configuration; the members to
        record of its signing are put in ``signing``."""
        check = None
        if function is not None and self.code_check is not None:
            code_check, (name, config_arn) = self.code_check, function

            def check(data: bytes) -> None:
                found = code_check(scope, name, config_arn, data)
                if signing is not None:
                    signing.update(found)

        return uploads.ingest(
            self.settings, self.store, self.blobs, scope, code, self.code_fetcher, check
        )

    def take_image(self, scope: Scope, uri: str) -> images.ImageCode:
        """An ImageUri mapped, resolved and pulled (``control/images.py``)."""
        if self.images is None:
            raise InvalidParameterValueException(
                "This server takes no container images: its operator names no image registry "
                "(LAMBDAD_IMAGE_REGISTRY)."
            )
        return self.images.take(scope, uri)

    def release_images(self, digests: set[str]) -> None:
        """Images versions stopped running: removed later if none runs them."""
        if digests and self.images is not None:
            self.images.release(self.store, digests)

    def check_references(self, scope: Scope, params: dict[str, Any]) -> None:
        """A Role parameter: in the caller's account, and one Lambda may assume; and a
        CapacityProviderConfig: it names an existing capacity provider."""
        role = params.get("Role")
        fmodel.check_role(role, scope.account)
        if role is not None and self.role_check is not None and not self.role_check(role):
            raise InvalidParameterValueException(CANNOT_ASSUME)
        if self.capacity_check is not None:
            self.capacity_check(scope, params.get("CapacityProviderConfig"))

    def resolve_layers(self, scope: Scope, arns: list[str] | None) -> list[dict[str, Any]] | None:
        """The layers a Layers parameter names, checked (None: the parameter is absent)."""
        if arns is None:
            return None
        if self.layers is None:
            for arn in arns:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            return []
        return self.layers(scope, arns)

    def seal_environment(
        self, scope: Scope, name: str, doc: Doc, variables: dict[str, str] | None
    ) -> None:
        """Store ``variables`` sealed in ``doc`` (None: leave its environment as it is)."""
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

    # -- updates ---------------------------------------------------------------------------

    def latest_for_update(
        self, scope: Scope, function_name: str, revision_id: str | None
    ) -> tuple[str, Doc]:
        """(name, $LATEST's document) of an unqualified function, if ``revision_id``
        (when given) is still its revision."""
        ref = self.resolver.function_ref(scope, function_name)
        if ref.qualifier is not None and ref.qualifier != LATEST:
            raise InvalidParameterValueException(
                "Unsupported value for qualifier, function name or ARN must not contain a "
                "qualifier."
            )
        doc = self.store.get_version(scope.account, scope.region, ref.name, LATEST)
        if doc is None:
            raise self.resolver.not_found(scope, ref.name)
        if revision_id is not None and revision_id != doc["RevisionId"]:
            raise PreconditionFailedException(PRECONDITION_MESSAGE)
        return ref.name, doc

    def update_code(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, doc = self.latest_for_update(scope, params["FunctionName"], params.get("RevisionId"))
        if params.get("DryRun"):
            return self.resolver.render(scope, name, LATEST, doc)
        uri = images.update_uri(doc, params)
        if uri is not None:
            if "Architectures" in params:
                fmodel.check_limits({"Architectures": params["Architectures"]})
                doc["Architectures"] = params["Architectures"]
            return self.update_image(scope, name, doc, uri)
        sources = ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion")
        code: dict[str, Any] = {k: params[k] for k in sources if k in params}
        if "Architectures" in params:
            fmodel.check_limits({"Architectures": params["Architectures"]})
        signing: dict[str, str] = {}
        summary = self.ingest(scope, code, (name, None), signing)
        replaced = archives_of(doc)
        try:
            if "Architectures" in params:
                doc["Architectures"] = params["Architectures"]
            uploads.set_code(doc, summary)
            for member in SIGNING_MEMBERS:
                doc.pop(member, None)
            doc.update(signing)
            uploads.set_layers(doc, None, self.settings.max_unzipped_bytes)
            # Any code update is a change PublishVersion publishes, as on AWS, even of
            # byte-identical code.
            doc["_code_update"] = str(uuid.uuid4())
            self.stamp(doc)
            self.store.put_version(scope.account, scope.region, name, LATEST, doc)
        except BaseException:
            # Refused after its upload: the archive goes unless something else uses it.
            self.blobs.release(self.store, [summary.sha256_hex])
            raise
        self.blobs.release(self.store, replaced - archives_of(doc))
        self.changes.function_changed(scope, name, LATEST)
        return fmodel.as_updating(self.resolver.render(scope, name, LATEST, doc))

    def update_image(self, scope: Scope, name: str, doc: Doc, uri: str) -> dict[str, Any]:
        """UpdateFunctionCode of an image function: the new image taken in. The pull may
        take minutes: the function must still be the one read before it (a change
        meanwhile is a conflict, as AWS answers an update in progress; a function
        deleted meanwhile stays deleted)."""
        revision = doc["RevisionId"]
        before = images.version_digests(doc)
        code = self.take_image(scope, uri)
        images.set_image_code(doc, code)
        doc["_code_update"] = str(uuid.uuid4())
        self.stamp(doc)
        with self.store.transaction():
            now = self.store.get_version(scope.account, scope.region, name, LATEST)
            if now is None:
                raise self.resolver.not_found(scope, name)
            if now["RevisionId"] != revision:
                self.release_images({code.digest})
                raise ResourceConflictException(
                    "The operation cannot be performed at this time. An update is in "
                    f"progress for resource: {function_arn(scope.region, scope.account, name)}"
                )
            self.store.put_version(scope.account, scope.region, name, LATEST, doc)
        self.release_images(before - {code.digest})
        self.changes.function_changed(scope, name, LATEST)
        return fmodel.as_updating(self.resolver.render(scope, name, LATEST, doc))

    def update_configuration(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, doc = self.latest_for_update(scope, params["FunctionName"], params.get("RevisionId"))
        fmodel.check_limits(params)
        self.check_references(scope, params)
        if images.is_image(doc):
            images.check_image_params(params)
        runtime = params.get("Runtime", doc.get("Runtime"))
        handler = params.get("Handler", doc.get("Handler"))
        if "Runtime" in params or "Handler" in params:
            fmodel.check_runtime(runtime, handler, today=self.clock.today())
        layers = self.resolve_layers(scope, params.get("Layers"))
        variables = fmodel.check_environment(params.get("Environment"))
        if variables is None and "KMSKeyArn" in params and "_env" in doc:
            # A new key: the variables are sealed again with it.
            variables = self.resolver.unseal(scope, name, doc)
        for key in fmodel.PASSTHROUGH:
            if key in params:
                doc[key] = params[key]
        if "VpcConfig" in params:
            doc["VpcConfig"] = vpc.vpc_config(
                params["VpcConfig"] or {}, scope.account, self.vpc_networks
            )
        snapstart.configure(doc, params)
        if "LoggingConfig" in params:
            doc["LoggingConfig"] = fmodel.logging_config(
                name, doc.get("LoggingConfig"), params["LoggingConfig"]
            )
        replaced = archives_of(doc)
        uploads.set_layers(doc, layers, self.settings.max_unzipped_bytes)
        self.seal_environment(scope, name, doc, variables)
        self.stamp(doc)
        self.store.put_version(scope.account, scope.region, name, LATEST, doc)
        self.blobs.release(self.store, replaced - archives_of(doc))
        self.changes.function_changed(scope, name, LATEST)
        return fmodel.as_updating(self.resolver.render(scope, name, LATEST, doc))
