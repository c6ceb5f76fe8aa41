"""The mapping supervisor: pollers start and stop with their mappings and functions."""

from __future__ import annotations

import asyncio
from typing import Any

from lambdad.errors import ResourceNotFoundException
from lambdad.events.mappings import checkpoints
from lambdad.events.mappings.supervisor import MappingSupervisor, function_exists
from lambdad.model.event_source_mapping import EventSourceMapping
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore
from unit.mapping_harness import EAST, Harness


class FakePoller:
    running: set[str] = set()  # noqa: RUF012

    def __init__(self, mapping: EventSourceMapping, context: Any) -> None:
        self.mapping = mapping

    async def run(self) -> None:
        FakePoller.running.add(self.mapping.uuid)
        try:
            await asyncio.Event().wait()
        finally:
            FakePoller.running.discard(self.mapping.uuid)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_pollers_follow_mappings_and_functions(store: SqliteStore, blobs: BlobStore) -> None:
    h = Harness(store, blobs)

    def exists(scope: Any, name: str) -> object:
        return h.functions.function_doc(scope, name)

    sup = MappingSupervisor(
        h.service, store, h.changes, lambda m: None,  # type: ignore[arg-type,return-value]
        function_exists(exists), {"sqs": FakePoller},
    )  # fmt: skip

    async def scenario() -> None:
        await sup.start()
        uuid = h.create()["UUID"]
        await _settle()
        assert h.service.get(EAST, uuid)["State"] == "Enabled"
        assert FakePoller.running == {uuid}
        h.service.update(EAST, uuid, {"Enabled": False})
        await _settle()
        assert h.service.get(EAST, uuid)["State"] == "Disabled"
        assert FakePoller.running == set()
        h.service.update(EAST, uuid, {"Enabled": True})
        await _settle()
        assert FakePoller.running == {uuid}
        # The function goes: its mapping stops polling at once, and says why.
        h.functions.delete_function(EAST, "fn", None)
        await _settle()
        assert FakePoller.running == set()
        assert h.service.get(EAST, uuid)["LastProcessingResult"] == "PROBLEM: Function not found"
        # Created again (CreateFunction publishes no change): found by the next look.
        h.create_function()
        sup.recheck()
        await _settle()
        assert FakePoller.running == {uuid}
        store.put_child(
            checkpoints.KIND, EAST.account, EAST.region, uuid, "shard-1", {"value": "7"}
        )
        h.service.delete(EAST, uuid)
        await _settle()
        try:
            h.service.get(EAST, uuid)
            raise AssertionError("the mapping is still there")
        except ResourceNotFoundException:
            pass
        assert store.list_children(checkpoints.KIND, EAST.account, EAST.region, uuid) == []
        await sup.stop()

    asyncio.run(scenario())
