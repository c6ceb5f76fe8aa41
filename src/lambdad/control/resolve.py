"""Reading functions and versions: the public look-ups every control service shares,
the ``FunctionConfiguration`` rendering, and the resolve into a ``RunnableVersion``.

A function name (partial or full ARN) is parsed and scoped by ``function_ref``; a
qualifier ($LATEST, a number or an alias) names one stored version document
(``version_doc``). A stored version holds the configuration fields plus lambdad's own
(``CodeSha256Hex``, the sealed environment): ``render`` turns it into the AWS shape,
``resolve`` into the typed value the data plane runs (model/version.py). Nothing here
writes.
"""

from __future__ import annotations

from typing import Any

from lambdad.control import images
from lambdad.errors import ForeignFunctionDenied, ResourceNotFoundException
from lambdad.model import function as fmodel
from lambdad.model import snapstart
from lambdad.model.arn import (
    LATEST,
    MAX_NAME_LENGTH,
    FunctionRef,
    function_arn,
    merge_qualifier,
    parse_function_ref,
)
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion, from_configuration
from lambdad.secrets import Sealer
from lambdad.store.base import Doc, MetadataStore


class Resolver:
    def __init__(self, store: MetadataStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    # -- look-ups ----------------------------------------------------------------------

    def function_ref(
        self, scope: Scope, function_name: str, field: str = "functionName"
    ) -> FunctionRef:
        """A function name, partial or full ARN, parsed; refused if it names another
        region, or another account (without saying whether that function exists). A name
        too long to exist is not found, as on AWS."""
        ref = parse_function_ref(function_name, field=field, long_names=True)
        if ref.region is not None and ref.region != scope.region:
            # Each region is a separate world, even for a full ARN.
            raise ResourceNotFoundException(
                f"Functions from '{ref.region}' are not reachable in this region ('{scope.region}')"
            )
        if ref.account is not None and ref.account != scope.account:
            # Another account's function: as AWS, refused without saying whether it exists.
            resource = function_arn(scope.region, ref.account, ref.name, ref.qualifier)
            raise ForeignFunctionDenied(scope.account, resource)
        if len(ref.name) > MAX_NAME_LENGTH:
            raise self.not_found(scope, ref.name)
        return ref

    def not_found(
        self, scope: Scope, name: str, qualifier: str | None = None
    ) -> ResourceNotFoundException:
        """The error AWS answers for a function (or qualifier) that does not exist."""
        return ResourceNotFoundException(
            f"Function not found: {function_arn(scope.region, scope.account, name, qualifier)}"
        )

    def function_doc(self, scope: Scope, name: str, qualifier: str | None = None) -> Doc:
        """The function's stored document (tags, reserved concurrency), or not found
        (named with the ``qualifier`` the request carried, as AWS names it)."""
        doc = self.store.get_function(scope.account, scope.region, name)
        if doc is None:
            raise self.not_found(scope, name, qualifier)
        return doc

    def version_doc(self, scope: Scope, name: str, qualifier: str | None) -> tuple[str, Doc]:
        """(version, its stored document) that a qualifier names, or not found."""
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

    # -- rendering ---------------------------------------------------------------------

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
        images.render_image_config(out)
        if "Runtime" in out:
            out["RuntimeVersionConfig"] = {
                "RuntimeVersionArn": fmodel.runtime_version_arn(scope.region, out["Runtime"])
            }
        return out

    def unseal(self, scope: Scope, name: str, doc: Doc) -> dict[str, str]:
        """A stored version's environment variables, unsealed."""
        return self.sealer.unseal(doc["_env"], function_arn(scope.region, scope.account, name))

    # -- the runnable version ------------------------------------------------------------

    def resolve(self, scope: Scope, function_name: str, qualifier: str | None) -> RunnableVersion:
        """The version an invoke runs (aliases resolved by the caller's router)."""
        ref = self.function_ref(scope, function_name)
        qual = merge_qualifier(ref, qualifier)
        version, doc = self.version_doc(scope, ref.name, qual)
        env = self.unseal(scope, ref.name, doc) if "_env" in doc else {}
        # Tags choose how environments are built (lambdad:network); a tag change is a
        # change of the function, so a cached resolve never carries stale ones.
        fdoc = self.store.get_function(scope.account, scope.region, ref.name) or {}
        return from_configuration(
            scope,
            ref.name,
            version,
            self.render(scope, ref.name, version, doc),
            code_sha256_hex=doc.get("CodeSha256Hex", ""),
            image=images.image_run(doc),
            environment=env,
            layer_sha256_hex=tuple(doc.get("_layers", ())),
            tags=fdoc.get("Tags") or {},
            invoked_as=qual,
        )
