"""What every API Gateway door (HTTP, REST and WebSocket APIs) checks before it invokes
a function, and how it finds the API: shared by ``door.py`` and ``events/websocket``.

An API is found by id through an ``ApiLookup``, remembered until the next
control-plane write (bounded: a flood of unknown ids starts it over). An API invokes
only functions of its own account and region (the name alone would otherwise reach
the owner's namesake of another's function), and only when the function's resource
policy lets ``apigateway.amazonaws.com`` invoke it for the source ARN (remembered in
the doors' ``UrlCache`` until a policy changes).
"""

from __future__ import annotations

from typing import Final, Protocol

from lambdad.events.apigw import names
from lambdad.events.apigw.api_store import ApiStore, Found
from lambdad.events.url_cache import UrlCache
from lambdad.model import peer
from lambdad.model.arn import FunctionRef
from lambdad.model.scope import Scope

MAX_REMEMBERED: Final = 10_000


class ServicePolicies(Protocol):
    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool: ...


class ApiLookup:
    def __init__(self, apis: ApiStore) -> None:
        self.apis = apis
        self._found: dict[str, tuple[int, Found | None]] = {}

    def find(self, api_id: str) -> Found | None:
        generation = self.apis.generation
        cached = self._found.get(api_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        found = self.apis.find(api_id)
        if len(self._found) >= MAX_REMEMBERED:
            self._found.clear()
        self._found[api_id] = (generation, found)
        return found


class Permissions:
    def __init__(self, policies: ServicePolicies, cache: UrlCache) -> None:
        self.policies = policies
        self.cache = cache

    def permitted(self, found: Found, name: str, qualifier: str | None, arn: str) -> bool:
        """Whether the function's policy lets API Gateway invoke it for ``arn``."""
        owner = found.scope
        return self.cache.get(
            ("apigw", owner, name, qualifier, arn),
            lambda: self.policies.allows_service(
                owner, name, qualifier, names.SERVICE_PRINCIPAL, arn
            ),
        )

    def may_invoke(self, found: Found, function: FunctionRef, arn: str) -> bool:
        """Whether the API may invoke ``function`` for ``arn``."""
        owner = found.scope
        return (
            function.account in (None, owner.account)
            and function.region in (None, owner.region)
            and self.permitted(found, function.name, function.qualifier, arn)
        )


def as_sent(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with their names as the client spelled them, when the API port
    recorded them for this request (REST APIs' and WebSocket APIs' events keep them)."""
    spelled = peer.HEADER_NAMES.get()
    if spelled is None or len(spelled) != len(headers):
        return headers
    return [(name, value) for name, (_, value) in zip(spelled, headers, strict=True)]
