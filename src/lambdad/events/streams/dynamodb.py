"""DynamoDB Streams through boto3 (``dynamodbstreams``): ``DescribeStream`` for the
shards, ``GetShardIterator`` and ``GetRecords``, on the mappings' bounded thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdad.events.streams.kinesis import Blocking
from lambdad.events.streams.positions import IteratorRequest
from lambdad.events.streams.records import dynamodb_record
from lambdad.events.streams.shards import Shard, shard_from_api
from lambdad.events.streams.source import (
    ExpiredIterator,
    Page,
    SourceError,
    boto_errors,
    error_code,
)


class DynamoDBStreamSource:
    kind = "dynamodb"
    timestamps = False
    max_limit = 1000

    def __init__(self, client: Any, run_blocking: Blocking, stream_arn: str) -> None:
        self.client = client
        self.run_blocking = run_blocking
        self.stream_arn = stream_arn
        self.region = stream_arn.split(":")[3]

    async def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return await self.run_blocking(lambda: fn(**kwargs))
        except boto_errors() as exc:
            if error_code(exc) in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                raise ExpiredIterator(str(exc)) from None
            raise SourceError(str(exc)) from None

    async def shards(self) -> list[Shard]:
        found: list[Shard] = []
        args: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            answer = await self._call(self.client.describe_stream, **args)
            description = answer["StreamDescription"]
            found += [shard_from_api(s) for s in description.get("Shards", [])]
            last = description.get("LastEvaluatedShardId")
            if not last:
                return found
            args["ExclusiveStartShardId"] = last

    async def iterator(self, shard_id: str, request: IteratorRequest) -> str:
        args: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": request.type,
        }
        if request.sequence_number is not None:
            args["SequenceNumber"] = request.sequence_number
        answer = await self._call(self.client.get_shard_iterator, **args)
        return str(answer["ShardIterator"])

    async def read(self, shard_id: str, iterator: str, limit: int) -> Page:
        answer = await self._call(
            self.client.get_records, ShardIterator=iterator, Limit=min(limit, self.max_limit)
        )
        records = [
            dynamodb_record(raw, stream_arn=self.stream_arn, region=self.region)
            for raw in answer.get("Records", [])
        ]
        return Page(records, answer.get("NextShardIterator"))
