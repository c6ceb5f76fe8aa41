"""Every event type of a SAM function, deployed with ``lambdad deploy`` and fired as a
user fires it: one template, one Python function that prints each event it gets, and
one ``moto_server`` holding what lambdad is not (SQS queues, an S3 bucket notifying a
queue, a Kinesis stream, a DynamoDB table's stream, an SNS topic).

Fired: Api and HttpApi by curl, the function URL by requests, Schedule and ScheduleV2
by (scaled) time, SQS by SendMessage, S3 by PutObject (through the queue it notifies),
Kinesis by PutRecord, DynamoDB by PutItem, SNS by Publish (moto delivers to lambdad's
``/sns/...`` endpoint, which the deploy subscribed), EventBridgeRule by PutEvents. Then
an update drops the Kinesis, SNS and EventBridge events (their mapping, subscription
and rule go), and
``lambdad delete-stack`` leaves no function, mapping, rule, schedule, subscription or API.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from botocore.exceptions import ClientError

from e2e.aws_side import MOTO_ACCOUNT, MOTO_REGION, moto_client, moto_env
from e2e.conftest import ServerFactory
from e2e.helpers import LambdadServer, client_env, run_lambdad, stack_outputs
from e2e.invoke_support import log_messages, wait_until

CODE = """\
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"statusCode": 200, "body": "ok"}
"""
DROPPED_EVENTS = """\
        Stream: {Type: Kinesis, Properties: {Stream: !Ref StreamArn, StartingPosition: LATEST}}
        Topic: {Type: SNS, Properties: {Topic: !Ref TopicArn}}
        Custom: {Type: EventBridgeRule, Properties: {Pattern: {source: [deploy.events.test]}}}
"""
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  QueueArn: {Type: String}
  UploadsArn: {Type: String}
  StreamArn: {Type: String}
  TableStreamArn: {Type: String}
  TopicArn: {Type: String}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      FunctionUrlConfig: {AuthType: NONE}
      Events:
        Rest: {Type: Api, Properties: {Path: /rest, Method: get}}
        Http: {Type: HttpApi, Properties: {Path: /http, Method: get}}
        Tick: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}
        TickV2:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(5 minutes), Input: '{"from": "scheduler"}'}
        Queue: {Type: SQS, Properties: {Queue: !Ref QueueArn, BatchSize: 1}}
        Uploads: {Type: SQS, Properties: {Queue: !Ref UploadsArn}}
        Table:
          Type: DynamoDB
          Properties: {Stream: !Ref TableStreamArn, StartingPosition: LATEST}
{extra}Outputs:
  RestApi: {Value: !Ref ServerlessRestApi}
  HttpApi: {Value: !Ref ServerlessHttpApi}
  Url: {Value: !GetAtt FnUrl.FunctionUrl}
  Name: {Value: !Ref Fn}
"""


def _server_env(moto: str) -> dict[str, str]:
    return moto_env(
        moto, "SQS", "SNS", "S3", "KINESIS", "DYNAMODB", "DYNAMODB_STREAMS",
        LAMBDAD_ASYNC_POLL_INTERVAL="0.1",
        # A schedule's minute lasts 0.6 s: rate(5 minutes) fires every 3 s.
        LAMBDAD_SCHEDULE_TIME_SCALE="0.01",
        LAMBDAD_SCHEDULE_POLL_INTERVAL="0.2",
        LAMBDAD_ESM_SQS_WAIT="1",
        LAMBDAD_ESM_BACKOFF="0.05,0.5",
    )  # fmt: skip


def _aws_side(moto: str, tag: str) -> dict[str, str]:
    """The queues, bucket notification, stream, table and topic the template names."""
    sqs, s3 = moto_client(moto, "sqs"), moto_client(moto, "s3")
    arns = {}
    for key, name in (("QueueArn", f"jobs-{tag}"), ("UploadsArn", f"uploads-{tag}")):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arns[key] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    s3.create_bucket(Bucket=f"photos-{tag}")
    s3.put_bucket_notification_configuration(
        Bucket=f"photos-{tag}",
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arns["UploadsArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    kinesis = moto_client(moto, "kinesis")
    kinesis.create_stream(StreamName=f"clicks-{tag}", ShardCount=1)
    arns["StreamArn"] = kinesis.describe_stream_summary(StreamName=f"clicks-{tag}")[
        "StreamDescriptionSummary"
    ]["StreamARN"]
    arns["TableStreamArn"] = moto_client(moto, "dynamodb").create_table(
        TableName=f"orders-{tag}",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    arns["TopicArn"] = moto_client(moto, "sns").create_topic(Name=f"news-{tag}")["TopicArn"]
    return arns


def _events(server: LambdadServer, name: str) -> list[dict[str, Any]]:
    try:
        messages = log_messages(server, name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []
    return [json.loads(m.split("EVENT ", 1)[1]) for m in messages if m.startswith("EVENT ")]


def _kind(event: dict[str, Any]) -> str:
    """Which trigger an event came from, by its shape."""
    records = event.get("Records") or [{}]
    source = records[0].get("eventSource") or records[0].get("EventSource")
    if source == "aws:sqs":
        return "S3" if "ObjectCreated" in records[0]["body"] else "SQS"
    if source in ("aws:kinesis", "aws:dynamodb", "aws:sns"):
        return source.split(":")[1]
    if "httpMethod" in event:
        return "Api"
    if event.get("version") == "2.0":
        return "HttpApi" if event["rawPath"] == "/http" else "FunctionUrl"
    if event.get("detail-type") == "Scheduled Event":
        return "Schedule"
    if event == {"from": "scheduler"}:
        return "ScheduleV2"
    return "EventBridgeRule" if event.get("source") == "deploy.events.test" else "other"


def _deploy(server: LambdadServer, cwd: Path, stack: str, extra: str, arns: dict[str, str]) -> str:
    (cwd / "template.yaml").write_text(TEMPLATE.replace("{extra}", extra))
    # Unquoted, as SAM CLI takes them.
    overrides = [f"{k}={v}" for k, v in arns.items()]
    done = run_lambdad(
        "deploy", "--stack-name", stack, "--parameter-overrides", *overrides,
        env=client_env(server, COLUMNS="200"), cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_each_event_type_deploys_fires_and_leaves_nothing(
    lambdad_factory: ServerFactory,
    moto: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
) -> None:
    server = lambdad_factory(env=_server_env(moto))
    stack, tag = unique_name("events"), unique_name("t")
    arns = _aws_side(moto, tag)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(CODE)
    out = _deploy(server, tmp_path, stack, DROPPED_EVENTS, arns)
    assert "CREATE_COMPLETE" in out
    outputs = stack_outputs(server, stack)
    name = outputs["Name"]
    sns = moto_client(moto, "sns")
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=arns["TopicArn"])["Subscriptions"]
    assert subscription["Protocol"] == "http"
    assert subscription["Endpoint"] == f"{server.endpoint}/sns/{MOTO_REGION}/{MOTO_ACCOUNT}/{name}"

    # Fire each trigger as a user would.
    for url in (
        f"{server.endpoint}/execute-api/{outputs['RestApi']}/Prod/rest",
        f"{server.endpoint}/execute-api/{outputs['HttpApi']}/http",
    ):
        curl = subprocess.run(["curl", "-sf", url], capture_output=True, text=True, timeout=30)
        assert curl.stdout == "ok", (url, curl.stdout, curl.stderr)
    host = urllib.parse.urlsplit(outputs["Url"]).netloc
    page = requests.get(f"{server.endpoint}/url", headers={"Host": host}, timeout=30)
    assert (page.status_code, page.text) == (200, "ok")
    queue_url = moto_client(moto, "sqs").get_queue_url(QueueName=f"jobs-{tag}")["QueueUrl"]
    moto_client(moto, "sqs").send_message(QueueUrl=queue_url, MessageBody="job")
    moto_client(moto, "s3").put_object(Bucket=f"photos-{tag}", Key="cat.jpg", Body=b"meow")
    wanted = {"Api", "HttpApi", "FunctionUrl", "Schedule", "ScheduleV2", "SQS", "S3",
              "kinesis", "dynamodb", "sns", "EventBridgeRule"}  # fmt: skip
    seen: set[str] = set()

    def all_seen() -> bool:
        # The stream pollers start at LATEST: records are put until they are seen.
        if "kinesis" not in seen:
            moto_client(moto, "kinesis").put_record(
                StreamName=f"clicks-{tag}", Data=b"click", PartitionKey="k"
            )
        if "dynamodb" not in seen:
            moto_client(moto, "dynamodb").put_item(
                TableName=f"orders-{tag}", Item={"id": {"S": unique_name("o")}}
            )
        if "sns" not in seen:
            sns.publish(TopicArn=arns["TopicArn"], Message="news")
        if "EventBridgeRule" not in seen:
            server.client("events").put_events(
                Entries=[{"Source": "deploy.events.test", "DetailType": "t", "Detail": "{}"}]
            )
        seen.update(_kind(e) for e in _events(server, name))
        return wanted <= seen

    try:
        wait_until(all_seen, "every trigger's event", 40)
    finally:
        print("seen:", sorted(seen), "missing:", sorted(wanted - seen))

    # An update without the Kinesis, SNS and EventBridge events: their mapping,
    # subscription and rule go; the rest stays.
    lam = server.client("lambda")
    assert len(lam.list_event_source_mappings()["EventSourceMappings"]) == 4
    _deploy(server, tmp_path, stack, "", arns)
    assert sns.list_subscriptions_by_topic(TopicArn=arns["TopicArn"])["Subscriptions"] == []
    sources = {m["EventSourceArn"] for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    assert sources == {arns["QueueArn"], arns["UploadsArn"], arns["TableStreamArn"]}
    events = server.client("events")
    (rule,) = events.list_rules()["Rules"]  # the Schedule's
    assert rule["ScheduleExpression"] == "rate(5 minutes)"

    done = run_lambdad("delete-stack", stack, env=client_env(server))
    assert done.returncode == 0, done.stdout + done.stderr
    assert lam.list_functions()["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert events.list_rules()["Rules"] == []
    assert server.client("scheduler").list_schedules()["Schedules"] == []
    assert server.client("apigateway").get_rest_apis()["items"] == []
    assert server.client("apigatewayv2").get_apis()["Items"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_without_an_sns_endpoint_the_deploy_says_why(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(CODE)
    (tmp_path / "template.yaml").write_text(
        TEMPLATE.split("      FunctionUrlConfig")[0]
        + "      Events:\n"
        + DROPPED_EVENTS.splitlines()[1]
        + "\n"
    )
    topic = f"arn:aws:sns:{MOTO_REGION}:{MOTO_ACCOUNT}:news"
    done = run_lambdad(
        "deploy", "--stack-name", unique_name("nosns"), "--parameter-overrides",
        " ".join(f"{k}={topic}" for k in ("QueueArn", "UploadsArn", "StreamArn",
                                           "TableStreamArn", "TopicArn")),
        env=client_env(lambdad, COLUMNS="200"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    said = " ".join((done.stdout + done.stderr).split())
    assert "AWS::SNS::Subscription (FnTopic): no SNS endpoint is configured" in said, said
