"""Elastic Load Balancing as the platform holds it: the store, the control operations
by AWS operation name (for ``api.elbv2_api``), and the door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.events.alb import names
from lambdad.events.alb.balancers import Balancers
from lambdad.events.alb.door import LoadBalancerDoor, ServicePolicies
from lambdad.events.alb.listeners import ListenerPorts
from lambdad.events.alb.store import ElbStore
from lambdad.events.alb.target_groups import TargetGroups
from lambdad.events.function_urls import SyncInvoker
from lambdad.events.url_cache import UrlCache
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

Operation = Callable[[Scope, dict[str, Any]], dict[str, Any]]


class LoadBalancing:
    def __init__(
        self, store: MetadataStore, clock: Clock, policies: ServicePolicies, port: int
    ) -> None:
        self.store = ElbStore(store)
        self.clock = clock
        self.policies = policies
        self.port = port
        self.listening = ListenerPorts(self.store)

    def operations(self) -> dict[str, Operation]:
        def permitted(scope: Scope, name: str, qualifier: str | None, group_arn: str) -> bool:
            return self.policies.allows_service(
                scope, name, qualifier, names.SERVICE_PRINCIPAL, group_arn
            )

        return {
            **Balancers(self.store, self.clock, self.listening.bind_error).operations(),
            **TargetGroups(self.store, self.clock, permitted).operations(),
        }

    def door(self, invoker: SyncInvoker, cache: UrlCache) -> LoadBalancerDoor:
        return LoadBalancerDoor(
            self.store, invoker, self.policies, cache, self.clock, port=self.port
        )
