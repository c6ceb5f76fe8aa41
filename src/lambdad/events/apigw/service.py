"""API Gateway as the platform holds it: one store of APIs, the control operations of
both APIs over it (by AWS operation name, for ``api.apigateway_api``), and the door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.events.apigw.api_store import ApiStore
from lambdad.events.apigw.door import ApiGatewayDoor
from lambdad.events.apigw.gateway_access import ServicePolicies
from lambdad.events.apigw.http_apis import HttpApis
from lambdad.events.apigw.rest_apis import RestApis
from lambdad.events.function_urls import SyncInvoker
from lambdad.events.url_auth import Verifier
from lambdad.events.url_cache import UrlCache
from lambdad.events.websocket.control import RouteResponses
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

Operation = Callable[[Scope, dict[str, Any]], dict[str, Any]]


class ApiGateway:
    def __init__(self, store: MetadataStore, clock: Clock, port: int) -> None:
        self.apis = ApiStore(store)
        self.clock = clock
        self.port = port

    def http_operations(self) -> dict[str, Operation]:
        operations = HttpApis(self.apis, self.clock, self.port).operations()
        return {**operations, **RouteResponses(self.apis).operations()}

    def rest_operations(self) -> dict[str, Operation]:
        return RestApis(self.apis, self.clock).operations()

    def door(
        self,
        invoker: SyncInvoker,
        policies: ServicePolicies,
        cache: UrlCache,
        verify: Verifier | None = None,
        trusted_account: Callable[[str], bool] | None = None,
    ) -> ApiGatewayDoor:
        """The door; ``verify`` checks SigV4 for ``execute-api`` (``AWS_IAM`` routes);
        ``trusted_account`` names the accounts whose JWT issuers may be on the host or
        its private networks (others: public addresses only)."""
        return ApiGatewayDoor(
            self.apis,
            invoker,
            policies,
            cache,
            self.clock,
            port=self.port,
            verify=verify,
            trusted_account=trusted_account,
        )
