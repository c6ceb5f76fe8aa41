"""Synchronous invocation: from an Invoke request to the function's answer.

Resolve the version, check the payload, take an environment from the warm pool
(or start one), hand it the event, and shape the answer the way the Invoke API
returns it. ``api/`` and ``events/`` call ``InvokeService.invoke`` alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from dataclasses import dataclass

from lambdad.config import Settings
from lambdad.control.functions import FunctionService, ResolvedVersion
from lambdad.environments.environment import Invocation, InvocationResult
from lambdad.environments.pool import EnvironmentPool
from lambdad.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    InvalidRuntimeException,
    RequestTooLargeException,
)
from lambdad.model.arn import function_arn
from lambdad.model.scope import Scope
from lambdad.runtimes.table import RuntimeUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    scope: Scope
    function_name: str
    qualifier: str | None = None
    payload: bytes = b""
    invocation_type: str = "RequestResponse"
    log_type: str = "None"
    client_context: str | None = None
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class InvokeResponse:
    status: int
    payload: bytes
    executed_version: str | None
    function_error: str | None = None
    log_result: str | None = None
    result: InvocationResult | None = None


class InvokeService:
    def __init__(
        self, settings: Settings, functions: FunctionService, pool: EnvironmentPool
    ) -> None:
        self.settings = settings
        self.functions = functions
        self.pool = pool

    def _check_payload(self, payload: bytes, limit: int, operation: str) -> bytes:
        if len(payload) > limit:
            raise RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the {operation} operation"
            )
        if not payload.strip():
            return b"{}"
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequestContentException(
                "Could not parse request body into json: Could not parse payload into json: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        return payload

    @staticmethod
    def _client_context(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            decoded = base64.b64decode(value, validate=True).decode()
            json.loads(decoded)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidRequestContentException(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
        if len(value) > 3583:
            raise InvalidParameterValueException(
                "Client context must be less than 3583 bytes."
            )
        return decoded

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        rv = self.functions.resolve(req.scope, req.function_name, req.qualifier)
        if req.invocation_type == "DryRun":
            return InvokeResponse(204, b"", rv.version)
        payload = self._check_payload(
            req.payload, self.settings.max_sync_payload, "Invoke"
        )
        client_context = self._client_context(req.client_context)
        result = await self.run(rv, payload, req.request_id or str(uuid.uuid4()), client_context)
        log_result = None
        if req.log_type == "Tail":
            log_result = base64.b64encode(result.log_tail).decode()
        return InvokeResponse(
            200, result.payload, rv.version, result.function_error, log_result, result
        )

    async def run(
        self,
        rv: ResolvedVersion,
        payload: bytes,
        request_id: str,
        client_context: str | None = None,
    ) -> InvocationResult:
        timeout = float(rv.config.get("Timeout", 3))
        qualifier = None if rv.version == "$LATEST" else rv.version
        inv = Invocation(
            request_id=request_id,
            payload=payload,
            function_arn=function_arn(rv.scope.region, rv.scope.account, rv.name, qualifier),
            deadline_ms=int((time.time() + timeout) * 1000),
            client_context=client_context,
            trace_id=_trace_id(),
        )
        try:
            async with self.pool.checkout(rv) as checkout:
                # The deadline counts from the moment the event is handed over.
                inv.deadline_ms = int((time.time() + timeout) * 1000)
                return await checkout.env.invoke(inv, cold=checkout.cold)
        except RuntimeUnavailable as exc:
            raise InvalidRuntimeException(str(exc)) from None


def _trace_id() -> str:
    now = int(time.time())
    return f"Root=1-{now:08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
