"""Kinesis Data Streams through boto3: ``ListShards``, ``GetShardIterator`` and
``GetRecords``, each on the mappings' bounded thread pool (boto3 blocks). A mapping
of a stream consumer (enhanced fan-out) reads its stream the same way."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from lambdad.events.streams.positions import IteratorRequest
from lambdad.events.streams.records import kinesis_record
from lambdad.events.streams.shards import Shard, shard_from_api
from lambdad.events.streams.source import (
    ExpiredIterator,
    Page,
    SourceError,
    boto_errors,
    error_code,
)

Blocking = Callable[..., Awaitable[Any]]


class KinesisSource:
    kind = "kinesis"
    timestamps = True
    max_limit = 10_000

    def __init__(
        self, client: Any, run_blocking: Blocking, stream_arn: str, *, identity_arn: str
    ) -> None:
        self.client = client
        self.run_blocking = run_blocking
        # A stream consumer's ARN (enhanced fan-out) is read as its stream, through
        # GetRecords: lambdad has no HTTP/2 SubscribeToShard.
        self.stream_arn = stream_arn.split("/consumer/")[0]
        self.stream_name = self.stream_arn.split(":", 5)[5].removeprefix("stream/")
        self.region = stream_arn.split(":")[3]
        self.identity_arn = identity_arn

    async def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return await self.run_blocking(lambda: fn(**kwargs))
        except boto_errors() as exc:
            if error_code(exc) == "ExpiredIteratorException":
                raise ExpiredIterator(str(exc)) from None
            raise SourceError(str(exc)) from None

    async def shards(self) -> list[Shard]:
        found: list[Shard] = []
        page = await self._call(self.client.list_shards, StreamName=self.stream_name)
        found += [shard_from_api(s) for s in page.get("Shards", [])]
        while page.get("NextToken"):
            page = await self._call(self.client.list_shards, NextToken=page["NextToken"])
            found += [shard_from_api(s) for s in page.get("Shards", [])]
        return found

    async def iterator(self, shard_id: str, request: IteratorRequest) -> str:
        args: dict[str, Any] = {
            "StreamName": self.stream_name,
            "ShardId": shard_id,
            "ShardIteratorType": request.type,
        }
        if request.sequence_number is not None:
            args["StartingSequenceNumber"] = request.sequence_number
        if request.timestamp is not None:
            args["Timestamp"] = datetime.datetime.fromtimestamp(request.timestamp, datetime.UTC)
        answer = await self._call(self.client.get_shard_iterator, **args)
        return str(answer["ShardIterator"])

    async def read(self, shard_id: str, iterator: str, limit: int) -> Page:
        answer = await self._call(
            self.client.get_records, ShardIterator=iterator, Limit=min(limit, self.max_limit)
        )
        records = [
            kinesis_record(
                raw,
                shard_id=shard_id,
                stream_arn=self.stream_arn,
                region=self.region,
                identity_arn=self.identity_arn,
            )
            for raw in answer.get("Records", [])
        ]
        return Page(
            records, answer.get("NextShardIterator"), int(answer.get("MillisBehindLatest") or 0)
        )
