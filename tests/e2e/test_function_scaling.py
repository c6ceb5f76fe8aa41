"""Function scaling configurations honoured, through boto3, as a user of Lambda Managed
Instances sees them: once ``MinExecutionEnvironments`` is put, that many environments
of the version are initialised before any invocation (their log streams appear; the
first invocations report no ``Init Duration``), one that crashes is replaced, a
restarted server starts them again, and invocations beyond
``MaxExecutionEnvironments`` are throttled as AWS throttles them: 429 for a synchronous
one (counted in ``Throttles``), a retry for an event."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from e2e.aws_side import async_stats
from e2e.helpers import PRIMARY, ROLE, LambdadServer, handler_zip
from e2e.test_concurrency import concurrently, report_line

ServerFactory = Callable[..., LambdadServer]
ACCOUNT = PRIMARY.account_id
VPC = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123"]}
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/capacity-operator"

# Sleeps for event["sleep"] seconds, prints its marker, can die; says how its
# environment was initialised.
WORKER = """
import os, time
def handler(event, context):
    if event.get("die"):
        os._exit(1)
    print("begin", event.get("marker", ""), flush=True)
    time.sleep(event.get("sleep", 0))
    print("ran", event.get("marker", ""))
    return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
"""


def _managed_version(client: Any, unique_name: Callable[[str], str]) -> tuple[str, str]:
    """A function on a new capacity provider and its published version."""
    provider = client.create_capacity_provider(
        CapacityProviderName=unique_name("cp"),
        VpcConfig=VPC,
        PermissionsConfig={"CapacityProviderOperatorRoleArn": OPERATOR},
    )["CapacityProvider"]["CapacityProviderArn"]
    name = unique_name("fn")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": handler_zip(WORKER)},
        Timeout=10,
        CapacityProviderConfig={
            "LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": provider}
        },
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    version = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=version)
    return name, version


def _wait_streams(lambdad: LambdadServer, name: str, count: int, timeout: float = 30) -> None:
    """Until the function's log group has ``count`` streams: one per environment."""
    logs = lambdad.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")
            found = len(streams["logStreams"])
        except logs.exceptions.ResourceNotFoundException:
            found = 0
        if found >= count:
            assert found == count, streams
            return
        assert time.monotonic() < deadline, f"{found} log streams, not {count}"
        time.sleep(0.1)


def _wait_logged(lambdad: LambdadServer, name: str, text: str, timeout: float = 30) -> None:
    """Until the function has logged ``text``."""
    logs = lambdad.client("logs")
    deadline = time.monotonic() + timeout
    while not logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern=f'"{text}"')[
        "events"
    ]:
        assert time.monotonic() < deadline, f"{text!r} was never logged"
        time.sleep(0.1)


def _put(client: Any, name: str, version: str, low: int, high: int) -> None:
    client.put_function_scaling_config(
        FunctionName=name,
        Qualifier=version,
        FunctionScalingConfig={"MinExecutionEnvironments": low, "MaxExecutionEnvironments": high},
    )


def test_min_environments_are_initialised_before_the_first_invoke_and_replaced(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    client = lambdad.client()
    name, version = _managed_version(client, unique_name)
    _put(client, name, version, 2, 4)
    _wait_streams(lambdad, name, 2)
    both = concurrently(
        client, name, 2, Qualifier=version, LogType="Tail", Payload=json.dumps({"sleep": 0.3})
    )
    for out in both:
        assert json.loads(out["Payload"]) == "lambda-managed-instances"
        assert "Init Duration" not in report_line(out)

    # One dies: another is started in its place, before anything asks for it.
    died = client.invoke(FunctionName=name, Qualifier=version, Payload=json.dumps({"die": True}))
    assert died["FunctionError"] == "Unhandled"
    _wait_streams(lambdad, name, 3)
    both = concurrently(client, name, 2, Qualifier=version, LogType="Tail")
    assert ["Init Duration" in report_line(out) for out in both] == [False, False]

    # A higher Min starts one more.
    _put(client, name, version, 3, 4)
    _wait_streams(lambdad, name, 4)
    client.delete_function(FunctionName=name)


def test_invocations_beyond_max_are_throttled(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    client = lambdad.client()
    name, version = _managed_version(client, unique_name)
    # A Min beyond the account's unreserved concurrency is refused, nothing started.
    with pytest.raises(client.exceptions.InvalidParameterValueException) as refused:
        _put(client, name, version, 15000, 15000)
    assert refused.value.response["Error"]["Message"] == (
        "Specified MinExecutionEnvironments for function is greater than account's "
        "unreserved concurrency [1000]."
    )
    del refused  # its traceback would keep this test's clients (and sockets) to a gc pass
    _put(client, name, version, 0, 2)
    results = concurrently(client, name, 4, Qualifier=version, Payload=json.dumps({"sleep": 1.5}))
    statuses = sorted(r["ResponseMetadata"]["HTTPStatusCode"] for r in results)
    assert statuses == [200, 200, 429, 429], results
    for out in results:
        if out["ResponseMetadata"]["HTTPStatusCode"] == 429:
            assert out["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
            assert out["Reason"] == "ConcurrentInvocationLimitExceeded"
            assert out["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
        else:
            assert json.loads(out["Payload"]) == "lambda-managed-instances"

    # Counted as the function's Throttles, as AWS counts them.
    cw = lambdad.client("cloudwatch")
    now = datetime.now(UTC)

    def throttles() -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Throttles",
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return float(sum(p["Sum"] for p in points))

    deadline = time.monotonic() + 30
    while throttles() < 2:
        assert time.monotonic() < deadline, "the throttles were not counted"
        time.sleep(0.5)

    # An event beyond Max is throttled and retried: it runs once the one environment
    # Max allows is free again.
    _put(client, name, version, 0, 1)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    holder = threading.Thread(
        target=client.invoke,
        kwargs={
            "FunctionName": name,
            "Qualifier": version,
            "Payload": json.dumps({"sleep": 2.0, "marker": first}),
        },
    )
    holder.start()
    _wait_logged(lambdad, name, f"begin {first}")
    queued = client.invoke(
        FunctionName=name,
        Qualifier=version,
        InvocationType="Event",
        Payload=json.dumps({"marker": second}),
    )
    assert queued["StatusCode"] == 202
    _wait_logged(lambdad, name, f"ran {second}")
    holder.join(30)
    row = async_stats(lambdad, name)
    assert row["throttled"] >= 1, row
    assert row["processed"] == 1, row
    client.delete_function(FunctionName=name)


def test_min_environments_come_back_after_a_restart(
    lambdad_factory: ServerFactory, unique_name: Callable[[str], str]
) -> None:
    first = lambdad_factory()
    client = first.client()
    name, version = _managed_version(client, unique_name)
    _put(client, name, version, 1, 1)
    _wait_streams(first, name, 1)
    first.stop()

    again = lambdad_factory(data_dir=first.data_dir)
    _wait_streams(again, name, 2)
    out = again.client().invoke(FunctionName=name, Qualifier=version, LogType="Tail")
    assert json.loads(out["Payload"].read()) == "lambda-managed-instances"
    assert "Init Duration" not in report_line(out)
