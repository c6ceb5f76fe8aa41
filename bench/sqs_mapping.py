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
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ACCOUNT, REGION, Server, free_port, summary, write_json

LOOPS = 5
LATENCY_SOURCE = """
import os, time

def handler(event, context):
    started = time.time()
    with open(os.environ["OUT"], "a") as f:
        for r in event["Records"]:
            f.write(f"{r['body']} {started}\\n")
"""


@contextlib.contextmanager
def moto(log: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def sqs_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=32),
    )


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
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


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
    with moto(work / "moto.log") as endpoint:
        sqs = sqs_client(endpoint)
        server = Server(
            env={
                "LAMBDAD_SANDBOX": "process",
                "AWS_ENDPOINT_URL_SQS": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": ACCOUNT,
            }
        ).start()
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
    print(f"SQS mapping{' (quick)' if args.quick else ''}, {os.cpu_count()} CPUs, moto_server, "
          f"{n} messages per round, median of {rounds} rounds")  # fmt: skip
    print(f"  {'mapping (batch 10) -> no-op function':48} {mapped_rate:9.0f} messages/s")
    baseline = f"baseline: {LOOPS} receive/delete loops, same server"
    print(f"  {baseline:48} {plain_rate:9.0f} messages/s")
    print(f"  mapping / baseline: {mapped_rate / plain_rate:.2f}x")
    print(f"  idle SendMessage -> handler start: median {lat['median']:.1f} ms, "
          f"p99 {lat['p99']:.1f} ms (n={lat['n']})")  # fmt: skip
    write_json("sqs_mapping", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
