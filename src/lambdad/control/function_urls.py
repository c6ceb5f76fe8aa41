"""Function URL configs: Create/Get/Update/Delete/ListFunctionUrlConfigs, and finding
the config a request to a URL is for.

One URL per function for ``$LATEST`` (no qualifier) and one per alias, kept as
children of the function in the store (kind ``function-url``, keyed by the alias or
``$LATEST``), so that deleting the function takes them along; an alias's URL goes
when the alias does. Constraint violations (``AuthType``, ``InvokeMode``, ``Cors``
sizes, the qualifier's pattern) are refused by the protocol layer from botocore's
model before a request reaches this service.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.control import paging
from lambdad.control.aliases import AliasService
from lambdad.control.functions import FunctionService
from lambdad.errors import ResourceConflictException, ResourceNotFoundException
from lambdad.model import function_url as furl
from lambdad.model.arn import LATEST, function_arn, merge_qualifier
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

KIND: Final = "function-url"
NOT_FOUND: Final = "The resource you requested does not exist."
_CORS_MEMBERS: Final = (
    "AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders",
    "MaxAge",
)  # fmt: skip


class FunctionUrlService:
    def __init__(
        self,
        store: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
        changes: ChangeHub,
        *,
        port: int,
    ) -> None:
        self.store = store
        self.functions = functions
        self.aliases = aliases
        self.clock = clock
        self.changes = changes  # told of every URL change, once it is committed
        self.port = port
        aliases.on_change(self._alias_changed)

    # -- API ---------------------------------------------------------------------------

    def create(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, key = self._target(scope, params["FunctionName"], params.get("Qualifier"))
        now = furl.url_time(self.clock.now())
        doc: Doc = {
            "UrlId": furl.new_url_id(),
            "AuthType": params["AuthType"],
            "InvokeMode": params.get("InvokeMode") or furl.BUFFERED,
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        if params.get("Cors") is not None:
            doc["Cors"] = _cors(params["Cors"])
        with self.store.transaction():
            if self.store.get_child(KIND, scope.account, scope.region, name, key) is not None:
                arn = function_arn(scope.region, scope.account, name, _qualifier(key))
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            self.store.put_child(KIND, scope.account, scope.region, name, key, doc)
        self.changes.url_changed(scope, name, _qualifier(key))
        log.info("created function URL %s for %s:%s", doc["UrlId"], name, key)
        out = self._render(scope, name, key, doc)
        del out["LastModifiedTime"]  # AWS's create answer has none
        return out

    def get(self, scope: Scope, function_name: str, qualifier: str | None) -> dict[str, Any]:
        name, key = self._target(scope, function_name, qualifier)
        return self._render(scope, name, key, self._existing(scope, name, key))

    def update(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, key = self._target(scope, params["FunctionName"], params.get("Qualifier"))
        with self.store.transaction():
            doc = self._existing(scope, name, key)
            for member in ("AuthType", "InvokeMode"):
                if params.get(member) is not None:
                    doc[member] = params[member]
            if params.get("Cors") is not None:
                doc["Cors"] = _cors(params["Cors"])
            doc["LastModifiedTime"] = furl.url_time(self.clock.now())
            self.store.put_child(KIND, scope.account, scope.region, name, key, doc)
        self.changes.url_changed(scope, name, _qualifier(key))
        return self._render(scope, name, key, doc)

    def delete(self, scope: Scope, function_name: str, qualifier: str | None) -> None:
        name, key = self._target(scope, function_name, qualifier)
        with self.store.transaction():
            self._existing(scope, name, key)
            self.store.delete_child(KIND, scope.account, scope.region, name, key)
        self.changes.url_changed(scope, name, _qualifier(key))
        log.info("deleted the function URL of %s:%s", name, key)

    def list(
        self, scope: Scope, function_name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        ref = self.functions.function_ref(scope, function_name)
        self.functions.function_doc(scope, ref.name)
        after = paging.decode_marker(marker)
        rows = [
            (key, doc)
            for key, doc in self.store.list_children(KIND, scope.account, scope.region, ref.name)
            if after is None or key > after
        ]
        limit = min(max_items or paging.LIST_PAGE_MAX, paging.LIST_PAGE_MAX)
        page = rows[:limit]
        out: dict[str, Any] = {
            "FunctionUrlConfigs": [self._render(scope, ref.name, k, d) for k, d in page]
        }
        if len(rows) > limit:
            out["NextMarker"] = paging.encode_marker(page[-1][0])
        return out

    # -- the front door ----------------------------------------------------------------

    def config_for(self, url_id: str) -> furl.UrlConfig | None:
        """The URL with this id, in whichever account and region it lives."""
        for account, region, name, key, doc in self.store.find_children(KIND, "UrlId", url_id):
            cors = doc.get("Cors")
            return furl.UrlConfig(
                url_id=url_id,
                account=account,
                region=region,
                function_name=name,
                qualifier=_qualifier(key),
                auth_type=doc["AuthType"],
                invoke_mode=doc.get("InvokeMode") or furl.BUFFERED,
                cors=furl.Cors.from_doc(cors) if cors else None,
            )
        return None

    # -- helpers -----------------------------------------------------------------------

    def _target(self, scope: Scope, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """(function name, the config's key); the function and the alias must exist."""
        ref = self.functions.function_ref(scope, function_name)
        qualifier = merge_qualifier(ref, qualifier)
        self.functions.function_doc(scope, ref.name)
        if qualifier not in (None, LATEST):
            assert qualifier is not None
            if qualifier.isdigit() or self.aliases.get_doc(scope, ref.name, qualifier) is None:
                raise self.functions.not_found(scope, ref.name, qualifier)
        return ref.name, qualifier or LATEST

    def _existing(self, scope: Scope, name: str, key: str) -> Doc:
        doc = self.store.get_child(KIND, scope.account, scope.region, name, key)
        if doc is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return doc

    def _render(self, scope: Scope, name: str, key: str, doc: Doc) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FunctionUrl": furl.function_url(doc["UrlId"], scope.region, self.port),
            "FunctionArn": function_arn(scope.region, scope.account, name, _qualifier(key)),
            "AuthType": doc["AuthType"],
        }
        if doc.get("Cors"):
            out["Cors"] = doc["Cors"]
        out["CreationTime"] = doc["CreationTime"]
        out["LastModifiedTime"] = doc["LastModifiedTime"]
        out["InvokeMode"] = doc.get("InvokeMode") or furl.BUFFERED
        return out

    def _alias_changed(self, scope: Scope, name: str, alias: str) -> None:
        if self.aliases.get_doc(scope, name, alias) is None:
            self.store.delete_child(KIND, scope.account, scope.region, name, alias)
            self.changes.url_changed(scope, name, alias)


def _qualifier(key: str) -> str | None:
    return None if key == LATEST else key


def _cors(given: dict[str, Any]) -> dict[str, Any]:
    """The members of a ``Cors`` given, as stored and answered."""
    return {member: given[member] for member in _CORS_MEMBERS if given.get(member) is not None}
