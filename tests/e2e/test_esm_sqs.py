"""SQS event source mappings end to end: a real server polling queues of a moto server
the module starts (``AWS_ENDPOINT_URL_SQS``), functions that write what they receive
to files (the process sandbox lets them; the path is in their ``OUT`` variable)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.aws_side import (
    MOTO_REGION,
    event_source_mappings,
    module_server,
    moto_client,
    moto_env,
    queue_arn,
    receive,
    wait_for,
)
from e2e.helpers import LambdadServer, active_function, powertools_zip

RECORDER = """
import json, os, time

def handler(event, context):
    if not event["Records"]:
        return {}
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    time.sleep(float(os.environ.get("SLEEP", "0")))
    failed = [r["messageId"] for r in event["Records"] if "bad" in r["body"]]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
"""


def server_env(moto: str) -> dict[str, str]:
    return moto_env(moto, "SQS", LAMBDAD_ESM_SQS_WAIT="1", LAMBDAD_ESM_BACKOFF="0.05,0.5")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[LambdadServer]:
    with module_server(tmp_path_factory, "esm", server_env(moto)) as srv:
        yield srv


@pytest.fixture
def sqs(moto: str) -> Any:
    return moto_client(moto, "sqs")


def new_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    """(url, arn) of a new queue."""
    name = f"esm-{uuid.uuid4().hex[:10]}"
    if attributes.get("FifoQueue") == "true":
        name += ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, queue_arn(name)


def queue_with_dead_letters(sqs: Any, max_receives: int) -> tuple[str, str, str]:
    """(url, arn) of a new queue (visibility timeout 1 s) that moves a message received
    ``max_receives`` times to a new dead-letter queue, and that queue's url."""
    dlq_url, dlq_arn = new_queue(sqs)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})
    url, arn = new_queue(sqs, VisibilityTimeout="1", RedrivePolicy=redrive)
    return url, arn, dlq_url


def new_function(lam: Any, out: Path, **env: str) -> str:
    name = f"esm-{uuid.uuid4().hex[:10]}"
    return active_function(lam, name, RECORDER, variables={"OUT": str(out), **env})


def warm(lam: Any, name: str) -> None:
    """One environment started before messages flow: a cold start under load must not
    outlast a test queue's short visibility timeout."""
    lam.invoke(FunctionName=name, Payload=b'{"Records": []}')


def records(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    events = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return [r for e in events for r in e["Records"]]


def queue_empty(sqs: Any, url: str) -> bool:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attrs == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


@pytest.fixture
def mapping(server: LambdadServer) -> Iterator[Callable[..., str]]:
    with event_source_mappings(server.client("lambda")) as create:
        yield create


def test_messages_arrive_as_aws_records(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn = new_queue(sqs)
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out)
    mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=10)
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"n": 1}',
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    sqs.send_message(QueueUrl=url, MessageBody="plain")
    got = wait_for(lambda: len(records(out)) >= 2 and records(out))
    first = next(r for r in got if r["body"] == '{"n": 1}')
    assert list(first) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == arn
    assert first["awsRegion"] == MOTO_REGION
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        first["attributes"]
    )
    assert first["messageAttributes"]["color"] == {
        "stringValue": "red", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }  # fmt: skip
    assert first["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    wait_for(lambda: queue_empty(sqs, url))


def test_partial_failures_end_in_the_dead_letter_queue(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn, dlq_url = queue_with_dead_letters(sqs, max_receives=2)
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out)
    warm(lam, fn)
    mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "1", "MessageBody": "good"}, {"Id": "2", "MessageBody": "bad"}],
    )
    dead = receive(sqs, dlq_url, timeout=20)
    assert dead["Body"] == "bad"
    bodies = [r["body"] for r in records(out)]
    assert bodies.count("good") == 1  # deleted after its first success
    assert bodies.count("bad") == 2  # received twice, then redriven


def test_filtered_out_messages_are_deleted(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn = new_queue(sqs)
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out)
    mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
    )
    for kind in ("drop", "keep", "drop"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": kind}))
    wait_for(lambda: records(out))
    wait_for(lambda: queue_empty(sqs, url))
    assert [json.loads(r["body"])["kind"] for r in records(out)] == ["keep"]


def test_fifo_order_per_group(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn = new_queue(sqs, FifoQueue="true")
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out)
    mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=3)
    for i in range(9):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=f"m{i}",
            MessageGroupId=f"g{i % 2}",
            MessageDeduplicationId=str(i),
        )
    got = wait_for(lambda: len(records(out)) >= 9 and records(out))
    for group in ("g0", "g1"):
        seq = [r["body"] for r in got if r["attributes"]["MessageGroupId"] == group]
        assert seq == sorted(seq, key=lambda b: int(b[1:]))
    assert {"SequenceNumber", "MessageGroupId", "MessageDeduplicationId"} <= set(
        got[0]["attributes"]
    )


def test_disabled_mapping_leaves_messages(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn = new_queue(sqs)
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out)
    uuid_ = mapping(FunctionName=fn, EventSourceArn=arn)
    lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Disabled")
    sqs.send_message(QueueUrl=url, MessageBody="left")
    # Nothing polls it: the test's own receive gets it, and the function never ran.
    assert receive(sqs, url)["Body"] == "left"
    assert records(out) == []


def test_kill_9_loses_no_message(
    lambdad_factory: Callable[..., LambdadServer], moto: str, sqs: Any, tmp_path: Path
) -> None:
    env = server_env(moto)
    first = lambdad_factory(data_dir=tmp_path / "data", env=env)
    lam = first.client("lambda")
    url, arn = new_queue(sqs, VisibilityTimeout="2")
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out, SLEEP="0.5")
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=5)
    sent = {f"m{i}" for i in range(40)}
    for start in range(0, 40, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)],
        )
    wait_for(lambda: records(out))
    first.kill()  # kill -9, with batches in flight
    assert {r["body"] for r in records(out)} != sent
    second = lambdad_factory(data_dir=tmp_path / "data", env=env)
    wait_for(lambda: {r["body"] for r in records(out)} == sent, timeout=30)
    wait_for(lambda: queue_empty(sqs, url))
    second.stop()


# -- Powertools' BatchProcessor, unchanged; S3 notifications through a queue -------------

POWERTOOLS_SQS = """
import os
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor, EventType, process_partial_response,
)

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record):
    with open(os.environ["OUT"], "a") as f:
        f.write(record.body + "\\n")
    if "bad" in record.body:
        raise ValueError(record.message_id)


def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
"""


def test_powertools_batch_processor_partial_failures(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn, dlq_url = queue_with_dead_letters(sqs, max_receives=1)
    out = tmp_path / "out.txt"
    name = active_function(
        lam, f"esm-pt-{uuid.uuid4().hex[:8]}", powertools_zip(POWERTOOLS_SQS),
        variables={"OUT": str(out)}, Timeout=20,
    )  # fmt: skip
    warming = {"Records": [{"messageId": "w", "body": "warm", "attributes": {}}]}
    lam.invoke(FunctionName=name, Payload=json.dumps(warming).encode())
    mapping(
        FunctionName=name, EventSourceArn=arn, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(["ok-1", "bad", "ok-2"])],
    )
    assert receive(sqs, dlq_url, timeout=20)["Body"] == "bad"
    assert sorted(out.read_text().split()) == ["bad", "ok-1", "ok-2", "warm"]


def test_s3_notifications_reach_the_function_through_a_queue(
    server: LambdadServer, moto: str, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    s3 = moto_client(moto, "s3")
    _, arn = new_queue(sqs)
    bucket = f"esm-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out)
    mapping(FunctionName=fn, EventSourceArn=arn)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")

    def object_created() -> list[dict[str, Any]]:
        bodies = [json.loads(r["body"]) for r in records(out)]
        return [e for b in bodies for e in b.get("Records", [])]

    event = wait_for(object_created)[0]
    assert event["eventSource"] == "aws:s3"
    assert event["eventName"].startswith("ObjectCreated:")
    assert event["s3"]["object"]["key"] == "report.csv"


# -- recursive loops ----------------------------------------------------------------------

LOOPER = """
import os
import boto3

sqs = boto3.client(
    "sqs", endpoint_url=os.environ["SQS_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id="testing", aws_secret_access_key="testing",
)


def handler(event, context):
    for r in event["Records"]:
        with open(os.environ["OUT"], "a") as f:
            f.write(r["body"] + "\\n")
        # Real SQS keeps the SDK's X-Amzn-Trace-Id header as AWSTraceHeader; moto does
        # not, so the function passes it on as that system attribute itself.
        sqs.send_message(
            QueueUrl=os.environ["QUEUE_URL"],
            MessageBody=r["body"],
            MessageSystemAttributes={"AWSTraceHeader": {
                "DataType": "String", "StringValue": os.environ["_X_AMZN_TRACE_ID"],
            }},
        )
"""


@pytest.mark.parametrize("loop", ["Terminate", "Allow"])
def test_recursive_loops(
    server: LambdadServer,
    moto: str,
    sqs: Any,
    mapping: Callable[..., str],
    tmp_path: Path,
    loop: str,
) -> None:
    lam = server.client("lambda")
    url, arn, dlq_url = queue_with_dead_letters(sqs, max_receives=1)
    out = tmp_path / "turns.txt"
    variables = {"OUT": str(out), "SQS_ENDPOINT": moto, "QUEUE_URL": url}
    name = active_function(
        lam, f"esm-loop-{uuid.uuid4().hex[:8]}", LOOPER, variables=variables, Timeout=20
    )
    if loop == "Allow":
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    uuid_ = mapping(FunctionName=name, EventSourceArn=arn)
    sqs.send_message(QueueUrl=url, MessageBody="again")

    def turns() -> int:
        return len(out.read_text().split()) if out.exists() else 0

    if loop == "Allow":
        wait_for(lambda: turns() > 20)  # nothing stops it
        lam.delete_event_source_mapping(UUID=uuid_)
        return
    # Sixteen turns, then the message is no longer handed to the function: it comes back
    # after its visibility timeout and the redrive policy moves it to the DLQ.
    assert receive(sqs, dlq_url, timeout=30)["Body"] == "again"
    assert turns() == 16


def test_a_missing_queue_is_reported_not_fatal(
    server: LambdadServer, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    fn = new_function(lam, tmp_path / "out.jsonl")
    uuid_ = mapping(FunctionName=fn, EventSourceArn=queue_arn("esm-no-such-queue"))
    got = wait_for(
        lambda: (m := lam.get_event_source_mapping(UUID=uuid_)).get("LastProcessingResult") and m
    )
    assert got["LastProcessingResult"].startswith("PROBLEM: ")
    assert "NonExistentQueue" in got["LastProcessingResult"]
    assert got["State"] == "Enabled"


def test_throttles_back_off_without_losing_or_repeating(
    server: LambdadServer, sqs: Any, mapping: Callable[..., str], tmp_path: Path
) -> None:
    lam = server.client("lambda")
    url, arn = new_queue(sqs)
    out = tmp_path / "out.jsonl"
    fn = new_function(lam, out, SLEEP="0.1")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=2)
    sent = [f"m{i}" for i in range(20)]
    for start in range(0, 20, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(sent[start : start + 10])
            ],
        )
    # Five batches at once against a concurrency of one: four are throttled each time,
    # wait and run later, while their messages stay invisible.
    wait_for(lambda: queue_empty(sqs, url), timeout=30)
    assert sorted(r["body"] for r in records(out)) == sorted(sent)
