"""Control-plane latency: GetFunction round trips on loopback, beside a raw HTTP baseline.

Starts a real ``lambdad serve`` (process sandbox; no function runs), creates one
function, pre-signs a GetFunction request with botocore (a SigV4 signature stays valid
for 15 minutes, so one signed request can be replayed), and replays it over one
keep-alive connection. The baseline is a minimal asyncio HTTP server answering a fixed
response on the same machine in the same run: what any HTTP round trip costs here.

    python bench/control_plane.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AKID, SECRET, ACCOUNT = "BENCHKEY", "benchsecret", "123456789012"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def raw_request(port: int, payload: bytes, n: int) -> list[float]:
    """Replay one serialized HTTP request n times on one keep-alive connection (ms)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        sock.sendall(payload)
        length = 0
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reader.read(length)
        out.append((time.perf_counter() - t) * 1000)
    sock.close()
    return out


def start_baseline(port: int) -> threading.Thread:
    body = b'{"ok":true}'
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.buf = b""
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while b"\r\n\r\n" in self.buf:
                _, self.buf = self.buf.split(b"\r\n\r\n", 1)
                self.t.write(response)

    def run() -> None:
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(loop.create_server(Proto, "127.0.0.1", port))
        loop.run_until_complete(server.serve_forever())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def signed_get_function(endpoint: str, name: str) -> bytes:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{endpoint}/2015-03-31/functions/{name}"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(AKID, SECRET), "lambda", "us-east-1").add_auth(req)
    host = endpoint.split("//", 1)[1]
    lines = [f"GET /2015-03-31/functions/{name} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "control_plane.json"))
    args = ap.parse_args()
    n = 200 if args.quick else 5000

    import boto3
    from botocore.config import Config

    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="lambdad-bench-"))
    env = dict(
        os.environ, LAMBDAD_CREDENTIALS=f"{AKID}:{SECRET}:{ACCOUNT}", LAMBDAD_SANDBOX="process"
    )
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "lambdad"),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=AKID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1}),
        )
        deadline = time.time() + 20
        while True:
            try:
                client.get_account_settings()
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", "def handler(e, c):\n    return e\n")
        client.create_function(
            FunctionName="bench",
            Runtime="python3.11",
            Role=f"arn:aws:iam::{ACCOUNT}:role/r",
            Handler="app.handler",
            Code={"ZipFile": buf.getvalue()},
        )
        request = signed_get_function(endpoint, "bench")
        raw_request(port, request, 50)  # warm up
        lambdad = raw_request(port, request, n)

        base_port = free_port()
        start_baseline(base_port)
        time.sleep(0.2)
        base_req = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{base_port}\r\n\r\n".encode()
        raw_request(base_port, base_req, 50)
        baseline = raw_request(base_port, base_req, n)
    finally:
        server.terminate()
        server.wait(10)

    rows = {
        "GetFunction (lambdad)": lambdad,
        "raw loopback HTTP (asyncio)": baseline,
    }
    print(f"control plane, {n} round trips each, keep-alive, loopback")
    print(f"{'':32} {'median ms':>10} {'p99 ms':>10}")
    result: dict[str, Any] = {}
    for label, values in rows.items():
        med, p99 = statistics.median(values), percentile(values, 99)
        result[label] = {"median_ms": med, "p99_ms": p99, "n": len(values)}
        print(f"{label:32} {med:10.3f} {p99:10.3f}")
    ratio = (
        result["GetFunction (lambdad)"]["median_ms"]
        / result["raw loopback HTTP (asyncio)"]["median_ms"]
    )
    print(f"GetFunction / baseline median: {ratio:.1f}x")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
