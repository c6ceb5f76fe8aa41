"""Issue 14's remaining answers, checked against a live server as a user meets them:
the cold start's INIT_START line in the function's log, tagging an event source
mapping that does not exist, code from S3 held only to the unzipped limit (a direct
upload to the zipped one), and a VpcConfig checked against the operator's networks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.aws_side import MOTO_REGION, moto_client, moto_server
from e2e.conftest import ServerFactory
from e2e.helpers import PRIMARY, ROLE, LambdadServer, make_zip
from e2e.invoke_support import wait_for_log
from e2e.test_aws_exact import answer, invalid

ACCOUNT = PRIMARY.account_id
NETWORKS = {"vpc-0abc": {"SubnetIds": ["subnet-aaa"], "SecurityGroupIds": ["sg-aaa"]}}


def test_a_cold_start_logs_init_start_with_the_runtime_version_arn(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client = lambdad.client()
    created = new_function()
    name = created["FunctionName"]
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    out = client.invoke(FunctionName=name, Payload=b"{}")
    rid = out["ResponseMetadata"]["RequestId"]
    arn = client.get_function_configuration(FunctionName=name)["RuntimeVersionConfig"]
    wait_for_log(lambdad, name, f"START RequestId: {rid}")
    logs = lambdad.client("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    messages = [e["message"] for e in events]
    # Each event ends with a newline, as AWS's do (its guides' get-log-events output:
    # "START RequestId: ... Version: $LATEST\n", "REPORT RequestId: ...\t\n").
    assert messages[0] == (
        "INIT_START Runtime Version: python:3.12.v1\t"
        f"Runtime Version ARN: {arn['RuntimeVersionArn']}\n"
    )
    assert messages[1] == f"START RequestId: {rid} Version: $LATEST\n"
    wait_for_log(lambdad, name, f"REPORT RequestId: {rid}")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert [e["message"] for e in events][-2] == f"END RequestId: {rid}\n"
    assert all(e["message"].endswith("\t\n") for e in events if "REPORT" in e["message"])


def test_tagging_a_mapping_that_does_not_exist_is_not_found(lambdad: LambdadServer) -> None:
    client = lambdad.client()
    uuid = "00000000-0000-4000-8000-000000000000"
    mapping = f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{uuid}"
    status, body = answer(lambda: client.tag_resource(Resource=mapping, Tags={"a": "b"}))
    message = f"Event source mapping not found: {mapping}"
    code = "ResourceNotFoundException"
    assert (status, body) == (
        404,
        {"Error": {"Code": code, "Message": message}, "Type": "User", "Message": message},
    )


def test_s3_code_is_held_to_the_unzipped_limit_and_vpcs_to_the_operators_networks(
    lambdad_factory: ServerFactory, tmp_path: Path
) -> None:
    with moto_server(tmp_path / "moto.log") as endpoint:
        s3 = moto_client(endpoint, "s3")
        s3.create_bucket(Bucket="code")
        big = make_zip({"app.py": "def handler(e, c):\n    return e\n", "bin": os.urandom(150_000)})
        s3.put_object(Bucket="code", Key="big.zip", Body=big)
        huge = make_zip({"app.py": "x = 1\n", "zeros.bin": b"\0" * 400_000})
        s3.put_object(Bucket="code", Key="huge.zip", Body=huge)
        server = lambdad_factory(
            env={
                "LAMBDAD_MAX_ZIPPED_BYTES": "100000",
                "LAMBDAD_MAX_UNZIPPED_BYTES": "300000",
                "AWS_ENDPOINT_URL_S3": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": MOTO_REGION,
                "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": ACCOUNT,
                "LAMBDAD_VPC_NETWORKS": json.dumps(NETWORKS),
            }
        )
        client = server.client()
        args = {"Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler"}
        out = client.create_function(
            FunctionName="from-s3", Code={"S3Bucket": "code", "S3Key": "big.zip"}, **args
        )
        assert out["CodeSize"] == len(big)
        status, body = answer(
            lambda: client.create_function(FunctionName="direct", Code={"ZipFile": big}, **args)
        )
        assert status == 413
        assert body["Error"] == {
            "Code": "RequestEntityTooLargeException",
            "Message": "Zipped size must be smaller than 100000 bytes",
        }
        status, body = answer(
            lambda: client.create_function(
                FunctionName="unzipped", Code={"S3Bucket": "code", "S3Key": "huge.zip"}, **args
            )
        )
        assert (status, body) == (400, invalid("Unzipped size must be smaller than 300000 bytes"))

        # The same server knows the operator's networks: a VpcConfig names them.
        vpc = {"SubnetIds": ["subnet-aaa"], "SecurityGroupIds": ["sg-aaa"]}
        created = client.create_function(
            FunctionName="in-vpc", Code={"S3Bucket": "code", "S3Key": "big.zip"}, VpcConfig=vpc,
            **args,
        )  # fmt: skip
        assert created["VpcConfig"] == {
            **vpc,
            "VpcId": "vpc-0abc",
            "Ipv6AllowedForDualStack": False,
        }
        for given, message in (
            (
                {"SubnetIds": ["subnet-nope"], "SecurityGroupIds": []},
                "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
                "EC2 Error Message: The subnet ID 'subnet-nope' does not exist",
            ),
            (
                {"SubnetIds": ["subnet-aaa"], "SecurityGroupIds": ["sg-nope"]},
                "Error occurred while DescribeSecurityGroups. EC2 Error Code: "
                "InvalidGroup.NotFound. EC2 Error Message: The security group 'sg-nope' "
                "does not exist",
            ),
        ):
            status, body = answer(
                lambda given=given: client.update_function_configuration(
                    FunctionName="in-vpc", VpcConfig=given
                )
            )
            assert (status, body) == (400, invalid(message))
