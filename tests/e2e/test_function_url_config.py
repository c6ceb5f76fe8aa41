"""Function URL configs through boto3, as AWS answers them: Create/Get/Update/Delete/List
on $LATEST and on an alias, the conflicts and not-founds, validation, and URLs removed
with their function and alias."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import LambdadServer

URL = re.compile(r"http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:(\d+)/")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _code(error: ClientError) -> tuple[str, str]:
    return error.response["Error"]["Code"], error.response["Error"]["Message"]


def test_create_get_update_list_delete(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client()
    fn = new_function()
    name = fn["FunctionName"]

    created = client.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert URL.fullmatch(created["FunctionUrl"])
    assert URL.fullmatch(created["FunctionUrl"]).group(1) == str(lambdad.port)  # type: ignore[union-attr]
    assert created["FunctionArn"] == fn["FunctionArn"]
    assert created["AuthType"] == "NONE"
    assert created["InvokeMode"] == "BUFFERED"
    assert TIME.fullmatch(created["CreationTime"])
    assert "LastModifiedTime" not in created
    assert "Cors" not in created

    with pytest.raises(ClientError) as again:
        client.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert _code(again.value) == (
        "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {fn['FunctionArn']}]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function",
    )

    got = client.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["LastModifiedTime"] == got["CreationTime"] == created["CreationTime"]

    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 60}
    updated = client.update_function_url_config(
        FunctionName=name, AuthType="AWS_IAM", Cors=cors, InvokeMode="RESPONSE_STREAM"
    )
    assert updated["FunctionUrl"] == created["FunctionUrl"]
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == cors
    assert updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["LastModifiedTime"] >= updated["CreationTime"]

    client.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    on_alias = client.create_function_url_config(
        FunctionName=name, Qualifier="live", AuthType="NONE"
    )
    assert on_alias["FunctionArn"] == fn["FunctionArn"] + ":live"
    assert on_alias["FunctionUrl"] != created["FunctionUrl"]

    listed = client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == [
        fn["FunctionArn"],
        fn["FunctionArn"] + ":live",
    ]
    page = client.list_function_url_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionUrlConfigs"]) == 1
    assert page["NextMarker"]

    client.delete_alias(FunctionName=name, Name="live")
    listed = client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [fn["FunctionArn"]]

    assert (
        client.delete_function_url_config(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    for call in (client.get_function_url_config, client.delete_function_url_config):
        with pytest.raises(ClientError) as gone:
            call(FunctionName=name)
        assert _code(gone.value) == (
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )


def test_url_goes_with_its_function(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    client.create_function_url_config(FunctionName=name, AuthType="NONE")
    client.delete_function(FunctionName=name)
    new_function(FunctionName=name)
    with pytest.raises(ClientError) as gone:
        client.get_function_url_config(FunctionName=name)
    assert _code(gone.value)[0] == "ResourceNotFoundException"


def test_bad_input(lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]) -> None:
    client = lambdad.client(parameter_validation=False)
    fn = new_function()
    name = fn["FunctionName"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"AuthType": "OPEN"}, "ValidationException"),
        ({"AuthType": "NONE", "InvokeMode": "STREAM"}, "ValidationException"),
        ({"AuthType": "NONE", "Cors": {"MaxAge": 86401}}, "ValidationException"),
        ({"AuthType": "NONE", "Qualifier": "1"}, "ValidationException"),
        ({"AuthType": "NONE", "Qualifier": "$LATEST"}, "ValidationException"),
    ]
    for args, code in cases:
        with pytest.raises(ClientError) as refused:
            client.create_function_url_config(FunctionName=name, **args)
        assert _code(refused.value)[0] == code, args
    with pytest.raises(ClientError) as no_alias:
        client.create_function_url_config(FunctionName=name, Qualifier="nope", AuthType="NONE")
    assert _code(no_alias.value) == (
        "ResourceNotFoundException",
        f"Function not found: {fn['FunctionArn']}:nope",
    )
    with pytest.raises(ClientError) as no_function:
        client.get_function_url_config(FunctionName=name + "-missing")
    assert _code(no_function.value)[0] == "ResourceNotFoundException"
