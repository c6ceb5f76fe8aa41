"""Telemetry API subscriptions (validated as AWS does) and buffering (when a batch goes)."""

from __future__ import annotations

import json

import pytest

from lambdad.environments import telemetry
from lambdad.environments.telemetry import Batch, InvalidSubscription, parse_subscription


def doc(**over: object) -> bytes:
    base: dict[str, object] = {
        "schemaVersion": "2022-12-13",
        "types": ["platform", "function"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100},
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/lambda"},
    }
    base.update(over)
    return json.dumps(base).encode()


def test_a_subscription_names_its_streams_buffering_and_listener() -> None:
    sub = parse_subscription(doc())
    assert sub.types == {"platform", "function"}
    assert (sub.max_items, sub.max_bytes, sub.timeout_ms) == (1000, 262144, 100)
    assert (sub.port, sub.path, sub.host) == (4243, "/lambda", "sandbox.localdomain:4243")


def test_buffering_defaults_are_aws_s() -> None:
    sub = parse_subscription(doc(buffering=None))
    assert (sub.max_items, sub.max_bytes, sub.timeout_ms) == (10000, 262144, 1000)


@pytest.mark.parametrize(
    "over",
    [
        {"types": []},
        {"types": ["platform", "network"]},
        {"buffering": {"timeoutMs": 10}},
        {"buffering": {"maxItems": 20000}},
        {"buffering": {"maxBytes": "big"}},
        {"destination": {"protocol": "TCP", "URI": "http://sandbox.localdomain:1/"}},
        {"destination": {"protocol": "HTTP", "URI": "http://169.254.169.254:80/"}},
        {"destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain/"}},
        {"destination": {"protocol": "HTTP", "URI": "https://sandbox.localdomain:99999/"}},
    ],
)
def test_what_aws_refuses_is_refused(over: dict[str, object]) -> None:
    with pytest.raises(InvalidSubscription):
        parse_subscription(doc(**over))


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidSubscription):
        parse_subscription(b"{nope")


def test_a_batch_goes_when_full_by_count() -> None:
    batch = Batch(max_items=2, max_bytes=1000, timeout_ms=25)
    assert batch.add(b'{"a":1}', now=10.0) == []
    assert batch.due_at() == pytest.approx(10.025)
    assert batch.add(b'{"b":2}', now=10.01) == [[b'{"a":1}', b'{"b":2}']]
    assert batch.due_at() is None


def test_a_batch_goes_before_it_would_pass_its_byte_limit() -> None:
    batch = Batch(max_items=100, max_bytes=20, timeout_ms=25)
    batch.add(b"x" * 10, now=0.0)
    out = batch.add(b"y" * 10, now=1.0)
    assert out == [[b"x" * 10]]
    assert batch.due_at() == pytest.approx(1.025)  # the new batch's clock starts anew
    assert telemetry.body(batch.take()) == b"[" + b"y" * 10 + b"]"
