"""The S3 push endpoint: ``POST /s3-events/<bucket>`` on the API port, where an
S3-compatible store (MinIO's webhook target, Ceph RGW's HTTP push endpoint) sends the
event records of a bucket the operator maps to a function.

The mapping is a setting (``LAMBDAD_S3_WEBHOOKS="bucket=FUNCTION_ARN,..."``: the ARN
names the account, region, function and optional qualifier), and every request must
carry the shared token (``LAMBDAD_S3_WEBHOOK_TOKEN``) as ``Authorization: Bearer
<token>`` (MinIO's ``auth_token``) or as the password of HTTP Basic credentials (a push
endpoint URL with ``user:token@``). Without a token set, the endpoint is closed. As on
AWS, the function's resource policy must let ``s3.amazonaws.com`` invoke it for the
bucket's ARN. Each record of an ``ObjectCreated``/``ObjectRemoved`` event is one
asynchronous invoke with AWS's S3 event (``s3_records``); the answer (200) comes once
all of them are on disk.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lambdad.control.policies import PolicyService
from lambdad.errors import AwsError, ValidationException
from lambdad.events.s3_records import InvalidS3Notification, bucket_arn, parse_notification
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope
from lambdad.store.queue import NewEvent

log = logging.getLogger(__name__)

Response = tuple[int, list[tuple[bytes, bytes]], bytes]
PREFIX = "/s3-events/"
SERVICE_PRINCIPAL = "s3.amazonaws.com"
MAX_BODY = 1024 * 1024
_PATH = re.compile(r"/s3-events/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/?")


@dataclass(frozen=True, slots=True)
class S3Webhook:
    """A bucket whose pushed events run a function."""

    bucket: str
    scope: Scope
    function: str
    qualifier: str | None


def parse_webhooks(pairs: Iterable[tuple[str, str]]) -> dict[str, S3Webhook]:
    """``LAMBDAD_S3_WEBHOOKS``' (bucket, function ARN) pairs; ValueError names a bad one."""
    out = {}
    for bucket, arn in pairs:
        try:
            ref = parse_function_ref(arn)
        except ValidationException:
            ref = None
        if (
            ref is None
            or ref.account is None
            or ref.region is None
            or not _PATH.fullmatch(PREFIX + bucket)
        ):
            raise ValueError(
                f"LAMBDAD_S3_WEBHOOKS: {bucket}={arn} is not a bucket name and a function ARN"
            )
        out[bucket] = S3Webhook(bucket, Scope(ref.account, ref.region), ref.name, ref.qualifier)
    return out


def bucket_in(path: str) -> str | None:
    m = _PATH.fullmatch(path.partition("?")[0])
    return None if m is None else m[1]


def authorized(headers: Mapping[str, str], token: str) -> bool:
    """Whether the request carries the shared token (Bearer, or a Basic password)."""
    if not token:
        return False
    given = headers.get("authorization", "")
    scheme, _, value = given.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def _answer(status: int, message: str, **extra: int) -> Response:
    body = json.dumps({"message": message, **extra}).encode()
    return status, [(b"content-type", b"application/json")], body


class S3Door:
    def __init__(
        self,
        webhooks: Mapping[str, S3Webhook],
        token: str,
        async_invoker: AsyncInvokeService,
        policies: PolicyService,
        *,
        max_payload: int,
    ) -> None:
        self.webhooks = dict(webhooks)
        self.token = token
        self.async_invoker = async_invoker
        self.policies = policies
        self.max_payload = max_payload

    async def respond(
        self, bucket: str, method: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if not authorized(headers, self.token):
            return _answer(401, "A valid bearer token is required.")
        hook = self.webhooks.get(bucket)
        if hook is None:
            return _answer(404, f"No function is mapped to bucket {bucket}.")
        if method != "POST":
            return _answer(405, "Notifications are sent with POST.")
        if len(body) > MAX_BODY:
            return _answer(413, f"A notification is at most {MAX_BODY} bytes here.")
        if not body.strip():
            return _answer(200, "Nothing to deliver.", accepted=0, ignored=0)  # MinIO's probe
        try:
            parsed = parse_notification(body, bucket, hook.scope.region)
        except InvalidS3Notification as exc:
            return _answer(400, str(exc))
        if not self.policies.allows_service(
            hook.scope, hook.function, hook.qualifier, SERVICE_PRINCIPAL, bucket_arn(bucket)
        ):
            return _answer(403, f"The function's policy does not allow {bucket_arn(bucket)}.")
        queued: list[NewEvent] = []
        try:
            for event in parsed.events:
                request = InvokeRequest(
                    scope=hook.scope,
                    function_name=hook.function,
                    qualifier=hook.qualifier,
                    payload=json.dumps(event).encode(),
                    invocation_type="Event",
                    request_id=str(uuid.uuid4()),
                )
                queued.append(
                    self.async_invoker.prepare(request, limit=self.max_payload, operation="Invoke")
                )
        except AwsError as exc:
            return _answer(exc.status if 400 <= exc.status < 500 else 503, exc.message)
        await self.async_invoker.accept_many(queued)
        log.debug("s3: %d records of %s queued for %s", len(queued), bucket, hook.function)
        return _answer(200, "Accepted.", accepted=len(queued), ignored=parsed.ignored)
