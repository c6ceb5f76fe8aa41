"""A Kinesis mapping's throughput: records per second a no-op function gets through an
event source mapping on a 4-shard stream, beside the rate a plain ``GetRecords`` loop
drains the same stream server, in the same run.

The stream lives in a ``moto_server`` started here. Both sides read every record from
``TRIM_HORIZON``: the baseline with one thread per shard calling ``GetRecords``
(``Limit`` 10,000) until the shard is drained; the mapping with ``BatchSize`` 100 and
``ParallelizationFactor`` 1, timed from ``CreateEventSourceMapping`` until the function
has counted every record (it appends each batch's size to a file: one write a batch).

    .venv/bin/python bench/kinesis_mapping.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server, moto_client, moto_env, moto_server, print_mapping, write_json

SHARDS = 4
BATCH = 100
FUNCTION = "kinesis-bench"
COUNTER = """
import os

def handler(event, context):
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"%d\\n" % len(event["Records"]))
    os.close(fd)
"""


def fill(kinesis: Any, name: str, count: int) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=SHARDS)
    for start in range(0, count, 500):
        entries = [
            {"Data": b'{"n": %d}' % i, "PartitionKey": f"key-{i % 64}"}
            for i in range(start, min(count, start + 500))
        ]
        kinesis.put_records(StreamName=name, Records=entries)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def raw_rate(endpoint: str, name: str, count: int) -> float:
    """Records/s of one GetRecords loop a shard, the shards read at once."""
    kinesis = moto_client(endpoint, "kinesis")
    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]]
    got = [0] * len(shards)

    def drain(index: int) -> None:
        client = moto_client(endpoint, "kinesis")
        iterator = client.get_shard_iterator(
            StreamName=name, ShardId=shards[index], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while True:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            got[index] += len(page["Records"])
            iterator = page["NextShardIterator"]
            if not page["Records"]:
                return

    start = time.perf_counter()
    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(shards))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert sum(got) == count, f"read {sum(got)} of {count}"
    return count / elapsed


def counted(out: Path) -> int:
    return sum(int(n) for n in out.read_text().split()) if out.exists() else 0


def mapping_rate(server: Server, stream_arn: str, out: Path, count: int) -> float:
    start = time.perf_counter()
    server.client.create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=BATCH,
    )
    deadline = time.monotonic() + 600
    while counted(out) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {counted(out)} of {count} records processed")
        time.sleep(0.01)
    return count / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    count = 2_000 if args.quick else 20_000
    work = Path(tempfile.mkdtemp(prefix="kinesis-bench-"))
    out = work / "counts"
    with moto_server(work / "moto.log") as endpoint:
        kinesis = moto_client(endpoint, "kinesis")
        raw_arn = fill(kinesis, "bench-raw", count)
        mapped_arn = fill(kinesis, "bench-mapped", count)
        assert raw_arn != mapped_arn
        raw = raw_rate(endpoint, "bench-raw", count)
        server = Server(env=moto_env(endpoint, "KINESIS")).start()
        try:
            server.create(FUNCTION, COUNTER, Environment={"Variables": {"OUT": str(out)}})
            mapped = mapping_rate(server, mapped_arn, out, count)
        finally:
            server.stop()
    result = {
        "records": count,
        "shards": SHARDS,
        "batch_size": BATCH,
        "mapping_records_per_s": mapped,
        "raw_get_records_per_s": raw,
        "ratio": mapped / raw,
        "quick": args.quick,
        "cpus": os.cpu_count(),
    }
    print_mapping(
        f"Kinesis mapping{' (quick)' if args.quick else ''}, {SHARDS} shards, {count} records, "
        f"BatchSize {BATCH}, {os.cpu_count()} CPUs",
        ("mapping -> no-op function (from CreateEventSourceMapping)", mapped),
        ("baseline: GetRecords loop, a thread per shard", raw),
        unit="records/s",
    )
    write_json("kinesis_mapping", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
