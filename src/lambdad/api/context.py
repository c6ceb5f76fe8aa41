"""What a handler knows about the request it serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambdad.api.sigv4 import Principal
from lambdad.model.scope import Scope


@dataclass(frozen=True, slots=True)
class RequestContext:
    principal: Principal
    request_id: str
    base_url: str
    headers: Mapping[str, str]

    @property
    def scope(self) -> Scope:
        return Scope(self.principal.credential.account_id, self.principal.region)
