"""Capacity providers and function scaling configurations through boto3, as a user of
Lambda Managed Instances drives them: a provider is created, read, listed, tagged and
updated; a function runs on it; its published version's scaling configuration is put
and read back; what does not exist, conflicts or is malformed is refused as AWS does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from e2e.helpers import PRIMARY, ROLE, LambdadServer, handler_zip
from e2e.test_aws_exact import answer

ACCOUNT = PRIMARY.account_id
VPC = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123"]}
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/capacity-operator"


def _not_found(message: str) -> dict[str, Any]:
    # As AWS spells ResourceNotFoundException's members (``Message``, not ``message``).
    code = "ResourceNotFoundException"
    return {"Error": {"Code": code, "Message": message}, "Type": "User", "Message": message}


def test_a_function_on_a_capacity_provider_and_its_scaling_config(
    lambdad: LambdadServer, unique_name: Callable[..., str]
) -> None:
    client = lambdad.client()
    name = unique_name("cp")
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:capacity-provider:{name}"
    created = client.create_capacity_provider(
        CapacityProviderName=name,
        VpcConfig=VPC,
        PermissionsConfig={"CapacityProviderOperatorRoleArn": OPERATOR},
        InstanceRequirements={"Architectures": ["arm64"]},
        Tags={"team": "a"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    provider = created["CapacityProvider"]
    assert provider["CapacityProviderArn"] == arn
    assert provider["State"] == "Active"
    assert provider["VpcConfig"] == VPC
    assert client.get_capacity_provider(CapacityProviderName=arn)["CapacityProvider"] == provider
    listed = client.list_capacity_providers(State="Active")["CapacityProviders"]
    assert arn in [p["CapacityProviderArn"] for p in listed]
    status, body = answer(
        lambda: client.create_capacity_provider(
            CapacityProviderName=name,
            VpcConfig=VPC,
            PermissionsConfig={"CapacityProviderOperatorRoleArn": OPERATOR},
        )
    )
    assert status == 409
    assert body["Error"]["Code"] == "ResourceConflictException"

    scaling = {"ScalingMode": "Manual", "ScalingPolicies": [
        {"PredefinedMetricType": "LambdaCapacityProviderAverageCPUUtilization", "TargetValue": 60}
    ]}  # fmt: skip
    updated = client.update_capacity_provider(
        CapacityProviderName=name, CapacityProviderScalingConfig=scaling
    )["CapacityProvider"]
    assert updated["CapacityProviderScalingConfig"]["ScalingMode"] == "Manual"
    client.tag_resource(Resource=arn, Tags={"env": "dev"})
    client.untag_resource(Resource=arn, TagKeys=["team"])
    assert client.list_tags(Resource=arn)["Tags"] == {"env": "dev"}

    # A function on the provider; one on a provider that does not exist is refused.
    missing = arn + "-nope"
    config = {"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": arn}}
    fn = unique_name("fn")
    args: dict[str, Any] = {
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": handler_zip()},
    }
    status, body = answer(
        lambda: client.create_function(
            FunctionName=fn,
            CapacityProviderConfig={
                "LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": missing}
            },
            **args,
        )
    )
    assert (status, body) == (
        404,
        _not_found(f"Capacity provider not found: {missing}"),
    )
    out = client.create_function(FunctionName=fn, CapacityProviderConfig=config, **args)
    assert out["CapacityProviderConfig"] == config
    client.get_waiter("function_active_v2").wait(FunctionName=fn)
    version = client.publish_version(FunctionName=fn)["Version"]
    versions = client.list_function_versions_by_capacity_provider(CapacityProviderName=name)
    fn_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}"
    assert [v["FunctionArn"] for v in versions["FunctionVersions"]] == [
        f"{fn_arn}:$LATEST",
        f"{fn_arn}:{version}",
    ]

    # The published version's scaling configuration.
    put = client.put_function_scaling_config(
        FunctionName=fn,
        Qualifier=version,
        FunctionScalingConfig={"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 2},
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["FunctionState"] == "Active"
    got = client.get_function_scaling_config(FunctionName=fn, Qualifier="$LATEST.PUBLISHED")
    assert got["FunctionArn"] == f"{fn_arn}:{version}"
    wanted = {"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 2}
    assert got["AppliedFunctionScalingConfig"] == wanted
    assert got["RequestedFunctionScalingConfig"] == wanted
    status, body = answer(
        lambda: client.put_function_scaling_config(
            FunctionName=fn,
            Qualifier=version,
            FunctionScalingConfig={"MinExecutionEnvironments": 3, "MaxExecutionEnvironments": 2},
        )
    )
    assert (status, body["Error"]["Code"]) == (400, "InvalidParameterValueException")
    status, body = answer(
        lambda: client.get_function_scaling_config(FunctionName=fn, Qualifier="99")
    )
    assert (status, body["Error"]["Message"]) == (404, f"Function not found: {fn_arn}:99")

    # In use: not deleted; once its functions are gone, it is.
    status, body = answer(lambda: client.delete_capacity_provider(CapacityProviderName=name))
    assert (status, body["Error"]["Code"]) == (409, "ResourceConflictException")
    client.delete_function(FunctionName=fn)
    deleted = client.delete_capacity_provider(CapacityProviderName=name)
    assert deleted["CapacityProvider"]["State"] == "Deleting"
    status, body = answer(lambda: client.get_capacity_provider(CapacityProviderName=name))
    assert (status, body) == (
        404,
        _not_found(f"Capacity provider not found: {arn}"),
    )
    status, body = answer(lambda: client.tag_resource(Resource=arn, Tags={"a": "b"}))
    assert (status, body["Error"]["Code"]) == (404, "ResourceNotFoundException")


def test_scaling_config_needs_a_function_on_a_capacity_provider(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client()
    name = new_function(Publish=True)["FunctionName"]
    status, body = answer(
        lambda: client.get_function_scaling_config(FunctionName=name, Qualifier="1")
    )
    assert (status, body["Error"]["Code"]) == (400, "InvalidParameterValueException")
