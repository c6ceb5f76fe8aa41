"""Handlers for layers: publishing, reading and listing layer versions, and the
permissions that share them with other accounts."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import CodeUrls, Offload, Params
from lambdad.control.layers import LayerService


class LayerHandlers:
    def __init__(self, layers: LayerService, offload: Offload, code_urls: CodeUrls) -> None:
        self.layers = layers
        self.offload = offload
        self.code_urls = code_urls

    async def publish_version(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return await self.offload(self.layers.publish, ctx.scope, p, self.code_urls(ctx))

    async def get_version(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.layers.get(
            ctx.scope, p["LayerName"], int(p["VersionNumber"]), self.code_urls(ctx)
        )

    async def get_version_by_arn(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.layers.get_by_arn(ctx.scope, p["Arn"], self.code_urls(ctx))

    async def list_layers(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.layers.list_layers(
            ctx.scope,
            p.get("CompatibleRuntime"),
            p.get("CompatibleArchitecture"),
            p.get("Marker"),
            p.get("MaxItems"),
        )

    async def list_versions(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.layers.list_versions(
            ctx.scope,
            p["LayerName"],
            p.get("CompatibleRuntime"),
            p.get("CompatibleArchitecture"),
            p.get("Marker"),
            p.get("MaxItems"),
        )

    async def delete_version(self, ctx: RequestContext, p: Params) -> None:
        self.layers.delete(ctx.scope, p["LayerName"], int(p["VersionNumber"]))

    async def add_permission(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.layers.add_permission(ctx.scope, p)

    async def get_policy(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.layers.get_policy(ctx.scope, p["LayerName"], int(p["VersionNumber"]))

    async def remove_permission(self, ctx: RequestContext, p: Params) -> None:
        self.layers.remove_permission(
            ctx.scope,
            p["LayerName"],
            int(p["VersionNumber"]),
            p["StatementId"],
            p.get("RevisionId"),
        )
