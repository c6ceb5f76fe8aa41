"""Handlers for capacity providers and functions' scaling configurations."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.capacity_providers import CapacityProviders
from lambdad.control.function_scaling import FunctionScaling


class CapacityProviderHandlers:
    def __init__(self, providers: CapacityProviders, scaling: FunctionScaling) -> None:
        self.providers = providers
        self.scaling = scaling

    async def create(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.providers.create(ctx.scope, p)

    async def get(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.providers.get(ctx.scope, p["CapacityProviderName"])

    async def update(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.providers.update(ctx.scope, p)

    async def delete(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.providers.delete(ctx.scope, p["CapacityProviderName"])

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.providers.list_providers(
            ctx.scope, p.get("State"), p.get("Marker"), p.get("MaxItems")
        )

    async def list_function_versions(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.providers.list_function_versions(
            ctx.scope, p["CapacityProviderName"], p.get("Marker"), p.get("MaxItems")
        )

    async def put_scaling(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.scaling.put(ctx.scope, p)

    async def get_scaling(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.scaling.get(ctx.scope, p)
