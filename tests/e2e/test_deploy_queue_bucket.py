"""A template's own ``AWS::SQS::Queue`` and ``AWS::S3::Bucket``, made by
``aws cloudformation deploy`` on the SQS and S3 the operator configured (a moto server
here, as AWS_ENDPOINT_URL_SQS/S3): the bucket notifies the queue, the function's SQS
event polls it, and an object put in the bucket reaches the function. An update
changes the queue in place (an attribute dropped from the template goes back to its
default); deleting the stack removes both. A server with no such endpoints refuses the
template and says why."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import ClientError

from e2e.aws_side import moto_client, moto_env, moto_server
from e2e.conftest import ServerFactory
from e2e.helpers import AWS_CLI, LambdadServer, stack_outputs
from e2e.invoke_support import log_messages, wait_until

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 30, MessageRetentionPeriod: 3600}
  Photos:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        QueueConfigurations:
          - {Event: 's3:ObjectCreated:*', Queue: !GetAtt Jobs.Arn}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            for record in event["Records"]:
                print("BODY " + record["body"])
      Events:
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 1}}
Outputs:
  Queue: {Value: !Ref Jobs}
  QueueName: {Value: !GetAtt Jobs.QueueName}
  Bucket: {Value: !Ref Photos}
  Name: {Value: !Ref Fn}
"""


def _deploy(server: LambdadServer, path: Path, stack: str) -> subprocess.CompletedProcess[str]:
    cmd = [AWS_CLI, "cloudformation", "deploy", "--template-file", str(path),
           "--stack-name", stack, "--capabilities", "CAPABILITY_IAM",
           "--endpoint-url", server.endpoint, "--region", server.region]  # fmt: skip
    return subprocess.run(
        cmd, env=server.aws_env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_queue_and_bucket_made_on_the_configured_services(
    tmp_path: Path, lambdad_factory: ServerFactory
) -> None:
    with moto_server(tmp_path / "moto.log") as moto:
        server = lambdad_factory(env=moto_env(moto, "SQS", "S3", LAMBDAD_ESM_SQS_WAIT="1"))
        path = tmp_path / "template.yaml"
        path.write_text(TEMPLATE)
        done = _deploy(server, path, "uploads")
        assert done.returncode == 0, done.stdout + done.stderr
        outputs = stack_outputs(server, "uploads")
        sqs, s3 = moto_client(moto, "sqs"), moto_client(moto, "s3")
        assert outputs["QueueName"].startswith("uploads-Jobs-")
        assert sqs.get_queue_url(QueueName=outputs["QueueName"])["QueueUrl"] == outputs["Queue"]
        bucket = outputs["Bucket"]
        assert bucket.startswith("uploads-photos-")
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

        s3.put_object(Bucket=bucket, Key="cat.jpg", Body=b"meow")

        def arrived() -> bool:
            try:
                messages = log_messages(server, outputs["Name"])
            except ClientError:
                return False
            bodies = [json.loads(m.split("BODY ", 1)[1]) for m in messages if "BODY " in m]
            return any(
                r["s3"]["object"]["key"] == "cat.jpg" for b in bodies for r in b.get("Records", [])
            )

        wait_until(arrived, "the S3 event through the stack's queue", timeout=60)

        # An update: a changed attribute is set, one the template drops goes back to SQS's
        # default (as CloudFormation does).
        update = TEMPLATE.replace("VisibilityTimeout: 30", "VisibilityTimeout: 45")
        path.write_text(update.replace(", MessageRetentionPeriod: 3600", ""))
        done = _deploy(server, path, "uploads")
        assert done.returncode == 0, done.stdout + done.stderr
        attributes = sqs.get_queue_attributes(
            QueueUrl=outputs["Queue"],
            AttributeNames=["VisibilityTimeout", "MessageRetentionPeriod"],
        )["Attributes"]
        assert attributes == {"VisibilityTimeout": "45", "MessageRetentionPeriod": "345600"}

        s3.delete_object(Bucket=bucket, Key="cat.jpg")  # as on AWS: a bucket must be empty
        server.client("cloudformation").delete_stack(StackName="uploads")
        assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert outputs["Queue"] not in sqs.list_queues().get("QueueUrls", [])


def test_without_sqs_and_s3_endpoints_the_deploy_says_why(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    done = _deploy(lambdad, path, unique_name("noqueue"))
    assert done.returncode != 0
    said = " ".join((done.stdout + done.stderr).split())
    assert "AWS::SQS::Queue (Jobs): no SQS endpoint is configured" in said, said
    assert "AWS::S3::Bucket (Photos): no S3 endpoint is configured" in said, said
