"""Pushed events in front of the API port: which requests go to the SNS and S3 doors.

Like function URLs (``url_routing``), these requests are not signed with SigV4: SNS
signs its messages, S3-compatible stores carry a shared token. ``route_push`` sends a
request whose path is ``/sns/...`` or ``/s3-events/...`` to its door before any SigV4
handling, and ``admit_push`` lets it send up to that door's body limit (one byte more,
so that the door answers 413 itself); every other request goes on unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lambdad.events import s3_door, sns_door
from lambdad.events.s3_door import S3Door
from lambdad.events.sns_door import SnsDoor

Response = tuple[int, list[tuple[bytes, bytes]], bytes]
# (method, raw path, raw query, (lower-case name, value) headers, body) -> the answer
Responder = Callable[[str, str, str, list[tuple[str, str]], bytes], Awaitable[Response]]
# (method, raw path, raw query, headers) -> an answer now, or the most body to read
Gate = Callable[[str, str, str, list[tuple[str, str]]], "Response | int"]

_NOT_FOUND = (404, [(b"content-type", b"application/json")], b'{"message":"Not found."}')


def route_push(sns: SnsDoor, s3: S3Door, api: Responder) -> Responder:
    async def respond(
        method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        if path.startswith(sns_door.PREFIX):
            target = sns_door.sns_target(path)
            if target is None:
                return _NOT_FOUND
            return await sns.respond(target, method, dict(headers), body)
        if path.startswith(s3_door.PREFIX):
            bucket = s3_door.bucket_in(path)
            if bucket is None:
                return _NOT_FOUND
            return await s3.respond(bucket, method, dict(headers), body)
        return await api(method, path, query, headers, body)

    return respond


def admit_push(api: Gate) -> Gate:
    def admit(method: str, path: str, query: str, headers: list[tuple[str, str]]) -> Response | int:
        if path.startswith(sns_door.PREFIX):
            return sns_door.MAX_BODY + 1
        if path.startswith(s3_door.PREFIX):
            return s3_door.MAX_BODY + 1
        return api(method, path, query, headers)

    return admit
