"""SQS event source mapping: messages a no-op function consumes per second through a
mapping (batch 10), beside a plain receive/delete loop draining the same moto server in
the same run; and the idle latency from ``SendMessage`` to the handler's start.

Throughput: a queue is filled with N messages while its mapping is disabled, then the
mapping is enabled and the time until the queue is empty (nothing visible or in
flight) is measured. The baseline drains another queue of N messages with
``LOOPS`` threads each doing ReceiveMessage(10) + DeleteMessageBatch, the concurrency
the mapping starts with. Latency: one message at a time into an idle queue, its body
the time it was sent; the function writes the time it started, read back afterwards.

    .venv/bin/python bench/sqs_mapping.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    MOTO_ACCOUNT,
    REGION,
    Server,
    moto_client,
    moto_env,
    moto_server,
    print_mapping,
    summary,
    write_json,
)

LOOPS = 5
LATENCY_SOURCE = """
import os, time

def handler(event, context):
    started = time.time()
    with open(os.environ["OUT"], "a") as f:
        for r in event["Records"]:
            f.write(f"{r['body']} {started}\\n")
"""


def fill(sqs: Any, url: str, n: int) -> None:
    for start in range(0, n, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)],
        )


def empty(sqs: Any, url: str) -> bool:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(v == "0" for v in attrs.values())


def drain_plain(sqs: Any, url: str, n: int) -> float:
    """Messages per second of LOOPS receive/delete loops draining ``n`` messages."""
    done = 0
    lock = threading.Lock()

    def loop() -> None:
        nonlocal done
        while True:
            with lock:
                if done >= n:
                    return
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = got.get("Messages") or []
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
            with lock:
                done += len(messages)

    threads = [threading.Thread(target=loop) for _ in range(LOOPS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.perf_counter() - start)


def drain_mapping(server: Server, sqs: Any, url: str, uuid: str, n: int) -> float:
    server.client.update_event_source_mapping(UUID=uuid, Enabled=True)
    start = time.perf_counter()
    while not empty(sqs, url):
        time.sleep(0.05)  # each look is a request to the same server
    elapsed = time.perf_counter() - start
    server.client.update_event_source_mapping(UUID=uuid, Enabled=False)
    return n / elapsed


def new_queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:{name}"


def latencies(server: Server, sqs: Any, out: Path, count: int) -> list[float]:
    url, arn = new_queue(sqs, "latency")
    server.create("latency", LATENCY_SOURCE, Environment={"Variables": {"OUT": str(out)}})
    server.client.create_event_source_mapping(FunctionName="latency", EventSourceArn=arn)
    warm = f"{time.time()}"
    sqs.send_message(QueueUrl=url, MessageBody=warm)  # the first one starts the environment
    for i in range(count + 1):
        while len(out.read_text().splitlines() if out.exists() else []) < i + 1:
            time.sleep(0.005)
        if i < count:
            time.sleep(0.3)  # idle: every poller waits in its long poll
            sqs.send_message(QueueUrl=url, MessageBody=f"{time.time()}")
    rows = [line.split() for line in out.read_text().splitlines()[1:]]
    return [(float(started) - float(sent)) * 1000 for sent, started in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = 300 if args.quick else 1000
    rounds = 1 if args.quick else 3
    samples = 5 if args.quick else 30
    work = Path(tempfile.mkdtemp(prefix="lambdad-sqs-bench-"))
    with moto_server(work / "moto.log") as endpoint:
        sqs = moto_client(endpoint, "sqs", connections=32)
        server = Server(env=moto_env(endpoint, "SQS")).start()
        try:
            server.create("noop")
            url, arn = new_queue(sqs, "mapped")
            uuid = server.client.create_event_source_mapping(
                FunctionName="noop", EventSourceArn=arn, BatchSize=10, Enabled=False
            )["UUID"]
            plain_url, _ = new_queue(sqs, "plain")
            mapped: list[float] = []
            plain: list[float] = []
            fill(sqs, url, 100)  # warm up: the function's environments start
            drain_mapping(server, sqs, url, uuid, 100)
            for _ in range(rounds):
                fill(sqs, plain_url, n)
                plain.append(drain_plain(sqs, plain_url, n))
                fill(sqs, url, n)
                mapped.append(drain_mapping(server, sqs, url, uuid, n))
            lat = summary(latencies(server, sqs, work / "latency.txt", samples))
        finally:
            server.stop()
    mapped_rate, plain_rate = statistics.median(mapped), statistics.median(plain)
    result = {
        "mapping_messages_per_s": mapped_rate,
        "plain_loop_messages_per_s": plain_rate,
        "ratio": mapped_rate / plain_rate,
        "idle_latency_ms": lat,
        "messages_per_round": n,
        "rounds": rounds,
        "plain_loops": LOOPS,
        "quick": args.quick,
        "cpus": os.cpu_count(),
    }
    print_mapping(
        f"SQS mapping{' (quick)' if args.quick else ''}, {os.cpu_count()} CPUs, moto_server, "
        f"{n} messages per round, median of {rounds} rounds",
        ("mapping (batch 10) -> no-op function", mapped_rate),
        (f"baseline: {LOOPS} receive/delete loops, same server", plain_rate),
        lat,
    )
    write_json("sqs_mapping", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
