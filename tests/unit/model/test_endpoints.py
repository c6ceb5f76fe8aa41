"""Functions' SDK endpoints: lambdad's own by default, the operator's mapping, relays."""

from __future__ import annotations

import pytest

from lambdad.model.endpoints import (
    Forward,
    is_relayed,
    parse,
    plan,
    relay_source,
    variable_name,
    with_upstream,
)


def test_default_is_lambdad_for_lambda_logs_and_sts_relayed_from_inside() -> None:
    out = plan("127.0.0.1", 9550, {})
    assert out.variables == {
        "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9550",
        "AWS_ENDPOINT_URL_CODEDEPLOY": "http://127.0.0.1:9550",
    }
    assert out.forwards == (Forward(9550, "127.0.0.1", 9550),)


def test_a_wildcard_bind_is_reached_on_loopback() -> None:
    assert plan("0.0.0.0", 8000, {}).variables["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:8000"


def test_operator_mapping_relays_loopback_ports_only() -> None:
    mapped = parse(
        "s3=http://localhost:4566/, dynamodb=https://dynamodb.example.com,Secrets Manager=http://127.0.0.1:4566",
        {},
    )
    out = plan("127.0.0.1", 9550, mapped)
    assert out.variables["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4566/"
    assert out.variables["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == "http://127.0.0.1:4566"
    assert out.variables["AWS_ENDPOINT_URL_DYNAMODB"] == "https://dynamodb.example.com"
    assert set(out.forwards) == {
        Forward(9550, "127.0.0.1", 9550),
        Forward(4566, "127.0.0.1", 4566),
    }


def test_the_runtime_api_port_is_moved_inside() -> None:
    out = plan("127.0.0.1", 9001, parse("s3=http://127.0.0.1:9002", {}))
    assert Forward(9002, "127.0.0.1", 9002) in out.forwards
    moved = next(f for f in out.forwards if f.host_port == 9001)
    assert moved.port not in (9001, 9002)
    assert out.variables["AWS_ENDPOINT_URL_LAMBDA"] == f"http://127.0.0.1:{moved.port}"


def test_host_passes_the_servers_own_endpoints_through() -> None:
    env = {
        "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324",
        "AWS_ENDPOINT_URL": "http://x",
        "HOME": "/",
    }
    assert parse("host", env) == {"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324"}
    assert parse("host,sqs=http://q:1", env) == {"AWS_ENDPOINT_URL_SQS": "http://q:1"}


def test_operator_may_override_lambdads_own() -> None:
    out = plan("127.0.0.1", 9550, parse("lambda=http://lambda.internal:80", {}))
    assert out.variables["AWS_ENDPOINT_URL_LAMBDA"] == "http://lambda.internal:80"


@pytest.mark.parametrize("raw", ["s3", "s3=ftp://x", "=http://x", "s3=127.0.0.1:4566"])
def test_malformed_entries_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="must be SERVICE="):
        parse(raw, {})


def test_variable_names() -> None:
    assert variable_name("cloudwatch-logs") == "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
    assert variable_name("AWS_ENDPOINT_URL_S3") == "AWS_ENDPOINT_URL_S3"


def test_relays_connect_from_an_address_per_account() -> None:
    a, b = relay_source("123456789012"), relay_source("210987654321")
    assert a != b
    assert a == relay_source("123456789012")
    assert is_relayed(a)
    assert not is_relayed("127.0.0.1")
    assert not is_relayed(None)


def test_with_upstream_credentials_their_relays_sign_and_endpoints_elsewhere_are_relayed() -> None:
    mapped = parse(
        "s3=https://s3.eu-west-1.amazonaws.com,dynamodb=http://10.0.0.5:8000/x,"
        "sqs=http://127.0.0.1:9324,lambda=http://lambda.example:9550",
        {},
    )
    planned = plan("127.0.0.1", 9550, mapped)
    out = with_upstream(planned, {"s3", "dynamodb"})
    assert out.variables["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9100"
    assert out.variables["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:9101/x"
    # Loopback ones are relayed already; lambdad's own services are not signed again.
    assert out.variables["AWS_ENDPOINT_URL_SQS"] == "http://127.0.0.1:9324"
    assert out.variables["AWS_ENDPOINT_URL_LAMBDA"] == "http://lambda.example:9550"
    assert set(out.forwards) - set(planned.forwards) == {
        Forward(9100, "s3.eu-west-1.amazonaws.com", 443, tls=True, signed=True),
        Forward(9101, "10.0.0.5", 8000, signed=True),
    }
    # A loopback endpoint's relay signs for a service with credentials, or all with
    # "*"; lambdad's own relay never does.
    sqs = with_upstream(planned, {"sqs"})
    assert sqs.variables == planned.variables
    assert Forward(9324, "127.0.0.1", 9324, signed=True) in sqs.forwards
    everything = with_upstream(planned, {"*"})
    assert everything.variables["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9100"
    own = [f for f in everything.forwards if f.port == 9550]
    assert own == [Forward(9550, "127.0.0.1", 9550)]
    assert with_upstream(planned, {"sns"}) == planned
