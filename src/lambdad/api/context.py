"""What a handler knows about the request it serves, and the id every request gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambdad.api.sigv4 import Principal
from lambdad.model.ids import new_uuid4
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


def new_request_id() -> str:
    """A random (version 4) UUID as text (``model.ids.new_uuid4``)."""
    return new_uuid4()
