"""Event source mappings: Create/Get/Update/Delete/ListEventSourceMappings, their tags,
and what the mapping supervisor asks of them (every mapping, one by id, settling a
transitional state, reporting processing results).

A mapping belongs to its account and region, not to its function (deleting the function
leaves it, as on AWS): it is stored as a child of kind ``event-source-mapping`` under the
empty name, keyed by its UUID. The document is the API's
``EventSourceMappingConfiguration`` plus ``Tags`` and ``_Enabled`` (what the caller
asked for, which the transitional state settles to). Create, Update and Delete answer
with the transitional state (202) and publish ``ChangeHub.mapping_changed``; the
supervisor acts on the change and then calls ``settle``.
"""

from __future__ import annotations

import builtins
import logging
import uuid as uuidlib
from collections.abc import Callable
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.control import paging
from lambdad.control.functions import FunctionService
from lambdad.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from lambdad.model import event_source_mapping as esm
from lambdad.model.arn import function_arn, merge_qualifier, parse_function_ref
from lambdad.model.changes import ChangeHub
from lambdad.model.esm_settings import settings
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

KIND: Final = "event-source-mapping"
OWNER: Final = ""  # mappings are children of their region, not of a function
MAX_TAGS: Final = 50
# The members of a request that are the mapping's settings, stored as given.
SETTINGS: Final = (
    "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
    "StartingPosition", "StartingPositionTimestamp", "FilterCriteria", "DestinationConfig",
    "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
    "TumblingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig", "Queues",
    "SourceAccessConfigurations", "MetricsConfig", "ProvisionedPollerConfig", "KMSKeyArn",
)  # fmt: skip
# A pattern checker: raises ValueError for a pattern that is not one (events' matcher).
PatternCheck = Callable[[str], None]


def _not_found(uuid: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
        f"Request ID: {uuid})"
    )


class EventSourceMappingService:
    def __init__(
        self,
        store: MetadataStore,
        functions: FunctionService,
        clock: Clock,
        changes: ChangeHub,
        check_pattern: PatternCheck,
    ) -> None:
        self.store = store
        self.functions = functions
        self.clock = clock
        self.changes = changes
        self.check_pattern = check_pattern

    # -- API ---------------------------------------------------------------------------

    def create(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        source = params.get("EventSourceArn")
        kind = esm.source_kind(source) if source else None
        if source is None or kind is None:
            raise InvalidParameterValueException("Unrecognized event source.")
        target = self._function(scope, params["FunctionName"])
        given = {m: params.get(m) for m in SETTINGS}
        doc: Doc = settings(kind, esm.is_fifo(source), given | {"EventSourceArn": source})
        doc.pop("EventSourceArn")
        self._check_filters(doc)
        self._check_tags(params.get("Tags") or {})
        uuid = str(uuidlib.uuid4())
        enabled = params.get("Enabled") is not False
        queue = kind == esm.SQS
        doc |= {
            "UUID": uuid,
            "EventSourceArn": source,
            "FunctionArn": target,
            "LastModified": self._now(),
            "State": esm.CREATING,
            "StateTransitionReason": esm.USER_INITIATED if queue else esm.USER_ACTION,
            "EventSourceMappingArn": esm.mapping_arn(scope.region, scope.account, uuid),
            "Tags": dict(params.get("Tags") or {}),
            "_Enabled": enabled,
        }
        if not queue:
            doc["LastProcessingResult"] = esm.NO_RECORDS
        with self.store.transaction():
            for _, other in self.store.list_children(KIND, scope.account, scope.region, OWNER):
                if other["EventSourceArn"] == source and other["FunctionArn"] == target:
                    raise ResourceConflictException(_duplicate(kind, other, target))
            self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)
        log.info("created event source mapping %s: %s -> %s", uuid, source, target)
        self.changes.mapping_changed(scope, uuid)
        return render(doc)

    def get(self, scope: Scope, uuid: str) -> dict[str, Any]:
        return render(self._existing(scope, uuid))

    def update(self, scope: Scope, uuid: str, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.transaction():
            doc = self._existing(scope, uuid)
            if doc["State"] == esm.DELETING:
                raise ResourceInUseException(
                    f"Cannot update the event source mapping {uuid} because it is being deleted."
                )
            source = doc["EventSourceArn"]
            kind = esm.source_kind(source) or ""
            given = {m: params.get(m) for m in SETTINGS}
            kept = {k: v for k, v in doc.items() if k in SETTINGS}
            new = settings(kind, esm.is_fifo(source), given, kept | {"EventSourceArn": source})
            new.pop("EventSourceArn")
            self._check_filters(new)
            doc.update(new)
            if params.get("FunctionName"):
                doc["FunctionArn"] = self._function(scope, params["FunctionName"])
            enabled = params.get("Enabled")
            doc["State"] = esm.requested(doc["State"], enabled)
            if enabled is not None:
                doc["_Enabled"] = bool(enabled)
            doc["LastModified"] = self._now()
            self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)
        self.changes.mapping_changed(scope, uuid)
        return render(doc)

    def delete(self, scope: Scope, uuid: str) -> dict[str, Any]:
        with self.store.transaction():
            doc = self._existing(scope, uuid)
            doc["State"] = esm.DELETING
            self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)
        log.info("deleting event source mapping %s", uuid)
        self.changes.mapping_changed(scope, uuid)
        return render(doc)

    def list(
        self,
        scope: Scope,
        event_source_arn: str | None,
        function_name: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> dict[str, Any]:
        after = paging.decode_marker(marker)
        wanted = None
        if function_name:
            ref = parse_function_ref(function_name)
            wanted = (ref.name, ref.qualifier)
        rows = []
        for key, doc in self.store.list_children(KIND, scope.account, scope.region, OWNER):
            if after is not None and key <= after:
                continue
            if event_source_arn and doc["EventSourceArn"] != event_source_arn:
                continue
            if wanted is not None and not _is_of(doc["FunctionArn"], *wanted):
                continue
            rows.append((key, doc))
        limit = min(max_items or 100, 100)
        page = rows[:limit]
        out: dict[str, Any] = {"EventSourceMappings": [render(d) for _, d in page]}
        if len(rows) > limit:
            out["NextMarker"] = paging.encode_marker(page[-1][0])
        return out

    # -- tags --------------------------------------------------------------------------

    def tag(self, scope: Scope, uuid: str, tags: dict[str, str]) -> None:
        with self.store.transaction():
            doc = self._tagged(scope, uuid)
            doc.setdefault("Tags", {}).update(tags)
            self._check_tags(doc["Tags"])
            self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)

    def untag(self, scope: Scope, uuid: str, keys: builtins.list[str]) -> None:
        with self.store.transaction():
            doc = self._tagged(scope, uuid)
            for key in keys:
                doc.get("Tags", {}).pop(key, None)
            self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)

    def list_tags(self, scope: Scope, uuid: str) -> dict[str, Any]:
        return {"Tags": dict(self._tagged(scope, uuid).get("Tags") or {})}

    def _tagged(self, scope: Scope, uuid: str) -> Doc:
        # The tagging operations name a missing mapping by its ARN, as AWS does.
        doc = self.store.get_child(KIND, scope.account, scope.region, OWNER, uuid)
        if doc is None:
            arn = esm.mapping_arn(scope.region, scope.account, uuid)
            raise ResourceNotFoundException(f"Event source mapping not found: {arn}")
        return doc

    # -- for the supervisor ------------------------------------------------------------

    def all(self) -> builtins.list[esm.EventSourceMapping]:
        return [
            esm.EventSourceMapping.from_doc(Scope(account, region), doc)
            for account, region, _, _, doc in self.store.all_children(KIND)
        ]

    def find(self, scope: Scope, uuid: str) -> esm.EventSourceMapping | None:
        doc = self.store.get_child(KIND, scope.account, scope.region, OWNER, uuid)
        return None if doc is None else esm.EventSourceMapping.from_doc(scope, doc)

    def settle(self, scope: Scope, uuid: str) -> esm.EventSourceMapping | None:
        """The mapping once its transitional state has ended (None: deleted)."""
        with self.store.transaction():
            doc = self.store.get_child(KIND, scope.account, scope.region, OWNER, uuid)
            if doc is None:
                return None
            state = esm.settled(doc["State"], bool(doc.get("_Enabled", True)))
            if state is None:
                self.store.delete_child(KIND, scope.account, scope.region, OWNER, uuid)
                log.info("deleted event source mapping %s", uuid)
                return None
            if state != doc["State"]:
                doc["State"] = state
                self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)
        return esm.EventSourceMapping.from_doc(scope, doc)

    def report(
        self, scope: Scope, uuid: str, result: str | None, reason: str | None = None
    ) -> None:
        """Record ``LastProcessingResult`` and/or ``StateTransitionReason`` (None: keep)."""
        with self.store.transaction():
            doc = self.store.get_child(KIND, scope.account, scope.region, OWNER, uuid)
            if doc is None:
                return
            before = dict(doc)
            if result is not None:
                doc["LastProcessingResult"] = result
            if reason is not None:
                doc["StateTransitionReason"] = reason
            if doc != before:
                self.store.put_child(KIND, scope.account, scope.region, OWNER, uuid, doc)

    # -- helpers -----------------------------------------------------------------------

    def _existing(self, scope: Scope, uuid: str) -> Doc:
        doc = self.store.get_child(KIND, scope.account, scope.region, OWNER, uuid)
        if doc is None:
            raise _not_found(uuid)
        return doc

    def _function(self, scope: Scope, function_name: str) -> str:
        """The FunctionArn a mapping targets; the function (and qualifier) must exist."""
        ref = self.functions.function_ref(scope, function_name)
        qualifier = merge_qualifier(ref, None)
        self.functions.function_doc(scope, ref.name, qualifier)
        version = self.functions.resolve_qualifier(scope, ref.name, qualifier)
        if self.store.get_version(scope.account, scope.region, ref.name, version) is None:
            raise self.functions.not_found(scope, ref.name, qualifier)
        return function_arn(scope.region, scope.account, ref.name, qualifier)

    def _check_filters(self, doc: Doc) -> None:
        for item in (doc.get("FilterCriteria") or {}).get("Filters") or []:
            pattern = item.get("Pattern")
            try:
                if not isinstance(pattern, str) or not pattern:
                    raise ValueError(pattern)
                self.check_pattern(pattern)
            except ValueError:
                raise InvalidParameterValueException("Invalid filter pattern definition.") from None

    @staticmethod
    def _check_tags(tags: dict[str, str]) -> None:
        if len(tags) > MAX_TAGS:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")

    def _now(self) -> float:
        return round(self.clock.now().timestamp(), 3)


def render(doc: Doc) -> dict[str, Any]:
    """A stored mapping as the API answers it."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and k != "Tags"}


def _is_of(arn: str, name: str, qualifier: str | None) -> bool:
    parts = arn.split(":")
    return parts[6] == name and (qualifier is None or parts[7:8] == [qualifier])


def _duplicate(kind: str, other: Doc, target: str) -> str:
    name = target.split(":")[6]
    if kind == esm.SQS:
        return (
            f'An event source mapping with SQS arn (" {other["EventSourceArn"]} ") and '
            f'function (" {name} ") already exists. Please update or delete the existing '
            f"mapping with UUID {other['UUID']}"
        )
    return (
        f'The event source arn (" {other["EventSourceArn"]} ") and function (" {name} ") '
        "provided mapping already exists. Please update or delete the existing mapping "
        f"with UUID {other['UUID']}"
    )
