"""Handlers for event source mappings (Create/Get/Update/Delete/ListEventSourceMappings)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.event_source_mappings import EventSourceMappingService


class EventSourceMappingHandlers:
    def __init__(self, mappings: EventSourceMappingService) -> None:
        self.mappings = mappings

    async def create(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.mappings.create(ctx.scope, p)

    async def get(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.mappings.get(ctx.scope, p["UUID"])

    async def update(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.mappings.update(ctx.scope, p["UUID"], p)

    async def delete(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.mappings.delete(ctx.scope, p["UUID"])

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.mappings.list(
            ctx.scope,
            p.get("EventSourceArn"),
            p.get("FunctionName"),
            p.get("Marker"),
            p.get("MaxItems"),
        )
