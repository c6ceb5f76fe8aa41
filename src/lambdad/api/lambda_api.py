"""Lambda REST operations: parameters in, service call, output dict out.

Each handler receives the request context and the parameters parsed and
validated by the protocol layer (the same dict a boto3 caller passed) and returns
the operation's output members; the protocol layer serialises them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lambdad.api import sigv4
from lambdad.api.context import RequestContext
from lambdad.api.release_ops import ReleaseOps
from lambdad.invoke.sync import InvokeRequest
from lambdad.runtimes.host_support import host_architecture, shortfalls

if TYPE_CHECKING:
    from lambdad.platform import Platform

log = logging.getLogger(__name__)

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any] | None]]

CODE_PATH = "/_lambdad/code/"
# The deprecated InvokeAsync keeps its old 256 KB payload limit.
ASYNC_INVOKE_LIMIT = 256 * 1024


class LambdaApi(ReleaseOps):
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.functions = platform.functions
        self.handlers: dict[str, Handler] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    def code_url(self, ctx: RequestContext) -> Callable[[str], str]:
        def url(sha256_hex: str) -> str:
            return sigv4.presign_url(
                ctx.base_url,
                "GET",
                CODE_PATH + sha256_hex,
                ctx.principal.credential,
                ctx.principal.region,
                "lambda",
                self.platform.clock.now(),
            )

        return url

    # -- functions ----------------------------------------------------------------------

    async def op_CreateFunction(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        out = await self.platform.offload(self.functions.create_function, ctx.scope, p)
        self._warn_shortfalls(ctx, out)
        return out

    async def op_GetFunction(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.functions.get_function(
            ctx.scope, p["FunctionName"], p.get("Qualifier"), self.code_url(ctx)
        )

    async def op_GetFunctionConfiguration(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.functions.get_configuration(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def op_ListFunctions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.functions.list_functions(
            ctx.scope, p.get("Marker"), p.get("MaxItems"), p.get("FunctionVersion") == "ALL"
        )

    async def op_UpdateFunctionCode(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return await self.platform.offload(self.functions.update_code, ctx.scope, p)

    async def op_UpdateFunctionConfiguration(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        out = self.functions.update_configuration(ctx.scope, p)
        self._warn_shortfalls(ctx, out)
        return out

    def _warn_shortfalls(self, ctx: RequestContext, config: dict[str, Any]) -> None:
        """Say in the server's log what of ``config`` this host cannot honour."""
        found = shortfalls(config, self.platform.runtimes, host_architecture())
        for s in found:
            log.warning(
                "function %s (account %s, region %s)%s: %s",
                config.get("FunctionName"),
                ctx.scope.account,
                ctx.scope.region,
                " cannot run on this host" if s.blocking else "",
                s.message,
            )

    async def op_DeleteFunction(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.functions.delete_function(ctx.scope, p["FunctionName"], p.get("Qualifier"))
        return {"StatusCode": 204}

    async def op_PublishVersion(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.functions.publish_version(ctx.scope, p)

    async def op_ListVersionsByFunction(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.functions.list_versions(
            ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
        )

    # -- invoke ------------------------------------------------------------------------

    async def op_Invoke(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        req = InvokeRequest(
            scope=ctx.scope,
            function_name=p["FunctionName"],
            qualifier=p.get("Qualifier"),
            payload=p.get("Payload") or b"",
            invocation_type=p.get("InvocationType") or "RequestResponse",
            log_type=p.get("LogType") or "None",
            client_context=p.get("ClientContext"),
            request_id=ctx.request_id,
        )
        if req.invocation_type == "Event":
            return await self.platform.invoke_event(req)
        out = await self.platform.invoker.invoke(req)
        return {
            "StatusCode": out.status,
            "Payload": out.payload,
            "ExecutedVersion": out.executed_version,
            "FunctionError": out.function_error,
            "LogResult": out.log_result,
        }

    async def op_InvokeAsync(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        req = InvokeRequest(
            scope=ctx.scope,
            function_name=p["FunctionName"],
            payload=p.get("InvokeArgs") or b"",
            invocation_type="Event",
            request_id=ctx.request_id,
        )
        await self.platform.async_invoker.accept(
            req, limit=ASYNC_INVOKE_LIMIT, operation="InvokeAsync"
        )
        return {"Status": 202}

    # -- asynchronous invocation settings -------------------------------------------------

    async def op_PutFunctionEventInvokeConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.event_configs.put(ctx.scope, p)

    async def op_UpdateFunctionEventInvokeConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.event_configs.update(ctx.scope, p)

    async def op_GetFunctionEventInvokeConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.event_configs.get(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def op_DeleteFunctionEventInvokeConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> None:
        self.platform.event_configs.delete(ctx.scope, p["FunctionName"], p.get("Qualifier"))
        return None

    async def op_ListFunctionEventInvokeConfigs(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.event_configs.list(
            ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
        )

    # -- tags and account ----------------------------------------------------------------

    async def op_TagResource(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.functions.tag_resource(ctx.scope, p["Resource"], p["Tags"])
        return None

    async def op_UntagResource(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.functions.untag_resource(ctx.scope, p["Resource"], p["TagKeys"])
        return None

    async def op_ListTags(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.functions.list_tags(ctx.scope, p["Resource"])

    async def op_GetAccountSettings(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        out = self.functions.account_settings(ctx.scope)
        # Reservations and provisioned concurrency both come out of the unreserved pool.
        unreserved = self.platform.concurrency.unreserved(ctx.scope)
        out["AccountLimit"]["UnreservedConcurrentExecutions"] = unreserved
        return out
