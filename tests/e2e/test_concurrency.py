"""Concurrency controls, end to end: reserved and provisioned concurrency, throttles.

Reserved concurrency caps a function (two concurrent slow invokes under a
reservation of one: one runs, one is throttled with AWS's Reason); the account
limit and the scale-up rate throttle too; provisioned concurrency starts
environments ahead of time (``IN_PROGRESS`` then ``READY``), which serve
invocations without a cold start (no ``Init Duration``) and are replaced when
one dies.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from e2e.helpers import LambdadServer, handler_zip

NewFunction = Callable[..., dict[str, Any]]
ServerFactory = Callable[..., LambdadServer]

# Sleeps for event["sleep"] seconds; says how its environment was initialised; can die.
WORKER = """
import os, time
def handler(event, context):
    if event.get("die"):
        os._exit(1)
    time.sleep(event.get("sleep", 0))
    return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
"""


def concurrently(client: Any, name: str, n: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Invoke ``n`` times at once; each outcome is the response or the error response."""
    barrier = threading.Barrier(n)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        try:
            out = client.invoke(FunctionName=name, **kwargs)
            out["Payload"] = out["Payload"].read()
        except client.exceptions.ClientError as exc:
            out = exc.response
        with lock:
            results.append(out)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def throttled(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [r for r in results if r["ResponseMetadata"]["HTTPStatusCode"] == 429]
    assert found, f"nothing was throttled: {results}"
    return found


def report_line(out: dict[str, Any]) -> str:
    tail = base64.b64decode(out["LogResult"]).decode()
    return next(line for line in tail.splitlines() if line.startswith("REPORT"))


def wait_status(client: Any, name: str, qualifier: str, want: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if config["Status"] == want:
            return config
        assert time.monotonic() < deadline, f"still {config['Status']}: {config}"
        time.sleep(0.05)


# -- reserved concurrency ---------------------------------------------------------------------


def test_reserved_concurrency_of_one_throttles_the_second_concurrent_invoke(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(handler_zip(WORKER), Timeout=10)["FunctionName"]
    put = client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert put["ReservedConcurrentExecutions"] == 1
    assert client.get_function(FunctionName=name)["Concurrency"] == {
        "ReservedConcurrentExecutions": 1
    }

    results = concurrently(client, name, 2, Payload=json.dumps({"sleep": 1.0}))
    ok = [r for r in results if r["ResponseMetadata"]["HTTPStatusCode"] == 200]
    assert len(ok) == 1
    assert json.loads(ok[0]["Payload"]) == "on-demand"
    [throttle] = throttled(results)
    assert throttle["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert throttle["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert throttle["ResponseMetadata"]["HTTPHeaders"]["retry-after"].isdigit()

    # Once the first has returned, the next one runs.
    out = client.invoke(FunctionName=name, Payload=b"{}")
    assert out["StatusCode"] == 200


def test_reserved_concurrency_of_zero_throttles_everything(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(handler_zip(WORKER))["FunctionName"]
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(client.exceptions.TooManyRequestsException) as exc:
        client.invoke(FunctionName=name)
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    client.delete_function_concurrency(FunctionName=name)
    assert (
        client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        is None
    )
    assert client.invoke(FunctionName=name)["StatusCode"] == 200


def test_account_settings_and_the_unreserved_minimum(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    before = client.get_account_settings()["AccountLimit"]
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    after = client.get_account_settings()["AccountLimit"]
    assert after["ConcurrentExecutions"] == before["ConcurrentExecutions"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 7
    too_much = after["UnreservedConcurrentExecutions"] - 100 + 7 + 1
    with pytest.raises(client.exceptions.InvalidParameterValueException) as exc:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=too_much)
    assert str(exc.value).endswith(
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    with pytest.raises(client.exceptions.InvalidParameterValueException) as qualified:
        client.put_function_concurrency(FunctionName=f"{name}:1", ReservedConcurrentExecutions=1)
    assert "permitted on Lambda functions only" in str(qualified.value)


def test_account_limit_and_scale_up_rate_throttle(lambdad_factory: ServerFactory) -> None:
    limited = lambdad_factory(
        env={"LAMBDAD_ACCOUNT_CONCURRENCY": "1", "LAMBDAD_MIN_UNRESERVED_CONCURRENCY": "0"}
    )
    slow_scaling = lambdad_factory(
        env={"LAMBDAD_SCALE_UP_LIMIT": "1", "LAMBDAD_SCALE_UP_WINDOW": "600"}
    )
    for server in (limited, slow_scaling):
        client = server.client()
        client.create_function(
            FunctionName="worker",
            Runtime="python3.12",
            Role="arn:aws:iam::123456789012:role/lambda-role",
            Handler="app.handler",
            Code={"ZipFile": handler_zip(WORKER)},
            Timeout=10,
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName="worker", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        [throttle] = throttled(
            concurrently(client, "worker", 2, Payload=json.dumps({"sleep": 1.0}))
        )
        assert throttle["Reason"] == "ConcurrentInvocationLimitExceeded"
    # The one environment the scale-up rate allowed is reused: warm invokes still run.
    assert slow_scaling.client().invoke(FunctionName="worker")["StatusCode"] == 200


# -- provisioned concurrency ------------------------------------------------------------------


def test_provisioned_concurrency_becomes_ready_and_serves_without_cold_starts(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(handler_zip(WORKER), Timeout=10)["FunctionName"]
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )

    put = client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["Status"] == "IN_PROGRESS"
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    ready = wait_status(client, name, "live", "READY")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    [listed] = client.list_provisioned_concurrency_configs(FunctionName=name)[
        "ProvisionedConcurrencyConfigs"
    ]
    assert listed["FunctionArn"].endswith(f":{name}:live")

    for _ in range(3):
        out = client.invoke(FunctionName=name, Qualifier="live", LogType="Tail")
        assert json.loads(out["Payload"].read()) == "provisioned-concurrency"
        assert "Init Duration" not in report_line(out)
    # Two at once: both provisioned environments serve.
    both = concurrently(client, name, 2, Qualifier="live", Payload=json.dumps({"sleep": 0.5}))
    assert sorted(json.loads(r["Payload"]) for r in both) == ["provisioned-concurrency"] * 2

    # The version itself, unaliased, has no provisioned concurrency: a cold start.
    out = client.invoke(FunctionName=name, Qualifier=version, LogType="Tail")
    assert json.loads(out["Payload"].read()) == "on-demand"
    assert "Init Duration" in report_line(out)

    client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")


def test_a_provisioned_environment_that_dies_is_replaced(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(handler_zip(WORKER))["FunctionName"]
    version = client.publish_version(FunctionName=name)["Version"]
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_status(client, name, version, "READY")
    died = client.invoke(FunctionName=name, Qualifier=version, Payload=json.dumps({"die": True}))
    assert died["FunctionError"] == "Unhandled"
    replaced = wait_status(client, name, version, "READY")
    assert replaced["AllocatedProvisionedConcurrentExecutions"] == 1
    out = client.invoke(FunctionName=name, Qualifier=version, LogType="Tail")
    assert json.loads(out["Payload"].read()) == "provisioned-concurrency"
    assert "Init Duration" not in report_line(out)


def test_provisioned_concurrency_counts_against_the_reservation(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(handler_zip(WORKER))["FunctionName"]
    version = client.publish_version(FunctionName=name)["Version"]
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    wait_status(client, name, version, "READY")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as lower:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert "should not be lower than function's total provisioned concurrency [2]" in str(
        lower.value
    )
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    # Everything reserved is provisioned: nothing is left for $LATEST.
    with pytest.raises(client.exceptions.TooManyRequestsException) as exc:
        client.invoke(FunctionName=name)
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    out = client.invoke(FunctionName=name, Qualifier=version)
    assert json.loads(out["Payload"].read()) == "provisioned-concurrency"


def test_provisioned_concurrency_of_a_function_that_cannot_init_fails(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    broken = "raise RuntimeError('no database')\ndef handler(event, context):\n    return 1\n"
    name = new_function(handler_zip(broken))["FunctionName"]
    version = client.publish_version(FunctionName=name)["Version"]
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    failed = wait_status(client, name, version, "FAILED")
    assert failed["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert failed["AllocatedProvisionedConcurrentExecutions"] == 0
