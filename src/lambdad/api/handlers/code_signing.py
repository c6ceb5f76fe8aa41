"""Handlers for code signing configurations and a function's (the CodeSigningConfig
operations and Put/Get/DeleteFunctionCodeSigningConfig)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.code_signing import CodeSigningConfigs


class CodeSigningHandlers:
    def __init__(self, configs: CodeSigningConfigs) -> None:
        self.configs = configs

    async def create(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.create(ctx.scope, p)

    async def get(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.get(ctx.scope, p["CodeSigningConfigArn"])

    async def update(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.update(ctx.scope, p)

    async def delete(self, ctx: RequestContext, p: Params) -> None:
        self.configs.delete(ctx.scope, p["CodeSigningConfigArn"])

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.list_configs(ctx.scope, p.get("Marker"), p.get("MaxItems"))

    async def list_functions(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        arn = p["CodeSigningConfigArn"]
        return self.configs.list_functions(ctx.scope, arn, p.get("Marker"), p.get("MaxItems"))

    async def put_for_function(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.put_for_function(
            ctx.scope, p["FunctionName"], p["CodeSigningConfigArn"]
        )

    async def get_for_function(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.configs.get_for_function(ctx.scope, p["FunctionName"])

    async def delete_for_function(self, ctx: RequestContext, p: Params) -> None:
        self.configs.delete_for_function(ctx.scope, p["FunctionName"])
