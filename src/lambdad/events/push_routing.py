"""Pushed events in front of the API port: which requests go to the SNS and S3 doors.

Like function URLs (``url_routing``), these requests are not signed with SigV4: SNS
signs its messages, S3-compatible stores carry a shared token. As one of the port's
front doors (``model.front_door``), a request whose path is ``/sns/...`` or
``/s3-events/...`` goes to its door before any SigV4 handling, and may send up to that
door's body limit (one byte more, so that the door answers 413 itself).
"""

from __future__ import annotations

from lambdad.events import s3_door, sns_door
from lambdad.events.s3_door import S3Door
from lambdad.events.sns_door import SnsDoor

Response = tuple[int, list[tuple[bytes, bytes]], bytes]

_NOT_FOUND = (404, [(b"content-type", b"application/json")], b'{"message":"Not found."}')


class PushRoute:
    """``/sns/...`` and ``/s3-events/...`` as a front door (``model.front_door``)."""

    def __init__(self, sns: SnsDoor, s3: S3Door) -> None:
        self.sns = sns
        self.s3 = s3

    def claim(self, method: str, path: str, host: str | None) -> str | None:
        if path.startswith(sns_door.PREFIX):
            return "sns"
        if path.startswith(s3_door.PREFIX):
            return "s3"
        return None

    def body_limit(self, claim: str, headers: list[tuple[str, str]]) -> int:
        return (sns_door.MAX_BODY if claim == "sns" else s3_door.MAX_BODY) + 1

    async def answer(
        self,
        claim: str,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        if claim == "sns":
            target = sns_door.sns_target(path)
            if target is None:
                return _NOT_FOUND
            return await self.sns.respond(target, method, dict(headers), body)
        bucket = s3_door.bucket_in(path)
        if bucket is None:
            return _NOT_FOUND
        return await self.s3.respond(bucket, method, dict(headers), body)
