"""Handlers for a function's aliases (named pointers to versions, optionally
weighted between two)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.aliases import AliasService


class AliasHandlers:
    def __init__(self, aliases: AliasService) -> None:
        self.aliases = aliases

    async def create(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.aliases.create(ctx.scope, p)

    async def get(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.aliases.get(ctx.scope, p["FunctionName"], p["Name"])

    async def update(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.aliases.update(ctx.scope, p)

    async def delete(self, ctx: RequestContext, p: Params) -> None:
        self.aliases.delete(ctx.scope, p["FunctionName"], p["Name"])

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.aliases.list_aliases(
            ctx.scope,
            p["FunctionName"],
            p.get("FunctionVersion"),
            p.get("Marker"),
            p.get("MaxItems"),
        )
