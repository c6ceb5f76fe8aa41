"""Execution-role credentials and endpoints inside a function, as a tenant uses them.

A Python function calls lambdad with boto3 and nothing but what its environment
holds (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` of its
role's session, ``AWS_ENDPOINT_URL_LAMBDA``): it invokes another function of its
account, and is refused another account's. The same keys taken out of the function
are refused with a forged token, without their token, after their expiry, and with
an operator's role policy that does not allow the call.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.aws_side import moto_client, moto_server
from e2e.helpers import OTHER, PRIMARY, LambdadServer, handler_zip, invoke_ok, role_for
from e2e.invoke_support import log_lines_starting
from e2e.sandboxes import missing_isolation

NewFunction = Callable[..., dict[str, Any]]
# The session lifetime of the server that tests expiry: long enough for a cold start and
# two calls on a loaded machine, short enough to wait out.
SESSION_SECONDS = 6

CALLER = """
import json, os
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    env = {k: os.environ.get(k, "") for k in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")}
    out = {"env": env, "now": __import__("time").time()}
    target = event.get("target")
    if target:
        client = boto3.client("lambda")
        try:
            got = client.invoke(FunctionName=target, Payload=json.dumps({"from": "caller"}))
            out["payload"] = json.loads(got["Payload"].read())
        except ClientError as exc:
            out["error"] = exc.response["Error"]["Code"]
            out["message"] = exc.response["Error"]["Message"]
    if event.get("log"):
        logs = boto3.client("logs")
        group = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        logs.create_log_stream(logGroupName=group, logStreamName="own-writes")
        logs.put_log_events(
            logGroupName=group,
            logStreamName="own-writes",
            logEvents=[{"timestamp": int(1000 * __import__("time").time()), "message": "via API"}],
        )
    if event.get("whoami"):
        out["arn"] = boto3.client("sts").get_caller_identity()["Arn"]
    if event.get("bucket"):
        s3 = boto3.client("s3")
        got = s3.get_object(Bucket=event["bucket"], Key="k")
        out["object"] = got["Body"].read().decode()
        out["s3"] = os.environ["AWS_ENDPOINT_URL_S3"]
    if event.get("metrics"):
        import urllib.error, urllib.request
        try:
            url = os.environ["AWS_ENDPOINT_URL_LAMBDA"] + "/metrics"
            out["metrics"] = urllib.request.urlopen(url, timeout=5).status
        except urllib.error.HTTPError as exc:
            out["metrics"] = exc.code
    if event.get("probe"):
        import socket
        out["probe"] = {}
        for host in ("127.0.0.1", "10.0.2.2"):
            try:
                socket.create_connection((host, event["probe"]), timeout=2).close()
                out["probe"][host] = "open"
            except OSError as exc:
                out["probe"][host] = type(exc).__name__
    return out
"""


def _session_client(server: LambdadServer, env: dict[str, str], token: str | None) -> Any:
    return boto3.session.Session().client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_function_invokes_its_own_account_and_not_another(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    target = new_function(handler_zip())["FunctionName"]
    foreign = new_function(handler_zip(), account=OTHER.account_id)["FunctionArn"]
    caller = new_function(handler_zip(CALLER), Timeout=30)["FunctionName"]

    own = invoke_ok(
        lambdad, caller, {"target": target, "whoami": True, "metrics": True, "log": True}
    )
    env = own["env"]
    assert own["payload"] == {"from": "caller"}
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_ACCESS_KEY_ID"] != PRIMARY.access_key_id
    assert env["AWS_SESSION_TOKEN"]
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"]
    assert own["arn"] == f"arn:aws:sts::{PRIMARY.account_id}:assumed-role/lambda-role/{caller}"
    written = lambdad.client("logs").get_log_events(
        logGroupName=f"/aws/lambda/{caller}", logStreamName="own-writes"
    )["events"]
    assert [e["message"] for e in written] == ["via API"]
    if missing_isolation() is None:
        # Through its relay, a function gets no operator surface of the port.
        assert own["metrics"] == 403

    # Another account's function: refused as AWS refuses it, naming the assumed role.
    refused = invoke_ok(lambdad, caller, {"target": foreign})
    assert refused["error"] == "AccessDeniedException", refused
    assert f"assumed-role/lambda-role/{caller}" in refused["message"]
    assert "no resource-based policy allows the lambda:InvokeFunction" in refused["message"]

    # The keys, taken out of the function: good with their token, in their account only.
    keys = _session_client(lambdad, env, env["AWS_SESSION_TOKEN"])
    assert keys.get_function(FunctionName=target)["Configuration"]["FunctionName"] == target
    with pytest.raises(ClientError) as denied:
        keys.get_function(FunctionName=foreign)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"

    token = env["AWS_SESSION_TOKEN"]
    forged = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for token in (forged, None):
        with pytest.raises(ClientError) as bad:
            _session_client(lambdad, env, token).get_function(FunctionName=target)
        assert bad.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_expired_session_role_policy_and_operator_endpoints(
    lambdad_factory: Callable[..., LambdadServer], tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        moto = stack.enter_context(moto_server(tmp_path / "moto.log"))
        # A host port nobody mapped: the function must not reach it.
        closed = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        server = lambdad_factory(
            env={
                "LAMBDAD_ROLE_SESSION_DURATION": str(SESSION_SECONDS),
                "LAMBDAD_FUNCTION_ENDPOINTS": f"s3={moto}",
            }
        )
        _check_session_server(server, moto, closed.getsockname()[1])


def _check_session_server(server: LambdadServer, moto: str, closed_port: int) -> None:
    client = server.client("lambda")
    names = []
    for suffix in ("limited", "plain"):
        name = f"creds-{suffix}"
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_for(PRIMARY.account_id).replace("lambda-role", suffix),
            Handler="app.handler",
            Code={"ZipFile": handler_zip(CALLER)},
        )
        names.append(name)
    # The operator's policy for one role: it may read one function's configuration only.
    plain_arn = f"arn:aws:lambda:*:{PRIMARY.account_id}:function:creds-plain"
    (server.data_dir / "roles.json").write_text(
        json.dumps(
            {
                role_for(PRIMARY.account_id).replace("lambda-role", "limited"): {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "lambda:GetFunctionConfiguration",
                            "Resource": plain_arn,
                        }
                    ]
                }
            }
        )
    )
    env = invoke_ok(server, "creds-limited", {})["env"]
    limited = _session_client(server, env, env["AWS_SESSION_TOKEN"])
    assert limited.get_function_configuration(FunctionName="creds-plain")["FunctionName"]
    for call in (
        lambda: limited.get_function_configuration(FunctionName="creds-limited"),
        lambda: limited.list_functions(),
        lambda: limited.invoke(FunctionName="creds-plain"),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "no identity-based policy allows" in denied.value.response["Error"]["Message"]

    # The operator's S3 (moto on the host's loopback) through the relay, and no other port.
    s3 = moto_client(moto, "s3")
    s3.create_bucket(Bucket="creds-bucket")
    s3.put_object(Bucket="creds-bucket", Key="k", Body=b"from moto")
    reached = invoke_ok(server, "creds-plain", {"bucket": "creds-bucket", "probe": closed_port})
    assert reached["object"] == "from moto"
    assert reached["s3"] == moto
    if missing_isolation() is None:  # an isolated network: only the mapped ports
        assert "open" not in reached["probe"].values(), reached["probe"]

    ran = invoke_ok(server, "creds-plain", {})
    env = ran["env"]
    plain = _session_client(server, env, env["AWS_SESSION_TOKEN"])
    assert plain.list_functions()["Functions"]
    # Minted before the invocation began: expired SESSION_SECONDS after it, at the latest.
    time.sleep(max(0.0, ran["now"] + SESSION_SECONDS + 0.5 - time.time()))
    with pytest.raises(ClientError) as expired:
        plain.list_functions()
    assert expired.value.response["Error"]["Code"] == "ExpiredTokenException"
    # A new environment gets a new session: the function keeps working.
    assert (
        invoke_ok(server, "creds-plain", {})["env"]["AWS_ACCESS_KEY_ID"] != env["AWS_ACCESS_KEY_ID"]
    )


SNAP_CALLER = """
import json, os
import boto3

# Made during init, before the snapshot: it must keep working in every restored
# environment (container credentials, as AWS gives SnapStart functions).
CLIENT = boto3.client("lambda")

def handler(event, context):
    got = CLIENT.invoke(FunctionName=event["target"], Payload=json.dumps({"from": "snap"}))
    import urllib.error, urllib.request
    uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
    try:
        urllib.request.urlopen(urllib.request.Request(uri, headers={"Authorization": "x"}))
        wrong = 200
    except urllib.error.HTTPError as exc:
        wrong = exc.code
    return {
        "wrong_token": wrong,
        "payload": json.loads(got["Payload"].read()),
        "keys": "AWS_ACCESS_KEY_ID" in os.environ,
        "uri": os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", ""),
    }
"""


def test_snapstart_functions_get_container_credentials(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    target = new_function(handler_zip())["FunctionName"]
    name = new_function(
        handler_zip(SNAP_CALLER), Timeout=30, SnapStart={"ApplyOn": "PublishedVersions"}
    )["FunctionName"]
    client = lambdad.client("lambda")
    version = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    out = invoke_ok(lambdad, f"{name}:{version}", {"target": target})
    assert out["payload"] == {"from": "snap"}
    assert out["keys"] is False
    assert out["wrong_token"] == 403
    assert out["uri"].endswith("/2021-04-23/credentials")
    # Restored from the snapshot, not started on demand, where snapshots are taken: with
    # full isolation and the zygote fast path (LAMBDAD_FAST_PATH=0 starts on demand).
    fast_path = os.environ.get("LAMBDAD_FAST_PATH", "1").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    if missing_isolation() is None and fast_path:
        reports = log_lines_starting(lambdad, name, "REPORT")
        assert any("Restore Duration" in line for line in reports), reports
