"""Amazon MQ (RabbitMQ) event source mapping: messages a function consumes per second
through a mapping (batch 100), beside a plain pika consumer draining the same broker in
the same run; and the idle latency from a publish to the handler's start.

Debian's ``rabbitmq-server`` is started for the run (as the e2e tests start it); the
server runs with ``LAMBDAD_ESM_MQ_DEFAULT_WINDOW=0`` (no batching window: AWS's
500 ms default would be most of the latency). Throughput: a queue is filled with N
messages while its mapping is disabled, then the mapping is enabled and the time until
the function has seen all N is measured (the function only counts them). The baseline
consumes another queue of N messages with prefetch 100, acknowledging every 100th
delivery (``multiple``). Latency: one message at a time into an idle queue, its body
the time it was published; the function writes the time it started.

    .venv/bin/python bench/rmq_mapping.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ACCOUNT, Server, print_mapping, summary, write_json

from e2e.rabbitmq_side import Broker, missing, rabbitmq_server

BATCH = 100
BROKER = f"arn:aws:mq:us-east-1:{ACCOUNT}:broker:bench:b-0000"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:bench-AbCdEf"
COUNTER = """
import os, time

def handler(event, context):
    started = time.time()
    with open(os.environ["OUT"], "a") as f:
        for ms in event["rmqMessagesByQueue"].values():
            if os.environ.get("TIMES"):
                import base64
                for m in ms:
                    f.write(f"{base64.b64decode(m['data']).decode()} {started}\\n")
            else:
                f.write(f"{len(ms)}\\n")
"""


def channel(broker: Broker) -> Any:
    import pika

    params = pika.ConnectionParameters(
        "127.0.0.1", broker.port, credentials=pika.PlainCredentials("guest", "guest")
    )
    return pika.BlockingConnection(params).channel()


def fill(ch: Any, queue: str, n: int) -> None:
    for i in range(n):
        ch.basic_publish("", queue, f"m{i}".encode())
    while ch.queue_declare(queue, passive=True).method.message_count < n:
        time.sleep(0.01)


def counted(out: Path) -> int:
    return sum(int(x) for x in out.read_text().split()) if out.exists() else 0


def drain_plain(ch: Any, queue: str, n: int) -> float:
    ch.basic_qos(prefetch_count=BATCH)
    start = time.perf_counter()
    for got, (method, _, _) in enumerate(ch.consume(queue), 1):
        if got % BATCH == 0 or got == n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if got == n:
            break
    ch.cancel()
    return n / (time.perf_counter() - start)


def drain_mapping(server: Server, uuid: str, out: Path, n: int) -> float:
    before = counted(out)
    server.client.update_event_source_mapping(UUID=uuid, Enabled=True)
    start = time.perf_counter()
    while counted(out) < before + n:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    server.client.update_event_source_mapping(UUID=uuid, Enabled=False)
    while server.client.get_event_source_mapping(UUID=uuid)["State"] != "Disabled":
        time.sleep(0.01)
    return n / elapsed


def mapping(server: Server, function: str, queue: str, enabled: bool) -> str:
    return str(
        server.client.create_event_source_mapping(
            FunctionName=function,
            EventSourceArn=BROKER,
            Queues=[queue],
            SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": SECRET}],
            BatchSize=BATCH,
            Enabled=enabled,
        )["UUID"]
    )


def latencies(server: Server, ch: Any, out: Path, count: int) -> list[float]:
    ch.queue_declare("latency")
    env = {"Variables": {"OUT": str(out), "TIMES": "1"}}
    server.create("latency", COUNTER, Environment=env)
    mapping(server, "latency", "latency", True)
    ch.basic_publish("", "latency", f"{time.time()}".encode())  # starts the environment
    for i in range(count + 1):
        while len(out.read_text().splitlines() if out.exists() else []) < i + 1:
            time.sleep(0.002)
        if i < count:
            time.sleep(0.2)
            ch.basic_publish("", "latency", f"{time.time()}".encode())
    rows = [line.split() for line in out.read_text().splitlines()[1:]]
    return [(float(started) - float(sent)) * 1000 for sent, started in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if (why := missing()) is not None:
        print(f"  skipped: {why}")
        return 0
    n = 1000 if args.quick else 10_000
    rounds = 1 if args.quick else 3
    samples = 5 if args.quick else 30
    work = Path(tempfile.mkdtemp(prefix="lambdad-rmq-bench-"))
    (work / "secrets.json").write_text(
        json.dumps({SECRET: {"username": "guest", "password": "guest"}})
    )
    with rabbitmq_server(work) as broker:
        server = Server(
            env={
                "LAMBDAD_SANDBOX": "process",
                "LAMBDAD_MQ_BROKERS": f"bench={broker.url}",
                "LAMBDAD_MQ_SECRETS_FILE": str(work / "secrets.json"),
                "LAMBDAD_ESM_MQ_DEFAULT_WINDOW": "0",
            }
        ).start()
        try:
            ch = channel(broker)
            for name in ("mapped", "plain"):
                ch.queue_declare(name)
            out = work / "counted.txt"
            server.create("counter", COUNTER, Environment={"Variables": {"OUT": str(out)}})
            uuid = mapping(server, "counter", "mapped", False)
            fill(ch, "mapped", BATCH)  # warm up: the function's environment starts
            drain_mapping(server, uuid, out, BATCH)
            mapped: list[float] = []
            plain: list[float] = []
            for _ in range(rounds):
                fill(ch, "plain", n)
                plain.append(drain_plain(ch, "plain", n))
                fill(ch, "mapped", n)
                mapped.append(drain_mapping(server, uuid, out, n))
            lat = summary(latencies(server, ch, work / "latency.txt", samples))
        finally:
            server.stop()
    mapped_rate, plain_rate = statistics.median(mapped), statistics.median(plain)
    result = {
        "mapping_messages_per_s": mapped_rate,
        "plain_consumer_messages_per_s": plain_rate,
        "ratio": mapped_rate / plain_rate,
        "idle_latency_ms": lat,
        "messages_per_round": n,
        "rounds": rounds,
        "quick": args.quick,
        "cpus": os.cpu_count(),
    }
    print_mapping(
        f"RabbitMQ mapping{' (quick)' if args.quick else ''}, {os.cpu_count()} CPUs, "
        f"{n} messages per round, median of {rounds} rounds",
        ("mapping (batch 100) -> counting function", mapped_rate),
        (f"baseline: pika consumer, prefetch {BATCH}, same broker", plain_rate),
        lat,
    )
    write_json("rmq_mapping", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
