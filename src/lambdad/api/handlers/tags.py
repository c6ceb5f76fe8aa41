"""Handlers for a function's tags."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.functions import FunctionService


class TagHandlers:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    async def tag(self, ctx: RequestContext, p: Params) -> None:
        self.functions.tag_resource(ctx.scope, p["Resource"], p["Tags"])

    async def untag(self, ctx: RequestContext, p: Params) -> None:
        self.functions.untag_resource(ctx.scope, p["Resource"], p["TagKeys"])

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.functions.list_tags(ctx.scope, p["Resource"])
