"""The SNS HTTP subscription endpoint: ``POST /sns/<region>/<account>/<function>[:<qualifier>]``
on the API port, unsigned (SNS signs its messages, not its requests).

Per message (parsed by ``sns_messages``):

1. the function's resource policy must let ``sns.amazonaws.com`` invoke it for the
   message's ``TopicArn``, as on AWS (else 403, asked before anything else is done);
2. a signed message's signature must verify with the certificate its
   ``SigningCertURL`` names, fetched only from AWS's SNS hosts or the configured SNS
   endpoint (``AWS_ENDPOINT_URL_SNS``); an unsigned one is refused unless the operator
   allows them (``LAMBDAD_SNS_REQUIRE_SIGNATURE=false``);
3. a ``SubscriptionConfirmation`` is confirmed by a GET of its ``SubscribeURL``, only
   when that points at the same SNS; an ``UnsubscribeConfirmation`` is acknowledged and
   logged (nothing re-subscribes); a ``Notification`` becomes one asynchronous invoke
   with Lambda's SNS event, answered 200 once it is on disk.

Bad input is a 4xx with a JSON ``message``; SNS retries what is not a 2xx.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lambdad.clock import Clock
from lambdad.control.policies import PolicyService
from lambdad.errors import AwsError
from lambdad.events.sns_messages import (
    InvalidSnsMessage,
    MessageType,
    SnsMessage,
    SnsSignatureError,
    is_aws_sns_host,
    lambda_event,
    parse_message,
    signing_cert_location,
    verify_signature,
)
from lambdad.events.web_fetch import FetchError, ServiceSigner, Web
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

Response = tuple[int, list[tuple[bytes, bytes]], bytes]
PREFIX = "/sns/"
SERVICE_PRINCIPAL = "sns.amazonaws.com"
# SNS messages are at most 256 KB; escaped in JSON, with the envelope, well under this.
MAX_BODY = 1024 * 1024
_CERT_CACHE = 64
_PATH = re.compile(
    r"/sns/([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})/([0-9]{12})/([A-Za-z0-9_-]{1,64})"
    r"(?::([A-Za-z0-9_$-]{1,128}))?/?"
)


@dataclass(frozen=True, slots=True)
class SnsTarget:
    scope: Scope
    function: str
    qualifier: str | None


def sns_target(path: str) -> SnsTarget | None:
    """The function an ``/sns/...`` path names, or None (not a subscription path)."""
    m = _PATH.fullmatch(path.partition("?")[0])
    if m is None:
        return None
    return SnsTarget(Scope(m[2], m[1]), m[3], m[4])


def confirmation_allowed(url: str, sns_endpoint: str | None) -> bool:
    """Whether a ``SubscribeURL`` may be visited: a ``ConfirmSubscription`` link on an
    AWS SNS host over https, or on the configured SNS endpoint itself."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    query = parse_qs(parts.query)
    if query.get("Action") != ["ConfirmSubscription"] or parts.username is not None:
        return False
    if sns_endpoint:
        mine = urlsplit(sns_endpoint)
        if (parts.scheme, parts.hostname, port) == (mine.scheme, mine.hostname, mine.port):
            return True
    return parts.scheme == "https" and port in (None, 443) and is_aws_sns_host(parts.hostname or "")


def _answer(status: int, message: str, **extra: str) -> Response:
    body = json.dumps({"message": message, **extra}).encode()
    return status, [(b"content-type", b"application/json")], body


class SnsDoor:
    def __init__(
        self,
        async_invoker: AsyncInvokeService,
        policies: PolicyService,
        web: Web,
        signer: ServiceSigner,
        clock: Clock,
        *,
        sns_endpoint: str | None,
        require_signature: bool,
        max_payload: int,
    ) -> None:
        self.async_invoker = async_invoker
        self.policies = policies
        self.web = web
        self.signer = signer
        self.clock = clock
        self.sns_endpoint = sns_endpoint
        self.require_signature = require_signature
        self.max_payload = max_payload
        self._certificates: dict[str, bytes] = {}

    async def respond(
        self, target: SnsTarget, method: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if method != "POST":
            return _answer(405, "SNS delivers with POST.")
        if len(body) > MAX_BODY:
            return _answer(413, f"An SNS message is at most {MAX_BODY} bytes here.")
        try:
            message = parse_message(body, headers)
        except InvalidSnsMessage as exc:
            return _answer(400, str(exc))
        if not self.policies.allows_service(
            target.scope, target.function, target.qualifier, SERVICE_PRINCIPAL, message.topic_arn
        ):
            log.warning(
                "sns: %s of %s refused: the policy of %s does not allow %s",
                message.type, message.topic_arn, target.function, SERVICE_PRINCIPAL,
            )  # fmt: skip
            return _answer(403, f"The function's policy does not allow {message.topic_arn}.")
        refused = await self._authenticate(target, message)
        if refused is not None:
            return refused
        if message.type is MessageType.SUBSCRIPTION_CONFIRMATION:
            return await self._confirm(target, message)
        if message.type is MessageType.UNSUBSCRIBE_CONFIRMATION:
            log.info("sns: %s unsubscribed %s", message.topic_arn, target.function)
            return _answer(200, "Unsubscribed.")
        # SNS passes a publisher's active trace on as the header of its delivery.
        return await self._invoke(target, message, _header(headers, "x-amzn-trace-id"))

    async def _authenticate(self, target: SnsTarget, message: SnsMessage) -> Response | None:
        if not message.is_signed:
            if self.require_signature:
                return _answer(403, "Unsigned SNS messages are not accepted.")
            return None
        location = signing_cert_location(
            message.signing_cert_url or "", sns_endpoint=self.sns_endpoint
        )
        if location is None:
            return _answer(403, "The SigningCertURL is not an SNS certificate location.")
        try:
            pem = await self._certificate(location, target, message.topic_arn)
            verify_signature(message, pem, at=self.clock.now())
        except (FetchError, SnsSignatureError) as exc:
            log.warning("sns: message %s not verified: %s", message.message_id, exc)
            return _answer(403, "The message signature does not verify.")
        return None

    async def _certificate(self, location: str, target: SnsTarget, topic: str) -> bytes:
        pem = self._certificates.get(location)
        if pem is None:
            headers: dict[str, str] = {}
            if not is_aws_sns_host(urlsplit(location).hostname or ""):
                # An endpoint standing in for SNS: asked as SNS is, signed.
                region = topic.split(":")[3] if topic.count(":") >= 5 else target.scope.region
                headers = self.signer.headers(location, target.scope.account, "sns", region)
            pem = await asyncio.to_thread(self.web.get, location, headers)
            if len(self._certificates) >= _CERT_CACHE:
                self._certificates.clear()
            self._certificates[location] = pem
        return pem

    async def _confirm(self, target: SnsTarget, message: SnsMessage) -> Response:
        url = message.subscribe_url or ""
        if not confirmation_allowed(url, self.sns_endpoint):
            return _answer(403, "The SubscribeURL is not this SNS's confirmation link.")
        try:
            await asyncio.to_thread(self.web.get, url)
        except FetchError as exc:
            log.warning(
                "sns: confirming %s for %s failed: %s", message.topic_arn, target.function, exc
            )
            return _answer(502, "The subscription could not be confirmed.")
        log.info("sns: subscription of %s to %s confirmed", target.function, message.topic_arn)
        return _answer(200, "Subscription confirmed.")

    async def _invoke(
        self, target: SnsTarget, message: SnsMessage, trace_id: str | None = None
    ) -> Response:
        try:
            event = lambda_event(message)
        except ValueError as exc:
            return _answer(400, str(exc))
        request = InvokeRequest(
            scope=target.scope,
            function_name=target.function,
            qualifier=target.qualifier,
            payload=json.dumps(event).encode(),
            invocation_type="Event",
            request_id=str(uuid.uuid4()),
            trace_id=trace_id,
        )
        try:
            queued = self.async_invoker.prepare(request, limit=self.max_payload, operation="Invoke")
        except AwsError as exc:
            return _answer(exc.status if 400 <= exc.status < 500 else 503, exc.message)
        await self.async_invoker.accept_many([queued])
        log.debug(
            "sns: message %s queued for %s as %s", message.message_id, target.function, queued.id
        )
        return _answer(200, "Accepted.", requestId=queued.id)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)
