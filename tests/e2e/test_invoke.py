"""Invoke, end to end: a real zipped Python function on the real server, through boto3.

What a caller sees (payload, status, headers, the log tail) and what the function
sees (event, context, environment) for results, the log format, the request id and
executed version, client context, code and configuration updates, and log retrieval
through the CloudWatch Logs API and ``aws logs tail``. Errors, timeouts, crashes,
limits and the environment life cycle are in ``test_invoke_limits.py``; other
runtimes in ``test_invoke_runtimes.py``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from e2e.helpers import PRIMARY, LambdadServer, handler_zip
from e2e.invoke_support import (
    LOG_STREAM_RE,
    REPORT_RE,
    Deployer,
    invoke,
    log_messages,
    probe_zip,
    wait_for_log,
    wait_updated,
)

ACCOUNT = PRIMARY.account_id
REGION = "us-east-1"
VARIABLES = {
    "GREETING": "hello",
    "WITH_EQUALS": "a=b=c",
    "CONNECTION": "Server=db;User=sa;Password=x==",
    "UNICODE": "grüße ✓",
    "EMPTY": "",
}


@pytest.fixture(scope="module")
def deploy(lambdad: LambdadServer) -> Iterator[Deployer]:
    deployer = Deployer(lambdad, "invoke")
    yield deployer
    deployer.delete_all()
    assert not deployer.server_errors(), deployer.server_errors()


@pytest.fixture(scope="module")
def probe(deploy: Deployer) -> str:
    """One warm Python function most tests here share."""
    return deploy(
        probe_zip(),
        MemorySize=256,
        Timeout=5,
        Environment={"Variables": VARIABLES},
        Description="probe",
    )


def test_result_is_the_handlers_return_value_as_json(lambdad: LambdadServer, probe: str) -> None:
    event = {"a": [1, 2.5, None, True], "nested": {"ü": "✓"}}
    out = invoke(lambdad, probe, event)
    assert out.status == 200
    assert out.function_error is None
    assert out.json() == event
    assert out.headers["content-type"] == "application/json"


def test_an_empty_payload_reaches_the_handler_as_an_empty_object(
    lambdad: LambdadServer, probe: str
) -> None:
    out = invoke(lambdad, probe, payload=b"")
    assert (out.status, out.json()) == (200, {})


@pytest.mark.parametrize("event", ["a string", 42, None, [1, "two"], True])
def test_events_that_are_not_objects_reach_the_handler_unchanged(
    lambdad: LambdadServer, probe: str, event: object
) -> None:
    out = invoke(lambdad, probe, payload=json.dumps(event).encode())
    assert out.function_error is None
    assert out.json() == event


def test_a_none_result_is_json_null(lambdad: LambdadServer, probe: str) -> None:
    out = invoke(lambdad, probe, {"action": "nothing"})
    assert out.function_error is None
    assert out.payload == b"null"


def test_a_bytes_result_is_returned_as_is(lambdad: LambdadServer, probe: str) -> None:
    out = invoke(lambdad, probe, {"action": "raw"})
    assert out.function_error is None
    assert out.payload == b"\x00\x01raw bytes\xff"


def test_context_carries_the_fields_of_awslambdaric(lambdad: LambdadServer, probe: str) -> None:
    out = invoke(lambdad, probe, {"action": "context_fields"})
    ctx = out.json()
    assert ctx["aws_request_id"] == out.request_id
    assert ctx["function_name"] == probe
    assert ctx["function_version"] == "$LATEST"
    # A string, as on AWS.
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{probe}"
    assert ctx["log_group_name"] == f"/aws/lambda/{probe}"
    assert LOG_STREAM_RE.fullmatch(ctx["log_stream_name"]), ctx["log_stream_name"]
    assert LOG_STREAM_RE.fullmatch(ctx["log_stream_name"]).group("version") == "$LATEST"
    assert 4000 < ctx["remaining_ms"] <= 5000
    assert ctx["identity"] == [None, None]
    assert ctx["client_context"] is None


def test_request_id_header_is_the_handlers_aws_request_id(
    lambdad: LambdadServer, probe: str
) -> None:
    ids = set()
    for _ in range(3):
        out = invoke(lambdad, probe, {"action": "context_fields"})
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out.request_id
        )
        assert out.json()["aws_request_id"] == out.request_id
        assert out.report.group("id") == out.request_id
        ids.add(out.request_id)
    assert len(ids) == 3


def test_client_context_is_decoded_into_context_client_context(
    lambdad: LambdadServer, probe: str
) -> None:
    client_context = {
        "client": {
            "installation_id": "install-1",
            "app_title": "Probe App",
            "app_version_name": "1.2",
            "app_version_code": "12",
            "app_package_name": "com.example.probe",
        },
        "custom": {"tenant": "blue", "flags": [1, 2]},
        "env": {"platform": "Android", "locale": "fr_FR"},
    }
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    out = invoke(lambdad, probe, {"action": "context_fields"}, ClientContext=encoded)
    assert out.json()["client_context"] == client_context


def test_client_context_that_is_not_base64_json_is_refused(
    lambdad: LambdadServer, probe: str
) -> None:
    client = lambdad.client("lambda")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName=probe, Payload=b"{}", ClientContext="not base64!")


def test_environment_has_the_functions_variables_and_lambdas_own(
    lambdad: LambdadServer, probe: str
) -> None:
    out = invoke(lambdad, probe, {"action": "environ"})
    seen = out.json()
    env = seen["env"]
    for key, value in VARIABLES.items():
        assert env[key] == value, key
    task_root = env["LAMBDA_TASK_ROOT"]
    assert seen["cwd"] == task_root
    assert seen["sys_path"][0] == task_root
    assert seen["python"] == "3.12"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == probe
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{probe}"
    assert LOG_STREAM_RE.fullmatch(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert re.fullmatch(r"[\w.\-\[\]:]+:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    # AWS's own value has the trailing slash.
    assert env["PATH"].split(":")[-4:] == ["/usr/local/bin", "/usr/bin/", "/bin", "/opt/bin"]
    assert "/opt/lib" in env["LD_LIBRARY_PATH"].split(":")
    assert "_X_AMZN_TRACE_ID" in env


def test_tail_log_has_start_end_report_in_aws_format(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip(), MemorySize=192)
    lines = ["first line", "second line"]
    cold = invoke(lambdad, name, {"action": "say", "lines": lines})
    warm = invoke(lambdad, name, {"action": "say", "lines": lines})
    for out in (cold, warm):
        rid = out.request_id
        log = out.log.splitlines()
        assert log[0] == f"START RequestId: {rid} Version: $LATEST"
        assert log[1:3] == lines
        assert re.fullmatch(
            rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tlogged first line",
            log[3],
        ), log[3]
        assert log[4] == "to stderr"
        assert log[5] == f"END RequestId: {rid}"
        assert REPORT_RE.fullmatch(log[6]), log[6]
        report = out.report
        assert report.group("memory") == "192"
        assert int(report.group("used")) > 0
        duration = float(report.group("duration"))
        assert int(report.group("billed")) == max(1, -int(-duration // 1))
    assert cold.cold, "the first invoke is a cold start: Init Duration"
    assert not warm.cold, "a warm invoke has no Init Duration"
    assert float(cold.report.group("init")) > 0


def test_log_result_is_absent_unless_tail_is_asked_for(lambdad: LambdadServer, probe: str) -> None:
    out = invoke(lambdad, probe, {}, tail=False)
    assert "x-amz-log-result" not in out.headers


def test_tail_is_the_last_4_kb_of_the_log(lambdad: LambdadServer, probe: str) -> None:
    lines = [f"line {i:04d} " + "." * 90 for i in range(200)]
    out = invoke(lambdad, probe, {"action": "say", "lines": lines})
    raw = base64.b64decode(out.headers["x-amz-log-result"])
    assert len(raw) <= 4096
    assert raw.endswith(b"\t\n")
    assert REPORT_RE.search(out.log)
    printed = [line for line in out.log.splitlines() if line.startswith("line ")]
    assert printed[-1] == lines[-1]
    assert lines[0] not in printed, "older lines are cut off"


def test_dry_run_answers_204_and_runs_nothing(lambdad: LambdadServer, probe: str) -> None:
    before = len(log_messages(lambdad, probe, '"START RequestId"'))
    out = lambdad.client("lambda").invoke(FunctionName=probe, InvocationType="DryRun")
    assert out["StatusCode"] == 204
    assert out["Payload"].read() == b""
    assert len(log_messages(lambdad, probe, '"START RequestId"')) == before


def test_executed_version_and_arn_follow_the_qualifier(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    client = lambdad.client("lambda")
    version = client.publish_version(FunctionName=name)["Version"]
    assert version == "1"
    latest = invoke(lambdad, name, {"action": "context_fields"})
    assert latest.executed_version == "$LATEST"
    assert latest.headers["x-amz-executed-version"] == "$LATEST"
    # The ARN the caller used: qualified when a qualifier was given, even $LATEST.
    assert latest.json()["invoked_function_arn"].endswith(f":function:{name}")
    explicit = invoke(lambdad, name, {"action": "context_fields"}, Qualifier="$LATEST")
    assert explicit.json()["invoked_function_arn"].endswith(f":function:{name}:$LATEST")
    assert explicit.executed_version == "$LATEST"
    published = invoke(lambdad, name, {"action": "context_fields"}, Qualifier=version)
    assert published.executed_version == "1"
    ctx = published.json()
    assert ctx["function_version"] == "1"
    assert ctx["invoked_function_arn"].endswith(f":function:{name}:1")
    assert LOG_STREAM_RE.fullmatch(ctx["log_stream_name"]).group("version") == "1"
    assert published.log.startswith(f"START RequestId: {published.request_id} Version: 1\n")


def test_new_code_runs_right_after_update_function_code(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(handler_zip("def handler(event, context):\n    return 'v1'\n"))
    assert invoke(lambdad, name).json() == "v1"
    client = lambdad.client("lambda")
    client.update_function_code(
        FunctionName=name, ZipFile=handler_zip("def handler(event, context):\n    return 'v2'\n")
    )
    wait_updated(lambdad, name)
    out = invoke(lambdad, name)
    assert out.json() == "v2"
    assert out.cold, "the old environment was retired: the new code starts cold"


def test_new_configuration_applies_right_after_update(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip(), Environment={"Variables": {"COLOR": "red"}})
    first = invoke(lambdad, name, {"action": "environ"})
    assert first.json()["env"]["COLOR"] == "red"
    client = lambdad.client("lambda")
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"COLOR": "blue=ish"}}, MemorySize=320
    )
    wait_updated(lambdad, name)
    second = invoke(lambdad, name, {"action": "environ"})
    env = second.json()["env"]
    assert env["COLOR"] == "blue=ish"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "320"
    assert second.cold
    assert second.report.group("memory") == "320"


def test_logs_are_read_back_with_boto3_filter_log_events(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    out = invoke(lambdad, name, {"action": "say", "lines": ["needle-in-the-log"]})
    messages = wait_for_log(lambdad, name, f"REPORT RequestId: {out.request_id}")
    rid = out.request_id
    assert f"START RequestId: {rid} Version: $LATEST" in [m.rstrip("\n") for m in messages]
    assert any(m.rstrip("\n") == "needle-in-the-log" for m in messages)
    assert any(m.startswith(f"END RequestId: {rid}") for m in messages)
    assert [m for m in log_messages(lambdad, name, '"needle-in-the-log"')]
    logs = lambdad.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"/aws/lambda/{name}"]
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1
    assert LOG_STREAM_RE.fullmatch(streams[0]["logStreamName"])
    events = logs.get_log_events(
        logGroupName=f"/aws/lambda/{name}",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert events[0]["message"].startswith("INIT_START Runtime Version: ")
    assert events[1]["message"].startswith(f"START RequestId: {rid}")


def test_logs_are_read_back_with_aws_logs_tail(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = deploy(probe_zip())
    out = invoke(lambdad, name, {"action": "say", "lines": ["tail-me-please"]})
    wait_for_log(lambdad, name, f"REPORT RequestId: {out.request_id}")
    proc_out = _aws_text(lambdad, "logs", "tail", f"/aws/lambda/{name}", "--since", "10m")
    assert "tail-me-please" in proc_out
    assert f"START RequestId: {out.request_id}" in proc_out
    assert f"REPORT RequestId: {out.request_id}" in proc_out


def test_aws_logs_tail_follow_prints_and_keeps_running(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    out = invoke(lambdad, name, {"action": "say", "lines": ["follow-me-please"]})
    wait_for_log(lambdad, name, f"REPORT RequestId: {out.request_id}")
    cmd = [
        _aws_v2(),
        "logs",
        "tail",
        f"/aws/lambda/{name}",
        "--follow",
        "--since",
        "10m",
        "--endpoint-url",
        lambdad.endpoint,
        "--region",
        REGION,
    ]
    proc = subprocess.Popen(
        cmd, env=lambdad.aws_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if f"REPORT RequestId: {out.request_id}" in line:
                break
        assert any("follow-me-please" in line for line in seen), seen
        assert proc.poll() is None, "--follow keeps polling"
    finally:
        proc.kill()
        proc.communicate()


def _aws_v2() -> str:
    """An AWS CLI v2 (``logs tail`` is a v2 command; the venv's pip CLI is v1)."""
    for candidate in (shutil.which("aws"), "/usr/bin/aws", "/usr/local/bin/aws"):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        proc = subprocess.run(
            [candidate, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        if proc.stdout.startswith("aws-cli/2."):
            return candidate
    pytest.skip("`aws logs tail` needs the AWS CLI v2 (Debian package awscli)")


def _aws_text(server: LambdadServer, *args: str) -> str:
    proc = subprocess.run(
        [_aws_v2(), *args, "--endpoint-url", server.endpoint, "--region", REGION],
        env=server.aws_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
