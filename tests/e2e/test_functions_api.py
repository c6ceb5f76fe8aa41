"""The function-management API, driven by boto3 and the AWS CLI as users drive it.

Every test talks to the real ``lambdad serve`` subprocess over HTTP. Tests that
count things (pagination, account usage) work in a region no other test uses,
since regions are separate worlds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import signal
import struct
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import (
    LAMBDAD,
    OTHER,
    PRIMARY,
    ROLE,
    AwsCliError,
    LambdadServer,
    TestCredential,
    handler_zip,
    make_zip,
    role_for,
    send,
    sign_headers,
    signing_clock,
)

ACCOUNT = PRIMARY.account_id
LAST_MODIFIED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
SETTINGS_PATH = "/2016-08-19/account-settings/"

NewFunction = Callable[..., dict[str, Any]]
Namer = Callable[..., str]


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def arn(name: str, region: str = "us-east-1", account: str = ACCOUNT) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def aws_error(call: Callable[[], Any]) -> tuple[str, str, int]:
    """Run ``call``; it must fail. Returns (error code, message, HTTP status)."""
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        data: bytes = resp.read()
        return data


def create_args(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": handler_zip()},
        **overrides,
    }


# -- create, read -------------------------------------------------------------------------


def test_create_function_answers_every_field_aws_returns(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    code = handler_zip("def handler(event, context):\n    return 'created'\n")
    out = new_function(code, wait=False)
    name = out["FunctionName"]

    assert out["FunctionArn"] == arn(name)
    assert out["Runtime"] == "python3.12"
    assert out["Role"] == ROLE
    assert out["Handler"] == "app.handler"
    assert out["CodeSize"] == len(code)
    assert out["CodeSha256"] == code_sha256(code)
    assert out["Description"] == ""
    assert out["Timeout"] == 3
    assert out["MemorySize"] == 128
    assert LAST_MODIFIED.fullmatch(out["LastModified"])
    assert out["Version"] == "$LATEST"
    assert out["TracingConfig"] == {"Mode": "PassThrough"}
    assert re.fullmatch(r"[0-9a-f-]{36}", out["RevisionId"])
    assert out["State"] in ("Pending", "Active")
    assert "StateReasonCode" in out or out["State"] == "Active"
    assert out.get("LastUpdateStatus", "Successful") == "Successful"
    assert out["PackageType"] == "Zip"
    assert out["Architectures"] == ["x86_64"]
    assert out["EphemeralStorage"] == {"Size": 512}
    assert out["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert out["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert out["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith(
        "arn:aws:lambda:us-east-1::runtime:"
    )
    assert "Environment" not in out
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_get_function_reports_active_and_code_location_downloads_the_exact_zip(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    code = handler_zip("def handler(event, context):\n    return 'download me'\n")
    name = new_function(code)["FunctionName"]
    client = lambdad.client()

    got = client.get_function(FunctionName=name)
    config = got["Configuration"]
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert config["CodeSha256"] == code_sha256(code)
    assert got["Code"]["RepositoryType"] == "S3"
    # A plain GET with no AWS signing of its own: the URL carries the signature.
    assert download(got["Code"]["Location"]) == code
    alone = client.get_function_configuration(FunctionName=name)
    alone.pop("ResponseMetadata")
    assert alone == config


def test_code_location_is_refused_when_tampered_or_stripped(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    location = lambdad.client().get_function(FunctionName=name)["Code"]["Location"]
    path = location.removeprefix(lambdad.endpoint)

    forged = re.sub(r"X-Amz-Signature=[0-9a-f]{4}", "X-Amz-Signature=0000", path)
    assert forged != path
    resp = send(lambdad.endpoint, "GET", forged, b"", {})
    assert (resp.status, resp.error_type) == (403, "InvalidSignatureException")

    resp = send(lambdad.endpoint, "GET", path.split("?")[0], b"", {})
    assert (resp.status, resp.error_type) == (403, "MissingAuthenticationTokenException")


def test_waiters_function_active_v2_and_function_updated_v2_succeed(
    lambdad: LambdadServer, unique_name: Namer
) -> None:
    client = lambdad.client()
    name = unique_name()
    client.create_function(**create_args(name))
    try:
        client.get_waiter("function_active_v2").wait(FunctionName=name)
        updated = client.update_function_code(
            FunctionName=name, ZipFile=handler_zip("def handler(e, c):\n    return 2\n")
        )
        assert updated["LastUpdateStatus"] in ("InProgress", "Successful")
        client.get_waiter("function_updated_v2").wait(FunctionName=name)
        client.update_function_configuration(FunctionName=name, Timeout=9)
        client.get_waiter("function_updated_v2").wait(FunctionName=name)
        assert client.get_function(FunctionName=name)["Configuration"]["Timeout"] == 9
    finally:
        client.delete_function(FunctionName=name)


def test_create_function_keeps_every_option_given(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    out = new_function(
        Description="all the options",
        Timeout=42,
        MemorySize=1024,
        Environment={"Variables": {"GREETING": "hello", "LEVEL": "3"}},
        Tags={"team": "core", "cost-center": "42"},
        EphemeralStorage={"Size": 2048},
        Architectures=["arm64"],
        TracingConfig={"Mode": "Active"},
        LoggingConfig={"LogFormat": "JSON"},
    )
    got = lambdad.client().get_function(FunctionName=out["FunctionName"])
    config = got["Configuration"]
    for fields in (out, config):
        assert fields["Description"] == "all the options"
        assert fields["Timeout"] == 42
        assert fields["MemorySize"] == 1024
        assert fields["Environment"] == {"Variables": {"GREETING": "hello", "LEVEL": "3"}}
        assert fields["EphemeralStorage"] == {"Size": 2048}
        assert fields["Architectures"] == ["arm64"]
        assert fields["TracingConfig"] == {"Mode": "Active"}
        assert fields["LoggingConfig"]["LogFormat"] == "JSON"
    assert got["Tags"] == {"team": "core", "cost-center": "42"}


def test_environment_variables_are_not_stored_in_the_clear(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    secret = "s3cr3t-" + "x" * 20
    new_function(Environment={"Variables": {"API_TOKEN": secret}})
    for path in lambdad.data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".zip":
            assert secret.encode() not in path.read_bytes(), path


def test_creating_an_existing_function_conflicts(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client()
    with pytest.raises(client.exceptions.ResourceConflictException) as info:
        client.create_function(**create_args(name))
    assert name in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize(
    "form",
    ["name", "arn", "partial-arn", "name:$LATEST", "arn:$LATEST"],
)
def test_function_name_may_be_a_name_an_arn_or_a_partial_arn(
    lambdad: LambdadServer, new_function: NewFunction, form: str
) -> None:
    name = new_function()["FunctionName"]
    spelled = {
        "name": name,
        "arn": arn(name),
        "partial-arn": f"{ACCOUNT}:function:{name}",
        "name:$LATEST": f"{name}:$LATEST",
        "arn:$LATEST": f"{arn(name)}:$LATEST",
    }[form]
    client = lambdad.client()
    assert client.get_function(FunctionName=spelled)["Configuration"]["FunctionName"] == name
    config = client.get_function_configuration(FunctionName=spelled)
    # AWS answers with the qualifier the caller named: an explicit $LATEST stays in the ARN.
    qualified = ":$LATEST" if spelled.endswith(":$LATEST") else ""
    assert config["FunctionArn"] == arn(name) + qualified
    if ":$LATEST" not in spelled:
        updated = client.update_function_configuration(FunctionName=spelled, Timeout=7)
        assert updated["Timeout"] == 7
        client.delete_function(FunctionName=spelled)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_function(FunctionName=name)


@pytest.mark.parametrize("encode", [True, False], ids=["colons-encoded", "colons-raw"])
def test_arn_in_the_path_is_understood_encoded_or_not(
    lambdad: LambdadServer, new_function: NewFunction, encode: bool
) -> None:
    name = new_function()["FunctionName"]
    spelled = quote(arn(name), safe="") if encode else arn(name)
    resp = lambdad.request("GET", f"/2015-03-31/functions/{spelled}/configuration")
    assert resp.status == 200, resp.body
    assert resp.json()["FunctionName"] == name


def test_qualifier_in_the_name_must_match_the_qualifier_parameter(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.get_function(FunctionName=f"{name}:$LATEST", Qualifier="1")


# -- list -----------------------------------------------------------------------------------


def test_list_functions_pages_with_max_items_and_marker(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    region = "ap-southeast-2"  # used by no other test
    made = sorted(new_function(region=region, wait=False)["FunctionName"] for _ in range(53))
    client = lambdad.client(region=region)

    first = client.list_functions()
    assert len(first["Functions"]) == 50  # the most AWS returns in one page
    assert "NextMarker" in first
    rest = client.list_functions(Marker=first["NextMarker"])
    assert "NextMarker" not in rest
    assert [f["FunctionName"] for f in first["Functions"] + rest["Functions"]] == made

    seen: list[str] = []
    marker: dict[str, str] = {}
    pages = 0
    while True:
        page = client.list_functions(MaxItems=7, **marker)
        assert len(page["Functions"]) <= 7
        seen.extend(f["FunctionName"] for f in page["Functions"])
        pages += 1
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}
    assert seen == made
    assert pages == 8

    paginated = [
        f["FunctionName"]
        for page in client.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 20}
        )
        for f in page["Functions"]
    ]
    assert paginated == made

    assert {f["FunctionArn"] for f in first["Functions"]} == {arn(n, region) for n in made[:50]}

    # The AWS CLI follows NextMarker by itself.
    listed = lambdad.aws("lambda", "list-functions", region=region)
    assert [f["FunctionName"] for f in listed["Functions"]] == made
    some = lambdad.aws("lambda", "list-functions", "--max-items", "5", region=region)
    assert [f["FunctionName"] for f in some["Functions"]] == made[:5]
    assert some["NextToken"]


def test_list_functions_rejects_a_garbage_marker(lambdad: LambdadServer) -> None:
    client = lambdad.client()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.list_functions(Marker="%%%not-a-marker")


def test_list_versions_rejects_a_garbage_marker(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client()
    marker = base64.urlsafe_b64encode(b"abc").decode()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.list_versions_by_function(FunctionName=name, Marker=marker)


# -- update -----------------------------------------------------------------------------------


def test_update_function_code_replaces_the_code(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    created = new_function()
    name = created["FunctionName"]
    client = lambdad.client()
    code = handler_zip("def handler(event, context):\n    return 'v2'\n")

    out = client.update_function_code(FunctionName=name, ZipFile=code)
    assert out["CodeSha256"] == code_sha256(code)
    assert out["CodeSize"] == len(code)
    assert out["RevisionId"] != created["RevisionId"]
    assert out["LastUpdateStatus"] in ("InProgress", "Successful")
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    got = client.get_function(FunctionName=name)
    assert got["Configuration"]["CodeSha256"] == code_sha256(code)
    assert download(got["Code"]["Location"]) == code


def test_update_function_code_dry_run_changes_nothing(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    created = new_function()
    client = lambdad.client()
    name = created["FunctionName"]
    client.update_function_code(FunctionName=name, ZipFile=handler_zip("x = 1\n"), DryRun=True)
    assert (
        client.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
        == created["CodeSha256"]
    )


def test_update_with_a_stale_revision_id_fails_with_412(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client()
    # The answer to CreateFunction carries the Pending revision; this is the Active one.
    created = client.get_function_configuration(FunctionName=name)

    updated = client.update_function_configuration(
        FunctionName=name, Timeout=11, RevisionId=created["RevisionId"]
    )
    assert updated["Timeout"] == 11
    assert updated["RevisionId"] != created["RevisionId"]

    for call in (
        lambda: client.update_function_configuration(
            FunctionName=name, Timeout=12, RevisionId=created["RevisionId"]
        ),
        lambda: client.update_function_code(
            FunctionName=name, ZipFile=handler_zip(), RevisionId=created["RevisionId"]
        ),
    ):
        with pytest.raises(client.exceptions.PreconditionFailedException) as info:
            call()
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        assert "Revision Id" in info.value.response["Error"]["Message"]
    assert client.get_function_configuration(FunctionName=name)["Timeout"] == 11


def test_update_function_configuration_changes_what_was_given_only(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    created = new_function(Description="before", Environment={"Variables": {"KEEP": "1"}})
    name = created["FunctionName"]
    client = lambdad.client()

    out = client.update_function_configuration(
        FunctionName=name, MemorySize=256, Handler="app.other", Runtime="python3.11"
    )
    assert (out["MemorySize"], out["Handler"], out["Runtime"]) == (256, "app.other", "python3.11")
    assert out["Description"] == "before"
    assert out["Environment"] == {"Variables": {"KEEP": "1"}}
    assert out["CodeSha256"] == created["CodeSha256"]
    assert LAST_MODIFIED.fullmatch(out["LastModified"])

    out = client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"NEW": "2"}}
    )
    assert out["Environment"] == {"Variables": {"NEW": "2"}}
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {}})
    config = client.get_function_configuration(FunctionName=name)
    assert config.get("Environment", {}).get("Variables", {}) == {}
    assert config["MemorySize"] == 256


def test_a_rejected_update_leaves_the_function_as_it_was(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client(parameter_validation=False)
    created = client.get_function_configuration(FunctionName=name)
    for bad in (
        {"MemorySize": 20000},
        {"Timeout": 901},
        {"Runtime": "python3.7"},
        {"Environment": {"Variables": {"AWS_REGION": "x"}}},
    ):
        aws_error(lambda bad=bad: client.update_function_configuration(FunctionName=name, **bad))
    aws_error(lambda: client.update_function_code(FunctionName=name, ZipFile=b"not a zip"))
    config = client.get_function_configuration(FunctionName=name)
    assert config["RevisionId"] == created["RevisionId"]
    assert config["CodeSha256"] == created["CodeSha256"]


def test_update_function_code_with_publish_creates_version_1(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client()
    out = client.update_function_code(
        FunctionName=name, ZipFile=handler_zip("x = 'published'\n"), Publish=True
    )
    assert out["Version"] == "1"
    assert out["FunctionArn"] == arn(name) + ":1"
    versions = client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


# -- delete -----------------------------------------------------------------------------------


def test_delete_function_removes_it_everywhere(lambdad: LambdadServer, unique_name: Namer) -> None:
    client = lambdad.client()
    name = unique_name()
    client.create_function(**create_args(name))
    out = client.delete_function(FunctionName=name)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204

    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_function(FunctionName=name)
    assert info.value.response["Error"]["Message"] == f"Function not found: {arn(name)}"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_function(FunctionName=name)
    names = [
        f["FunctionName"]
        for page in client.get_paginator("list_functions").paginate()
        for f in page["Functions"]
    ]
    assert name not in names
    # The name is free again.
    client.create_function(**create_args(name))
    client.delete_function(FunctionName=name)


# -- tags -----------------------------------------------------------------------------------------


def test_tags_can_be_added_listed_and_removed(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    name = new_function(Tags={"a": "1"})["FunctionName"]
    client = lambdad.client()
    resource = arn(name)

    assert client.list_tags(Resource=resource)["Tags"] == {"a": "1"}
    client.tag_resource(Resource=resource, Tags={"b": "2", "a": "one"})
    assert client.list_tags(Resource=resource)["Tags"] == {"a": "one", "b": "2"}
    assert client.get_function(FunctionName=name)["Tags"] == {"a": "one", "b": "2"}
    client.untag_resource(Resource=resource, TagKeys=["a", "not-there"])
    assert client.list_tags(Resource=resource)["Tags"] == {"b": "2"}


def test_tags_are_checked(lambdad: LambdadServer, new_function: NewFunction) -> None:
    name = new_function()["FunctionName"]
    client = lambdad.client(parameter_validation=False)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags(Resource=arn(name + "-missing"))
    with pytest.raises(ClientError) as denied:
        client.tag_resource(Resource=arn(name, account=OTHER.account_id), Tags={"a": "1"})
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "lambda:TagResource" in denied.value.response["Error"]["Message"]
    code, message, status = aws_error(lambda: client.list_tags(Resource=name))
    assert (code, status) == ("ValidationException", 400)
    assert "'resource'" in message
    code, message, _ = aws_error(
        lambda: client.tag_resource(Resource=arn(name), Tags={"k" * 129: "v"})
    )
    assert code == "ValidationException"
    assert "'tags'" in message
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.tag_resource(Resource=arn(name), Tags={f"k{i}": "v" for i in range(51)})
    assert client.list_tags(Resource=arn(name))["Tags"] == {}


# -- account settings ---------------------------------------------------------------------------


def test_account_settings_report_limits_and_usage_of_the_region(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    region = "ca-central-1"  # used by no other test
    client = lambdad.client(region=region)
    before = client.get_account_settings()
    assert before["AccountLimit"] == {
        "TotalCodeSize": 75 * 1024**3,
        "CodeSizeUnzipped": 250 * 1024**2,
        "CodeSizeZipped": 50 * 1024**2,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 1000,
    }
    assert before["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}

    one = new_function(handler_zip("a = 1\n"), region=region, wait=False)
    two = new_function(handler_zip("b = 22\n"), region=region, wait=False)
    usage = client.get_account_settings()["AccountUsage"]
    assert usage == {"TotalCodeSize": one["CodeSize"] + two["CodeSize"], "FunctionCount": 2}

    client.delete_function(FunctionName=one["FunctionName"])
    usage = client.get_account_settings()["AccountUsage"]
    assert usage == {"TotalCodeSize": two["CodeSize"], "FunctionCount": 1}
    assert lambdad.client(region=region, account=OTHER.account_id).get_account_settings()[
        "AccountUsage"
    ] == {"TotalCodeSize": 0, "FunctionCount": 0}


# -- validation -----------------------------------------------------------------------------------

VALIDATION_CASES = [
    # (id, CreateFunction overrides, error code, text the message must contain)
    (
        "name-too-long",
        {"FunctionName": "a" * 65},
        "InvalidParameterValueException",
        "'functionName'",
    ),
    ("name-bad-chars", {"FunctionName": "bad name!"}, "ValidationException", "'functionName'"),
    ("runtime-unknown", {"Runtime": "python9.9"}, "InvalidParameterValueException", "'runtime'"),
    ("runtime-deprecated", {"Runtime": "python3.7"}, "InvalidParameterValueException", "python3.7"),
    (
        "runtime-deprecated-node",
        {"Runtime": "nodejs14.x"},
        "InvalidParameterValueException",
        "nodejs14.x",
    ),
    ("handler-space", {"Handler": "app handler"}, "ValidationException", "'handler'"),
    ("handler-long", {"Handler": "a" * 129}, "ValidationException", "'handler'"),
    ("memory-low", {"MemorySize": 64}, "ValidationException", "'memorySize'"),
    ("memory-high", {"MemorySize": 10241}, "ValidationException", "'memorySize'"),
    ("timeout-zero", {"Timeout": 0}, "ValidationException", "'timeout'"),
    ("timeout-high", {"Timeout": 901}, "ValidationException", "'timeout'"),
    (
        "storage-low",
        {"EphemeralStorage": {"Size": 511}},
        "ValidationException",
        "'ephemeralStorage.size'",
    ),
    (
        "storage-high",
        {"EphemeralStorage": {"Size": 10241}},
        "ValidationException",
        "'ephemeralStorage.size'",
    ),
    ("role-not-arn", {"Role": "my-role"}, "ValidationException", "'role'"),
    (
        "role-user-arn",
        {"Role": "arn:aws:iam::123456789012:user/bob"},
        "ValidationException",
        "'role'",
    ),
    ("description-long", {"Description": "d" * 257}, "ValidationException", "'description'"),
    (
        "env-name-digit",
        {"Environment": {"Variables": {"1ABC": "x"}}},
        "ValidationException",
        "'environment.variables'",
    ),
    (
        "env-name-dash",
        {"Environment": {"Variables": {"MY-VAR": "x"}}},
        "ValidationException",
        "'environment.variables'",
    ),
    (
        "env-reserved",
        {"Environment": {"Variables": {"AWS_REGION": "x"}}},
        "InvalidParameterValueException",
        "AWS_REGION",
    ),
    (
        "env-too-big",
        {"Environment": {"Variables": {"BIG": "x" * 4100}}},
        "InvalidParameterValueException",
        "4KB",
    ),
    ("tag-key-long", {"Tags": {"k" * 129: "v"}}, "ValidationException", "'tags'"),
    ("tag-value-long", {"Tags": {"k": "v" * 257}}, "ValidationException", "'tags'"),
    ("architecture", {"Architectures": ["sparc"]}, "ValidationException", "'architectures'"),
    (
        "two-architectures",
        {"Architectures": ["x86_64", "arm64"]},
        "ValidationException",
        "'architectures'",
    ),
    ("package-type", {"PackageType": "Tarball"}, "ValidationException", "'packageType'"),
    (
        "too-many-tags",
        {"Tags": {f"k{i}": "v" for i in range(51)}},
        "InvalidParameterValueException",
        "tag",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "code", "text"),
    [pytest.param(o, c, t, id=i) for i, o, c, t in VALIDATION_CASES],
)
def test_create_function_validates_like_aws(
    lambdad: LambdadServer, unique_name: Namer, overrides: dict[str, Any], code: str, text: str
) -> None:
    client = lambdad.client(parameter_validation=False)
    args = create_args(unique_name(), **overrides)
    got_code, message, status = aws_error(lambda: client.create_function(**args))
    assert (got_code, status) == (code, 400), message
    assert text in message
    if code == "ValidationException":
        assert message.startswith("1 validation error detected: Value ")
    if "FunctionName" not in overrides:
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_function(FunctionName=args["FunctionName"])


@pytest.mark.parametrize(
    "limits",
    [
        {"Timeout": 1, "MemorySize": 128, "EphemeralStorage": {"Size": 512}},
        {"Timeout": 900, "MemorySize": 10240, "EphemeralStorage": {"Size": 10240}},
    ],
    ids=["lowest", "highest"],
)
def test_the_limits_themselves_are_accepted(
    lambdad: LambdadServer, new_function: NewFunction, limits: dict[str, Any]
) -> None:
    out = new_function(
        wait=False, Description="d" * 256, Tags={f"k{i}": "v" for i in range(50)}, **limits
    )
    for key, value in limits.items():
        assert out[key] == value


def test_modelled_exceptions_reach_boto3_as_their_classes(lambdad: LambdadServer) -> None:
    client = lambdad.client()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.create_function(**create_args("deprecated-rt", Runtime="python2.7"))
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_configuration(FunctionName="never-created-here")


def test_missing_required_members_are_named(lambdad: LambdadServer) -> None:
    resp = lambdad.request("POST", "/2015-03-31/functions", b'{"FunctionName": "x"}')
    assert (resp.status, resp.error_type) == (400, "ValidationException")
    message = resp.json()["message"]
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'role'" in message
    assert "Value null at 'code'" in message


# -- code archives ------------------------------------------------------------------------------


def _zip_with_symlink(name: str, target: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        link = zipfile.ZipInfo(name)
        link.external_attr = 0o120777 << 16
        zf.writestr(link, target)
    return buf.getvalue()


def _ratio_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "x = 1\n")
        zf.writestr("zeros.bin", bytes(16 * 1024 * 1024))
    return buf.getvalue()


def _declares_300_mb() -> bytes:
    """A small archive whose central directory claims a 300 MB member."""
    data = bytearray(make_zip({"app.py": "x = 1\n", "big.bin": "tiny"}))
    entry = data.rfind(b"PK\x01\x02")  # central directory record of the last member
    struct.pack_into("<I", data, entry + 24, 300 * 1024 * 1024)
    return bytes(data)


BAD_ZIPS = {
    "not-a-zip": lambda: b"this is not a zip file",
    "empty": lambda: b"",
    "truncated": lambda: handler_zip()[:40],
    "traversal": lambda: make_zip({"app.py": "x", "../../evil.py": "x"}),
    "traversal-nested": lambda: make_zip({"lib/../../evil.py": "x"}),
    "absolute-path": lambda: make_zip({"/etc/cron.d/evil": "x"}),
    "symlink-escape": lambda: _zip_with_symlink("link", "../../../etc/passwd"),
    "symlink-absolute": lambda: _zip_with_symlink("link", "/etc/passwd"),
    "compression-bomb": _ratio_bomb,
    "over-250mb-unzipped": _declares_300_mb,
}


@pytest.mark.parametrize("kind", list(BAD_ZIPS))
def test_bad_archives_are_refused_with_invalid_parameter_value(
    lambdad: LambdadServer, unique_name: Namer, kind: str
) -> None:
    client = lambdad.client()
    args = create_args(unique_name(), Code={"ZipFile": BAD_ZIPS[kind]()})
    with pytest.raises(client.exceptions.InvalidParameterValueException) as info:
        client.create_function(**args)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName=args["FunctionName"])


def test_bad_archive_in_update_function_code_is_refused(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    created = new_function()
    client = lambdad.client()
    for kind in ("not-a-zip", "traversal", "symlink-escape"):
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            client.update_function_code(
                FunctionName=created["FunctionName"], ZipFile=BAD_ZIPS[kind]()
            )
    config = client.get_function_configuration(FunctionName=created["FunctionName"])
    assert config["CodeSha256"] == created["CodeSha256"]


def test_archives_with_safe_links_and_directories_are_accepted(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        zf.writestr("pkg/", "")
        zf.writestr("pkg/mod.py", "y = 2\n")
        link = zipfile.ZipInfo("pkg/alias.py")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "mod.py")
    code = buf.getvalue()
    out = new_function(code)
    assert out["CodeSha256"] == code_sha256(code)


def test_zips_over_the_zipped_limit_are_refused_with_413(
    lambdad_factory: Callable[..., LambdadServer],
) -> None:
    server = lambdad_factory(env={"LAMBDAD_MAX_ZIPPED_BYTES": "100000"})
    client = server.client()
    small = handler_zip()
    client.create_function(**create_args("fits", Code={"ZipFile": small}))
    big = make_zip({"app.py": "x = 1\n", "noise.bin": os.urandom(150_000)})
    assert len(big) > 100_000
    code, message, status = aws_error(
        lambda: client.create_function(**create_args("too-big", Code={"ZipFile": big}))
    )
    assert (code, status, message) == (
        "RequestEntityTooLargeException",
        413,
        "Zipped size must be smaller than 100000 bytes",
    )
    assert server.stop() == 0


# -- errors ---------------------------------------------------------------------------------------


def test_errors_have_aws_shape(lambdad: LambdadServer) -> None:
    resp = lambdad.request("GET", "/2015-03-31/functions/no-such-function")
    assert resp.status == 404
    assert resp.error_type == "ResourceNotFoundException"
    assert resp.headers["x-amzn-requestid"]
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {
        "Type": "User",
        "Message": f"Function not found: {arn('no-such-function')}",
    }

    resp = lambdad.request("POST", "/2015-03-31/functions", b"{not json")
    assert (resp.status, resp.error_type) == (400, "InvalidRequestContentException")
    body = resp.json()
    assert body["Type"] == "User"
    assert "message" in body
    assert "code" not in body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/favicon.ico"),
        ("GET", "/2015-03-31/functions/f/not-a-thing"),
        ("PATCH", "/2015-03-31/functions/f"),
        ("POST", "/2099-01-01/functions"),
    ],
)
def test_unknown_routes_and_methods_answer_like_aws(
    lambdad: LambdadServer, method: str, path: str
) -> None:
    resp = lambdad.request(method, path)
    assert resp.status == 404
    assert resp.error_type == "UnknownOperationException"
    assert resp.headers["content-type"].startswith("application/json")
    assert b"<html" not in resp.body.lower()
    assert resp.json()["Type"] == "User"


# -- regions and accounts -----------------------------------------------------------------------


def test_regions_are_separate_worlds(lambdad: LambdadServer, new_function: NewFunction) -> None:
    name = new_function()["FunctionName"]
    east = lambdad.client()
    west = lambdad.client(region="eu-west-1")

    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.get_function(FunctionName=name)
    with pytest.raises(west.exceptions.ResourceNotFoundException) as info:
        west.get_function(FunctionName=arn(name))
    assert "not reachable in this region" in info.value.response["Error"]["Message"]
    assert name not in [f["FunctionName"] for f in west.list_functions()["Functions"]]

    twin = new_function(FunctionName=name, region="eu-west-1", Description="west")
    assert twin["FunctionArn"] == arn(name, "eu-west-1")
    west.delete_function(FunctionName=name)
    assert east.get_function(FunctionName=name)["Configuration"]["Description"] == ""


def test_accounts_are_separate(lambdad: LambdadServer, new_function: NewFunction) -> None:
    name = new_function()["FunctionName"]
    other = lambdad.client(account=OTHER.account_id)

    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.get_function(FunctionName=name)
    # By ARN, another account's function is refused (AWS says no more, exists or not).
    for call, action, resource in (
        (lambda: other.get_function(FunctionName=arn(name)), "GetFunction", arn(name)),
        (lambda: other.delete_function(FunctionName=arn(name)), "DeleteFunction", arn(name)),
        (lambda: other.get_function(FunctionName=arn("none")), "GetFunction", arn("none")),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        error = denied.value.response["Error"]
        assert error["Code"] == "AccessDeniedException"
        assert error["Message"] == (
            f"User: arn:aws:iam::{OTHER.account_id}:root is not authorized to perform: "
            f"lambda:{action} on resource: {resource} because no resource-based policy allows "
            f"the lambda:{action} action"
        )
    assert name not in [f["FunctionName"] for f in other.list_functions()["Functions"]]

    theirs = new_function(FunctionName=name, account=OTHER.account_id)
    assert theirs["FunctionArn"] == arn(name, account=OTHER.account_id)
    assert lambdad.client().get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn(
        name
    )


# -- authentication ---------------------------------------------------------------------------


def test_unsigned_requests_get_missing_authentication_token(lambdad: LambdadServer) -> None:
    for method, path in (
        ("GET", SETTINGS_PATH),
        ("GET", "/2015-03-31/functions/"),
        ("POST", "/2015-03-31/functions"),
        ("GET", "/nowhere"),
    ):
        resp = lambdad.request(method, path, sign=False)
        assert (resp.status, resp.error_type) == (403, "MissingAuthenticationTokenException")
        assert resp.json()["message"] == "Missing Authentication Token"


def test_unknown_access_key_is_unrecognized(lambdad: LambdadServer) -> None:
    stranger = TestCredential("AKIDNOBODYKNOWS00000", "whatever", ACCOUNT)
    resp = lambdad.request("GET", SETTINGS_PATH, credential=stranger)
    assert (resp.status, resp.error_type) == (403, "UnrecognizedClientException")

    client = boto3.session.Session().client(
        "lambda",
        endpoint_url=lambdad.endpoint,
        region_name="us-east-1",
        aws_access_key_id=stranger.access_key_id,
        aws_secret_access_key=stranger.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}),
    )
    with contextlib.closing(client):
        code, _, status = aws_error(client.list_functions)
    assert (code, status) == ("UnrecognizedClientException", 403)


def test_wrong_secret_is_an_invalid_signature(lambdad: LambdadServer) -> None:
    forger = TestCredential(PRIMARY.access_key_id, "not-the-secret", ACCOUNT)
    resp = lambdad.request("GET", SETTINGS_PATH, credential=forger)
    assert (resp.status, resp.error_type) == (403, "InvalidSignatureException")
    assert "signature we calculated does not match" in resp.json()["message"]


def test_stale_signatures_are_refused(lambdad: LambdadServer) -> None:
    now = datetime.now(UTC)
    with signing_clock(now - timedelta(minutes=16)):
        resp = lambdad.request("GET", SETTINGS_PATH)
    assert (resp.status, resp.error_type) == (403, "InvalidSignatureException")
    assert "Signature expired" in resp.json()["message"]
    with signing_clock(now + timedelta(minutes=16)):
        resp = lambdad.request("GET", SETTINGS_PATH)
    assert (resp.status, resp.error_type) == (403, "InvalidSignatureException")
    with signing_clock(now - timedelta(minutes=14)):
        assert lambdad.request("GET", SETTINGS_PATH).status == 200


def test_tampered_requests_are_refused(lambdad: LambdadServer) -> None:
    body = b'{"FunctionName": "tamper", "Timeout": 3}'
    path = "/2015-03-31/functions/tamper/configuration"
    headers = sign_headers("PUT", lambdad.endpoint + path, body, {}, PRIMARY, "us-east-1")
    for method, sent_path, sent_body in (
        ("PUT", path, body.replace(b"3", b"9")),
        ("PUT", path.replace("tamper", "tampe2"), body),
        ("POST", path, body),
    ):
        resp = send(lambdad.endpoint, method, sent_path, sent_body, headers)
        assert (resp.status, resp.error_type) == (403, "InvalidSignatureException")

    garbage = {"Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "20240101T000000Z"}
    resp = send(lambdad.endpoint, "GET", SETTINGS_PATH, b"", garbage)
    assert resp.status == 403
    assert resp.error_type
    assert resp.json()["Type"] == "User"


def test_query_string_signatures_are_accepted(lambdad: LambdadServer) -> None:
    request = AWSRequest(method="GET", url=lambdad.endpoint + SETTINGS_PATH)
    SigV4QueryAuth(PRIMARY.botocore(), "lambda", "us-east-1", expires=60).add_auth(request)
    with urllib.request.urlopen(request.url, timeout=10) as resp:
        assert resp.status == 200
        assert b"AccountLimit" in resp.read()
    forged = request.url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(forged, timeout=10)
    with info.value as refused:
        assert refused.code == 403
        assert refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


# -- the AWS CLI ----------------------------------------------------------------------------------


def test_aws_cli_manages_a_function(
    lambdad: LambdadServer, unique_name: Namer, tmp_path: Any
) -> None:
    name = unique_name()
    code = handler_zip("def handler(event, context):\n    return 'cli'\n")
    (tmp_path / "fn.zip").write_bytes(code)

    created = lambdad.aws(
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "python3.12",
        "--role",
        ROLE,
        "--handler",
        "app.handler",
        "--zip-file",
        "fileb://fn.zip",
        "--tags",
        "team=core",
        cwd=tmp_path,
    )
    assert created["FunctionArn"] == arn(name)
    assert created["CodeSha256"] == code_sha256(code)

    updated = lambdad.aws(
        "lambda",
        "update-function-configuration",
        "--function-name",
        name,
        "--timeout",
        "30",
        "--environment",
        "Variables={GREETING=hi}",
    )
    assert updated["Timeout"] == 30
    assert updated["Environment"] == {"Variables": {"GREETING": "hi"}}

    got = lambdad.aws("lambda", "get-function", "--function-name", arn(name))
    assert got["Tags"] == {"team": "core"}
    assert download(got["Code"]["Location"]) == code

    with pytest.raises(AwsCliError) as info:
        lambdad.aws(
            "lambda",
            "update-function-configuration",
            "--function-name",
            name,
            "--memory-size",
            "20000",
        )
    assert "ValidationException" in info.value.stderr
    assert "memorySize" in info.value.stderr

    deleted = lambdad.aws("lambda", "delete-function", "--function-name", name)
    assert deleted == {"StatusCode": 204}
    with pytest.raises(AwsCliError) as info:
        lambdad.aws("lambda", "get-function", "--function-name", name)
    assert "ResourceNotFoundException" in info.value.stderr


# -- the server process -------------------------------------------------------------------------


def test_restart_on_the_same_data_dir_keeps_functions_and_code(
    lambdad_factory: Callable[..., LambdadServer],
) -> None:
    first = lambdad_factory()
    code = handler_zip("def handler(event, context):\n    return 'persist'\n")
    client = first.client()
    created = client.create_function(
        **create_args(
            "survivor",
            Code={"ZipFile": code},
            Tags={"keep": "me"},
            Environment={"Variables": {"SECRET": "kept"}},
        )
    )
    client.create_function(**create_args("survivor-2", Code={"ZipFile": code}))
    # The answer to CreateFunction carries the Pending revision; this is the Active one.
    created = client.get_function_configuration(FunctionName="survivor")
    assert first.stop() == 0

    second = lambdad_factory(data_dir=first.data_dir)
    client = second.client()
    got = client.get_function(FunctionName="survivor")
    config = got["Configuration"]
    for key in ("FunctionArn", "CodeSha256", "CodeSize", "RevisionId", "LastModified"):
        assert config[key] == created[key]
    assert config["Environment"] == {"Variables": {"SECRET": "kept"}}
    assert got["Tags"] == {"keep": "me"}
    assert download(got["Code"]["Location"]) == code
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert names == ["survivor", "survivor-2"]
    assert second.stop() == 0


def test_generated_credential_is_printed_and_exported_by_lambdad_credentials(
    lambdad_factory: Callable[..., LambdadServer],
) -> None:
    server = lambdad_factory(credentials=None)
    generated = server.generated_credential()
    banner = server.stdout()
    assert server.endpoint in banner
    assert f"access key id: {generated.access_key_id}" in banner
    assert f"export AWS_SECRET_ACCESS_KEY={generated.secret_access_key}" in banner
    assert "isolation: " in banner

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    proc = subprocess.run(
        [LAMBDAD, "credentials", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=env,
    )
    exports = [line for line in proc.stdout.splitlines() if line.startswith("export ")]
    exported = dict(line.removeprefix("export ").split("=", 1) for line in exports)
    # Named as the SDKs read them; never the bare AWS_ENDPOINT_URL, which would send
    # every other AWS tool's calls to lambdad.
    assert set(exported) == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCOUNT_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_EVENTBRIDGE",
        "AWS_ENDPOINT_URL_SCHEDULER",
        "AWS_ENDPOINT_URL_CLOUDWATCH",
        "AWS_ENDPOINT_URL_APIGATEWAYV2",
        "AWS_ENDPOINT_URL_API_GATEWAY",
        "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
        "AWS_ENDPOINT_URL_CLOUDFORMATION",
        "AWS_ENDPOINT_URL_XRAY",
        "AWS_ENDPOINT_URL_CODEDEPLOY",
    }
    assert exported["AWS_ACCOUNT_ID"] == generated.account_id
    client = boto3.session.Session().client(
        "lambda",
        endpoint_url=exported["AWS_ENDPOINT_URL_LAMBDA"],
        region_name=exported["AWS_REGION"],
        aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    with contextlib.closing(client):
        created = client.create_function(**create_args("mine", Role=role_for(generated.account_id)))
    assert created["FunctionArn"] == arn("mine", account=generated.account_id)
    assert server.stop() == 0

    # The same credential on the next start, and its secret is not printed again.
    again = lambdad_factory(data_dir=server.data_dir, credentials=None)
    assert again.generated_credential() == generated
    assert generated.secret_access_key not in again.stdout()
    assert again.client().get_function(FunctionName="mine")
    assert again.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_stop_the_server_with_status_0_promptly(
    lambdad_factory: Callable[..., LambdadServer], sig: signal.Signals
) -> None:
    server = lambdad_factory()
    server.client().create_function(**create_args("busy"))
    assert server.process is not None
    started = time.monotonic()
    server.process.send_signal(sig)
    assert server.process.wait(10) == 0
    assert time.monotonic() - started < 10


def test_tags_on_a_version_arn_are_refused(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client()
    version = client.publish_version(FunctionName=new_function()["FunctionName"])
    assert version["FunctionArn"].endswith(":1")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.tag_resource(Resource=version["FunctionArn"], Tags={"a": "1"})
    assert "Please specify a function ARN" in str(err.value)


def test_a_role_of_another_account_is_refused(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    with pytest.raises(ClientError) as err:
        new_function(Role="arn:aws:iam::000000000000:role/elsewhere")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["Error"]["Message"] == "Cross-account pass role is not allowed."
