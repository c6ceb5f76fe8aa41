"""Upstream credentials per role: a function's S3 calls reach an endpoint that checks
signatures (``moto_server`` with IAM authentication on) signed with the operator's
keys, which the function never holds.

The operator maps S3 to moto (``LAMBDAD_FUNCTION_ENDPOINTS``) and gives one role
moto's IAM user keys (``lambdad roles upstream ROLE s3 --access-key-id ...``, the
secret on stdin). A function of that role reads and writes the bucket with boto3 and
its role session's keys; moto accepts only because lambdad's relay checked the
session's signature and signed the request again with the operator's key. A function
of another role, with no upstream credentials, goes through unchanged: moto refuses
its session key. No variable of either function holds the operator's secret. The
same holds for DynamoDB mapped to the same moto at an address off the host's loopback
(as a real AWS region or a MinIO elsewhere would be): the role's environments reach it
through a relay of their own too, the other role's directly (through its NAT).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator

import pytest

from e2e.aws_side import moto_client, moto_server
from e2e.helpers import (
    LAMBDAD,
    PRIMARY,
    LambdadServer,
    active_function,
    invoke_ok,
    role_for,
)
from e2e.sandboxes import require_full_isolation

require_full_isolation()

SIGNED_ROLE = role_for(PRIMARY.account_id).replace("lambda-role", "upstream-role")
# moto's requests before it checks signatures: the IAM user, its policy, its key.
SETUP_ACTIONS = 3

CALLER = """
import os
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

def handler(event, context):
    config = Config(retries={"total_max_attempts": 1})
    s3, dynamodb = boto3.client("s3", config=config), boto3.client("dynamodb", config=config)
    out = {"env": dict(os.environ)}
    try:
        s3.put_object(Bucket="upstream-bucket", Key=context.function_name, Body=b"written")
        out["written"] = s3.get_object(Bucket="upstream-bucket", Key=context.function_name)[
            "Body"].read().decode()
        out["read"] = s3.get_object(Bucket="upstream-bucket", Key="k")["Body"].read().decode()
    except ClientError as exc:
        out["s3_error"] = exc.response["Error"]["Code"]
    # lambdad's own endpoints (STS here) are no upstream: reached as ever.
    out["arn"] = boto3.client("sts").get_caller_identity()["Arn"]
    try:
        out["tables"] = dynamodb.list_tables()["TableNames"]
    except ClientError as exc:
        out["dynamodb_status"] = exc.response["ResponseMetadata"]["HTTPStatusCode"]
    return out
"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple[str, str]]]:
    """moto with IAM authentication on (on every address of the host), and the
    operator's IAM user's key."""
    log = tmp_path_factory.mktemp("moto-upstream") / "moto.log"
    with moto_server(log, no_auth_actions=SETUP_ACTIONS, host="0.0.0.0") as endpoint:
        iam = moto_client(endpoint, "iam")
        iam.create_user(UserName="operator")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:*", "dynamodb:*"], "Resource": "*"}],
        }
        iam.put_user_policy(UserName="operator", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="operator")["AccessKey"]
        keys = (key["AccessKeyId"], key["SecretAccessKey"])
        s3 = moto_client(endpoint, "s3", *keys)
        s3.create_bucket(Bucket="upstream-bucket")
        s3.put_object(Bucket="upstream-bucket", Key="k", Body=b"for the operator's key only")
        moto_client(endpoint, "dynamodb", *keys).create_table(
            TableName="upstream-table",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield endpoint, keys


def _global_address() -> str:
    """An IPv4 address of this host off its loopback."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True
    ).stdout.split()
    found = next((w.split("/")[0] for i, w in enumerate(shown) if shown[i - 1] == "inet"), None)
    if found is None:
        pytest.skip("this host has no IPv4 address off its loopback")
    return found


def _lambdad(*args: str, stdin: str = "") -> str:
    done = subprocess.run([LAMBDAD, *args], input=stdin, text=True, check=True, capture_output=True)
    return done.stdout


def test_the_relay_signs_with_the_roles_upstream_keys(
    lambdad_factory: Callable[..., LambdadServer], moto: tuple[str, tuple[str, str]]
) -> None:
    endpoint, (key_id, secret) = moto
    elsewhere = endpoint.replace("127.0.0.1", _global_address())
    server = lambdad_factory(
        env={"LAMBDAD_FUNCTION_ENDPOINTS": f"s3={endpoint},dynamodb={elsewhere}"}
    )
    # The operator's command (for any service the role calls); the secret on stdin,
    # never on a command line.
    data_dir = ("--data-dir", str(server.data_dir))
    args = ("roles", "upstream", SIGNED_ROLE, "*", "--access-key-id", key_id)
    _lambdad(*args, *data_dir, stdin=secret + "\n")
    listed = _lambdad("roles", "upstream-ls", *data_dir).split()
    assert listed == [SIGNED_ROLE, "*", key_id]
    assert (server.data_dir / "upstream.json").stat().st_mode & 0o077 == 0

    client = server.client("lambda")
    for name, role in (("signed", SIGNED_ROLE), ("unsigned", role_for(PRIMARY.account_id))):
        active_function(client, name, CALLER, Role=role, Timeout=30)

    signed = invoke_ok(server, "signed")
    assert signed["read"] == "for the operator's key only", signed.get("s3_error")
    assert signed["written"] == "written"
    assert signed["tables"] == ["upstream-table"], signed.get("dynamodb_status")
    assert signed["arn"].endswith(":assumed-role/upstream-role/signed")
    env = signed["env"]
    # The function held its session's keys, and nothing of the operator's.
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert not any(secret in value or key_id in value for value in env.values())
    # On the host's loopback, the endpoint is relayed as itself; elsewhere, through a
    # port inside the function's namespace.
    assert env["AWS_ENDPOINT_URL_S3"] == endpoint
    assert env["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:"), env
    # moto stored the object under the operator's identity: it reads back with that key.
    s3 = moto_client(endpoint, "s3", key_id, secret)
    assert s3.get_object(Bucket="upstream-bucket", Key="signed")["Body"].read() == b"written"

    # A role with no upstream credentials: its session's key reaches moto unchanged, and
    # is refused there.
    unsigned = invoke_ok(server, "unsigned")
    assert unsigned["s3_error"] == "InvalidAccessKeyId", unsigned
    assert unsigned["dynamodb_status"] == 403, unsigned
    assert unsigned["env"]["AWS_ENDPOINT_URL_DYNAMODB"] == elsewhere
