"""Which broker and credentials a RabbitMQ mapping uses, and what is refused."""

from __future__ import annotations

import pytest

from lambdad.events.mappings import rmq_broker as rb

ACCOUNT = "123456789012"
ARN = f"arn:aws:mq:us-east-1:{ACCOUNT}:broker:orders:b-1"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rmq-AbCdEf"
SECRETS = {SECRET: {"username": "app", "password": "s3cret"}}


def target(
    arn: str = ARN,
    access: tuple[tuple[str, str], ...] = (("BASIC_AUTH", SECRET),),
    brokers: tuple[tuple[str, str], ...] = (("orders", "amqp://mq.internal:5673"),),
) -> rb.BrokerTarget:
    return rb.target(arn, ACCOUNT, access, brokers, SECRETS)


def test_a_broker_by_name_with_its_secret_and_vhost() -> None:
    got = target(access=(("BASIC_AUTH", SECRET), ("VIRTUAL_HOST", "shop")))
    assert got == rb.BrokerTarget("mq.internal", 5673, False, "shop", "app", "s3cret")
    assert "s3cret" not in repr(got)


def test_an_arn_entry_wins_and_amqps_defaults_to_5671() -> None:
    got = target(brokers=(("orders", "amqp://a"), (ARN, "amqps://b.example")))
    assert (got.host, got.port, got.ssl, got.vhost) == ("b.example", 5671, True, "/")


@pytest.mark.parametrize(
    ("arn", "access", "reason"),
    [
        (ARN.replace(ACCOUNT, "210987654321"), (("BASIC_AUTH", SECRET),), rb.CONFIG_NOT_VALID),
        (ARN.replace("orders", "billing"), (("BASIC_AUTH", SECRET),), rb.CONFIG_NOT_VALID),
        (ARN, (("VIRTUAL_HOST", "/"),), rb.CONFIG_NOT_VALID),
        (ARN, (("BASIC_AUTH", SECRET.replace(ACCOUNT, "210987654321")),), rb.CONFIG_NOT_VALID),
        (ARN, (("BASIC_AUTH", SECRET + "x"),), rb.AUTHN_ERROR),
        ("arn:aws:mq:us-east-1:123456789012:configuration:c-1", (), rb.CONFIG_NOT_VALID),
    ],
)
def test_what_is_refused(arn: str, access: tuple[tuple[str, str], ...], reason: str) -> None:
    with pytest.raises(rb.BrokerProblem) as info:
        target(arn, access)
    assert info.value.reason == reason


def test_only_amqp_urls() -> None:
    with pytest.raises(rb.BrokerProblem):
        target(brokers=(("orders", "http://mq.internal"),))


def test_no_secrets_file_means_no_secrets() -> None:
    assert rb.load_secrets("") == {}
