"""Handlers for a function's life: create, read, list, update code and
configuration, delete.

What of a configuration this host cannot honour is said in the server's log when a
function is created or changed; the composition root supplies that check
(``HostFit``), which the runtime table answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lambdad.api.context import RequestContext
from lambdad.api.handlers import CodeUrls, Offload, Params
from lambdad.control.functions import FunctionService

log = logging.getLogger(__name__)


class Shortfall(Protocol):
    """Something a configuration asks for that this host cannot honour."""

    @property
    def message(self) -> str: ...

    @property
    def blocking(self) -> bool: ...


# A FunctionConfiguration -> what of it this host cannot honour.
HostFit = Callable[[Mapping[str, Any]], Sequence[Shortfall]]


class FunctionHandlers:
    def __init__(
        self,
        functions: FunctionService,
        offload: Offload,
        code_urls: CodeUrls,
        host_fit: HostFit,
        *,
        offload_pull: Offload | None = None,
    ) -> None:
        self.functions = functions
        self.offload = offload
        # Where a request that pulls a container image runs (its own threads).
        self.offload_pull = offload_pull or offload
        self.code_urls = code_urls
        self.host_fit = host_fit

    async def create_function(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        offload = self.offload_pull if p.get("PackageType") == "Image" else self.offload
        out = await offload(self.functions.create_function, ctx.scope, p)
        self._warn_shortfalls(ctx, out)
        return out

    async def get_function(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.functions.get_function(
            ctx.scope, p["FunctionName"], p.get("Qualifier"), self.code_urls(ctx)
        )

    async def get_configuration(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.functions.get_configuration(ctx.scope, p["FunctionName"], p.get("Qualifier"))

    async def list_functions(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        return self.functions.list_functions(
            ctx.scope, p.get("Marker"), p.get("MaxItems"), p.get("FunctionVersion") == "ALL"
        )

    async def update_code(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        offload = self.offload_pull if p.get("ImageUri") else self.offload
        return await offload(self.functions.update_code, ctx.scope, p)

    async def update_configuration(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        out = self.functions.update_configuration(ctx.scope, p)
        self._warn_shortfalls(ctx, out)
        return out

    async def delete_function(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        self.functions.delete_function(ctx.scope, p["FunctionName"], p.get("Qualifier"))
        return {"StatusCode": 204}

    def _warn_shortfalls(self, ctx: RequestContext, config: dict[str, Any]) -> None:
        """Say in the server's log what of ``config`` this host cannot honour."""
        for s in self.host_fit(config):
            log.warning(
                "function %s (account %s, region %s)%s: %s",
                config.get("FunctionName"),
                ctx.scope.account,
                ctx.scope.region,
                " cannot run on this host" if s.blocking else "",
                s.message,
            )
