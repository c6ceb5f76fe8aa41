"""The handler for ``GetAccountSettings``: an account's limits and usage in a region."""

from __future__ import annotations

from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.handlers import Params
from lambdad.control.account import AccountSettings
from lambdad.control.concurrency import ConcurrencyService


class AccountHandlers:
    def __init__(self, account: AccountSettings, concurrency: ConcurrencyService) -> None:
        self.account = account
        self.concurrency = concurrency

    async def get_settings(self, ctx: RequestContext, p: Params) -> dict[str, Any]:
        out = self.account.get(ctx.scope)
        # Reservations and provisioned concurrency both come out of the unreserved pool.
        out["AccountLimit"]["UnreservedConcurrentExecutions"] = self.concurrency.unreserved(
            ctx.scope
        )
        return out
