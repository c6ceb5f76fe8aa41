"""A mapping's durable checkpoints: strings by key (a shard id), kept as children of
kind ``esm-checkpoint`` under the mapping's UUID in the metadata store, whose commits
are durable (``synchronous=FULL``): a completed ``save`` survives ``kill -9``. Store
calls run on the mappings' thread pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

T = TypeVar("T")
KIND: Final = "esm-checkpoint"
Offload = Callable[..., Awaitable[Any]]


class StoredCheckpoints:
    def __init__(self, store: MetadataStore, scope: Scope, uuid: str, offload: Offload) -> None:
        self.store = store
        self.scope = scope
        self.uuid = uuid
        self.offload = offload

    async def load(self, key: str) -> str | None:
        doc = await self.offload(
            self.store.get_child, KIND, self.scope.account, self.scope.region, self.uuid, key
        )
        return None if doc is None else str(doc["value"])

    async def load_all(self) -> dict[str, str]:
        rows = await self.offload(
            self.store.list_children, KIND, self.scope.account, self.scope.region, self.uuid
        )
        return {key: str(doc["value"]) for key, doc in rows}

    async def save(self, key: str, value: str) -> None:
        await self.offload(
            self.store.put_child,
            KIND, self.scope.account, self.scope.region, self.uuid, key, {"value": value},
        )  # fmt: skip

    async def delete(self, key: str) -> None:
        await self.offload(
            self.store.delete_child, KIND, self.scope.account, self.scope.region, self.uuid, key
        )


def drop_all(store: MetadataStore, scope: Scope, uuid: str) -> None:
    """Forget every checkpoint of a deleted mapping."""
    with store.transaction():
        for key, _ in store.list_children(KIND, scope.account, scope.region, uuid):
            store.delete_child(KIND, scope.account, scope.region, uuid, key)
