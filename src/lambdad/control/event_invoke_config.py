"""Asynchronous invocation settings per function and qualifier (event invoke configs).

Put/Get/Update/Delete/ListFunctionEventInvokeConfigs over the store (children of
kind ``event-invoke-config``, keyed by qualifier, ``$LATEST`` for the unqualified
function), with AWS's validation: ranges come from botocore's model (the protocol
layer), destination ARNs must name a function, queue, topic or event bus, and a
function cannot be its own destination. ``effective`` gives the invoke path the
limits and destinations that apply to one event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdad.clock import Clock
from lambdad.control import paging
from lambdad.control.functions import FunctionService
from lambdad.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdad.model.arn import LATEST, function_arn, merge_qualifier, parse_function_ref
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

KIND = "event-invoke-config"
DESTINATION_SERVICES = frozenset({"lambda", "sqs", "sns", "events"})
LIST_PAGE_MAX = 50
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE = 21600


@dataclass(frozen=True, slots=True)
class EventInvokeSettings:
    """What applies to one asynchronous event of a function and qualifier."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age: int = DEFAULT_MAXIMUM_EVENT_AGE
    on_success: str | None = None
    on_failure: str | None = None


class EventInvokeConfigService:
    def __init__(self, store: MetadataStore, functions: FunctionService, clock: Clock) -> None:
        self.store = store
        self.functions = functions
        self.clock = clock

    # -- API -----------------------------------------------------------------------------

    def put(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        # As on AWS, the arguments are checked before the function is looked up.
        _check_some_setting(params)
        name, key = self._target(scope, params["FunctionName"], params.get("Qualifier"))
        doc: Doc = {}
        self._apply(scope, name, doc, params)
        return self._save(scope, name, key, doc)

    def update(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        _check_some_setting(params)
        name, key = self._target(scope, params["FunctionName"], params.get("Qualifier"))
        doc = self._existing(scope, name, key)
        self._apply(scope, name, doc, params)
        return self._save(scope, name, key, doc)

    def get(self, scope: Scope, function_name: str, qualifier: str | None) -> dict[str, Any]:
        name, key = self._target(scope, function_name, qualifier)
        named = (
            None if merge_qualifier(parse_function_ref(function_name), qualifier) is None else key
        )
        return self._render(scope, name, key, self._existing(scope, name, key, named))

    def delete(self, scope: Scope, function_name: str, qualifier: str | None) -> None:
        name, key = self._target(scope, function_name, qualifier)
        self._existing(scope, name, key)
        self.store.delete_child(KIND, scope.account, scope.region, name, key)

    def list(
        self, scope: Scope, function_name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        name, _ = self._target(scope, function_name, None)
        after = paging.decode_marker(marker)
        rows = [
            (k, d)
            for k, d in self.store.list_children(KIND, scope.account, scope.region, name)
            if after is None or k > after
        ]
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        page = rows[:limit]
        out: dict[str, Any] = {
            "FunctionEventInvokeConfigs": [self._render(scope, name, k, d) for k, d in page]
        }
        if len(rows) > limit:
            out["NextMarker"] = paging.encode_marker(page[-1][0])
        return out

    # -- invoke path -----------------------------------------------------------------------

    def effective(self, scope: Scope, name: str, qualifier: str | None) -> EventInvokeSettings:
        doc = self.store.get_child(KIND, scope.account, scope.region, name, qualifier or LATEST)
        if doc is None:
            return EventInvokeSettings()
        dc = doc.get("DestinationConfig") or {}
        retries = doc.get("MaximumRetryAttempts")
        age = doc.get("MaximumEventAgeInSeconds")
        return EventInvokeSettings(
            maximum_retry_attempts=DEFAULT_MAXIMUM_RETRY_ATTEMPTS if retries is None else retries,
            maximum_event_age=DEFAULT_MAXIMUM_EVENT_AGE if age is None else age,
            on_success=(dc.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(dc.get("OnFailure") or {}).get("Destination") or None,
        )

    # -- helpers ---------------------------------------------------------------------------

    def _target(self, scope: Scope, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """The function's name and the config's key; the function and qualifier must exist."""
        rv = self.functions.resolve(scope, function_name, qualifier)
        qual = merge_qualifier(parse_function_ref(function_name), qualifier)
        return rv.name, qual or LATEST

    def _existing(self, scope: Scope, name: str, key: str, named: str | None = LATEST) -> Doc:
        """The config stored under ``key``, or not found (the function's ARN with the
        qualifier the caller ``named``: AWS names an unqualified Get's function bare)."""
        doc = self.store.get_child(KIND, scope.account, scope.region, name, key)
        if doc is None:
            raise ResourceNotFoundException(
                f"The function {function_arn(scope.region, scope.account, name, named)} doesn't "
                "have an EventInvokeConfig"
            )
        return doc

    def _apply(self, scope: Scope, name: str, doc: Doc, params: dict[str, Any]) -> None:
        for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if params.get(member) is not None:
                doc[member] = int(params[member])
        given = params.get("DestinationConfig")
        if given is not None:
            merged = dict(doc.get("DestinationConfig") or {})
            for which in ("OnSuccess", "OnFailure"):
                if which in given:
                    dest = dict(given[which] or {})
                    _check_destination(scope, name, dest.get("Destination"))
                    merged[which] = (
                        {"Destination": dest["Destination"]} if dest.get("Destination") else {}
                    )
            doc["DestinationConfig"] = merged

    def _save(self, scope: Scope, name: str, key: str, doc: Doc) -> dict[str, Any]:
        doc["LastModified"] = round(self.clock.now().timestamp(), 3)
        self.store.put_child(KIND, scope.account, scope.region, name, key, doc)
        return self._render(scope, name, key, doc)

    @staticmethod
    def _render(scope: Scope, name: str, key: str, doc: Doc) -> dict[str, Any]:
        dc = doc.get("DestinationConfig") or {}
        out: dict[str, Any] = {
            "LastModified": doc["LastModified"],
            "FunctionArn": function_arn(scope.region, scope.account, name, key),
        }
        for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if doc.get(member) is not None:
                out[member] = doc[member]
        out["DestinationConfig"] = {
            "OnSuccess": dict(dc.get("OnSuccess") or {}),
            "OnFailure": dict(dc.get("OnFailure") or {}),
        }
        return out


def _check_some_setting(params: dict[str, Any]) -> None:
    if not any(
        params.get(k) is not None
        for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
    ):
        raise InvalidParameterValueException(
            "You must specify at least one of error handling or destination setting."
        )


def destination_service(arn: str) -> str | None:
    """``lambda``, ``sqs``, ``sns`` or ``events`` for a destination ARN lambdad can reach."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] not in DESTINATION_SERVICES:
        return None
    if parts[2] == "lambda" and not parts[5].startswith("function:"):
        return None
    if parts[2] == "events" and not parts[5].startswith("event-bus/"):
        return None
    if not parts[5]:
        return None
    return parts[2]


def _check_destination(scope: Scope, name: str, arn: str | None) -> None:
    if not arn:
        return
    service = destination_service(arn)
    if service is None:
        raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
    if service == "lambda":
        try:
            ref = parse_function_ref(arn)
        except ValidationException:
            raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.") from None
        same_world = ref.account in (None, scope.account) and ref.region in (None, scope.region)
        if ref.name == name and same_world:
            raise InvalidParameterValueException(
                "You can't specify the function as a destination for itself."
            )
