"""A Kinesis or DynamoDB Streams mapping's poller: the ``SourcePoller`` the mapping
supervisor runs (``events/mappings/registry.py``).

It lists the stream's shards, starts a ``ShardWorker`` for each shard whose parents
are finished (``shards.startable``), lists them again when a shard ends or every
``DISCOVERY_INTERVAL`` seconds to find the children of splits and merges, and keeps
each worker running through source errors (reported in ``LastProcessingResult``,
retried with the context's backoff). Checkpoints: a shard's last processed sequence
number, ``SHARD_END`` once read to its end, and ``_started``, when the mapping first
polled (what ``LATEST`` means after a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from lambdad.events.mappings.contract import NoSourceIdentity, PollerContext
from lambdad.events.streams.dynamodb import DynamoDBStreamSource
from lambdad.events.streams.kinesis import KinesisSource
from lambdad.events.streams.positions import start_of
from lambdad.events.streams.settings import DISCOVERY_INTERVAL, StreamSettings
from lambdad.events.streams.shard_worker import SHARD_END, ShardWorker
from lambdad.events.streams.shards import Shard, startable
from lambdad.events.streams.source import SourceError, StreamSource
from lambdad.events.streams.window_worker import WindowWorker

log = logging.getLogger(__name__)

STARTED = "_started"


def make_source(context: PollerContext) -> StreamSource:
    arn = context.mapping.event_source_arn
    if context.mapping.kind == "kinesis":
        client = context.client("kinesis")
        return KinesisSource(
            client, context.run_blocking, arn, identity_arn=context.function_role()
        )
    return DynamoDBStreamSource(context.client("dynamodbstreams"), context.run_blocking, arn)


class StreamPoller:
    def __init__(
        self, mapping: Any, context: PollerContext, source: StreamSource | None = None
    ) -> None:
        self.mapping = mapping
        self.context = context
        self.source = source
        self.settings = StreamSettings.of(mapping)
        self.listing: dict[str, Shard] = {}
        self.errors = 0

    async def _failed(self, exc: Exception) -> None:
        self.errors += 1
        log.warning("mapping %s: %s", self.mapping.uuid, exc)
        self.context.report(result=f"PROBLEM: {exc}"[:1000])
        await self.context.sleep(self.context.backoff(self.errors))

    async def run(self) -> None:
        source = await self._source()
        saved, started_at = await self._saved()
        finished = {key for key, value in saved.items() if value == SHARD_END}
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                try:
                    shards = await source.shards()
                    self.errors = 0
                except SourceError as exc:
                    await self._failed(exc)
                    continue
                self.listing = {s.shard_id: s for s in shards}
                for shard in startable(shards, finished, tasks):
                    tasks[shard.shard_id] = asyncio.create_task(
                        self._shard(source, shard, float(started_at))
                    )
                if not tasks:
                    await self.context.sleep(DISCOVERY_INTERVAL)
                    continue
                done, _ = await asyncio.wait(
                    tasks.values(), timeout=DISCOVERY_INTERVAL, return_when=asyncio.FIRST_COMPLETED
                )
                for shard_id, task in list(tasks.items()):
                    if task in done:
                        finished.add(shard_id)
                        del tasks[shard_id]
        finally:
            for task in tasks.values():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _source(self) -> StreamSource:
        while self.source is None:
            try:
                self.source = make_source(self.context)
            except NoSourceIdentity as exc:
                await self._failed(exc)
            except Exception as exc:  # a bad endpoint setting, say: reported, retried
                log.exception("mapping %s: no client for its source", self.mapping.uuid)
                await self._failed(exc)
        return self.source

    async def _saved(self) -> tuple[dict[str, str], str]:
        """The mapping's checkpoints, and when it first polled (saved the first time)."""
        while True:
            try:
                saved = await self.context.checkpoints.load_all()
                started_at = saved.get(STARTED)
                if started_at is None:
                    started_at = str(self.context.clock.now().timestamp())
                    await self.context.checkpoints.save(STARTED, started_at)
                return saved, started_at
            except Exception as exc:  # the store is full or locked: try again
                log.exception("mapping %s: reading its checkpoints failed", self.mapping.uuid)
                await self._failed(exc)

    async def _shard(self, source: StreamSource, shard: Shard, started_at: float) -> None:
        """One shard to its end, starting again from its checkpoint after any failure."""
        attempt = 0
        while True:
            try:
                checkpoint = await self.context.checkpoints.load(shard.shard_id)
                if checkpoint == SHARD_END:
                    return
                start = start_of(
                    checkpoint,
                    position=self.settings.starting_position,
                    position_timestamp=self.settings.starting_position_timestamp,
                    started_at=started_at,
                    timestamps=source.timestamps,
                )
                kind = WindowWorker if self.settings.tumbling_window else ShardWorker
                worker = kind(
                    self.context,
                    source,
                    shard.shard_id,
                    self.settings,
                    start,
                    lambda: self.listing.get(shard.shard_id, shard).ending_sequence_number,
                    source.stream_arn,
                )
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt += 1
                log.exception("mapping %s: shard %s failed", self.mapping.uuid, shard.shard_id)
                await self.context.sleep(self.context.backoff(attempt))
