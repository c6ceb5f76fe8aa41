"""What the upstream relay (environments/upstream_proxy.py) adds to a function's call to
an operator-mapped endpoint: the round trip of one signed S3 GetObject straight to a
local upstream (the baseline), through the relay for a role without upstream
credentials (read whole, passed unchanged), and through it for a role with them (the
session's signature checked, the request signed again), in alternating blocks of the
same run. The upstream is an asyncio server on loopback answering ``200 ok``.

    python bench/upstream_relay.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.process
import os
import socket
import sys
import time
from datetime import UTC, datetime
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _common as c

SIGNED_ROLE = f"arn:aws:iam::{c.ACCOUNT}:role/signed"
PLAIN_ROLE = f"arn:aws:iam::{c.ACCOUNT}:role/plain"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def _upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each request (no body) with ``ANSWER``, keeping the connection."""
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


KEY = os.urandom(32)


def _serve(ports: Connection) -> None:
    """The upstream and the relay, on a loop of this (child) process."""
    from lambdad.environments import upstream_proxy
    from lambdad.environments.upstream_proxy import UpstreamSigning
    from lambdad.model.endpoints import Forward
    from lambdad.model.session import SessionIssuer
    from lambdad.model.upstream import UpstreamCredential

    operator = UpstreamCredential("AKIAOPERATOR", "operator-secret")

    async def main() -> None:
        upstream = await asyncio.start_server(_upstream, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        signing = UpstreamSigning(
            c.ACCOUNT,
            SessionIssuer(KEY, 3600).open,
            lambda role, service: operator if role == SIGNED_ROLE else None,
            lambda: datetime.now(UTC),
        )
        forward = Forward(0, "127.0.0.1", port)
        relay = await asyncio.start_server(
            lambda r, w: upstream_proxy.serve(r, w, forward, signing, None), "127.0.0.1", 0
        )
        ports.send((port, relay.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def _start() -> tuple[multiprocessing.process.BaseProcess, int, int]:
    """The server side in a process of its own (in this one, the client would hold the
    interpreter's lock while the relay waits for it), and its two ports."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(theirs,), daemon=True)
    child.start()
    up_port, relay_port = ours.recv()
    return child, up_port, relay_port


def _request(port: int, role: str) -> bytes:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from lambdad.model.session import SessionIssuer

    arn = f"arn:aws:lambda:{c.REGION}:{c.ACCOUNT}:function:f"
    session = SessionIssuer(KEY, 3600).mint(c.ACCOUNT, role, arn, datetime.now(UTC))
    url = f"http://127.0.0.1:{port}/bucket/key"
    aws = AWSRequest(method="GET", url=url)
    keys = Credentials(session.access_key_id, session.secret_access_key, session.token)
    S3SigV4Auth(keys, "s3", c.REGION).add_auth(aws)
    lines = ["GET /bucket/key HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in aws.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _round_trips(port: int, request: bytes, count: int) -> float:
    """Mean microseconds per request and answer on one kept-alive connection."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(request)
            got = b""
            while not got.endswith(b"\r\n\r\nok"):
                got += sock.recv(65536)
        return (time.perf_counter() - start) / count * 1e6


def measure(n: int, blocks: int) -> dict[str, dict[str, float]]:
    child, up_port, relay_port = _start()
    cases = {
        "direct to the upstream": (up_port, _request(up_port, PLAIN_ROLE)),
        "relay, passed unchanged": (relay_port, _request(relay_port, PLAIN_ROLE)),
        "relay, checked and signed again": (relay_port, _request(relay_port, SIGNED_ROLE)),
    }
    try:
        return c.alternating(
            {label: partial(_round_trips, *case) for label, case in cases.items()}, n, blocks
        )
    finally:
        child.kill()
        child.join()


def main() -> int:
    args = c.parse_args(300, 5000)
    n = args.n
    rows = measure(n, 5 if args.quick else 20)
    c.print_rows(f"S3 GetObject round trip, {n} each, alternating blocks", rows, unit="us")
    c.write_rows("upstream_relay", args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
