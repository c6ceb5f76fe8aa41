"""The CloudWatch Logs API subset, driven by boto3's ``logs`` client and ``aws logs tail``.

Runs the real ``lambdad serve`` on a free loopback port (its own data directory and
credential), because every request must be SigV4-signed as AWS tools sign it.
``aws logs tail`` exists only in the AWS CLI v2 (Debian's ``awscli`` package; the
PyPI ``awscli`` is v1): those tests skip, saying so, where it is missing.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

BIN = Path(sys.executable).parent
LAMBDAD = str(BIN / "lambdad")
KEY, SECRET, ACCOUNT = "AKIDLOGSTEST00000001", "logs-test-secret", "123456789012"
REGION = "us-east-1"
GROUP = "/aws/lambda/x"
STREAM = "2026/01/01/[$LATEST]0123abcdef"


class Server:
    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LAMBDAD_CREDENTIALS": f"{KEY}:{SECRET}:{ACCOUNT}"}
        data_dir.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: nobody reads the server's log while it runs.
        self.log_path = data_dir.parent / "lambdad.log"
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                [LAMBDAD, "serve", "--port", str(self.port), "--data-dir", str(data_dir)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lambdad exited {self.proc.returncode}: {self.stderr()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("lambdad did not start listening in time")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("logs") / "data")
    try:
        srv.wait_ready()
        yield srv
    finally:
        status = srv.stop()
        assert status == 0, srv.stderr()


@pytest.fixture
def logs(server: Server) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def group(logs: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh log group with one stream, named after the test."""
    name = f"{GROUP}-{request.node.name.removeprefix('test_')[:40]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName=STREAM)
    yield name
    logs.delete_log_group(logGroupName=name)


def now_ms() -> int:
    return int(time.time() * 1000)


def put(logs: Any, group: str, messages: list[str], stream: str = STREAM) -> int:
    start = now_ms() - len(messages)
    events = [{"timestamp": start + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return start


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


# -- boto3 --------------------------------------------------------------------------------------


def test_describe_shows_groups_and_streams(logs: Any, group: str) -> None:
    start = put(logs, group, ["one", "two"])
    [g] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["logGroupName"] == group
    assert g["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    assert g["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    assert g["storedBytes"] == 6
    assert g["metricFilterCount"] == 0
    [s] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert s["logStreamName"] == STREAM
    assert s["firstEventTimestamp"] == start
    assert s["lastEventTimestamp"] == start + 1
    assert s["arn"].endswith(f":log-group:{group}:log-stream:{STREAM}")
    newest = logs.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True, limit=1
    )
    assert [x["logStreamName"] for x in newest["logStreams"]] == [STREAM]


def test_get_log_events_pages_until_the_forward_token_repeats(logs: Any, group: str) -> None:
    sent = [f"line {i}" for i in range(25)]
    put(logs, group, sent)
    got: list[str] = []
    args: dict[str, Any] = {"logGroupName": group, "logStreamName": STREAM, "limit": 10}
    page = logs.get_log_events(startFromHead=True, **args)
    for _ in range(10):
        got += [e["message"] for e in page["events"]]
        nxt = logs.get_log_events(nextToken=page["nextForwardToken"], startFromHead=True, **args)
        if nxt["nextForwardToken"] == page["nextForwardToken"]:
            assert nxt["events"] == []
            break
        page = nxt
    assert got == sent
    latest = logs.get_log_events(logGroupName=group, logStreamName=STREAM, limit=3)
    assert [e["message"] for e in latest["events"]] == sent[-3:]
    assert set(latest["events"][0]) == {"timestamp", "message", "ingestionTime"}


def test_filter_log_events_with_a_pattern_and_the_paginator(logs: Any, group: str) -> None:
    put(logs, group, ["[INFO] ok", "[ERROR] boom", "[WARN] hmm", "[ERROR] bang"])
    errors = logs.filter_log_events(logGroupName=group, filterPattern="ERROR")
    assert [e["message"] for e in errors["events"]] == ["[ERROR] boom", "[ERROR] bang"]
    assert {e["logStreamName"] for e in errors["events"]} == {STREAM}
    assert all(e["eventId"] for e in errors["events"])
    assert "nextToken" not in errors
    either = logs.filter_log_events(logGroupName=group, filterPattern="?WARN ?INFO")
    assert [e["message"] for e in either["events"]] == ["[INFO] ok", "[WARN] hmm"]
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 1}
    )
    assert [e["message"] for p in pages for e in p["events"]] == [
        "[INFO] ok",
        "[ERROR] boom",
        "[WARN] hmm",
        "[ERROR] bang",
    ]


def test_errors_in_the_aws_shape(logs: Any, group: str) -> None:
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName="/aws/lambda/none", logStreamName=STREAM)
    assert error_of(exc) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert error_of(exc)[:2] == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=group)
    assert error_of(exc)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="bad name!")
    code, message, status = error_of(exc)
    assert (code, status) == ("InvalidParameterException", 400)
    assert message.startswith("1 validation error detected: Value 'bad name!' at 'logGroupName'")
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = }")
    assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(limit=51)
    assert error_of(exc)[0] == "InvalidParameterException"


def raw_call(server: Server, target: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    """A signed request with a body boto3 would never send."""
    import urllib.error
    import urllib.request

    req = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(KEY, SECRET), "logs", REGION).add_auth(req)
    http_req = urllib.request.Request(
        req.url, data=body, headers=dict(req.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(http_req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), json.loads(err.read())


@pytest.mark.parametrize(
    ("target", "body", "error"),
    [
        ("Logs_20140328.DescribeLogGroups", b"{not json", "SerializationException"),
        ("Logs_20140328.DescribeLogGroups", b"[1, 2]", "SerializationException"),
        ("Logs_20140328.PutMetricFilter", b"{}", "UnknownOperationException"),
        ("Logs_20140328.StartQuery", b"{}", "InvalidParameterException"),
        ("Logs_20140328.GetLogEvents", b'{"logGroupName": "/x"}', "InvalidParameterException"),
        (
            "Logs_20140328.FilterLogEvents",
            b'{"logGroupName": "/x", "limit": "ten"}',
            "InvalidParameterException",
        ),
    ],
)
def test_malformed_requests_are_400_with_the_error_type(
    server: Server, target: str, body: bytes, error: str
) -> None:
    status, headers, doc = raw_call(server, target, body)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert status == 400
    assert lowered["x-amzn-errortype"] == error
    assert lowered["content-type"] == "application/x-amz-json-1.1"
    assert doc["__type"] == error
    assert isinstance(doc["message"], str)


def test_empty_body_is_an_empty_request(server: Server) -> None:
    status, _headers, doc = raw_call(server, "Logs_20140328.DescribeLogGroups", b"")
    assert status == 200
    assert isinstance(doc["logGroups"], list)


# -- aws logs tail (AWS CLI v2) -------------------------------------------------------------------


def _aws_cli_v2() -> str | None:
    for candidate in ("/usr/bin/aws", shutil.which("aws"), str(BIN / "aws")):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            version = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.startswith("aws-cli/2."):
            return candidate
    return None


AWS_V2 = _aws_cli_v2()
needs_cli_v2 = pytest.mark.skipif(
    AWS_V2 is None,
    reason="`aws logs tail` needs the AWS CLI v2 (Debian: apt-get install awscli); "
    "PyPI's awscli is v1 and has no `logs tail`",
)


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_PAGER="",
    )
    return env


@needs_cli_v2
def test_aws_logs_tail_prints_the_messages(
    server: Server, logs: Any, group: str, tmp_path: Path
) -> None:
    put(logs, group, ["hello from tail", "second line"])
    assert AWS_V2 is not None
    out = subprocess.run(
        [AWS_V2, "logs", "tail", group, "--endpoint-url", server.endpoint, "--since", "1h"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["hello from tail", "second line"]
    assert all(line.split(" ")[1] == STREAM for line in lines)


@needs_cli_v2
def test_aws_logs_tail_follow_prints_events_put_after_it_started(
    server: Server, logs: Any, group: str, tmp_path: Path
) -> None:
    put(logs, group, ["before follow"])
    assert AWS_V2 is not None
    tail_cmd = [AWS_V2, "logs", "tail", group, "--endpoint-url", server.endpoint]
    lines: queue.Queue[str] = queue.Queue()

    def wait_for(text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"`aws logs tail --follow` never printed {text!r}")
            try:
                if lines.get(timeout=remaining).endswith(text):
                    return
            except queue.Empty:
                continue

    with subprocess.Popen(
        [*tail_cmd, "--follow", "--format", "short", "--since", "10m"],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        stdout = proc.stdout
        assert stdout is not None

        def read_lines() -> None:
            for line in stdout:
                lines.put(line.rstrip("\n"))

        pump = threading.Thread(target=read_lines)
        pump.start()
        try:
            # The first line proves its first poll is done; the next event comes later.
            wait_for("before follow", timeout=30)
            put(logs, group, ["after follow started"])
            # The CLI polls every 5 s.
            wait_for("after follow started", timeout=15)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            pump.join(timeout=10)
