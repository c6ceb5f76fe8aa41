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
same holds with S3 mapped to an address off the host's loopback (as a real AWS region
or a MinIO elsewhere would be): the role's environments reach it through a relay too.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e.aws_side import moto_client, moto_server
from e2e.helpers import LAMBDAD, PRIMARY, LambdadServer, handler_zip, role_for
from e2e.sandboxes import require_full_isolation

require_full_isolation()

SIGNED_ROLE = role_for(PRIMARY.account_id).replace("lambda-role", "upstream-role")
# moto's requests before it checks signatures: the IAM user, its policy, its key.
SETUP_ACTIONS = 3

READER = """
import os
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

def handler(event, context):
    s3 = boto3.client("s3", config=Config(retries={"total_max_attempts": 1}))
    out = {"env": dict(os.environ)}
    try:
        s3.put_object(Bucket="upstream-bucket", Key=context.function_name, Body=b"written")
        out["written"] = s3.get_object(Bucket="upstream-bucket", Key=context.function_name)[
            "Body"].read().decode()
        out["read"] = s3.get_object(Bucket="upstream-bucket", Key="k")["Body"].read().decode()
    except ClientError as exc:
        out["error"] = exc.response["Error"]["Code"]
    return out
"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple[str, str]]]:
    """moto with IAM authentication on, and the operator's IAM user's key."""
    log = tmp_path_factory.mktemp("moto-upstream") / "moto.log"
    with moto_server(log, no_auth_actions=SETUP_ACTIONS, host="0.0.0.0") as endpoint:
        iam = moto_client(endpoint, "iam")
        iam.create_user(UserName="operator")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="operator", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="operator")["AccessKey"]
        keys = (key["AccessKeyId"], key["SecretAccessKey"])
        s3 = moto_client(endpoint, "s3", *keys)
        s3.create_bucket(Bucket="upstream-bucket")
        s3.put_object(Bucket="upstream-bucket", Key="k", Body=b"for the operator's key only")
        yield endpoint, keys


def _run(server: LambdadServer, name: str) -> Any:
    out = server.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def _global_address() -> str | None:
    """An IPv4 address of this host off its loopback, or None."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True
    ).stdout.split()
    return next((w.split("/")[0] for i, w in enumerate(shown) if shown[i - 1] == "inet"), None)


@pytest.mark.parametrize("where", ["loopback", "elsewhere"])
def test_the_relay_signs_with_the_roles_upstream_keys(
    where: str,
    lambdad_factory: Callable[..., LambdadServer],
    moto: tuple[str, tuple[str, str]],
) -> None:
    endpoint, (key_id, secret) = moto
    mapped = endpoint
    if where == "elsewhere":
        address = _global_address()
        if address is None:
            pytest.skip("this host has no IPv4 address off its loopback")
        mapped = endpoint.replace("127.0.0.1", address)
    server = lambdad_factory(env={"LAMBDAD_FUNCTION_ENDPOINTS": f"s3={mapped}"})
    # The operator's command; the secret on stdin, never on a command line.
    subprocess.run(
        [
            LAMBDAD,
            "roles",
            "upstream",
            SIGNED_ROLE,
            "s3",
            "--access-key-id",
            key_id,
            "--data-dir",
            str(server.data_dir),
        ],
        input=secret + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [LAMBDAD, "roles", "upstream-ls", "--data-dir", str(server.data_dir)],
        text=True,
        check=True,
        capture_output=True,
    ).stdout
    assert listed.split() == [SIGNED_ROLE, "s3", key_id]
    assert (server.data_dir / "upstream.json").stat().st_mode & 0o077 == 0

    client = server.client("lambda")
    signed_name = f"signed-{where}"
    for name, role in ((signed_name, SIGNED_ROLE), ("unsigned", role_for(PRIMARY.account_id))):
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": handler_zip(READER)},
            Timeout=30,
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )

    signed = _run(server, signed_name)
    assert "error" not in signed, signed["error"]
    assert signed["read"] == "for the operator's key only"
    assert signed["written"] == "written"
    # The function held its session's keys, and nothing of the operator's.
    assert signed["env"]["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    # Off the host's loopback, its endpoint is a relay inside its namespace.
    relayed = signed["env"]["AWS_ENDPOINT_URL_S3"]
    assert relayed == mapped if where == "loopback" else relayed.startswith("http://127.0.0.1:")
    assert not any(secret in value or key_id in value for value in signed["env"].values())
    # moto stored the object under the operator's identity: it reads back with that key.
    s3 = moto_client(endpoint, "s3", key_id, secret)
    assert s3.get_object(Bucket="upstream-bucket", Key=signed_name)["Body"].read() == b"written"

    # A role with no upstream credentials: its session's key reaches moto unchanged.
    unsigned = _run(server, "unsigned")
    assert unsigned["error"] == "InvalidAccessKeyId", unsigned
    assert unsigned["env"]["AWS_ENDPOINT_URL_S3"] == mapped
