"""Function handlers that abuse their own Runtime API (127.0.0.1:9001 in the sandbox).

Zipped as ``runtime_abuse.py`` and deployed with ``Handler: runtime_abuse.<name>``.
Each handler talks raw HTTP/1.1 over a socket of its own, so it can send what no
runtime client would, and reports what the server answered.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

API = "/2018-06-01/runtime/invocation"
# Made once per environment: an invocation that sees the same id ran in the same one.
ENVIRONMENT_ID = uuid.uuid4().hex


def _connect() -> socket.socket:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _answer(sock: socket.socket) -> dict[str, Any]:
    """The status line of the server's answer, and whether it then closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            return {"status": None, "closed": True, "raw": data[:200].decode("latin-1")}
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        more = sock.recv(65536)
        if not more:
            break
        rest += more
    sock.settimeout(2)
    try:
        closed = sock.recv(1) == b""
    except TimeoutError:
        closed = False
    return {"status": status, "closed": closed, "body": rest[:300].decode("latin-1")}


def chunk_flood(event: dict[str, Any], context: Any) -> None:
    """Post this invocation's result as ``event["chunks"]`` one-byte chunks (a JSON
    string of that many ``x``); the caller gets that string as the payload."""
    count = int(event["chunks"])
    body = b'"' + b"x" * (count - 2) + b'"'
    stream = bytearray(
        f"POST {API}/{context.aws_request_id}/response HTTP/1.1\r\n"
        "Host: 127.0.0.1:9001\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    for byte in body:
        stream += b"1\r\n" + bytes((byte,)) + b"\r\n"
    stream += b"0\r\n\r\n"
    with _connect() as sock:
        started = time.monotonic()
        sock.sendall(stream)
        answer = _answer(sock)
    print(f"chunk flood: {count} chunks answered {answer} after {time.monotonic() - started:.2f} s")


def malformed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Send each of ``event["requests"]`` (latin-1 text, ``{id}`` replaced with this
    invocation's id) on a connection of its own; report each answer."""
    out = {}
    for name, text in event["requests"].items():
        raw = text.replace("{id}", context.aws_request_id).encode("latin-1")
        with _connect() as sock:
            sock.sendall(raw)
            out[name] = _answer(sock)
    return {"answers": out, "environment": ENVIRONMENT_ID}


def big_result(event: dict[str, Any], context: Any) -> dict[str, Any] | str:
    """Return a result of ``event["mb"]`` MB (0: a small one naming the environment)."""
    if not event.get("mb"):
        return {"environment": ENVIRONMENT_ID}
    return "x" * (int(event["mb"]) << 20)


def big_chunked_result(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Post a chunked result of ``event["mb"]`` MB in 64 KiB chunks on a connection of
    its own; report the server's answer (the invocation has failed by then). 0 MB: a
    small result naming the environment."""
    if not event.get("mb"):
        return {"environment": ENVIRONMENT_ID}
    chunk = b"10000\r\n" + b"y" * 65536 + b"\r\n"
    with _connect() as sock:
        sock.sendall(
            f"POST {API}/{context.aws_request_id}/response HTTP/1.1\r\n"
            "Host: 127.0.0.1:9001\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        for _ in range(int(event["mb"]) * 16):
            sock.sendall(chunk)
        sock.sendall(b"0\r\n\r\n")
        answer = _answer(sock)
    print(f"big chunked result answered {answer}")
    return {"answer": answer, "environment": ENVIRONMENT_ID}


def connections(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Open ``event["count"]`` connections to the Runtime API and hold them; report how
    many the server kept open."""
    socks = []
    kept = 0
    try:
        for _ in range(int(event["count"])):
            try:
                socks.append(_connect())
            except OSError:
                break
        time.sleep(0.5)
        for sock in socks:
            sock.setblocking(False)
            try:
                kept += sock.recv(1) != b""
            except BlockingIOError:
                kept += 1  # still open, nothing to read
            except OSError:
                pass
    finally:
        for sock in socks:
            sock.close()
    return {"opened": len(socks), "kept": kept, "environment": ENVIRONMENT_ID}
