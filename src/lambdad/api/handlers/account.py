"""The handler for ``GetAccountSettings``: an account's limits and usage in a region."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.concurrency import ConcurrencyService
from lambdad.control.functions import FunctionService


class AccountHandlers:
    def __init__(self, functions: FunctionService, concurrency: ConcurrencyService) -> None:
        self.functions = functions
        self.concurrency = concurrency

    async def get_settings(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        out = self.functions.account_settings(ctx.scope)
        # Reservations and provisioned concurrency both come out of the unreserved pool.
        out["AccountLimit"]["UnreservedConcurrentExecutions"] = self.concurrency.unreserved(
            ctx.scope
        )
        return out
