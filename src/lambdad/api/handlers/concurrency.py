"""Handlers for reserved and provisioned concurrency."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.concurrency import ConcurrencyService


class ConcurrencyHandlers:
    def __init__(self, concurrency: ConcurrencyService) -> None:
        self.concurrency = concurrency

    async def put_reserved(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.concurrency.put_reserved(
            ctx.scope, p["FunctionName"], int(p["ReservedConcurrentExecutions"])
        )

    async def get_reserved(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.concurrency.get_reserved(ctx.scope, p["FunctionName"])

    async def delete_reserved(self, ctx: RequestContext, p: Params) -> None:
        self.concurrency.delete_reserved(ctx.scope, p["FunctionName"])

    async def put_provisioned(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.concurrency.put_provisioned(
            ctx.scope, p["FunctionName"], p["Qualifier"], int(p["ProvisionedConcurrentExecutions"])
        )

    async def get_provisioned(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.concurrency.get_provisioned(ctx.scope, p["FunctionName"], p["Qualifier"])

    async def delete_provisioned(self, ctx: RequestContext, p: Params) -> None:
        self.concurrency.delete_provisioned(ctx.scope, p["FunctionName"], p["Qualifier"])

    async def list_provisioned(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.concurrency.list_provisioned(
            ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
        )
