"""Asking a Lambda authorizer before a route's integration runs.

For a route (HTTP APIs) or method (REST APIs) with ``CUSTOM`` authorization: read
the identity (none: 401 at once), find a remembered answer for it (the authorizer's
TTL, on the injected clock's monotonic time), else check that the authorizer
function's resource policy lets ``apigateway.amazonaws.com`` invoke it for
``arn:aws:execute-api:REGION:ACCOUNT:API/authorizers/ID``, invoke it through
``invoke/`` with its event, and read its answer (``authorizer_core``). The outcome is
the ``Verdict`` to pass on to the integration, or the answer that ends the request:
401, 403, or 500 when the authorizer cannot be asked or answers nonsense.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import AwsError
from lambdad.events.apigw import answers, authorizer_core, dispatch, names
from lambdad.events.apigw.api_store import HTTP, Found
from lambdad.events.apigw.authorizer_core import Verdict
from lambdad.events.apigw.dispatch import Target
from lambdad.events.function_urls import SyncInvoker
from lambdad.events.http.request import HttpRequest
from lambdad.events.http.response import HttpResponse, MalformedResult
from lambdad.invoke.sync import InvokeRequest

log = logging.getLogger(__name__)

MAX_CACHED: Final = 10_000
# (function name, qualifier, source ARN) -> may API Gateway invoke it
Permitted = Callable[[Found, str, "str | None", str], bool]
# payload version ("1.0", "2.0", or "REST") -> the integration's event, no authorizer yet
BaseEvent = Callable[[str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Spec:
    """An authorizer, whichever API it belongs to."""

    authorizer_id: str
    uri: str
    kind: str  # REQUEST or TOKEN
    payload_version: str  # 1.0, 2.0, or REST
    simple: bool
    sources: tuple[str, ...]
    ttl: int
    validation: str | None = None  # a TOKEN authorizer's identityValidationExpression


def spec_of(found: Found, authorizer_id: str) -> Spec | None:
    stored = (found.doc.get("Authorizers") or {}).get(authorizer_id)
    if stored is None:
        return None
    if found.kind == HTTP:
        return Spec(authorizer_id, stored["AuthorizerUri"], "REQUEST",
                    stored["AuthorizerPayloadFormatVersion"],
                    bool(stored.get("EnableSimpleResponses")),
                    tuple(stored.get("IdentitySource") or ()),
                    int(stored.get("AuthorizerResultTtlInSeconds") or 0))  # fmt: skip
    sources = [s.strip() for s in (stored.get("identitySource") or "").split(",") if s.strip()]
    return Spec(authorizer_id, stored["authorizerUri"], stored["type"], "REST", False,
                tuple(sources), int(stored.get("authorizerResultTtlInSeconds", 300)),
                stored.get("identityValidationExpression"))  # fmt: skip


class LambdaAuthorizers:
    def __init__(self, invoker: SyncInvoker, permitted: Permitted, clock: Clock) -> None:
        self.invoker = invoker
        self.permitted = permitted
        self.clock = clock
        self._answers: dict[tuple[str, str, tuple[str, ...]], tuple[float, bytes]] = {}

    async def authorize(
        self, found: Found, request: HttpRequest, target: Target, base_event: BaseEvent
    ) -> Verdict | HttpResponse:
        rest = found.kind != HTTP
        spec = spec_of(found, target.authorizer_id)
        failed = answers.REST_AUTHORIZER_FAILED if rest else answers.HTTP_SERVER_ERROR
        if spec is None:
            return failed
        values = authorizer_core.identity(request, spec.sources, target.stage_variables)
        if (spec.sources and values is None) or not _valid(spec, values):
            return answers.REST_UNAUTHORIZED if rest else answers.HTTP_UNAUTHORIZED
        api_id, owner = found.doc["ApiId"], found.scope
        route_arn = names.source_arn(owner.region, owner.account, api_id, target.stage,
                                     request.method, target.path)  # fmt: skip
        key = (api_id, spec.authorizer_id, tuple(values or ()))
        payload = self._remembered(key) if spec.ttl and values else None
        if payload is None:
            event = _event(spec, base_event, route_arn, values or [])
            payload = await self._ask(found, spec, event)
            if payload is None:
                return failed
            if spec.ttl and values:
                self._remember(key, payload, spec.ttl)
        try:
            verdict = authorizer_core.verdict(payload, simple=spec.simple, route_arn=route_arn)
        except MalformedResult as error:
            log.info("API %s authorizer %s answered badly: %s", api_id, spec.authorizer_id, error)
            return failed
        if not verdict.allowed:
            return answers.REST_DENIED if rest else answers.HTTP_FORBIDDEN
        return verdict

    async def _ask(self, found: Found, spec: Spec, event: Mapping[str, Any]) -> bytes | None:
        owner = found.scope
        function = dispatch.function_of(spec.uri, {})
        source = f"arn:aws:execute-api:{owner.region}:{owner.account}:{found.doc['ApiId']}" + (
            f"/authorizers/{spec.authorizer_id}"
        )
        if (
            function is None
            or function.account not in (None, owner.account)
            or function.region not in (None, owner.region)
            or not self.permitted(found, function.name, function.qualifier, source)
        ):
            log.info("API %s cannot invoke authorizer %s", found.doc["ApiId"], spec.uri)
            return None
        try:
            result = await self.invoker.invoke(
                InvokeRequest(
                    scope=owner,
                    function_name=function.name,
                    qualifier=function.qualifier,
                    payload=json.dumps(event, separators=(",", ":")).encode(),
                )
            )
        except AwsError as error:
            log.info("API %s: authorizer %s failed: %s", found.doc["ApiId"], spec.uri, error)
            return None
        return None if result.function_error is not None else result.payload

    def _remembered(self, key: tuple[str, str, tuple[str, ...]]) -> bytes | None:
        found = self._answers.get(key)
        if found is None or found[0] <= self.clock.monotonic():
            return None
        return found[1]

    def _remember(self, key: tuple[str, str, tuple[str, ...]], payload: bytes, ttl: int) -> None:
        if len(self._answers) >= MAX_CACHED:
            self._answers.clear()
        self._answers[key] = (self.clock.monotonic() + ttl, payload)


def _valid(spec: Spec, values: list[str] | None) -> bool:
    """A TOKEN authorizer's token against its ``identityValidationExpression``."""
    if spec.kind != "TOKEN" or not spec.validation or not values:
        return True
    try:
        return re.fullmatch(spec.validation, values[0]) is not None
    except re.error:
        return True  # AWS refuses such an expression up front; lambdad does not check it


def _event(spec: Spec, base_event: BaseEvent, route_arn: str, values: list[str]) -> dict[str, Any]:
    if spec.kind == "TOKEN":
        return authorizer_core.token_event(values[0] if values else "", route_arn)
    if spec.payload_version == "2.0":
        return authorizer_core.request_event_v2(base_event("2.0"), route_arn, values)
    version = spec.payload_version
    return authorizer_core.request_event_v1(
        base_event(version), route_arn, None if version == "REST" else values
    )
