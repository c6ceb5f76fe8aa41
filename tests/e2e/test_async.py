"""Asynchronous invocation end to end: a real server, boto3, and SQS, SNS and EventBridge
served by a moto server the module starts.

One server for the module, with the async delays shortened through ``LAMBDAD_ASYNC_*``
(retries after 50 and 100 ms, throttle backoff 50..200 ms, and event ages scaled so
that ``MaximumEventAgeInSeconds=60`` lasts 0.3 s). Functions write what they see to
files under the test's temporary directory (the process sandbox lets them), and a
``sink`` function used as a destination writes the records it receives.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.aws_side import (
    async_stats,
    module_server,
    moto_client,
    moto_env,
    queue_arn,
    receive,
    wait_stat,
)
from e2e.helpers import ROLE, LambdadServer, active_function, client_env, handler_zip, run_lambdad

AGE_SCALE = 0.005  # MaximumEventAgeInSeconds=60 lasts 0.3 s

WORKER = """
import json, time

def handler(event, context):
    with open(event["out"], "a") as f:
        f.write(json.dumps({"id": context.aws_request_id, "t": time.time()}) + "\\n")
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError(event.get("message", "boom"))
    return {"echo": event.get("value")}
"""

SINK = """
import json

def handler(event, context):
    with open(event["requestPayload"]["records"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


# -- fixtures -----------------------------------------------------------------------------


def _sqs(endpoint: str, service: str = "sqs") -> Any:
    return moto_client(endpoint, service)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[LambdadServer]:
    # Destinations and dead-letter queues go to moto, through boto3's standard chain.
    env = moto_env(
        moto, "SQS", "SNS", "EVENTBRIDGE",  # EventBridge's service id
        LAMBDAD_ASYNC_RETRY_DELAYS="0.05,0.1",
        LAMBDAD_ASYNC_THROTTLE_BACKOFF="0.05,0.2",
        LAMBDAD_ASYNC_POLL_INTERVAL="0.1",
        LAMBDAD_ASYNC_EVENT_AGE_SCALE=str(AGE_SCALE),
    )  # fmt: skip
    with module_server(tmp_path_factory, "async", env) as srv:
        yield srv


@pytest.fixture
def lam(server: LambdadServer) -> Any:
    return server.client("lambda")


@pytest.fixture
def sqs(moto: str) -> Any:
    return _sqs(moto)


@pytest.fixture
def function(lam: Any) -> Iterator[Callable[..., str]]:
    """``function(source=WORKER, **create_args)`` -> a new function's name."""
    made: list[str] = []

    def create(source: str = WORKER, **params: Any) -> str:
        name = f"async-{uuid.uuid4().hex[:10]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": handler_zip(source)},
            **params,
        )
        made.append(name)
        return name

    yield create
    for name in made:
        with contextlib.suppress(ClientError):
            lam.delete_function(FunctionName=name)


def invoke_event(lam: Any, name: str, event: dict[str, Any], **kw: Any) -> str:
    """Invoke with InvocationType=Event; the request id the 202 carried."""
    out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event), **kw)
    assert out["StatusCode"] == 202
    request_id: str = out["ResponseMetadata"]["RequestId"]
    return request_id


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_lines(path: Path, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The JSON lines of ``path`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = lines(path)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name}: {len(found)} lines after {timeout} s: {found}")
        time.sleep(0.02)


# -- event invoke configs ----------------------------------------------------------------


def test_event_invoke_config_lifecycle(lam: Any, function: Callable[..., str]) -> None:
    name = function()
    lam.publish_version(FunctionName=name)
    sink = f"arn:aws:lambda:us-east-1:123456789012:function:{name}-sink"
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert put["FunctionArn"].endswith(f":function:{name}:$LATEST")
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    updated = lam.update_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": sink}},
    )
    assert updated["MaximumRetryAttempts"] == 1  # kept
    assert updated["MaximumEventAgeInSeconds"] == 3600
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": sink}
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["DestinationConfig"] == updated["DestinationConfig"]

    # A put replaces the whole configuration.
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=0)
    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    arns = [c["FunctionArn"].rsplit(":", 1)[1] for c in listed["FunctionEventInvokeConfigs"]]
    assert arns == ["$LATEST", "1"]
    page = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionEventInvokeConfigs"]) == 1
    rest = lam.list_function_event_invoke_configs(FunctionName=name, Marker=page["NextMarker"])
    assert [c["MaximumRetryAttempts"] for c in rest["FunctionEventInvokeConfigs"]] == [0]

    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError) as err:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["Error"]["Message"] == (
        f"The function arn:aws:lambda:us-east-1:123456789012:function:{name} doesn't have "
        "an EventInvokeConfig"
    )


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::bucket"}}},
            "InvalidParameterValueException",
            "The destination ARN arn:aws:s3:::bucket is invalid.",
        ),
        (
            {"MaximumRetryAttempts": 3},
            "ValidationException",
            "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
            "constraint: Member must have value less than or equal to 2",
        ),
        (
            {"MaximumEventAgeInSeconds": 59},
            "ValidationException",
            "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to "
            "satisfy constraint: Member must have value greater than or equal to 60",
        ),
        (
            {},
            "InvalidParameterValueException",
            "You must specify at least one of error handling or destination setting.",
        ),
    ],
)
def test_event_invoke_config_validation(
    server: LambdadServer,
    function: Callable[..., str],
    params: dict[str, Any],
    code: str,
    message: str,
) -> None:
    name = function()
    lam = server.client("lambda", parameter_validation=False)
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(FunctionName=name, **params)
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["Error"]["Message"] == message


def test_a_function_cannot_be_its_own_destination(lam: Any, function: Callable[..., str]) -> None:
    name = function()
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_event_invoke_config_of_missing_qualifier(lam: Any, function: Callable[..., str]) -> None:
    name = function()
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.put_function_event_invoke_config(
            FunctionName=name, Qualifier="7", MaximumRetryAttempts=0
        )


# -- accepting ----------------------------------------------------------------------------


def test_event_payload_limit_is_one_megabyte(
    lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    name = function()
    big = {"out": str(tmp_path / "out"), "pad": "x" * (1024 * 1024)}
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(big))
    assert err.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    fits = {"out": str(tmp_path / "out"), "pad": "x" * (1000 * 1024)}
    invoke_event(lam, name, fits)
    wait_lines(tmp_path / "out", 1)


def test_invoke_async_is_accepted_and_runs(
    lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    name = function()
    out = tmp_path / "out"
    answer = lam.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"out": str(out)}))
    assert answer["Status"] == 202
    (line,) = wait_lines(out, 1)
    assert line["id"] == answer["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as err:
        lam.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"pad": "x" * 300_000}))
    assert err.value.response["Error"]["Code"] == "RequestTooLargeException"


def test_event_for_a_missing_function_is_refused(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="async-no-such-function", InvocationType="Event", Payload=b"{}")


# -- outcomes and destinations ------------------------------------------------------------


def test_success_goes_to_the_on_success_function(
    lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    sink = function(SINK)
    name = function()
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": sink_arn}}
    )
    event = {"out": str(tmp_path / "out"), "records": str(tmp_path / "records"), "value": 42}
    request_id = invoke_event(lam, name, event)

    (record,) = wait_lines(tmp_path / "records", 1)
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": 42}
    assert record["timestamp"].endswith("Z")
    assert [line["id"] for line in lines(tmp_path / "out")] == [request_id]


def test_failures_are_retried_twice_then_go_to_on_failure(
    lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    sink = function(SINK)
    name = function()
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": sink_arn}}
    )
    event = {"out": str(tmp_path / "out"), "records": str(tmp_path / "records"), "fail": True}
    request_id = invoke_event(lam, name, event)

    (record,) = wait_lines(tmp_path / "records", 1)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "boom"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    attempts = lines(tmp_path / "out")
    assert [a["id"] for a in attempts] == [request_id] * 3  # retries keep the request id
    # LAMBDAD_ASYNC_RETRY_DELAYS=0.05,0.1: each retry waits at least its delay.
    assert attempts[1]["t"] - attempts[0]["t"] >= 0.05
    assert attempts[2]["t"] - attempts[1]["t"] >= 0.1


def test_sqs_destination_and_dead_letter_queue(
    lam: Any, sqs: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    failures = sqs.create_queue(QueueName=f"failures-{tag}")["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"dlq-{tag}")["QueueUrl"]
    name = function(DeadLetterConfig={"TargetArn": queue_arn(f"dlq-{tag}")})
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(f"failures-{tag}")}},
    )
    event = {"out": str(tmp_path / "out"), "fail": True, "message": "card declined"}
    request_id = invoke_event(lam, name, event)

    record = json.loads(receive(sqs, failures)["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == event

    letter = receive(sqs, dlq)
    assert json.loads(letter["Body"]) == event
    attrs = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attrs == {"RequestID": request_id, "ErrorCode": "200", "ErrorMessage": "card declined"}
    assert letter["MessageAttributes"]["ErrorCode"]["DataType"] == "Number"


def test_sqs_on_success_destination(
    lam: Any, sqs: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    queue = f"ok-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    name = function(DeadLetterConfig={"TargetArn": queue_arn(queue)})
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn(queue)}}
    )
    request_id = invoke_event(lam, name, {"out": str(tmp_path / "out"), "value": "v"})
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == request_id
    assert record["responsePayload"] == {"echo": "v"}
    # A success never goes to the dead-letter queue (the same queue here): one message only.
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")


def test_sns_dead_letter_and_eventbridge_destination(
    lam: Any, sqs: Any, moto: str, function: Callable[..., str], tmp_path: Path
) -> None:
    sns, events = _sqs(moto, "sns"), _sqs(moto, "events")
    tag = uuid.uuid4().hex[:8]
    # What the topic and the bus receive lands in queues the test reads.
    letters = sqs.create_queue(QueueName=f"letters-{tag}")["QueueUrl"]
    results = sqs.create_queue(QueueName=f"results-{tag}")["QueueUrl"]
    topic = sns.create_topic(Name=f"dlq-{tag}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn(f"letters-{tag}"),
        Attributes={"RawMessageDelivery": "true"},
    )
    bus = events.create_event_bus(Name=f"bus-{tag}")["EventBusArn"]
    events.put_rule(
        Name=f"rule-{tag}",
        EventBusName=f"bus-{tag}",
        EventPattern=json.dumps({"source": ["lambda"]}),
    )
    events.put_targets(
        Rule=f"rule-{tag}",
        EventBusName=f"bus-{tag}",
        Targets=[{"Id": "results", "Arn": queue_arn(f"results-{tag}")}],
    )
    name = function(DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": bus}},
    )
    event = {"out": str(tmp_path / "out"), "fail": True, "message": "no stock"}
    request_id = invoke_event(lam, name, event)

    letter = receive(sqs, letters)
    assert json.loads(letter["Body"]) == event
    attrs = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attrs == {"RequestID": request_id, "ErrorCode": "200", "ErrorMessage": "no stock"}

    delivered = json.loads(receive(sqs, results)["Body"])
    assert delivered["source"] == "lambda"
    assert delivered["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert delivered["detail"]["requestContext"]["requestId"] == request_id
    assert delivered["detail"]["requestContext"]["condition"] == "RetriesExhausted"


def test_a_destination_that_is_down_is_retried(
    server: LambdadServer, lam: Any, sqs: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    queue = f"later-{uuid.uuid4().hex[:8]}"  # does not exist yet
    name = function()
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(queue)}},
    )
    request_id = invoke_event(lam, name, {"out": str(tmp_path / "out"), "fail": True})
    wait_stat(server, name, "delivery_failures", 2)
    assert async_stats(server, name)["deliveries_pending"] == 1
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["requestId"] == request_id
    deadline = time.monotonic() + 5
    while (row := async_stats(server, name))["deliveries_pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert row["deliveries_pending"] == 0
    assert row["deliveries_dropped"] == 0


def test_events_older_than_their_age_limit_go_to_on_failure(
    lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    sink = function(SINK)
    name = function(Timeout=5)
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,  # 0.3 s on this server
        DestinationConfig={"OnFailure": {"Destination": sink_arn}},
    )
    # The first attempt fails after 0.5 s: no retry can start within the age limit.
    event = {"out": str(tmp_path / "out"), "records": str(tmp_path / "records")}
    request_id = invoke_event(lam, name, {**event, "fail": True, "sleep": 0.5})
    (record,) = wait_lines(tmp_path / "records", 1)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(lines(tmp_path / "out")) == 1


def test_throttled_events_run_once_capacity_returns(
    server: LambdadServer, lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    name = function()
    try:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    except ClientError as exc:
        if "not supported by lambdad yet" in exc.response["Error"]["Message"]:
            pytest.skip("PutFunctionConcurrency is not implemented yet (concurrency issue)")
        raise
    out = tmp_path / "out"
    ids = {invoke_event(lam, name, {"out": str(out), "value": i}) for i in range(3)}
    wait_stat(server, name, "throttled", 6)  # every event requeued at least twice
    assert lines(out) == [], "a function with reserved concurrency 0 ran"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    assert {line["id"] for line in wait_lines(out, 3)} == ids


def test_another_functions_event_is_served_while_a_backlog_retries(
    lambdad_factory: Callable[..., LambdadServer], tmp_path: Path
) -> None:
    # Two places for asynchronous events, and ahead of B's event twelve of A's that each
    # hold a place for a second, fail and are retried: AWS queues per function, so B's
    # event takes the next free place, as if A had no backlog.
    own = lambdad_factory(
        env={
            "LAMBDAD_SANDBOX": "process",
            "LAMBDAD_ASYNC_MAX_CONCURRENCY": "2",
            "LAMBDAD_ASYNC_RETRY_DELAYS": "0.05,0.1",
            "LAMBDAD_ASYNC_POLL_INTERVAL": "0.1",
        }
    )
    lam = own.client("lambda")
    a, b = (f"fair-{x}-{uuid.uuid4().hex[:8]}" for x in "ab")
    for name in (a, b):
        active_function(lam, name, WORKER, Timeout=10)
    # B warm (a synchronous invoke takes no async place): its event needs no cold start.
    warm = tmp_path / "warm"
    lam.invoke(FunctionName=b, Payload=json.dumps({"out": str(warm)}))
    backlog, served = tmp_path / "backlog", tmp_path / "served"
    for _ in range(12):
        invoke_event(lam, a, {"out": str(backlog), "sleep": 1, "fail": True})
    wait_lines(backlog, 2)  # A holds both places
    invoke_event(lam, b, {"out": str(served)})
    (b_started,) = wait_lines(served, 1)
    ahead = [line for line in lines(backlog) if line["t"] < b_started["t"]]
    # Behind the backlog, B would start after A's twelve first attempts at least.
    assert len(ahead) <= 6, f"B's event waited for {len(ahead)} of A's attempts"


# -- observability ------------------------------------------------------------------------


def test_async_stats_counts_events(
    server: LambdadServer, lam: Any, function: Callable[..., str], tmp_path: Path
) -> None:
    name = function()
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    invoke_event(lam, name, {"out": str(tmp_path / "out")})
    invoke_event(lam, name, {"out": str(tmp_path / "out"), "fail": True})
    wait_lines(tmp_path / "out", 3)
    row = wait_stat(server, name, "dropped", 1)
    assert row["received"] == 2
    assert row["processed"] == 1
    assert row["retried"] == 1
    assert row["dropped"] == 1
    assert row["queued"] == 0
    proc = run_lambdad("async-stats", env=client_env(server))
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout
    assert "RECEIVED" in table.splitlines()[0]
    assert any(name in line for line in table.splitlines()[1:])
