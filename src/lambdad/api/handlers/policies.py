"""Handlers for a function's resource-based policy (who else may invoke it)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.policies import PolicyService


class PolicyHandlers:
    def __init__(self, policies: PolicyService) -> None:
        self.policies = policies

    async def add_permission(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.policies.add_permission(ctx.scope, p)

    async def get_policy(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.policies.get_policy(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def remove_permission(self, ctx: RequestContext, p: Params) -> None:
        self.policies.remove_permission(
            ctx.scope, p["FunctionName"], p["StatementId"], p.get("Qualifier"), p.get("RevisionId")
        )
