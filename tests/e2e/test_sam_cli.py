"""AWS's own SAM CLI against lambdad, as a user runs it: ``sam deploy`` of a SAM template
with a local code directory (SAM CLI zips it into an S3-compatible store, moto here, and
sends a TemplateURL), its CloudFormation and Lambda calls going to lambdad through
``AWS_ENDPOINT_URL_CLOUDFORMATION``/``AWS_ENDPOINT_URL_LAMBDA``. The Api answers curl, a
second ``sam deploy`` with changed code updates it, ``sam remote invoke`` runs the
function, ``sam list stack-outputs`` reads the outputs, ``sam logs`` its logs, and
``sam delete --no-prompts`` removes the stack and what it made.

SAM CLI pins its own boto3/botocore, so it lives in its own virtualenv (``make sam-cli``
makes ``.venv-sam`` from tools/sam-cli-requirements.txt; ``make test`` depends on it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.aws_side import moto_client, moto_env, moto_server
from e2e.conftest import ServerFactory

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-sam" / "bin" / "sam"

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: lambdad's seed function behind an Api
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Get:
          Type: Api
          Properties: {Path: /hello, Method: get}
Outputs:
  RestApi: {Value: !Ref ServerlessRestApi}
  HelloApi:
    Description: the Api's URL
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello"
  Name: {Value: !Ref Hello}
"""

CODE = """\
def handler(event, context):
    return {{"statusCode": 200, "body": "{word} " + event["path"]}}
"""


def _sam(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _curl(url: str) -> str:
    done = subprocess.run(["curl", "-s", url], capture_output=True, text=True, timeout=30)
    return done.stdout


def test_sam_deploy_update_delete(
    tmp_path: Path, lambdad_factory: ServerFactory, unique_name: Callable[[str], str]
) -> None:
    # `make test` installs it (make sam-cli): a missing one is a failed set-up, not a skip.
    assert SAM.exists(), f"{SAM} is missing: `make sam-cli` installs AWS SAM CLI there"
    stack = unique_name("samcli")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text(CODE.format(word="one"))
    (project / "template.yaml").write_text(TEMPLATE)
    with moto_server(tmp_path / "moto.log") as s3_endpoint:
        moto_client(s3_endpoint, "s3").create_bucket(Bucket="artifacts")
        server = lambdad_factory(env=moto_env(s3_endpoint, "S3"))
        env = {
            **server.aws_env(),
            "HOME": str(tmp_path / "home"),
            "SAM_CLI_TELEMETRY": "0",
            "AWS_ENDPOINT_URL_CLOUDFORMATION": server.endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": server.endpoint,
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": server.endpoint,
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
        }
        deploy = ("deploy", "--template-file", "template.yaml", "--stack-name", stack,
                  "--s3-bucket", "artifacts", "--capabilities", "CAPABILITY_IAM",
                  "--no-confirm-changeset", "--region", server.region)  # fmt: skip
        done = _sam(env, project, *deploy)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"Successfully created/updated stack - {stack}" in done.stdout
        cfn = server.client("cloudformation")
        (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        url = f"{server.endpoint}/execute-api/{outputs['RestApi']}/Prod/hello"
        assert _curl(url) == "one /hello"

        (project / "src" / "app.py").write_text(CODE.format(word="two"))
        done = _sam(env, project, *deploy)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "UPDATE_COMPLETE" in done.stdout
        assert _curl(url) == "two /hello"

        done = _sam(env, project, "remote", "invoke", "Hello", "--stack-name", stack,
                    "--event", '{"path": "/direct"}', "--region", server.region)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"two /direct"' in done.stdout

        done = _sam(env, project, "list", "stack-outputs", "--stack-name", stack,
                    "--output", "json", "--region", server.region)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert outputs["Name"] in done.stdout

        done = _sam(env, project, "logs", "--stack-name", stack, "--name", "Hello",
                    "--region", server.region)  # fmt: skip
        print(done.stdout, done.stderr)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "REPORT RequestId" in done.stdout

        done = _sam(env, project, "delete", "--stack-name", stack, "--no-prompts",
                    "--region", server.region)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        lam = server.client("lambda")
        assert outputs["Name"] not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
        assert server.client("apigateway").get_rest_apis()["items"] == []
        with pytest.raises(cfn.exceptions.ClientError, match="does not exist"):
            cfn.describe_stacks(StackName=stack)
