"""Amazon MQ (RabbitMQ) event source mappings end to end: a real server consuming the
queues of a ``rabbitmq-server`` the module starts, the broker's ARN mapped to it by
``LAMBDAD_MQ_BROKERS`` and its credentials by the ``LAMBDAD_MQ_SECRETS_FILE``;
messages published with pika; functions that write the events they receive to files."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from e2e.aws_side import event_source_mappings, wait_for
from e2e.helpers import LambdadServer, active_function, serving
from e2e.rabbitmq_side import Broker, missing, rabbitmq_server

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

ACCOUNT = "123456789012"
BROKER = f"arn:aws:mq:us-east-1:{ACCOUNT}:broker:orders:b-1f2e3d4c-0000-4000-8000-000000000001"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rmq-guest-AbCdEf"
WRONG_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rmq-wrong-GhIjKl"

RECORDER = """
import base64, json, os, time

def handler(event, context):
    datas = [base64.b64decode(m["data"]).decode()
             for ms in event["rmqMessagesByQueue"].values() for m in ms]
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    if any(d == "slow" for d in datas):
        time.sleep(10)
    first_tries = [m for ms in event["rmqMessagesByQueue"].values() for m in ms
                   if not m["redelivered"]]
    if any(base64.b64decode(m["data"]) == b"fail-once" for m in first_tries):
        raise RuntimeError("failing this once")
    return {}
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with rabbitmq_server(tmp_path_factory.mktemp("rabbitmq")) as found:
        yield found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[LambdadServer]:
    root = tmp_path_factory.mktemp("esm-rmq")
    secrets = root / "mq-secrets.json"
    secrets.write_text(
        json.dumps(
            {
                SECRET: {"username": "guest", "password": "guest"},
                WRONG_SECRET: {"username": "guest", "password": "not-the-password"},
            }
        )
    )
    env = {
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_MQ_BROKERS": f"orders={broker.url}",
        "LAMBDAD_MQ_SECRETS_FILE": str(secrets),
        "LAMBDAD_ESM_BACKOFF": "0.05,0.5",
        "LAMBDAD_ESM_MQ_DEFAULT_WINDOW": "0.2",
    }
    srv = LambdadServer(root / "data", env=env)
    with serving(srv):
        yield srv


@contextlib.contextmanager
def connected(broker: Broker, vhost: str = "/") -> Iterator[Any]:
    """A pika channel to ``vhost``."""
    credentials = pika.PlainCredentials("guest", "guest")
    params = pika.ConnectionParameters("127.0.0.1", broker.port, vhost, credentials)
    connection = pika.BlockingConnection(params)
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


@pytest.fixture
def channel(broker: Broker) -> Iterator[Any]:
    with connected(broker) as ch:
        yield ch


def new_queue(channel: Any) -> str:
    name = f"orders-{uuid.uuid4().hex[:8]}"
    channel.queue_declare(name)
    return name


def ready(channel: Any, queue: str) -> int:
    """Messages waiting in ``queue`` (not those delivered and not yet acknowledged)."""
    return int(channel.queue_declare(queue, passive=True).method.message_count)


def new_function(lam: Any, out: Path) -> str:
    name = f"rmq-{uuid.uuid4().hex[:10]}"
    return active_function(lam, name, RECORDER, variables={"OUT": str(out)}, Timeout=60)


def events(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def messages(out: Path) -> list[dict[str, Any]]:
    return [m for e in events(out) for ms in e["rmqMessagesByQueue"].values() for m in ms]


def data(message: dict[str, Any]) -> bytes:
    return base64.b64decode(message["data"])


@pytest.fixture
def mapping(server: LambdadServer) -> Iterator[Callable[..., str]]:
    """``mapping(function, queue, secret=SECRET, **params)``: a mapping of the broker."""
    with event_source_mappings(server.client("lambda")) as create:

        def of_broker(function: str, queue: str, secret: str = SECRET, **params: Any) -> str:
            auth = [{"Type": "BASIC_AUTH", "URI": secret}]
            params.setdefault("SourceAccessConfigurations", auth)
            return create(FunctionName=function, EventSourceArn=BROKER, Queues=[queue], **params)

        yield of_broker


def test_messages_reach_the_function_as_an_aws_rmq_event(
    server: LambdadServer, channel: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    queue = new_queue(channel)
    out = tmp_path / "out.jsonl"
    uuid_ = mapping(new_function(lam, out), queue, BatchSize=10, MaximumBatchingWindowInSeconds=1)
    props = pika.BasicProperties(
        content_type="application/json",
        headers={"tenant": "acme", "attempt": 3},
        delivery_mode=2,
        priority=5,
        correlation_id="corr-1",
        message_id="msg-1",
        timestamp=1_700_000_000,
        app_id="shop",
        expiration="600000",
        user_id="guest",
    )
    for i in range(3):
        channel.basic_publish("", queue, json.dumps({"order": i}).encode(), props)

    got = wait_for(lambda: len(messages(out)) >= 3 and messages(out))
    event = events(out)[0]
    assert event["eventSource"] == "aws:rmq"
    assert event["eventSourceArn"] == BROKER
    assert list(event["rmqMessagesByQueue"]) == [f"{queue}::/"]
    assert [json.loads(data(m)) for m in got] == [{"order": 0}, {"order": 1}, {"order": 2}]
    assert got[0]["redelivered"] is False
    assert got[0]["basicProperties"] == {
        "contentType": "application/json",
        "contentEncoding": None,
        "headers": {"tenant": {"bytes": list(b"acme")}, "attempt": 3},
        "deliveryMode": 2,
        "priority": 5,
        "correlationId": "corr-1",
        "replyTo": None,
        "expiration": "600000",
        "messageId": "msg-1",
        "timestamp": "Nov 14, 2023, 10:13:20 PM",
        "type": None,
        "userId": "guest",
        "appId": "shop",
        "clusterId": None,
        "bodySize": len(data(got[0])),
    }
    wait_for(lambda: ready(channel, queue) == 0)
    assert lam.get_event_source_mapping(UUID=uuid_)["LastProcessingResult"] == "OK"


def test_a_failed_batch_comes_back_redelivered(
    server: LambdadServer, channel: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    queue = new_queue(channel)
    out = tmp_path / "out.jsonl"
    mapping(new_function(lam, out), queue, BatchSize=10)
    channel.basic_publish("", queue, b"fail-once")

    seen = wait_for(lambda: len(messages(out)) >= 2 and messages(out))
    assert [(data(m), m["redelivered"]) for m in seen] == [
        (b"fail-once", False),
        (b"fail-once", True),
    ]
    wait_for(lambda: ready(channel, queue) == 0)


def test_disabling_stops_consuming_and_gives_messages_back(
    server: LambdadServer, channel: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    queue = new_queue(channel)
    out = tmp_path / "out.jsonl"
    uuid_ = mapping(new_function(lam, out), queue, BatchSize=10)
    channel.basic_publish("", queue, b"slow")
    wait_for(lambda: messages(out))  # the function is busy with it, unacknowledged

    lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Disabled")
    assert ready(channel, queue) == 1  # given back at once, not lost
    channel.basic_publish("", queue, b"while disabled")
    time.sleep(1.0)  # long enough for a consumer that still ran to take it
    assert ready(channel, queue) == 2
    assert len(messages(out)) == 1


def test_refused_credentials_and_missing_queues_are_reported(
    server: LambdadServer, channel: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    out = tmp_path / "out.jsonl"
    refused = mapping(new_function(lam, out), new_queue(channel), secret=WRONG_SECRET)
    missing_queue = mapping(new_function(lam, out), "no-such-queue")
    for uuid_, reason in (
        (refused, "EVENT_SOURCE_AUTHN_ERROR"),
        (missing_queue, "ESM_CONFIG_NOT_VALID"),
    ):
        got = wait_for(
            lambda u=uuid_, r=reason: (
                (m := lam.get_event_source_mapping(UUID=u))["StateTransitionReason"] == r and m
            )
        )
        assert got["State"] == "Enabled"
        assert got["LastProcessingResult"].startswith("PROBLEM:")


def test_a_vhost_and_a_dropped_connection(
    server: LambdadServer, broker: Broker, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    broker.ctl("add_vhost", "shop")
    broker.ctl("set_permissions", "-p", "shop", "guest", ".*", ".*", ".*")
    out = tmp_path / "out.jsonl"
    with connected(broker, "shop") as ch:
        queue = new_queue(ch)
        uuid_ = mapping(
            new_function(lam, out),
            queue,
            SourceAccessConfigurations=[
                {"Type": "BASIC_AUTH", "URI": SECRET},
                {"Type": "VIRTUAL_HOST", "URI": "shop"},
            ],
        )
        ch.basic_publish("", queue, b"before")
        wait_for(lambda: messages(out))
        assert list(events(out)[0]["rmqMessagesByQueue"]) == [f"{queue}::shop"]

    broker.ctl("close_all_connections", "-p", "shop", "a broker restart")
    wait_for(
        lambda: lam.get_event_source_mapping(UUID=uuid_)["LastProcessingResult"].startswith(
            "PROBLEM: Connection error"
        )
    )
    with connected(broker, "shop") as ch:
        ch.basic_publish("", queue, b"after")
        wait_for(lambda: len(messages(out)) == 2)
    assert [data(m) for m in messages(out)] == [b"before", b"after"]
    assert lam.get_event_source_mapping(UUID=uuid_)["LastProcessingResult"] == "OK"
