"""Lambda REST operations for shipping and guarding functions: aliases, layers,
resource policies, reserved and provisioned concurrency.

A mixin of ``LambdaApi`` (handlers are its ``op_<OperationName>`` methods): each
takes the parameters the protocol layer parsed and returns the output members.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdad.api.context import RequestContext

if TYPE_CHECKING:
    from lambdad.platform import Platform


class ReleaseOps:
    platform: Platform

    def code_url(self, ctx: RequestContext) -> Callable[[str], str]:
        raise NotImplementedError  # provided by LambdaApi

    # -- aliases --------------------------------------------------------------------------

    async def op_CreateAlias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.aliases.create(ctx.scope, p)

    async def op_GetAlias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.aliases.get(ctx.scope, p["FunctionName"], p["Name"])

    async def op_UpdateAlias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.aliases.update(ctx.scope, p)

    async def op_DeleteAlias(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.platform.aliases.delete(ctx.scope, p["FunctionName"], p["Name"])
        return None

    async def op_ListAliases(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.aliases.list_aliases(
            ctx.scope,
            p["FunctionName"],
            p.get("FunctionVersion"),
            p.get("Marker"),
            p.get("MaxItems"),
        )

    # -- layers ---------------------------------------------------------------------------

    async def op_PublishLayerVersion(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.platform.offload(
            self.platform.layers.publish, ctx.scope, p, self.code_url(ctx)
        )

    async def op_GetLayerVersion(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.layers.get(
            ctx.scope, p["LayerName"], int(p["VersionNumber"]), self.code_url(ctx)
        )

    async def op_GetLayerVersionByArn(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.layers.get_by_arn(ctx.scope, p["Arn"], self.code_url(ctx))

    async def op_ListLayers(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.layers.list_layers(
            ctx.scope,
            p.get("CompatibleRuntime"),
            p.get("CompatibleArchitecture"),
            p.get("Marker"),
            p.get("MaxItems"),
        )

    async def op_ListLayerVersions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.layers.list_versions(
            ctx.scope,
            p["LayerName"],
            p.get("CompatibleRuntime"),
            p.get("CompatibleArchitecture"),
            p.get("Marker"),
            p.get("MaxItems"),
        )

    async def op_DeleteLayerVersion(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.platform.layers.delete(ctx.scope, p["LayerName"], int(p["VersionNumber"]))
        return None

    async def op_AddLayerVersionPermission(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.layers.add_permission(ctx.scope, p)

    async def op_GetLayerVersionPolicy(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.layers.get_policy(ctx.scope, p["LayerName"], int(p["VersionNumber"]))

    async def op_RemoveLayerVersionPermission(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.platform.layers.remove_permission(
            ctx.scope,
            p["LayerName"],
            int(p["VersionNumber"]),
            p["StatementId"],
            p.get("RevisionId"),
        )
        return None

    # -- resource policies -------------------------------------------------------------------

    async def op_AddPermission(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.policies.add_permission(ctx.scope, p)

    async def op_GetPolicy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.platform.policies.get_policy(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def op_RemovePermission(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.platform.policies.remove_permission(
            ctx.scope, p["FunctionName"], p["StatementId"], p.get("Qualifier"), p.get("RevisionId")
        )
        return None

    # -- concurrency ----------------------------------------------------------------------

    async def op_PutFunctionConcurrency(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.concurrency.put_reserved(
            ctx.scope, p["FunctionName"], int(p["ReservedConcurrentExecutions"])
        )

    async def op_GetFunctionConcurrency(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.concurrency.get_reserved(ctx.scope, p["FunctionName"])

    async def op_DeleteFunctionConcurrency(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        self.platform.concurrency.delete_reserved(ctx.scope, p["FunctionName"])
        return None

    async def op_PutProvisionedConcurrencyConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.concurrency.put_provisioned(
            ctx.scope, p["FunctionName"], p["Qualifier"], int(p["ProvisionedConcurrentExecutions"])
        )

    async def op_GetProvisionedConcurrencyConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.concurrency.get_provisioned(
            ctx.scope, p["FunctionName"], p["Qualifier"]
        )

    async def op_DeleteProvisionedConcurrencyConfig(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> None:
        self.platform.concurrency.delete_provisioned(ctx.scope, p["FunctionName"], p["Qualifier"])
        return None

    async def op_ListProvisionedConcurrencyConfigs(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self.platform.concurrency.list_provisioned(
            ctx.scope, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
        )
