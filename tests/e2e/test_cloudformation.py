"""The CloudFormation subset as the AWS CLI drives it: ``aws cloudformation deploy`` of a
template with inline code creates the stack, the function answers, an update applies,
``delete-stack`` removes the function."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.aws_side import MOTO_REGION, moto_client, moto_server
from e2e.conftest import ServerFactory
from e2e.helpers import AWS_CLI, PRIMARY, LambdadServer, handler_zip

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Greeting: {Type: String, Default: hello}
Conditions:
  Loud: !Equals [!Ref Greeting, HELLO]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt Role.Arn
      MemorySize: !If [Loud, 256, 128]
      Environment:
        Variables:
          GREETING: !Sub '${Greeting} from ${AWS::StackName}'
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return {"says": os.environ["GREETING"]}
Outputs:
  FunctionName: {Value: !Ref Fn}
  FunctionArn: {Value: !GetAtt Fn.Arn, Description: the function}
"""


CAPS = ("--capabilities", "CAPABILITY_IAM")


def _deploy(
    server: LambdadServer, path: Path, stack: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    cmd = [AWS_CLI, "cloudformation", "deploy", "--template-file", str(path), "--stack-name", stack,
           "--endpoint-url", server.endpoint, "--region", server.region, *extra]  # fmt: skip
    return subprocess.run(
        cmd, env=server.aws_env(), capture_output=True, text=True, timeout=60, check=False
    )


def test_aws_cloudformation_deploy_inline_code(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("cfn")
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    # As on AWS, a template that makes an IAM role needs the caller to acknowledge it.
    done = _deploy(lambdad, path, stack)
    assert done.returncode != 0
    assert "Requires capabilities : [CAPABILITY_IAM]" in done.stderr
    done = _deploy(lambdad, path, stack, "--capabilities", "CAPABILITY_IAM")
    assert done.returncode == 0, done.stderr
    assert f"Successfully created/updated stack - {stack}" in done.stdout

    cfn = lambdad.client("cloudformation")
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    name = outputs["FunctionName"]
    assert name.startswith(f"{stack}-Fn-")
    assert outputs["FunctionArn"].endswith(f":function:{name}")

    lam = lambdad.client("lambda")
    answer = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert answer == {"says": f"hello from {stack}"}

    done = _deploy(lambdad, path, stack, "--parameter-overrides", "Greeting=HELLO", *CAPS)
    assert done.returncode == 0, done.stderr
    config = lam.get_function_configuration(FunctionName=name)
    assert config["MemorySize"] == 256
    answer = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert answer == {"says": f"HELLO from {stack}"}
    # The same template and values again: nothing to change.
    done = _deploy(
        lambdad, path, stack, "--parameter-overrides", "Greeting=HELLO",
        "--no-fail-on-empty-changeset", *CAPS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "No changes to deploy" in done.stdout

    kinds = {
        r["LogicalResourceId"]: r["ResourceType"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    assert kinds == {"Role": "AWS::IAM::Role", "Fn": "AWS::Lambda::Function"}
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    assert events[0]["ResourceStatus"] == "UPDATE_COMPLETE"
    assert "Fn" in cfn.get_template(StackName=stack)["TemplateBody"]

    cfn.delete_stack(StackName=stack)
    # Listed as deleted (AWS keeps them 90 days); described by name no more.
    summaries = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack]
    assert [s["StackStatus"] for s in summaries] == ["DELETE_COMPLETE"]
    with pytest.raises(cfn.exceptions.ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=stack)
    by_id = cfn.describe_stacks(StackName=summaries[0]["StackId"])["Stacks"]
    assert by_id[0]["StackStatus"] == "DELETE_COMPLETE"
    assert name not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


S3_TEMPLATE = """\
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: arn:aws:iam::123456789012:role/r
      Code: {S3Bucket: code, S3Key: app.zip}
Outputs:
  Name: {Value: !Ref Fn}
"""


def test_aws_cloudformation_deploy_through_s3(
    tmp_path: Path, lambdad_factory: ServerFactory
) -> None:
    """Template and code in an S3-compatible store (moto here): ``--s3-bucket`` sends a
    TemplateURL, and both are read with the account's outbound identity."""
    with moto_server(tmp_path / "moto.log") as endpoint:
        s3 = moto_client(endpoint, "s3")
        for bucket in ("code", "templates"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(
            Bucket="code", Key="app.zip", Body=handler_zip("def handler(e, c):\n    return 's3'\n")
        )
        server = lambdad_factory(env={
            "LAMBDAD_SANDBOX": "process",
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": MOTO_REGION,
            "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": PRIMARY.account_id,
        })  # fmt: skip
        path = tmp_path / "t.yaml"
        path.write_text(S3_TEMPLATE)
        cmd = [AWS_CLI, "cloudformation", "deploy", "--template-file", str(path),
               "--stack-name", "via-s3", "--s3-bucket", "templates", "--force-upload",
               "--endpoint-url", server.endpoint, "--region", server.region]  # fmt: skip
        env = {**server.aws_env(), "AWS_ENDPOINT_URL_S3": endpoint}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert s3.list_objects_v2(Bucket="templates")["KeyCount"] == 1  # it went by TemplateURL
        stack = server.client("cloudformation").describe_stacks(StackName="via-s3")["Stacks"][0]
        name = stack["Outputs"][0]["OutputValue"]
        answer = server.client("lambda").invoke(FunctionName=name)["Payload"].read()
        assert json.loads(answer) == "s3"
