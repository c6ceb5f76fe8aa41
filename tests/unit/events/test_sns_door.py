"""The SNS subscription endpoint over fakes: which paths it serves, which links it
visits, and what each kind of message does (policy first, then the signature)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lambdad.clock import FakeClock
from lambdad.events.sns_door import SnsDoor, SnsTarget, confirmation_allowed, sns_target
from lambdad.events.web_fetch import FetchError
from lambdad.model.scope import Scope
from sns_samples import (
    CERT_URL,
    SUBSCRIBE_URL,
    TOPIC,
    aws_headers,
    confirmation,
    notification,
    sign,
)

PATH = "/sns/us-east-2/123456789012/orders"


def test_subscription_paths() -> None:
    assert sns_target(PATH) == SnsTarget(Scope("123456789012", "us-east-2"), "orders", None)
    assert sns_target(PATH + ":live/") == SnsTarget(
        Scope("123456789012", "us-east-2"), "orders", "live"
    )
    for bad in (
        "/sns/us-east-2/12345/orders",
        "/sns/us-east-2/123456789012/",
        "/sns/us-east-2/123456789012/a/b",
        "/sns/nowhere/123456789012/orders",
        "/sns/us-east-2/123456789012/or%2Fders",
    ):
        assert sns_target(bad) is None, bad


@pytest.mark.parametrize(
    ("url", "endpoint", "allowed"),
    [
        (SUBSCRIBE_URL, None, True),
        (SUBSCRIBE_URL.replace("https:", "http:"), None, False),
        (SUBSCRIBE_URL.replace("sns.us-east-2.amazonaws.com", "evil.example.com"), None, False),
        (SUBSCRIBE_URL.replace("ConfirmSubscription", "Unsubscribe"), None, False),
        (
            "http://127.0.0.1:5000/?Action=ConfirmSubscription&Token=t",
            "http://127.0.0.1:5000",
            True,
        ),
        (
            "http://127.0.0.1:5001/?Action=ConfirmSubscription&Token=t",
            "http://127.0.0.1:5000",
            False,
        ),
        ("https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription", None, False),
        ("https://sns.us-east-1.amazonaws.com:bad/?Action=ConfirmSubscription", None, False),
    ],
)
def test_which_subscribe_links_are_visited(url: str, endpoint: str | None, allowed: bool) -> None:
    assert confirmation_allowed(url, endpoint) is allowed


@dataclass
class Queued:
    id: str
    payload: bytes


@dataclass
class FakeInvoker:
    accepted: list[Queued] = field(default_factory=list)

    def prepare(self, request: Any, *, limit: int, operation: str) -> Queued:
        return Queued(request.request_id, request.payload)

    async def accept_many(self, events: list[Queued]) -> None:
        self.accepted.extend(events)


@dataclass
class FakePolicies:
    allowed: set[str] = field(default_factory=set)

    def allows_service(
        self, scope: Scope, name: str, qualifier: Any, service: str, arn: str
    ) -> bool:
        return service == "sns.amazonaws.com" and arn in self.allowed


@dataclass
class FakeWeb:
    pages: dict[str, bytes]
    asked: list[str] = field(default_factory=list)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        self.asked.append(url)
        if url not in self.pages:
            raise FetchError(url)
        return self.pages[url]


class NoSigner:
    def headers(self, url: str, account: str, service: str, region: str) -> dict[str, str]:
        return {}


@pytest.fixture
def world(cert: bytes) -> tuple[SnsDoor, FakeInvoker, FakeWeb]:
    invoker, web = FakeInvoker(), FakeWeb({CERT_URL: cert, SUBSCRIBE_URL: b"<ok/>"})
    door = SnsDoor(
        cast(Any, invoker),
        cast(Any, FakePolicies({TOPIC})),
        web,
        cast(Any, NoSigner()),
        FakeClock(),
        sns_endpoint=None,
        require_signature=True,
        max_payload=1024 * 1024,
    )
    return door, invoker, web


def post(door: SnsDoor, document: dict[str, Any], path: str = PATH) -> tuple[int, dict[str, Any]]:
    target = sns_target(path)
    assert target is not None
    body = json.dumps(document).encode()
    status, _, out = asyncio.run(door.respond(target, "POST", aws_headers(document), body))
    return status, json.loads(out)


def test_a_signed_notification_is_one_async_invoke(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, invoker, _ = world
    status, _ = post(door, sign(notification(), key, "2"))
    assert status == 200
    [queued] = invoker.accepted
    event = json.loads(queued.payload)
    assert event["Records"][0]["EventSource"] == "aws:sns"
    assert event["Records"][0]["Sns"]["Subject"] == "My First Message"


def test_a_tampered_notification_is_refused(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, invoker, _ = world
    document = {**sign(notification(), key, "1"), "Message": "changed"}
    assert post(door, document)[0] == 403
    assert invoker.accepted == []


def test_the_policy_is_asked_before_anything_is_fetched(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, invoker, web = world
    other = TOPIC.replace("MyTopic", "Other")
    assert post(door, sign(notification(TopicArn=other), key, "2"))[0] == 403
    assert web.asked == []
    assert invoker.accepted == []


def test_unsigned_messages_are_refused_unless_allowed(world: Any) -> None:
    door, invoker, _ = world
    assert post(door, notification())[0] == 403
    door.require_signature = False
    assert post(door, notification())[0] == 200
    assert len(invoker.accepted) == 1


def test_a_confirmation_visits_its_subscribe_link(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, invoker, web = world
    assert post(door, sign(confirmation(), key, "2"))[0] == 200
    assert web.asked == [CERT_URL, SUBSCRIBE_URL]
    assert invoker.accepted == []


def test_a_confirmation_elsewhere_is_not_visited(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, _, web = world
    evil = "https://evil.example.com/?Action=ConfirmSubscription&Token=t"
    assert post(door, sign(confirmation(SubscribeURL=evil), key, "2"))[0] == 403
    assert evil not in web.asked


def test_a_confirmation_that_fails_upstream_is_a_502(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, _, web = world
    del web.pages[SUBSCRIBE_URL]
    assert post(door, sign(confirmation(), key, "2"))[0] == 502


def test_an_unsubscribe_confirmation_is_acknowledged(world: Any, key: rsa.RSAPrivateKey) -> None:
    door, invoker, web = world
    status, _ = post(door, sign(confirmation("UnsubscribeConfirmation"), key, "2"))
    assert status == 200
    assert SUBSCRIBE_URL not in web.asked
    assert invoker.accepted == []


def test_bad_requests_are_4xx(world: Any) -> None:
    door, _, _ = world
    target = sns_target(PATH)
    assert target is not None
    for method, body, status in (
        ("GET", b"", 405),
        ("POST", b"{nope", 400),
        ("POST", b'{"Type": "Other"}', 400),
        ("POST", b"x" * (1024 * 1024 + 1), 413),
    ):
        answer = asyncio.run(door.respond(target, method, {}, body))
        assert answer[0] == status
