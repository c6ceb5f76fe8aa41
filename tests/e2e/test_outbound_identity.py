"""Whose AWS identity lambdad signs with when it calls AWS for a tenant (issue 11, #5).

A moto server that checks signatures and IAM policies stands in for AWS, with two
IAM users: ``operator`` (lambdad's own identity, in its environment: everything but
``sns:Publish``) and ``tenant`` (the identity the operator configured for account
OTHER: its own bucket, and ``sns:Publish``). lambdad's accounts:

- PRIMARY: trusted by the operator with lambdad's own identity;
- OTHER: has its own identity (``LAMBDAD_OUTBOUND_CREDENTIALS``);
- STRANGER: neither. Everything it asks lambdad to fetch or send is refused before
  any call leaves lambdad.

Each attack is the confused deputy: a tenant names the operator's private bucket as
its code (to download it back through GetFunction's Code.Location), or the
operator's queue as its destination or dead-letter queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from e2e.aws_side import (
    MOTO_REGION,
    async_stats,
    moto_client,
    moto_server,
    queue_arn,
    receive,
    wait_stat,
)
from e2e.conftest import ServerFactory
from e2e.helpers import (
    OTHER,
    PRIMARY,
    LambdadServer,
    TestCredential,
    handler_zip,
    role_for,
    serving,
)

STRANGER = TestCredential("AKIDLAMBDADTEST00003", "lambdad-test-secret-0003", "333333333333")
S3_ACCESS_DENIED = (
    "Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied"
)
SECRET_CODE = handler_zip("def handler(event, context):\n    return 'the operator secret'\n")
TENANT_CODE = handler_zip("def handler(event, context):\n    return 'tenant code'\n")
# moto answers the IAM set-up below without checking signatures, then checks every call.
SETUP_ACTIONS = 6


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class Aws:
    endpoint: str
    operator: tuple[str, str]
    tenant: tuple[str, str]

    def client(self, service: str, who: str = "operator") -> Any:
        return moto_client(self.endpoint, service, *getattr(self, who))


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    log = tmp_path_factory.mktemp("moto-iam") / "moto.log"
    with moto_server(log, no_auth_actions=SETUP_ACTIONS) as endpoint:
        iam = moto_client(endpoint, "iam")
        keys: dict[str, tuple[str, str]] = {}
        users = {
            "operator": _policy(
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "sns:Publish", "Resource": "*"},
            ),
            "tenant": _policy(
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::tenant-code", "arn:aws:s3:::tenant-code/*"],
                },
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
            ),
        }
        for user, policy in users.items():
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="access", PolicyDocument=policy)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        world = Aws(endpoint, keys["operator"], keys["tenant"])
        s3 = world.client("s3")
        s3.create_bucket(Bucket="operator-private")
        s3.put_object(Bucket="operator-private", Key="secret.zip", Body=SECRET_CODE)
        mine = world.client("s3", "tenant")
        mine.create_bucket(Bucket="tenant-code")
        mine.put_object(Bucket="tenant-code", Key="code.zip", Body=TENANT_CODE)
        yield world


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, aws: Aws) -> Iterator[LambdadServer]:
    env = {
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_ASYNC_THROTTLE_BACKOFF": "0.05,0.2",
        "LAMBDAD_ASYNC_POLL_INTERVAL": "0.1",
        # A target that refuses the tenant's own identity is given up on quickly.
        "LAMBDAD_ASYNC_DELIVERY_MAX_AGE": "1",
        "AWS_ENDPOINT_URL_S3": aws.endpoint,
        "AWS_ENDPOINT_URL_SQS": aws.endpoint,
        "AWS_ENDPOINT_URL_SNS": aws.endpoint,
        # lambdad's own identity: the operator's.
        "AWS_ACCESS_KEY_ID": aws.operator[0],
        "AWS_SECRET_ACCESS_KEY": aws.operator[1],
        "AWS_DEFAULT_REGION": MOTO_REGION,
        "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": PRIMARY.account_id,
        "LAMBDAD_OUTBOUND_CREDENTIALS": f"{OTHER.account_id}={aws.tenant[0]}:{aws.tenant[1]}",
    }
    srv = LambdadServer(
        tmp_path_factory.mktemp("outbound") / "data",
        credentials=(PRIMARY, OTHER, STRANGER),
        env=env,
    )
    with serving(srv):
        yield srv


@pytest.fixture
def create(server: LambdadServer) -> Iterator[Callable[..., str]]:
    """``create(account, **create_function_args)`` -> the new function's name."""
    made: list[tuple[Any, str]] = []

    def make(account: str, **params: Any) -> str:
        client = server.client(account=account)
        name = f"outbound-{uuid.uuid4().hex[:10]}"
        args = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": role_for(account),
            "Handler": "app.handler",
            "Code": {"ZipFile": handler_zip()},
            **params,
        }
        client.create_function(**args)
        made.append((client, name))
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        return name

    yield make
    for client, name in made:
        client.delete_function(FunctionName=name)


def _refused(server: LambdadServer, account: str, call: Callable[[Any], Any]) -> str:
    client = server.client(account=account)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as exc:
        call(client)
    return str(exc.value.response["Error"]["Message"])


def _invoke(server: LambdadServer, account: str, name: str) -> Any:
    out = server.client(account=account).invoke(FunctionName=name)
    return json.loads(out["Payload"].read())


SECRET = {"S3Bucket": "operator-private", "S3Key": "secret.zip"}


# -- S3 code -----------------------------------------------------------------------------


def test_an_account_without_an_identity_cannot_fetch_code_with_lambdads(
    server: LambdadServer, create: Callable[..., str]
) -> None:
    account = STRANGER.account_id

    def create_from_s3(client: Any) -> Any:
        return client.create_function(
            FunctionName=f"stolen-{uuid.uuid4().hex[:8]}",
            Runtime="python3.12",
            Role=role_for(account),
            Handler="app.handler",
            Code=SECRET,
        )

    assert _refused(server, account, create_from_s3) == S3_ACCESS_DENIED
    name = create(account)
    message = _refused(
        server, account, lambda c: c.update_function_code(FunctionName=name, **SECRET)
    )
    assert message == S3_ACCESS_DENIED
    assert _invoke(server, account, name) == {}  # still its own code
    message = _refused(
        server,
        account,
        lambda c: c.publish_layer_version(LayerName="stolen", Content=SECRET),
    )
    assert message == S3_ACCESS_DENIED
    assert f"account {STRANGER.account_id} has no outbound AWS credentials" in server.stderr()


def test_an_account_fetches_code_with_its_own_identity(
    server: LambdadServer, create: Callable[..., str]
) -> None:
    account = OTHER.account_id
    name = create(account, Code={"S3Bucket": "tenant-code", "S3Key": "code.zip"})
    assert _invoke(server, account, name) == "tenant code"
    layer = server.client(account=account).publish_layer_version(
        LayerName=f"from-s3-{uuid.uuid4().hex[:8]}",
        Content={"S3Bucket": "tenant-code", "S3Key": "code.zip"},
    )
    assert layer["Version"] == 1
    # Its own identity may not read the operator's bucket: moto (as S3) says so, which
    # shows the call was signed as the tenant and not as lambdad.
    message = _refused(
        server, account, lambda c: c.update_function_code(FunctionName=name, **SECRET)
    )
    assert message.startswith("Error occurred while GetObject. S3 Error Code: AccessDenied.")
    assert _invoke(server, account, name) == "tenant code"


def test_a_trusted_account_fetches_code_with_lambdads_identity(
    server: LambdadServer, create: Callable[..., str]
) -> None:
    name = create(PRIMARY.account_id, Code=SECRET)
    assert _invoke(server, PRIMARY.account_id, name) == "the operator secret"


# -- destinations and dead-letter queues --------------------------------------------------


def test_an_account_without_an_identity_sends_nothing_with_lambdads(
    server: LambdadServer, create: Callable[..., str], aws: Aws
) -> None:
    sqs = aws.client("sqs")
    tag = uuid.uuid4().hex[:8]
    url = sqs.create_queue(QueueName=f"operator-{tag}")["QueueUrl"]
    account = STRANGER.account_id
    name = create(
        account,
        Code={"ZipFile": handler_zip("def handler(e, c):\n    raise RuntimeError('no')\n")},
        DeadLetterConfig={"TargetArn": queue_arn(f"operator-{tag}")},
    )
    client = server.client(account=account)
    client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(f"operator-{tag}")}},
    )
    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"steal": true}')
    # Both the record and the dead letter are refused at once, and logged.
    row = wait_stat(server, name, "deliveries_dropped", 2, account)
    assert row["delivery_failures"] == 2
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
    assert "refused, given up" in server.stderr()


def test_destinations_are_sent_with_the_accounts_own_identity(
    server: LambdadServer, create: Callable[..., str], aws: Aws
) -> None:
    sqs, sns = aws.client("sqs"), aws.client("sns")
    tag = uuid.uuid4().hex[:8]
    inbox = sqs.create_queue(QueueName=f"inbox-{tag}")["QueueUrl"]
    operator_queue = sqs.create_queue(QueueName=f"operator-{tag}")["QueueUrl"]
    topic = sns.create_topic(Name=f"tenant-{tag}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn(f"inbox-{tag}"),
        Attributes={"RawMessageDelivery": "true"},
    )
    account = OTHER.account_id
    client = server.client(account=account)
    # Only the tenant's identity may publish (the operator's may not): the record
    # reaches the topic only if lambdad signed as the tenant.
    name = create(account)
    client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": topic}}
    )
    out = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    record = json.loads(receive(sqs, inbox)["Body"])
    assert record["requestContext"]["requestId"] == out["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == {"n": 1}

    # The tenant's identity may not use the operator's queue, and lambdad does not
    # fall back to its own: the record is given up, the queue stays empty.
    other = create(account)
    client.put_function_event_invoke_config(
        FunctionName=other,
        DestinationConfig={"OnSuccess": {"Destination": queue_arn(f"operator-{tag}")}},
    )
    client.invoke(FunctionName=other, InvocationType="Event", Payload=b"{}")
    wait_stat(server, other, "deliveries_dropped", 1, account)
    assert not sqs.receive_message(QueueUrl=operator_queue, WaitTimeSeconds=1).get("Messages")


def test_a_trusted_account_sends_with_lambdads_identity(
    server: LambdadServer, create: Callable[..., str], aws: Aws
) -> None:
    sqs = aws.client("sqs")
    queue = f"results-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    name = create(PRIMARY.account_id)
    client = server.client(account=PRIMARY.account_id)
    client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn(queue)}}
    )
    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"ok": 1}')
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestPayload"] == {"ok": 1}
    assert async_stats(server, name).get("delivery_failures", 0) == 0


def test_layer_content_from_another_bucket_is_not_a_way_around(server: LambdadServer) -> None:
    """The layer path fetches as its caller too: OTHER's identity cannot read the
    operator's bucket through PublishLayerVersion."""
    message = _refused(
        server,
        OTHER.account_id,
        lambda c: c.publish_layer_version(LayerName="stolen-layer", Content=SECRET),
    )
    assert message.startswith("Error occurred while GetObject. S3 Error Code: AccessDenied.")
    names = [
        layer["LayerName"]
        for layer in server.client(account=OTHER.account_id).list_layers()["Layers"]
    ]
    assert "stolen-layer" not in names


def test_the_generated_account_of_make_serve_uses_lambdads_identity(
    lambdad_factory: ServerFactory, aws: Aws
) -> None:
    """Started as ``make serve`` starts it (no credentials given): the credential lambdad
    generates in its data directory is the operator's, and is trusted by default."""
    single = lambdad_factory(
        credentials=None,
        env={
            "LAMBDAD_SANDBOX": "process",
            "AWS_ENDPOINT_URL_S3": aws.endpoint,
            "AWS_ACCESS_KEY_ID": aws.operator[0],
            "AWS_SECRET_ACCESS_KEY": aws.operator[1],
            "AWS_DEFAULT_REGION": MOTO_REGION,
        },
    )
    account = single.generated_credential().account_id
    client = single.client()
    client.create_function(
        FunctionName="from-s3",
        Runtime="python3.12",
        Role=role_for(account),
        Handler="app.handler",
        Code=SECRET,
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName="from-s3", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    out = client.invoke(FunctionName="from-s3")
    assert json.loads(out["Payload"].read()) == "the operator secret"


def test_functions_never_see_lambdads_own_aws_identity(
    server: LambdadServer, create: Callable[..., str], aws: Aws
) -> None:
    """lambdad's environment holds the operator's keys; no function's does (the
    process sandbox here, the least isolated one)."""
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    return {k: v for k, v in os.environ.items() if k.startswith('AWS_')}\n"
    )
    for account in (PRIMARY.account_id, STRANGER.account_id):
        name = create(account, Code={"ZipFile": handler_zip(source)})
        seen = _invoke(server, account, name)
        assert aws.operator[0] not in seen.values()
        assert aws.operator[1] not in seen.values()
