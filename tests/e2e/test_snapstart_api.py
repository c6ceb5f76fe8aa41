"""SnapStart's API through the real server, as a user turns it on with boto3.

A python3.12 function with ``SnapStart: {ApplyOn: PublishedVersions}``: its published
version starts Pending, botocore's ``published_version_active`` waiter sees it become
Active, and then it answers invocations, directly and through an alias; the
configuration shows ``OptimizationStatus`` On for the version only. What is asserted
is what the control plane guarantees (states, shapes, answers), on either start path;
how environments are restored is ``test_snapstart.py``'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import LambdadServer, handler_zip

NewFunction = Callable[..., dict[str, Any]]
WAIT = {"Delay": 0.1, "MaxAttempts": 600}
SNAPSTART = {"ApplyOn": "PublishedVersions"}

# Init work done once; the answer says the version that ran.
SOURCE = """
TABLE = {n: n * n for n in range(1000)}
def handler(event, context):
    return {"event": event, "square": TABLE[event.get("n", 0)],
            "version": context.function_version}
"""


def test_a_published_snapstart_version_becomes_active_and_answers(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    fn = new_function(handler_zip(SOURCE), SnapStart=SNAPSTART)
    name = fn["FunctionName"]
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}

    published = client.publish_version(FunctionName=name)
    assert published["Version"] == "1"
    assert published["State"] == "Pending"
    assert published["StateReasonCode"] == "Creating"
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}

    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig=WAIT
    )
    version = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert version["State"] == "Active"
    assert "StateReasonCode" not in version
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}

    out = client.invoke(FunctionName=name, Qualifier="1", Payload=json.dumps({"n": 12}))
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out
    assert out["ExecutedVersion"] == "1"
    assert json.loads(out["Payload"].read()) == {
        "event": {"n": 12},
        "square": 144,
        "version": "1",
    }
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    out = client.invoke(FunctionName=name, Qualifier="live", Payload=json.dumps({"n": 3}))
    assert json.loads(out["Payload"].read())["square"] == 9

    latest = client.get_function(FunctionName=name)["Configuration"]
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    on_alias = client.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert on_alias["SnapStart"]["OptimizationStatus"] == "On"
    listed = {
        v["Version"]: v["SnapStart"]["OptimizationStatus"]
        for v in client.list_versions_by_function(FunctionName=name)["Versions"]
    }
    assert listed == {"$LATEST": "Off", "1": "On"}


def test_snapstart_is_refused_for_a_runtime_without_it(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    with pytest.raises(ClientError) as exc:
        new_function(Runtime="python3.11", SnapStart=SNAPSTART)
    error = exc.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == "python3.11 is not supported for SnapStart enabled functions."

    client = lambdad.client()
    name = new_function(SnapStart=SNAPSTART)["FunctionName"]
    with pytest.raises(ClientError) as exc:
        client.update_function_configuration(FunctionName=name, Runtime="nodejs22.x")
    error = exc.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == "nodejs22.x is not supported for SnapStart enabled functions."
