"""Handlers for tags: a function's, an event source mapping's or a capacity provider's
(by its ARN)."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.capacity_providers import CapacityProviders
from lambdad.control.event_source_mappings import EventSourceMappingService
from lambdad.control.functions import FunctionService
from lambdad.errors import InvalidParameterValueException
from lambdad.model.event_source_mapping import parse_mapping_arn
from lambdad.model.scope import Scope

_MAPPING = ":event-source-mapping:"
_PROVIDER = ":capacity-provider:"


class TagHandlers:
    def __init__(
        self,
        functions: FunctionService,
        mappings: EventSourceMappingService | None = None,
        providers: CapacityProviders | None = None,
    ) -> None:
        self.functions = functions
        self.mappings = mappings
        self.providers = providers

    async def tag(self, ctx: RequestContext, p: Params) -> None:
        if self.providers is not None and _PROVIDER in p["Resource"]:
            if not p["Tags"]:
                raise InvalidParameterValueException(
                    "An error occurred and the request cannot be processed."
                )
            self.providers.tag(ctx.scope, p["Resource"], p["Tags"])
            return
        if self.mappings is not None and _MAPPING in p["Resource"]:
            if not p["Tags"]:
                raise InvalidParameterValueException(
                    "An error occurred and the request cannot be processed."
                )
            self.mappings.tag(ctx.scope, _uuid(ctx.scope, p["Resource"]), p["Tags"])
            return
        self.functions.tag_resource(ctx.scope, p["Resource"], p["Tags"])

    async def untag(self, ctx: RequestContext, p: Params) -> None:
        if self.providers is not None and _PROVIDER in p["Resource"]:
            self.providers.untag(ctx.scope, p["Resource"], p["TagKeys"])
            return
        if self.mappings is not None and _MAPPING in p["Resource"]:
            self.mappings.untag(ctx.scope, _uuid(ctx.scope, p["Resource"]), p["TagKeys"])
            return
        self.functions.untag_resource(ctx.scope, p["Resource"], p["TagKeys"])

    async def list(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        if self.providers is not None and _PROVIDER in p["Resource"]:
            return self.providers.list_tags(ctx.scope, p["Resource"])
        if self.mappings is not None and _MAPPING in p["Resource"]:
            return self.mappings.list_tags(ctx.scope, _uuid(ctx.scope, p["Resource"]))
        return self.functions.list_tags(ctx.scope, p["Resource"])


def _uuid(scope: Scope, arn: str) -> str:
    """The mapping an ARN names, in the caller's own account and region only."""
    parsed = parse_mapping_arn(arn)
    if parsed is None:
        raise InvalidParameterValueException(f"Invalid ARN: {arn}")
    region, account, uuid = parsed
    if (region, account) != (scope.region, scope.account):
        raise InvalidParameterValueException(f"Invalid ARN: {arn}")
    return uuid
