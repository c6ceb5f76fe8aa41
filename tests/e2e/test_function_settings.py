"""A function's recursion and runtime management configurations, through boto3 and
the AWS CLI, with AWS's defaults and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import LambdadServer


def test_recursion_config_defaults_to_terminate_and_can_allow(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client("lambda")
    name = new_function()["FunctionName"]
    assert client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    out = lambdad.aws(
        "lambda", "put-function-recursion-config", "--function-name", name,
        "--recursive-loop", "Allow",
    )  # fmt: skip
    assert out == {"RecursiveLoop": "Allow"}
    assert client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_recursion_config(FunctionName=name + "-missing")


def test_runtime_management_auto_by_default_and_manual_pins_the_running_version(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client("lambda")
    created = new_function(Publish=True)
    name, arn = created["FunctionName"], created["FunctionArn"]
    got = client.get_runtime_management_config(FunctionName=name)
    assert got["UpdateRuntimeOn"] == "Auto"
    assert got["FunctionArn"] == arn
    assert "RuntimeVersionArn" not in got

    running = client.get_function(FunctionName=name)["Configuration"]["RuntimeVersionConfig"][
        "RuntimeVersionArn"
    ]
    put = client.put_runtime_management_config(
        FunctionName=name, Qualifier="1", UpdateRuntimeOn="Manual", RuntimeVersionArn=running
    )
    assert put["UpdateRuntimeOn"] == "Manual"
    assert put["RuntimeVersionArn"] == running
    assert put["FunctionArn"] == f"{arn}:1"
    assert (
        client.get_runtime_management_config(FunctionName=name, Qualifier="1")["RuntimeVersionArn"]
        == running
    )
    # $LATEST keeps its own setting.
    assert client.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == "Auto"

    for bad in (
        {"UpdateRuntimeOn": "Manual"},
        {"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": running},
        {"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": running[:-4] + "0000"},
    ):
        with pytest.raises(ClientError) as refused:
            client.put_runtime_management_config(FunctionName=name, **bad)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_runtime_management_config(FunctionName=name, Qualifier="9")
