"""EventBridge PutEvents: entries accepted durably per second, beside the async queue's
own accept rate measured on the same server in the same run.

Ten rules on the default bus, each matching one ``source``; every PutEvents request
carries ten entries, one for each rule, so each entry is one match and one durable
async invoke (PutEvents answers only once every match is committed). The baseline is
``Invoke`` with ``InvocationType=Event``: one durable accept per request. Both are
sent as one signed request replayed over keep-alive connections (a SigV4 signature
stays valid 15 minutes), in interleaved rounds; the figures are the rounds' medians.

    .venv/bin/python bench/eventbridge.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AKID, REGION, SECRET, Server, write_json

RULES = 10
CONNECTIONS = 32
FUNCTION = "eb-bench"


def signed_request(
    endpoint: str, service: str, path: str, headers: dict[str, str], body: bytes
) -> bytes:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(AKID, SECRET), service, REGION).add_auth(req)
    host = endpoint.split("//", 1)[1]
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "content-length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def put_events_request(endpoint: str) -> bytes:
    entries = [
        {"Source": f"bench.s{i}", "DetailType": "Bench", "Detail": json.dumps({"n": i})}
        for i in range(RULES)
    ]
    headers = {
        "X-Amz-Target": "AWSEvents.PutEvents",
        "Content-Type": "application/x-amz-json-1.1",
    }
    return signed_request(
        endpoint, "events", "/", headers, json.dumps({"Entries": entries}).encode()
    )


def invoke_event_request(endpoint: str) -> bytes:
    headers = {"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"}
    path = f"/2015-03-31/functions/{FUNCTION}/invocations"
    return signed_request(endpoint, "lambda", path, headers, b'{"n": 0}')


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""


async def blast(port: int, request: bytes, n: int, expect: int, check: Any = None) -> float:
    """Send ``n`` requests over ``CONNECTIONS`` keep-alive connections; requests/s."""
    remaining = n

    async def connection() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                status, body = await _response(reader)
                if status != expect or (check is not None and not check(body)):
                    raise RuntimeError(f"answered {status}: {body[:300]!r}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return n / (time.perf_counter() - start)


def all_accepted(body: bytes) -> bool:
    answer = json.loads(body)
    return answer["FailedEntryCount"] == 0 and len(answer["Entries"]) == RULES


def set_up(server: Server) -> None:
    import boto3

    server.create(FUNCTION)
    events = boto3.client(
        "events",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
    )
    for i in range(RULES):
        arn = events.put_rule(
            Name=f"rule-{i}", EventPattern=json.dumps({"source": [f"bench.s{i}"]})
        )["RuleArn"]
        server.client.add_permission(
            FunctionName=FUNCTION,
            StatementId=f"events-{i}",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=arn,
        )
        events.put_targets(
            Rule=f"rule-{i}",
            Targets=[
                {
                    "Id": "t",
                    "Arn": server.client.get_function(FunctionName=FUNCTION)["Configuration"][
                        "FunctionArn"
                    ],
                }
            ],
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    quick = args.quick
    requests = 100 if quick else 1000  # PutEvents requests per round (x10 entries)
    rounds = 2 if quick else 5

    server = Server(env={"LAMBDAD_SANDBOX": "process"}).start()
    try:
        set_up(server)
        put = put_events_request(server.endpoint)
        invoke = invoke_event_request(server.endpoint)
        asyncio.run(blast(server.port, put, 50, 200, all_accepted))  # warm up
        asyncio.run(blast(server.port, invoke, 200, 202))
        entries: list[float] = []
        invokes: list[float] = []
        for _ in range(rounds):
            invokes.append(asyncio.run(blast(server.port, invoke, requests * RULES, 202)))
            entries.append(
                RULES * asyncio.run(blast(server.port, put, requests, 200, all_accepted))
            )
    finally:
        server.stop()

    entries_per_s, invokes_per_s = statistics.median(entries), statistics.median(invokes)
    result = {
        "put_events_entries_per_s": entries_per_s,
        "put_events_requests_per_s": entries_per_s / RULES,
        "async_invoke_accepts_per_s": invokes_per_s,
        "ratio": entries_per_s / invokes_per_s,
        "rounds": rounds,
        "entries_per_round": requests * RULES,
        "connections": CONNECTIONS,
        "quick": quick,
        "cpus": os.cpu_count(),
    }
    print(f"EventBridge PutEvents{' (quick)' if quick else ''}, {os.cpu_count()} CPUs, "
          f"{CONNECTIONS} connections, median of {rounds} rounds")  # fmt: skip
    print(f"  {'PutEvents, 10 entries each matching one rule':52} {entries_per_s:9.0f} entries/s"
          f"  ({entries_per_s / RULES:.0f} requests/s)")  # fmt: skip
    print(f"  {'baseline: Invoke Event -> 202 (the async queue)':52} {invokes_per_s:9.0f} events/s")
    print(f"  entries / async accepts: {entries_per_s / invokes_per_s:.2f}x")
    write_json("eventbridge", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
