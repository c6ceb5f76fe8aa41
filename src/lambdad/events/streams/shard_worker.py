"""One shard's loop: read pages, gather batches, hand them to the function, move the
durable checkpoint, until the shard is closed and read to its end.

Without a tumbling window the records read are processed in rounds: up to
``BatchSize`` times ``ParallelizationFactor`` records, split into lanes by key, the lanes
run at once (each lane's batches in order), and the checkpoint moves past the round
when every lane is done; with a single lane it also moves after each batch. A crash
re-reads from the checkpoint: every record is processed at least once, none is
skipped, and the records of one key are never reordered. Records the mapping's
filters drop are checkpointed past like processed ones.

Tumbling windows are ``window_worker.WindowWorker``, the same loop with other steps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from lambdad.events.mappings.contract import PollerContext
from lambdad.events.streams.batch_runner import BatchRunner
from lambdad.events.streams.batching import is_full, take, window_left
from lambdad.events.streams.lanes import split
from lambdad.events.streams.positions import AFTER_SEQUENCE_NUMBER, IteratorRequest
from lambdad.events.streams.records import StreamRecord, filter_view
from lambdad.events.streams.settings import StreamSettings
from lambdad.events.streams.source import ExpiredIterator, SourceError, StreamSource

log = logging.getLogger(__name__)

SHARD_END = "SHARD_END"  # the checkpoint of a shard read to its end


class ShardWorker:
    def __init__(
        self,
        context: PollerContext,
        source: StreamSource,
        shard_id: str,
        settings: StreamSettings,
        start: IteratorRequest,
        ending: Callable[[], str | None],
        source_arn: str,
    ) -> None:
        self.context = context
        self.source = source
        self.shard_id = shard_id
        self.settings = settings
        self.start = start
        self.ending = ending  # the shard's last sequence number once it is closed
        self.source_arn = source_arn
        self.runner = BatchRunner(
            context,
            settings.policy,
            kind=source.kind,
            shard_id=shard_id,
            source_arn=source_arn,
            report_item_failures=settings.report_item_failures,
        )
        self.iterator: str | None = None
        self.pending: list[StreamRecord] = []
        self.first_read_at: float | None = None
        self.last_read: str | None = None  # the last record read (kept or filtered out)
        self.saved: str | None = start.sequence_number
        self.capacity = settings.batch_size * settings.lanes
        self.errors = 0

    async def run(self) -> None:
        """Until the shard is read to its end (then its checkpoint says so)."""
        self.iterator = await self._iterator(self.start)
        while True:
            empty = await self._fill()
            busy = await self._step()
            if self.iterator is None and not self.pending and self._settled():
                await self.context.checkpoints.save(self.shard_id, SHARD_END)
                return
            if not busy and empty:
                await self.context.sleep(self._idle_wait())

    # -- reading ------------------------------------------------------------------------

    def _now(self) -> float:
        return self.context.clock.now().timestamp()

    def _idle_wait(self) -> float:
        wait = self.settings.idle_poll
        if self.pending and self.first_read_at is not None:
            left = window_left(self.first_read_at, self.settings.batching_window, self._now())
            wait = min(wait, max(left, 0.01))
        return wait

    async def _iterator(self, request: IteratorRequest) -> str:
        while True:
            try:
                iterator = await self.source.iterator(self.shard_id, request)
                self.errors = 0
                return iterator
            except SourceError as exc:
                await self._source_failed(exc)

    async def _source_failed(self, exc: Exception) -> None:
        self.errors += 1
        log.warning("shard %s of %s: %s", self.shard_id, self.source_arn, exc)
        self.context.report(result=f"PROBLEM: {exc}"[:1000])
        await self.context.sleep(self.context.backoff(self.errors))

    async def _fill(self) -> bool:
        """Read one page when there is room; whether nothing new came."""
        if self.iterator is None or is_full(self.pending, self.capacity):
            return True
        try:
            # A page as large as the service gives (Kinesis: 10 MB at most): reading
            # costs per call, and the next rounds are served from what was read.
            page = await self.source.read(self.shard_id, self.iterator, self.source.max_limit)
            self.errors = 0
        except ExpiredIterator:
            restart = self.last_read or self.saved
            request = (
                IteratorRequest(AFTER_SEQUENCE_NUMBER, sequence_number=restart)
                if restart is not None
                else self.start
            )
            self.iterator = await self._iterator(request)
            return False
        except SourceError as exc:
            await self._source_failed(exc)
            return True
        self.iterator = page.next_iterator
        if not page.records and self._at_closed_end(page.behind_ms):
            # Some services (moto) never end a closed shard's iterators.
            self.iterator = None
        filters = self.context.filter
        for record in page.records:
            self.last_read = record.sequence_number
            if self.start.passes_over(record.arrival):
                continue  # written before a LATEST mapping started
            if filters.empty or filters.matches(filter_view(record)):
                self.pending.append(record)
        if self.pending and self.first_read_at is None:
            self.first_read_at = self._now()
        return not page.records

    def _at_closed_end(self, behind_ms: int) -> bool:
        """After an empty page: whether the closed shard has nothing more. Kinesis says
        how far behind the tip a page is; elsewhere an empty page proves nothing until
        the last record read is the shard's last."""
        ending = self.ending()
        if ending is None:
            return False
        if self.source.kind == "kinesis" and behind_ms == 0:
            return True
        return self.last_read is not None and int(self.last_read) >= int(ending)

    async def _checkpoint(self, sequence_number: str | None) -> None:
        if sequence_number is None or sequence_number == self.saved:
            return
        if self.saved is not None and int(sequence_number) <= int(self.saved):
            return
        await self.context.checkpoints.save(self.shard_id, sequence_number)
        self.saved = sequence_number

    async def _done(self, record: StreamRecord) -> None:
        await self._checkpoint(record.sequence_number)

    def _ready(self, records: Sequence[StreamRecord], size: int) -> bool:
        if not records:
            return False
        if self.iterator is None or is_full(records, size):
            return True
        left = window_left(self.first_read_at, self.settings.batching_window, self._now())
        return left <= 0

    # -- rounds -------------------------------------------------------------------------

    def _settled(self) -> bool:
        """Whether nothing read is still owed an invoke (a window: its final one)."""
        return True

    async def _step(self) -> bool:
        """Invoke what is ready; whether anything was."""
        if not self.pending:
            await self._checkpoint(self.last_read)  # records the filters dropped
            return False
        if not self._ready(self.pending, self.capacity):
            return False
        chunk = self.pending[: self.capacity]
        lanes = split(chunk, self.settings.lanes)
        if len(lanes) == 1:
            await self._lane(lanes[0], single=True)
        else:
            async with asyncio.TaskGroup() as group:
                for lane in lanes:
                    group.create_task(self._lane(lane, single=False))
        del self.pending[: len(chunk)]
        await self._checkpoint(chunk[-1].sequence_number if self.pending else self.last_read)
        self.first_read_at = self._now() if self.pending else None
        return True

    async def _lane(self, records: Sequence[StreamRecord], *, single: bool) -> None:
        size = self.settings.batch_size
        while records:
            count = take(records, size)
            await self.runner.run(records[:count], on_done=self._done if single else None)
            records = records[count:]
