"""Kinesis and DynamoDB Streams mappings as users run them: boto3 against ``lambdad
serve`` and a ``moto_server`` holding the streams, a zipped Python function that
appends each event it gets to a file (one ``O_APPEND`` write a line).

Checked: records reach the function in AWS's shapes (Kinesis and DynamoDB);
``ReportBatchItemFailures`` retries from the failed record; a poison record ends,
after ``MaximumRetryAttempts``, in the SQS on-failure destination as AWS's invocation
record; a ``kill -9`` mid-stream and a restart resume from the checkpoint with no
record skipped and no reordering within a partition key. Powertools for AWS
Lambda's ``BatchProcessor`` runs unchanged and its partial batch responses are
honoured.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.aws_side import MOTO_REGION, module_server, moto_client, queue_arn, receive
from e2e.helpers import ROLE, LambdadServer, active_function, powertools_zip
from e2e.stream_support import make_stream, make_table, put, server_env, wait_for

HANDLER = """
import base64, json, os, time

def handler(event, context):
    out = os.environ["OUT"]
    line = json.dumps({"at": time.time(), "event": event}) + "\\n"
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    failures = []
    for r in event.get("Records", []):
        if "kinesis" not in r:
            continue
        data = base64.b64decode(r["kinesis"]["data"]).decode()
        seq = r["kinesis"]["sequenceNumber"]
        if data == "poison":
            raise ValueError("poison record " + seq)
        marker = out + "." + seq
        if data == "fail-once" and not os.path.exists(marker):
            open(marker, "w").close()
            failures.append({"itemIdentifier": seq})
    time.sleep(float(os.environ.get("SLEEP", "0")))
    return {"batchItemFailures": failures}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[LambdadServer]:
    with module_server(tmp_path_factory, "streams", server_env(moto)) as srv:
        yield srv


def make_function(lam: Any, name: str, out: Path, **env: str) -> str:
    return active_function(lam, name, HANDLER, variables={"OUT": str(out), **env}, Timeout=10)


def events(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def records(out: Path) -> list[dict[str, Any]]:
    return [r for line in events(out) for r in line["event"]["Records"]]


def data(record: dict[str, Any]) -> str:
    return base64.b64decode(record["kinesis"]["data"]).decode()


def test_kinesis_records_reach_the_function_and_partial_failures_retry(
    server: LambdadServer, moto: str, tmp_path: Path
) -> None:
    lam = server.client("lambda")
    kinesis = moto_client(moto, "kinesis")
    stream_arn = make_stream(kinesis, "esm-shapes")
    sent = [put(kinesis, "esm-shapes", d) for d in ("r0", "r1", "fail-once", "r3", "r4")]
    out = tmp_path / "events.jsonl"
    fn = make_function(lam, "esm-shapes", out)
    mapping = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        wait_for(lambda: len(events(out)) >= 2, "the retry of the failed record")
        first, second = (e["event"]["Records"] for e in events(out)[:2])
        assert [r["kinesis"]["sequenceNumber"] for r in first] == sent
        # Checkpointed before the failed record, retried from it.
        assert [r["kinesis"]["sequenceNumber"] for r in second] == sent[2:]
        record = first[0]
        assert set(record) == {
            "kinesis", "eventSource", "eventVersion", "eventID", "eventName",
            "invokeIdentityArn", "awsRegion", "eventSourceARN",
        }  # fmt: skip
        assert set(record["kinesis"]) == {
            "kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
            "approximateArrivalTimestamp",
        }  # fmt: skip
        assert data(record) == "r0"
        assert record["eventSource"] == "aws:kinesis"
        assert record["eventName"] == "aws:kinesis:record"
        assert record["eventVersion"] == "1.0"
        assert record["eventID"] == f"shardId-000000000000:{sent[0]}"
        assert record["eventSourceARN"] == stream_arn
        assert record["awsRegion"] == MOTO_REGION
        assert record["invokeIdentityArn"] == ROLE
        assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
        wait_for(
            lambda: (
                lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK"
            ),
            "LastProcessingResult OK",
        )
        cloudwatch = server.client("cloudwatch")

        def iterator_age() -> list[dict[str, Any]]:
            now = time.time()
            answer = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="IteratorAge",
                Dimensions=[{"Name": "FunctionName", "Value": fn}],
                StartTime=now - 600,
                EndTime=now + 60,
                Period=60,
                Statistics=["Maximum", "SampleCount"],
            )
            points: list[dict[str, Any]] = answer["Datapoints"]
            return points

        wait_for(lambda: bool(iterator_age()), "an IteratorAge datapoint")
        assert iterator_age()[0]["Unit"] == "Milliseconds"
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_poison_record_ends_in_the_sqs_on_failure_destination(
    server: LambdadServer, moto: str, tmp_path: Path
) -> None:
    lam = server.client("lambda")
    kinesis = moto_client(moto, "kinesis")
    sqs = moto_client(moto, "sqs")
    queue = sqs.create_queue(QueueName="esm-poison-failures")["QueueUrl"]
    stream_arn = make_stream(kinesis, "esm-poison")
    sent = [put(kinesis, "esm-poison", d) for d in ("a", "b", "poison", "c")]
    out = tmp_path / "events.jsonl"
    fn = make_function(lam, "esm-poison", out)
    mapping = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": queue_arn("esm-poison-failures")}},
    )
    try:
        doc = json.loads(receive(sqs, queue, timeout=20)["Body"])
        assert doc["version"] == "1.0"
        assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert doc["requestContext"]["functionArn"].endswith(":function:esm-poison")
        # 4 records, then 2, then the poison alone and its one retry.
        assert doc["requestContext"]["approximateInvokeCount"] == 4
        assert doc["responseContext"] == {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        }
        info = doc["KinesisBatchInfo"]
        assert info["shardId"] == "shardId-000000000000"
        assert info["startSequenceNumber"] == info["endSequenceNumber"] == sent[2]
        assert info["batchSize"] == 1
        assert info["streamArn"] == stream_arn
        assert info["approximateArrivalOfFirstRecord"].endswith("Z")
        # The shard moves on past the poison record.
        wait_for(lambda: "c" in [data(r) for r in records(out)], "the record after the poison")
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_dynamodb_stream_records_reach_the_function(
    server: LambdadServer, moto: str, tmp_path: Path
) -> None:
    lam = server.client("lambda")
    ddb = moto_client(moto, "dynamodb")
    stream_arn = make_table(ddb, "esm-items", "NEW_AND_OLD_IMAGES")
    out = tmp_path / "events.jsonl"
    fn = make_function(lam, "esm-items", out)
    mapping = lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
    )
    try:
        ddb.put_item(TableName="esm-items", Item={"Id": {"N": "101"}, "Message": {"S": "New"}})
        ddb.put_item(TableName="esm-items", Item={"Id": {"N": "101"}, "Message": {"S": "Changed"}})
        ddb.delete_item(TableName="esm-items", Key={"Id": {"N": "101"}})
        wait_for(lambda: len(records(out)) >= 3, "three stream records")
        got = records(out)
        assert [r["eventName"] for r in got] == ["INSERT", "MODIFY", "REMOVE"]
        for r in got:
            assert r["eventSource"] == "aws:dynamodb"
            assert r["eventSourceARN"] == stream_arn
            assert r["awsRegion"] == MOTO_REGION
            assert r["dynamodb"]["Keys"] == {"Id": {"N": "101"}}
            assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
            assert isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int)
        assert got[0]["dynamodb"]["NewImage"]["Message"] == {"S": "New"}
        assert "OldImage" not in got[0]["dynamodb"]
        assert got[1]["dynamodb"]["OldImage"]["Message"] == {"S": "New"}
        assert got[1]["dynamodb"]["NewImage"]["Message"] == {"S": "Changed"}
        assert got[2]["dynamodb"]["OldImage"]["Message"] == {"S": "Changed"}
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
        assert seqs == sorted(seqs)
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


WINDOW_HANDLER = """
import json, os

def handler(event, context):
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps({"at": 0, "event": event}) + "\\n").encode())
    os.close(fd)
    state = dict(event["state"])
    state["n"] = state.get("n", 0) + len(event["Records"])
    return {"state": state}
"""


def test_tumbling_window_carries_state_to_a_final_invoke(
    server: LambdadServer, moto: str, tmp_path: Path
) -> None:
    lam = server.client("lambda")
    kinesis = moto_client(moto, "kinesis")
    stream_arn = make_stream(kinesis, "esm-window")
    for i in range(7):
        put(kinesis, "esm-window", f"w{i}")
    out = tmp_path / "events.jsonl"
    active_function(lam, "esm-window", WINDOW_HANDLER, variables={"OUT": str(out)})
    mapping = lam.create_event_source_mapping(
        FunctionName="esm-window",
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=3,
        TumblingWindowInSeconds=1,
    )

    def finals() -> list[dict[str, Any]]:
        return [e["event"] for e in events(out) if e["event"]["isFinalInvokeForWindow"]]

    try:
        wait_for(lambda: sum(f["state"].get("n", 0) for f in finals()) == 7, "final invokes")
        for final in finals():
            assert final["Records"] == []
            assert final["shardId"] == "shardId-000000000000"
            assert final["eventSourceARN"] == stream_arn
            assert final["isWindowTerminatedEarly"] is False
            assert final["window"]["start"] < final["window"]["end"]
        batches = [e["event"] for e in events(out) if not e["event"]["isFinalInvokeForWindow"]]
        assert all(len(b["Records"]) <= 3 for b in batches)
        assert [data(r) for b in batches for r in b["Records"]] == [f"w{i}" for i in range(7)]
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kill_9_resumes_from_the_checkpoint_without_gap_or_reorder(
    lambdad_factory: Callable[..., LambdadServer], moto: str, tmp_path: Path
) -> None:
    kinesis = moto_client(moto, "kinesis")
    stream_arn = make_stream(kinesis, "esm-crash", shards=2)
    sent: dict[str, list[str]] = {}
    for i in range(60):
        key = f"key-{i % 6}"
        sent.setdefault(key, []).append(put(kinesis, "esm-crash", f"{key}:{i}", key))
    out = tmp_path / "events.jsonl"
    data_dir = tmp_path / "data"
    first = lambdad_factory(data_dir=data_dir, env=server_env(moto))
    lam = first.client("lambda")
    make_function(lam, "esm-crash", out, SLEEP="0.05")
    lam.create_event_source_mapping(
        FunctionName="esm-crash",
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=5,
    )
    wait_for(lambda: len(records(out)) >= 15, "some records processed before the kill")
    assert first.process is not None
    first.process.kill()
    first.process.wait()
    killed_at = time.time()
    assert len(records(out)) < 60, "everything was processed before the kill"

    lambdad_factory(data_dir=data_dir, env=server_env(moto))

    def seen() -> set[str]:
        return {data(r) for r in records(out)}

    wait_for(lambda: len(seen()) == 60, "every record processed after the restart", 40)
    for phase in (lambda at: at < killed_at, lambda at: at > killed_at):
        by_key: dict[str, list[str]] = {}
        for line in events(out):
            if phase(line["at"]):
                for r in line["event"]["Records"]:
                    by_key.setdefault(r["kinesis"]["partitionKey"], []).append(
                        r["kinesis"]["sequenceNumber"]
                    )
        for key, seqs in by_key.items():
            # In each server's life a key's records come in order, with no hole.
            start = sent[key].index(seqs[0])
            assert seqs == sent[key][start : start + len(seqs)], key


# -- Powertools' BatchProcessor, unchanged --------------------------------------------

POWERTOOLS_HANDLERS = """
import os
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor, EventType, process_partial_response,
)

kinesis = BatchProcessor(event_type=EventType.KinesisDataStreams)
dynamodb = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _seen(text):
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (text + "\\n").encode())
    os.close(fd)


def _fail_once(text, key):
    marker = os.environ["OUT"] + "." + key
    if text.startswith("fail-once") and not os.path.exists(marker):
        open(marker, "w").close()
        raise ValueError("failing " + key)


def kinesis_record(record):
    text = record.kinesis.data_as_text()
    _seen(text)
    _fail_once(text, record.kinesis.sequence_number)


def dynamodb_record(record):
    text = record.dynamodb.new_image["Message"]
    _seen(text)
    _fail_once(text, record.dynamodb.sequence_number)


def kinesis_handler(event, context):
    return process_partial_response(
        event=event, record_handler=kinesis_record, processor=kinesis, context=context
    )


def dynamodb_handler(event, context):
    return process_partial_response(
        event=event, record_handler=dynamodb_record, processor=dynamodb, context=context
    )
"""


@pytest.fixture(scope="module")
def powertools_code() -> bytes:
    return powertools_zip(POWERTOOLS_HANDLERS)


def powertools_function(lam: Any, name: str, handler: str, code: bytes, out: Path) -> str:
    return active_function(
        lam, name, code, Handler=f"app.{handler}", variables={"OUT": str(out)}, Timeout=20
    )


def seen(out: Path) -> list[str]:
    return out.read_text().split() if out.exists() else []


def test_kinesis_batch_processor_partial_failures(
    server: LambdadServer, moto: str, powertools_code: bytes, tmp_path: Path
) -> None:
    lam = server.client("lambda")
    kinesis = moto_client(moto, "kinesis")
    arn = make_stream(kinesis, "powertools-kinesis")
    for text in ("r0", "r1", "fail-once", "r3"):
        put(kinesis, "powertools-kinesis", text)
    out = tmp_path / "seen"
    fn = powertools_function(lam, "pt-kinesis", "kinesis_handler", powertools_code, out)
    mapping = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        wait_for(lambda: len(seen(out)) >= 6, "the retry from the failed record", 30)
        # Powertools processes the whole batch and reports the failed record; Lambda
        # retries from it (the records after it run again).
        assert seen(out) == ["r0", "r1", "fail-once", "r3", "fail-once", "r3"]
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_dynamodb_batch_processor_partial_failures(
    server: LambdadServer, moto: str, powertools_code: bytes, tmp_path: Path
) -> None:
    lam = server.client("lambda")
    ddb = moto_client(moto, "dynamodb")
    stream_arn = make_table(ddb, "powertools-items")
    for i, text in enumerate(("a", "fail-once", "c")):
        ddb.put_item(
            TableName="powertools-items", Item={"Id": {"N": str(i)}, "Message": {"S": text}}
        )
    out = tmp_path / "seen"
    fn = powertools_function(lam, "pt-dynamodb", "dynamodb_handler", powertools_code, out)
    mapping = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        wait_for(lambda: len(seen(out)) >= 5, "the retry from the failed record", 30)
        assert seen(out) == ["a", "fail-once", "c", "fail-once", "c"]
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
