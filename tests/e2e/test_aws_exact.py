"""Answers compared whole with those recorded on AWS (issue 14, second pass).

Each test drives the real server through boto3 and compares the whole answer: the
HTTP status, the error code, every member of the error body (``Type`` only where AWS
sends it, the message), or every field of a configuration that the recording names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import PRIMARY, ROLE, LambdadServer, handler_zip

ACCOUNT = PRIMARY.account_id
NewFunction = Callable[..., dict[str, Any]]
Namer = Callable[..., str]
WAIT = {"Delay": 0.05, "MaxAttempts": 200}


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def answer(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """Run ``call``, which must fail: (HTTP status, the parsed error without metadata)."""
    with pytest.raises(ClientError) as info:
        call()
    response = dict(info.value.response)
    status = response.pop("ResponseMetadata")["HTTPStatusCode"]
    return status, response


def not_found(resource: str) -> dict[str, Any]:
    message = f"Function not found: {resource}"
    return {
        "Error": {"Code": "ResourceNotFoundException", "Message": message},
        "Type": "User",
        "Message": message,
    }


def invalid(message: str, code: str = "InvalidParameterValueException") -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}, "Type": "User", "message": message}


# -- (c) names and ARNs in Get/Delete, qualifiers in "Function not found" ----------------------


@pytest.mark.parametrize("operation", ["get_function", "delete_function"])
def test_a_name_over_64_characters_is_not_found(lambdad: LambdadServer, operation: str) -> None:
    client = lambdad.client(parameter_validation=False)
    name = "n" * 65
    status, body = answer(lambda: getattr(client, operation)(FunctionName=name))
    assert (status, body) == (404, not_found(arn(name)))


def test_an_incomplete_arn_is_not_found(lambdad: LambdadServer) -> None:
    client = lambdad.client(parameter_validation=False)
    incomplete = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
    status, body = answer(lambda: client.get_function(FunctionName=incomplete))
    assert (status, body) == (404, not_found(arn("function")))


def test_create_function_with_a_name_over_64_is_an_invalid_parameter(
    lambdad: LambdadServer,
) -> None:
    client = lambdad.client(parameter_validation=False)
    name = "n" * 65
    status, body = answer(
        lambda: client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": handler_zip()},
        )
    )
    assert status == 400
    assert body["Error"]["Code"] == "InvalidParameterValueException"
    assert body["Type"] == "User"
    assert body["message"] == body["Error"]["Message"]


def test_function_not_found_names_the_qualifier(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Namer
) -> None:
    client = lambdad.client()
    missing = unique_name()
    status, body = answer(lambda: client.get_function(FunctionName=missing, Qualifier="$LATEST"))
    assert (status, body) == (404, not_found(arn(missing, "$LATEST")))
    name = new_function()["FunctionName"]
    status, body = answer(lambda: client.get_function(FunctionName=name, Qualifier="7"))
    assert (status, body) == (404, not_found(arn(name, "7")))
    status, body = answer(
        lambda: client.get_function_configuration(FunctionName=name, Qualifier="7")
    )
    assert (status, body) == (404, not_found(arn(name, "7")))


# -- (d) DeleteFunction with a qualifier -------------------------------------------------------


def test_deleting_a_version_the_function_lacks_is_a_no_op(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    out = client.delete_function(FunctionName=name, Qualifier="42")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert client.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    status, body = answer(lambda: client.delete_function(FunctionName=name, Qualifier="$LATEST"))
    assert (status, body) == (
        400,
        invalid("$LATEST version cannot be deleted without deleting the function."),
    )


def test_deleting_a_version_of_a_missing_function_names_it(
    lambdad: LambdadServer, unique_name: Namer
) -> None:
    client = lambdad.client()
    name = unique_name()
    status, body = answer(lambda: client.delete_function(FunctionName=name, Qualifier="3"))
    assert (status, body) == (404, not_found(arn(name, "3")))


# -- (e) tags ----------------------------------------------------------------------------------


def test_tag_resource_with_no_tags_is_refused(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    status, body = answer(lambda: client.tag_resource(Resource=arn(name), Tags={}))
    assert (status, body) == (
        400,
        invalid("An error occurred and the request cannot be processed."),
    )


# -- (g) environment over 4 KB -----------------------------------------------------------------


def test_an_environment_over_4_kb_quotes_the_measured_string(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    value = "x" * 4100
    status, body = answer(
        lambda: client.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"LARGE_VAR": value}}
        )
    )
    assert (status, body) == (
        400,
        invalid(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided exceeded the 4KB limit. String "
            f'measured: {{"LARGE_VAR":"{value}"}}'
        ),
    )


# -- (i) event invoke config -------------------------------------------------------------------


def test_event_invoke_config_missing_names_the_function(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    message = f"The function {arn(name)} doesn't have an EventInvokeConfig"
    status, body = answer(lambda: client.get_function_event_invoke_config(FunctionName=name))
    assert (status, body) == (
        404,
        {
            "Error": {"Code": "ResourceNotFoundException", "Message": message},
            "Type": "User",
            "Message": message,
        },
    )
    client.publish_version(FunctionName=name)
    message = f"The function {arn(name, '1')} doesn't have an EventInvokeConfig"
    status, body = answer(
        lambda: client.get_function_event_invoke_config(FunctionName=name, Qualifier="1")
    )
    assert (status, body["Error"]["Message"]) == (404, message)


@pytest.mark.parametrize("operation", ["put", "update"])
def test_event_invoke_config_arguments_are_checked_before_the_function(
    lambdad: LambdadServer, unique_name: Namer, operation: str
) -> None:
    client = lambdad.client()
    call = getattr(client, f"{operation}_function_event_invoke_config")
    status, body = answer(lambda: call(FunctionName=unique_name()))
    assert (status, body) == (
        400,
        invalid("You must specify at least one of error handling or destination setting."),
    )


# -- (a) RevisionId, (j) code updates published, (l) publishing is asynchronous ------------------


def test_every_change_is_a_new_revision(lambdad: LambdadServer, new_function: NewFunction) -> None:
    client = lambdad.client()
    created = new_function()
    name = created["FunctionName"]
    seen = [created["RevisionId"]]

    def revision() -> str:
        current: str = client.get_function_configuration(FunctionName=name)["RevisionId"]
        assert current not in seen
        seen.append(current)
        return current

    revision()  # Pending -> Active
    updated = client.update_function_configuration(FunctionName=name, Timeout=5)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["RevisionId"] not in seen
    seen.append(updated["RevisionId"])
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    revision()  # InProgress -> Successful
    client.tag_resource(Resource=arn(name), Tags={"team": "a"})
    revision()
    client.untag_resource(Resource=arn(name), TagKeys=["team"])
    revision()
    client.publish_version(FunctionName=name)
    revision()
    client.add_permission(
        FunctionName=name,
        StatementId="s",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    )
    revision()
    alias = client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    moved = client.update_alias(FunctionName=name, Name="live", Description="d")
    assert moved["RevisionId"] != alias["RevisionId"]


def test_a_stale_revision_from_the_create_answer_is_refused(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    created = new_function()
    status, body = answer(
        lambda: client.update_function_configuration(
            FunctionName=created["FunctionName"], Timeout=4, RevisionId=created["RevisionId"]
        )
    )
    message = (
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id"
    )
    assert (status, body) == (
        412,
        invalid(message, code="PreconditionFailedException"),
    )


def test_publishing_answers_pending_then_the_version_becomes_active(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    published = client.publish_version(FunctionName=name)
    assert published["Version"] == "1"
    assert published["FunctionArn"] == arn(name, "1")
    assert (published["State"], published["StateReason"], published["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in published
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig=WAIT
    )
    active = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert active["RevisionId"] != published["RevisionId"]

    again = client.update_function_code(
        FunctionName=name, ZipFile=handler_zip("def handler(e, c):\n    return 2\n"), Publish=True
    )
    assert (again["Version"], again["State"], again["StateReasonCode"]) == (
        "2",
        "Pending",
        "Creating",
    )
    assert "LastUpdateStatus" not in again


def test_any_code_update_is_published_as_a_new_version(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    code = handler_zip()
    name = new_function(code)["FunctionName"]
    assert client.publish_version(FunctionName=name)["Version"] == "1"
    assert client.publish_version(FunctionName=name)["Version"] == "1"
    numbers = []
    for _ in range(2):
        client.update_function_code(FunctionName=name, ZipFile=code)
        client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
        numbers.append(client.publish_version(FunctionName=name)["Version"])
    assert numbers == ["2", "3"]
    # Nothing changed since the last publish: the last version again, as it is.
    same = client.publish_version(FunctionName=name)
    assert (same["Version"], same["State"]) == ("3", "Active")


# -- (b) LoggingConfig -----------------------------------------------------------------------------


def test_logging_config_is_completed_and_merged_as_aws_does(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    created = new_function(LoggingConfig={"LogFormat": "JSON"})
    name = created["FunctionName"]
    group = f"/aws/lambda/{name}"
    assert created["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": group,
    }

    def update(given: dict[str, str]) -> dict[str, str]:
        out = client.update_function_configuration(FunctionName=name, LoggingConfig=given)
        client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
        config = client.get_function_configuration(FunctionName=name)["LoggingConfig"]
        assert config == out["LoggingConfig"]
        return dict(config)

    assert update({"ApplicationLogLevel": "DEBUG"}) == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "INFO",
        "LogGroup": group,
    }
    assert update({"LogGroup": "/custom/group"}) == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "INFO",
        "LogGroup": "/custom/group",
    }
    assert update({"LogFormat": "Text"}) == {"LogFormat": "Text", "LogGroup": "/custom/group"}
    assert update({"LogFormat": "JSON"}) == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": "/custom/group",
    }


# -- (h) what AWS leaves out ----------------------------------------------------------------------


def test_list_functions_leaves_out_states_and_runtime_version(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client(region="ap-southeast-2")
    name = new_function(region="ap-southeast-2")["FunctionName"]
    listed = [f for f in client.list_functions()["Functions"] if f["FunctionName"] == name]
    assert len(listed) == 1
    absent = {"State", "StateReason", "StateReasonCode", "LastUpdateStatus"}
    assert not absent & set(listed[0])
    assert "RuntimeVersionConfig" not in listed[0]
    assert listed[0]["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    full = client.get_function_configuration(FunctionName=name)
    assert {k: v for k, v in full.items() if k in listed[0]} == listed[0]


# -- (k) validation messages render values as AWS does -----------------------------------------


def invalid_request(*violations: str) -> dict[str, Any]:
    noun = "error" if len(violations) == 1 else "errors"
    message = f"{len(violations)} validation {noun} detected: " + "; ".join(violations)
    return {"Error": {"Code": "ValidationException", "Message": message}}


WEIGHTS_AT = "at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "


@pytest.mark.parametrize(
    ("weights", "violation"),
    [
        (
            {"2": 2.0},
            f"Value '{{2=2.0}}' {WEIGHTS_AT}Map value must satisfy constraint: [Member must "
            "have value less than or equal to 1.0, Member must have value greater than or "
            "equal to 0.0, Member must not be null]",
        ),
        (
            {"2": -1},
            f"Value '{{2=-1.0}}' {WEIGHTS_AT}Map value must satisfy constraint: [Member must "
            "have value less than or equal to 1.0, Member must have value greater than or "
            "equal to 0.0, Member must not be null]",
        ),
        (
            {"$LATEST": 0.5},
            f"Value '{{$LATEST=0.5}}' {WEIGHTS_AT}Map keys must satisfy constraint: [Member "
            "must have length less than or equal to 1024, Member must have length greater "
            "than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]",
        ),
    ],
)
def test_a_bad_routing_weight_is_rendered_as_a_map(
    lambdad: LambdadServer, new_function: NewFunction, weights: dict[str, float], violation: str
) -> None:
    client = lambdad.client(parameter_validation=False)
    name = new_function(Publish=True)["FunctionName"]
    status, body = answer(
        lambda: client.create_alias(
            FunctionName=name,
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
    )
    assert (status, body) == (400, invalid_request(violation))


ARCHITECTURES_AT = "at 'architectures' failed to satisfy constraint: "


@pytest.mark.parametrize(
    ("architectures", "violation"),
    [
        (
            ["x86_64", "arm64"],
            f"Value '[x86_64, arm64]' {ARCHITECTURES_AT}Member must have length less than or "
            "equal to 1",
        ),
        (
            ["X86_64"],
            f"Value '[X86_64]' {ARCHITECTURES_AT}Member must satisfy constraint: [Member must "
            "satisfy enum value set: [x86_64, arm64], Member must not be null]",
        ),
    ],
)
def test_bad_architectures_are_one_error_for_the_list(
    lambdad: LambdadServer, unique_name: Namer, architectures: list[str], violation: str
) -> None:
    client = lambdad.client(parameter_validation=False)
    status, body = answer(
        lambda: client.create_function(
            FunctionName=unique_name("arch"),
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": handler_zip()},
            Architectures=architectures,
        )
    )
    assert (status, body) == (400, invalid_request(violation))


def test_a_string_over_its_length_and_a_second_violation_are_both_reported(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client(parameter_validation=False)
    name = new_function()["FunctionName"]
    description = "d" * 257
    status, body = answer(
        lambda: client.update_function_configuration(
            FunctionName=name, Description=description, Timeout=0
        )
    )
    assert (status, body) == (
        400,
        invalid_request(
            f"Value '{description}' at 'description' failed to satisfy constraint: Member "
            "must have length less than or equal to 256",
            "Value '0' at 'timeout' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1",
        ),
    )


AWS_RUNTIMES = (
    "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2"
)


@pytest.mark.parametrize("runtime", ["non-existent-runtime", "PYTHON3.9"])
def test_an_unknown_runtime_names_aws_runtime_list(
    lambdad: LambdadServer, unique_name: Namer, runtime: str
) -> None:
    client = lambdad.client(parameter_validation=False)
    status, body = answer(
        lambda: client.create_function(
            FunctionName=unique_name("rt"),
            Runtime=runtime,
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": handler_zip()},
        )
    )
    assert (status, body) == (
        400,
        invalid(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{AWS_RUNTIMES}] or be a valid ARN"
        ),
    )


# -- (h) no Type where AWS omits it -----------------------------------------------------------


def untyped(message: str) -> dict[str, Any]:
    return {
        "Error": {"Code": "InvalidParameterValueException", "Message": message},
        "message": message,
    }


def test_a_reservation_below_the_unreserved_minimum_has_no_type(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    unreserved = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    status, body = answer(
        lambda: client.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=unreserved - 99
        )
    )
    assert (status, body) == (
        400,
        untyped(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [100]."
        ),
    )


def test_provisioned_concurrency_over_the_unreserved_pool_has_no_type(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(Publish=True)["FunctionName"]
    unreserved = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    over, below = (
        answer(
            lambda: client.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=unreserved + 1
            )
        ),
        answer(
            lambda: client.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=unreserved - 99
            )
        ),
    )
    assert over == (
        400,
        untyped(
            "Specified ConcurrentExecutions for function is greater than account's unreserved "
            f"concurrency [{unreserved}]."
        ),
    )
    assert below == (
        400,
        untyped(
            "Specified ConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [100]."
        ),
    )


def test_an_alias_of_latest_with_weights_has_no_type(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function(Publish=True)["FunctionName"]
    status, body = answer(
        lambda: client.create_alias(
            FunctionName=name,
            Name="live",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    )
    assert (status, body) == (
        400,
        untyped("$LATEST is not supported for an alias pointing to more than 1 version"),
    )


# -- size limits: the operation's own limit, in AWS's words -----------------------------------


def too_large(message: str) -> dict[str, Any]:
    # Not in botocore's model: boto3 parses the code and message, not the other members.
    return {"Error": {"Code": "RequestEntityTooLargeException", "Message": message}}


@pytest.mark.parametrize("over", [1, 1024 * 1024])
def test_an_invoke_payload_over_6_mb_names_the_invoke_operation(
    lambdad: LambdadServer, new_function: NewFunction, over: int
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    payload = b'"' + b"x" * (6291456 - 2 + over) + b'"'
    status, body = answer(lambda: client.invoke(FunctionName=name, Payload=payload))
    assert (status, body) == (
        413,
        too_large("Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
    )


def test_a_create_function_body_over_its_limit_names_the_operation(
    lambdad: LambdadServer, unique_name: Namer
) -> None:
    client = lambdad.client()
    status, body = answer(
        lambda: client.create_function(
            FunctionName=unique_name(),
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": b"z" * (70167211 * 3 // 4 + 1024)},
        )
    )
    assert (status, body) == (
        413,
        too_large("Request must be smaller than 70167211 bytes for the CreateFunction operation"),
    )


# -- AddPermission names the qualified function -----------------------------------------------


@pytest.mark.parametrize("qualifier", ["7", "nope"])
def test_add_permission_with_a_missing_qualifier_names_the_qualified_function(
    lambdad: LambdadServer, new_function: NewFunction, qualifier: str
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    status, body = answer(
        lambda: client.add_permission(
            FunctionName=name,
            StatementId="s1",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            Qualifier=qualifier,
        )
    )
    assert (status, body) == (404, not_found(arn(name, qualifier)))


# -- GetAccountSettings counts layer versions' code -------------------------------------------


def test_account_code_size_counts_layer_versions(
    lambdad: LambdadServer, unique_name: Namer
) -> None:
    client = lambdad.client()

    def used() -> int:
        return int(client.get_account_settings()["AccountUsage"]["TotalCodeSize"])

    before = used()
    layer = unique_name()
    published = client.publish_layer_version(LayerName=layer, Content={"ZipFile": handler_zip()})
    try:
        assert used() == before + published["Content"]["CodeSize"]
    finally:
        client.delete_layer_version(LayerName=layer, VersionNumber=published["Version"])
    assert used() == before


def test_vpc_config_answers_carry_the_vpc_id_and_removal_empties_it(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client("lambda")
    given = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-01"]}
    created = new_function(VpcConfig=given)
    vpc = created["VpcConfig"]
    assert vpc["SubnetIds"] == given["SubnetIds"]
    assert vpc["SecurityGroupIds"] == given["SecurityGroupIds"]
    assert vpc["VpcId"].startswith("vpc-")
    assert vpc["Ipv6AllowedForDualStack"] is False
    name = created["FunctionName"]
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    removed = client.update_function_configuration(
        FunctionName=name, VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    assert removed["VpcConfig"] == {
        "SubnetIds": [],
        "SecurityGroupIds": [],
        "VpcId": "",
        "Ipv6AllowedForDualStack": False,
    }
