"""The console's way to the platform: AWS operations called in-process, as the
signed-in credential, in the region the console shows.

The console is part of the server, so it calls the same operation handlers the API
port dispatches to (no HTTP, no SigV4): the Lambda REST handlers with a request
context naming the session's principal, and the Logs, EventBridge, Scheduler,
CloudWatch and API Gateway operations with the session's scope. Whatever the caller
may not see through the API it cannot see here either: every operation is scoped by
the account and region given, never by the page's input.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdad.api.context import RequestContext, new_request_id
from lambdad.api.handlers import Handler
from lambdad.api.sigv4 import Principal
from lambdad.model.credential import Credential
from lambdad.model.scope import Scope

Params = dict[str, Any]
# (scope, parameters) -> the output shape's members; sync ones run off the event loop.
ScopedOperation = Callable[[Scope, Params], "Awaitable[dict[str, Any]] | dict[str, Any]"]
# (scope, raw query "month=YYYY-MM&function=NAME") -> (status, headers, JSON body)
CostReport = Callable[[Scope, str], Awaitable[tuple[int, dict[str, str], bytes]]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the console acts as: the session's key, account and region."""

    access_key_id: str
    account: str
    region: str

    @property
    def scope(self) -> Scope:
        return Scope(self.account, self.region)

    def context(self, host: str) -> RequestContext:
        # The secret is not needed past sign-in: handlers see who, not how.
        credential = Credential(self.access_key_id, "", self.account)
        principal = Principal(credential, self.region, "lambda")
        return RequestContext(principal, new_request_id(), f"http://{host}", {"host": host})


@dataclass(frozen=True)
class Aws:
    lambda_ops: Mapping[str, Handler]
    logs_ops: Mapping[str, ScopedOperation] = field(default_factory=dict)
    events_ops: Mapping[str, ScopedOperation] = field(default_factory=dict)
    scheduler_ops: Mapping[str, ScopedOperation] = field(default_factory=dict)
    cloudwatch_ops: Mapping[str, ScopedOperation] = field(default_factory=dict)
    apigateway_ops: Mapping[str, ScopedOperation] = field(default_factory=dict)
    cost: CostReport | None = None

    async def lambda_(self, who: Caller, host: str, operation: str, **params: Any) -> Params:
        """A Lambda REST operation; raises what the API would answer (``AwsError``)."""
        handler = self.lambda_ops[operation]
        out = await handler(who.context(host), params)
        return out or {}

    async def logs(self, who: Caller, operation: str, **params: Any) -> Params:
        return await _call(self.logs_ops, operation, who.scope, params)

    async def events(self, who: Caller, operation: str, **params: Any) -> Params:
        return await _call(self.events_ops, operation, who.scope, params)

    async def scheduler(self, who: Caller, operation: str, **params: Any) -> Params:
        return await _call(self.scheduler_ops, operation, who.scope, params)

    async def cloudwatch(self, who: Caller, operation: str, **params: Any) -> Params:
        return await _call(self.cloudwatch_ops, operation, who.scope, params)

    async def apigateway(self, who: Caller, operation: str, **params: Any) -> Params:
        return await _call(self.apigateway_ops, operation, who.scope, params)


async def _call(
    ops: Mapping[str, ScopedOperation], operation: str, scope: Scope, params: Params
) -> Params:
    op = ops.get(operation)
    if op is None:  # a service this server was built without
        return {}
    if inspect.iscoroutinefunction(op):
        out = await op(scope, params)
    else:
        out = await asyncio.to_thread(op, scope, params)
        if inspect.isawaitable(out):
            out = await out
    return dict(out or {})
