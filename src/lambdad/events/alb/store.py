"""Where balancers and target groups are kept, per (account, region).

A balancer (kind ``elb-lb``) is one document with its listeners and their rules;
a target group (kind ``elb-tg``) one document with its target and attributes; both
keyed by name under the name ``elb:<kind>`` (no function is named with a colon).
``generation`` grows with every write so the door knows its view is stale; the
door finds a balancer by its DNS id alone (``DnsId``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from lambdad.events.alb.errors import not_found
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

LB: Final = "elb-lb"
TG: Final = "elb-tg"
_NOT_FOUND: Final = {LB: "LoadBalancerNotFound", TG: "TargetGroupNotFound"}


class ElbStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.generation = 0
        self.lock = threading.RLock()

    def all(self, kind: str, scope: Scope) -> list[Doc]:
        rows = self.store.list_children(kind, scope.account, scope.region, f"elb:{kind}")
        return [doc for _, doc in rows]

    def by_arn(self, kind: str, scope: Scope, arn: str) -> Doc:
        for doc in self.all(kind, scope):
            if doc["Arn"] == arn:
                return doc
        raise not_found(_NOT_FOUND[kind], arn)

    def put(self, kind: str, scope: Scope, doc: Doc) -> None:
        with self.lock:
            self.store.put_child(kind, scope.account, scope.region, f"elb:{kind}", doc["Name"], doc)
            self.generation += 1

    def delete(self, kind: str, scope: Scope, name: str) -> None:
        with self.lock:
            self.store.delete_child(kind, scope.account, scope.region, f"elb:{kind}", name)
            self.generation += 1

    @contextmanager
    def edit(self, kind: str, scope: Scope, arn: str) -> Iterator[Doc]:
        with self.lock:
            doc = self.by_arn(kind, scope, arn)
            yield doc
            self.put(kind, scope, doc)

    def find_balancer(self, dns: str) -> tuple[Scope, Doc] | None:
        for account, region, _, _, doc in self.store.find_children(LB, "DnsId", dns):
            return Scope(account, region), doc
        return None
