"""One SQS queue as a mapping's poller reaches it: its URL and visibility timeout,
receives that give back what a cancelled long poll still got, and batched deletes.
A thin adapter: blocking boto3 calls on the mappings' thread pool, no decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from lambdad.events.mappings.contract import PollerContext

log = logging.getLogger(__name__)


def _chunks(handles: list[str]) -> list[list[str]]:
    return [handles[i : i + 10] for i in range(0, len(handles), 10)]


class SqsQueue:
    def __init__(self, context: PollerContext, arn: str) -> None:
        self.ctx = context
        parts = arn.split(":")
        self.owner, self.name = parts[4], parts[5]
        self.url = ""
        self.visibility = 30.0
        self._releasing: set[asyncio.Future[None]] = set()

    def locate(self) -> None:
        """The queue's URL and visibility timeout (blocking; raises the client's errors)."""
        sqs = self.ctx.client("sqs")
        url = sqs.get_queue_url(QueueName=self.name, QueueOwnerAWSAccountId=self.owner)
        attrs = sqs.get_queue_attributes(
            QueueUrl=url["QueueUrl"], AttributeNames=["VisibilityTimeout"]
        )
        self.visibility = float(attrs.get("Attributes", {}).get("VisibilityTimeout", 30))
        self.url = url["QueueUrl"]

    async def receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        task = asyncio.ensure_future(self.ctx.run_blocking(self._receive, count, wait))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._give_back)
            raise

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        got = self.ctx.client("sqs").receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(got.get("Messages") or [])

    def _give_back(self, task: asyncio.Future[list[dict[str, Any]]]) -> None:
        """Messages a cancelled receive still got: visible again at once."""
        if task.cancelled() or task.exception() is not None or not task.result():
            return
        handles = [m["ReceiptHandle"] for m in task.result()]
        with contextlib.suppress(RuntimeError):  # the loop is closing: they time out
            release = asyncio.ensure_future(self.ctx.run_blocking(self._release, handles))
            self._releasing.add(release)
            release.add_done_callback(self._releasing.discard)

    def _release(self, handles: list[str]) -> None:
        try:
            sqs = self.ctx.client("sqs")
            for chunk in _chunks(handles):
                sqs.change_message_visibility_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                        for i, h in enumerate(chunk)
                    ],
                )
        except Exception as exc:  # they come back after their visibility timeout
            log.info("queue %s: giving messages back failed: %s", self.name, exc)

    async def delete(self, handles: list[str]) -> None:
        """Delete messages; one that cannot be deleted comes back and runs again."""
        if handles:
            try:
                await self.ctx.run_blocking(self._delete, handles)
            except Exception as exc:
                log.warning("queue %s: deleting messages failed: %s", self.name, exc)

    def _delete(self, handles: list[str]) -> None:
        sqs = self.ctx.client("sqs")
        for chunk in _chunks(handles):
            answer = sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
            for failed in answer.get("Failed") or []:
                log.warning("queue %s: a message was not deleted: %s", self.name, failed)
