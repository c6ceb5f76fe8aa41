"""Documents of one kind kept per (account, region) in the metadata store's children,
under a parent name and a key: what EventBridge's buses and rules
(events/rule_store.py), Scheduler's groups and schedules (events/scheduler/store.py)
and Lambda's capacity providers (control/capacity_providers.py) each are. Their parent
names hold a colon (``events:...``, ``scheduler:...``, ``cp:``), which no function
name does, so deleting a function never touches them."""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore


@dataclass(frozen=True, slots=True)
class ScopedDocs:
    store: MetadataStore
    kind: str

    def get(self, scope: Scope, parent: str, key: str) -> Doc | None:
        return self.store.get_child(self.kind, scope.account, scope.region, parent, key)

    def put(self, scope: Scope, parent: str, key: str, doc: Doc) -> None:
        self.store.put_child(self.kind, scope.account, scope.region, parent, key, doc)

    def delete(self, scope: Scope, parent: str, key: str) -> None:
        self.store.delete_child(self.kind, scope.account, scope.region, parent, key)

    def list(self, scope: Scope, parent: str) -> list[tuple[str, Doc]]:
        return self.store.list_children(self.kind, scope.account, scope.region, parent)
