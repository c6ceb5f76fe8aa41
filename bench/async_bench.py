"""Asynchronous invocation: durable accepts per second, and latency from 202 to handler start.

Measured in one run, on the same disk (a temporary directory beside the data dir):

1. baseline: raw SQLite commits per second (WAL, ``synchronous=FULL``, one insert
   per commit): what one fsync'd transaction costs here;
2. the queue alone (``SqliteAsyncQueue.put``, many concurrent callers): its writer thread
   with group commit, beside the other design the issue allowed, one transaction
   per event run through a thread pool (``platform.offload``);
3. the real server: ``Invoke`` with ``InvocationType=Event`` over keep-alive
   connections (one signed request replayed: a SigV4 signature stays valid 15
   minutes), answered 202 only after the commit; then how fast the events run;
4. latency from the 202 reaching the client to the handler starting, events sent
   one at a time (median and p99; warm environment).

    .venv/bin/python bench/async_bench.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lambdad.store.queue import NewEvent  # noqa: E402
from lambdad.store.queue_sqlite import SqliteAsyncQueue  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, percentile  # noqa: E402

AKID, SECRET, ACCOUNT = "BENCHKEY", "benchsecret", "123456789012"
WARM_UP = 200  # untimed operations before each measured run
PAYLOAD = b'{"order": 1234, "items": ["a", "b", "c"], "note": "' + b"x" * 150 + b'"}'

HANDLER = """
import os, time

def handler(event, context):
    start = time.time()
    fd = os.open(event["out"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{context.aws_request_id} {start}\\n".encode())
    os.close(fd)
"""


# -- 1. baseline -----------------------------------------------------------------------------


def raw_sqlite_commits(directory: Path, n: int) -> float:
    path = directory / "baseline.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, payload BLOB)")
    start = time.perf_counter()
    for i in range(n + WARM_UP):
        if i == WARM_UP:  # the first commits also grow a fresh file
            start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (uuid.uuid4().hex, PAYLOAD))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


# -- 2. the queue alone ------------------------------------------------------------------------


def _event() -> NewEvent:
    return NewEvent(str(uuid.uuid4()), ACCOUNT, "us-east-1", "bench", None, PAYLOAD, time.time())


async def _drive(put: Any, n: int, concurrency: int) -> float:
    await _run(put, WARM_UP, concurrency)
    start = time.perf_counter()
    await _run(put, n, concurrency)
    return n / (time.perf_counter() - start)


async def _run(put: Any, n: int, concurrency: int) -> None:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await put(_event())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def queue_group_commit(directory: Path, n: int, concurrency: int) -> tuple[float, float]:
    """Events per second through ``SqliteAsyncQueue.put``, and events per commit (fsync)."""
    queue = SqliteAsyncQueue(directory / "group.db")
    queue.open()
    try:
        rate = asyncio.run(_drive(queue.put, n, concurrency))
        per_commit = (n + WARM_UP) / max(queue.commits, 1)
    finally:
        queue.close()
    return rate, per_commit


def queue_offload(directory: Path, n: int, concurrency: int) -> float:
    """The alternative: each event its own transaction, run on a 4-thread pool."""
    conn = sqlite3.connect(directory / "offload.db", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (id TEXT PRIMARY KEY, payload BLOB, received_at REAL)")
    conn.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER)")
    lock = threading.Lock()
    executor = ThreadPoolExecutor(max_workers=4)

    def insert(event: NewEvent) -> None:
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?)", (event.id, event.payload, event.received_at)
            )
            conn.execute(
                "INSERT INTO counters VALUES ('received', 1) ON CONFLICT (name) DO UPDATE SET "
                "value = value + 1"
            )
            conn.execute("COMMIT")

    async def put(event: NewEvent) -> None:
        await asyncio.get_running_loop().run_in_executor(executor, insert, event)

    try:
        return asyncio.run(_drive(put, n, concurrency))
    finally:
        executor.shutdown()
        conn.close()


# -- 3 and 4. the server -------------------------------------------------------------------------


class Server:
    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            LAMBDAD_CREDENTIALS=f"{AKID}:{SECRET}:{ACCOUNT}",
            LAMBDAD_SANDBOX="process",
        )
        self.log = (data.parent / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "lambdad"), "serve", "--port", str(self.port),
             "--data-dir", str(data)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "lambda",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=AKID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def wait_ready(self) -> None:
        client = self.client()
        deadline = time.time() + 30
        while True:
            try:
                client.get_account_settings()
                return
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def signed_invoke_event(endpoint: str, name: str, body: bytes) -> bytes:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = f"/2015-03-31/functions/{name}/invocations"
    headers = {"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"}
    req = AWSRequest(method="POST", url=endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(AKID, SECRET), "lambda", "us-east-1").add_auth(req)
    host = endpoint.split("//", 1)[1]
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, request_id = 0, ""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.lower() == b"content-length":
            length = int(value)
        elif key.lower() == b"x-amzn-requestid":
            request_id = value.strip().decode()
    if length:
        await reader.readexactly(length)
    return status, request_id


async def _blast(port: int, request: bytes, n: int, connections: int) -> tuple[float, list[str]]:
    """Send ``n`` requests over ``connections`` keep-alive connections; (rate, request ids)."""
    remaining = n
    ids: list[str] = []

    async def connection() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                status, request_id = await _read_response(reader)
                if status != 202:
                    raise RuntimeError(f"Invoke answered {status}")
                ids.append(request_id)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return n / (time.perf_counter() - start), ids


async def _paced(port: int, request: bytes, n: int, gap: float) -> dict[str, float]:
    """One request at a time; when each 202 arrived (epoch seconds) by request id."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    answered: dict[str, float] = {}
    try:
        for _ in range(n):
            writer.write(request)
            status, request_id = await _read_response(reader)
            answered[request_id] = time.time()
            if status != 202:
                raise RuntimeError(f"Invoke answered {status}")
            await asyncio.sleep(gap)
    finally:
        writer.close()
    return answered


def handler_starts(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        request_id, _, start = line.partition(" ")
        out[request_id] = float(start)
    return out


def wait_for(path: Path, ids: set[str], timeout: float) -> dict[str, float]:
    deadline = time.time() + timeout
    while True:
        seen = handler_starts(path)
        if ids <= seen.keys():
            return seen
        if time.time() > deadline:
            raise RuntimeError(f"{len(ids - seen.keys())} events did not run within {timeout} s")
        time.sleep(0.01)


def server_figures(work: Path, events: int, connections: int, paced: int) -> dict[str, Any]:
    server = Server(work / "data")
    try:
        server.wait_ready()
        client = server.client()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", HANDLER)
        client.create_function(
            FunctionName="bench",
            Runtime="python3.11",
            Role=f"arn:aws:iam::{ACCOUNT}:role/r",
            Handler="app.handler",
            Code={"ZipFile": buf.getvalue()},
        )
        out = work / "starts.txt"
        body = json.dumps({"out": str(out), "pad": "x" * 150}).encode()
        request = signed_invoke_event(server.endpoint, "bench", body)

        # Warm up: start the environments the throughput run will use.
        _, warm = asyncio.run(_blast(server.port, request, 64, 16))
        wait_for(out, set(warm), 30)

        start = time.perf_counter()
        accepted, ids = asyncio.run(_blast(server.port, request, events, connections))
        wait_for(out, set(ids), 120)
        processed = events / (time.perf_counter() - start)

        answered = asyncio.run(_paced(server.port, request, paced, 0.01))
        starts = wait_for(out, set(answered), 30)
        latencies = [(starts[i] - t) * 1000 for i, t in answered.items()]
    finally:
        server.stop()
    return {
        "accepted_per_s": accepted,
        "processed_per_s": processed,
        "latency_median_ms": statistics.median(latencies),
        "latency_p99_ms": percentile(latencies, 99),
        "latency_n": len(latencies),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "async.json"))
    ap.add_argument("--dir", default=str(ROOT), help="where the temporary databases go")
    args = ap.parse_args()
    quick = args.quick
    commits = 300 if quick else 3000
    queued = 1000 if quick else 20000
    events = 500 if quick else 5000
    paced = 50 if quick else 500
    concurrency = 64

    work = Path(tempfile.mkdtemp(prefix=".async-bench-", dir=args.dir))
    try:
        # Interleaved rounds, medians: fsync latency on a shared disk drifts (0.2-3 ms here).
        samples: dict[str, list[float]] = {"raw": [], "group": [], "batch": [], "offload": []}
        for r in range(3 if quick else 5):
            directory = work / f"round{r}"
            directory.mkdir()
            samples["raw"].append(raw_sqlite_commits(directory, commits))
            rate, per_commit = queue_group_commit(directory, queued, concurrency)
            samples["group"].append(rate)
            samples["batch"].append(per_commit)
            samples["offload"].append(queue_offload(directory, queued, concurrency))
        baseline, group, per_commit, offload = (
            statistics.median(samples[k]) for k in ("raw", "group", "batch", "offload")
        )
        served = server_figures(work, events, 32, paced)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "baseline_sqlite_commits_per_s": baseline,
        "queue_group_commit_per_s": group,
        "queue_group_commit_events_per_fsync": per_commit,
        "queue_offload_per_s": offload,
        **{f"server_{k}": v for k, v in served.items()},
        "quick": quick,
        "cpus": os.cpu_count(),
    }
    mode = " (quick)" if quick else ""
    print(f"async invocation{mode}, {os.cpu_count()} CPUs, disk of {args.dir}")
    rows = [
        ("baseline: raw SQLite commits (WAL, synchronous=FULL)", f"{baseline:9.0f} commits/s"),
        (f"queue: SqliteAsyncQueue.put, group commit, {concurrency} callers",
         f"{group:9.0f} events/s  ({per_commit:.1f} events per fsync)"),
        (f"queue: one commit per event via offload pool, {concurrency} callers",
         f"{offload:9.0f} events/s"),
        ("server: Invoke Event -> 202 (durable), 32 connections",
         f"{served['accepted_per_s']:9.0f} events/s"),
        ("server: accepted and run to handler end", f"{served['processed_per_s']:9.0f} events/s"),
        (f"latency 202 -> handler start, paced, n={served['latency_n']}",
         f"median {served['latency_median_ms']:.2f} ms, p99 {served['latency_p99_ms']:.2f} ms"),
    ]  # fmt: skip
    for label, value in rows:
        print(f"{label:62} {value}")
    print(f"group commit / offload: {group / offload:.1f}x; group commit / raw commits: "
          f"{group / baseline:.1f}x")  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
