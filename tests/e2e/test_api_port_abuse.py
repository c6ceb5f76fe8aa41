"""Unauthenticated clients attack the API port: it holds a bounded amount of memory and
connections for them, times them out, and keeps answering every account meanwhile.

The server here has short timeouts and small connection caps (settings ``api_*``);
the attacker connects from 127.0.0.2 (all of 127/8 is loopback), so its per-client
cap is its own while another account invokes from 127.0.0.1 (``Bystander``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from e2e.bystander import Bystander
from e2e.helpers import (
    OTHER,
    LambdadServer,
    handler_zip,
    role_for,
    send,
    serving,
    sign_headers,
    signing_clock,
)

ATTACKER = "127.0.0.2"
PER_CLIENT = 40
TIMEOUT = 1.0
HANG_GUARD = 4.0
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    srv = LambdadServer(
        tmp_path_factory.mktemp("api-abuse") / "data",
        env={
            "LAMBDAD_API_HEAD_TIMEOUT": str(TIMEOUT),
            "LAMBDAD_API_BODY_TIMEOUT": str(TIMEOUT),
            "LAMBDAD_API_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
            "LAMBDAD_API_MAX_CONNECTIONS": "200",
        },
    )
    with serving(srv):
        yield srv


@pytest.fixture(scope="module")
def echo_function(server: LambdadServer) -> str:
    client = server.client(account=OTHER.account_id)
    name = f"bystander-{uuid.uuid4().hex[:8]}"
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_for(OTHER.account_id),
        Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    Bystander(server, name).once()  # warm
    return name


@pytest.fixture
def bystander(server: LambdadServer, echo_function: str) -> Bystander:
    """Another account's invokes, timed (one per test: its thread runs once)."""
    return Bystander(server, echo_function)


def rss_mb(srv: LambdadServer) -> float:
    assert srv.process is not None
    for line in Path(f"/proc/{srv.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def attacker_socket(srv: LambdadServer, timeout: float = 10) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((ATTACKER, 0))
    sock.connect(("127.0.0.1", srv.port))
    return sock


def read_answer(sock: socket.socket) -> tuple[int | None, bytes, bool]:
    """(status, body, whether the server closed after it) of an answer that closes
    the connection; None: closed without one."""
    status, _, body = read_full_answer(sock)
    return status, body, True


def read_full_answer(
    sock: socket.socket, *, until_close: bool = True
) -> tuple[int | None, dict[str, str], bytes]:
    """Everything until the server closes (or, ``until_close=False``, until the answer's
    Content-Length is in): (status, lower-case headers, body)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while until_close or not _whole_answer(data):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers, body


def _whole_answer(data: bytes) -> bool:
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return len(body) >= int(value.strip())
    return False


def assert_clean_log(srv: LambdadServer) -> None:
    log = srv.stderr()
    for bad in ("Traceback", "Fatal error on transport", "Exception in callback"):
        assert bad not in log, log[-3000:]


def test_a_256_mb_head_is_cut_off_and_memory_stays_flat(
    server: LambdadServer, bystander: Bystander
) -> None:
    # Within the limit's reach: answered 431.
    with attacker_socket(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024))
        status, _, closed = read_answer(sock)
    assert (status, closed) == (431, True)
    # 256 MB of headers on each of four connections: each is closed early on.
    before = rss_mb(server)
    chunk = b"X-Pad: " + b"p" * 65000 + b"\r\n"

    def flood() -> int:
        sent = 0
        with attacker_socket(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            with contextlib.suppress(OSError):
                while sent < 256 * MB:
                    sock.sendall(chunk)
                    sent += len(chunk)
        return sent

    with bystander:
        threads = [threading.Thread(target=flood) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    after = rss_mb(server)
    print(f"\n4 clients sending 256 MB heads: server RSS {before:.0f} -> {after:.0f} MB")
    print(f"another account meanwhile: {bystander.summary()}")
    assert after - before < 40
    assert not bystander.failures, bystander.failures
    assert max(bystander.latencies) < HANG_GUARD, bystander.summary()
    assert_clean_log(server)


def test_too_many_header_fields_is_400(server: LambdadServer) -> None:
    with attacker_socket(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 150 + b"\r\n")
        status, _, closed = read_answer(sock)
    assert (status, closed) == (400, True)


def test_slow_heads_and_bodies_time_out(server: LambdadServer) -> None:
    slow = [
        b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"PUT /2015-03-31/functions/f/code HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nab",
    ]
    for request in slow:
        with attacker_socket(server) as sock:
            sock.sendall(request)
            started = time.monotonic()
            status, _, closed = read_answer(sock)
            waited = time.monotonic() - started
        assert (status, closed) == (408, True), request
        assert TIMEOUT * 0.9 < waited < TIMEOUT + HANG_GUARD


def test_connections_per_client_are_capped_and_others_keep_being_served(
    server: LambdadServer, bystander: Bystander
) -> None:
    held: list[socket.socket] = []
    refused = 0
    try:
        with bystander:
            for _ in range(PER_CLIENT + 20):
                sock = attacker_socket(server, timeout=2)
                held.append(sock)
            # Connections are admitted in the order they were made: those over the cap
            # are answered 503 and closed...
            for sock in held[PER_CLIENT:]:
                if read_full_answer(sock)[0] == 503:
                    refused += 1
            # ...and by then every earlier one was admitted: none has an answer.
            for sock in held[:PER_CLIENT]:
                sock.setblocking(False)
                with pytest.raises(BlockingIOError):
                    sock.recv(65536)
        print(
            f"\n{len(held)} connections from one client: {refused} refused; {bystander.summary()}"
        )
        assert refused == 20
        assert not bystander.failures, bystander.failures
    finally:
        for sock in held:
            sock.close()
    # Once the server has seen them closed, that client is served again.
    deadline = time.monotonic() + 10
    status = list_functions_unsigned(server)
    while status in (None, 503) and time.monotonic() < deadline:
        time.sleep(0.02)  # polling: the server has not yet seen every close
        status = list_functions_unsigned(server)
    assert status == 403


def list_functions_unsigned(srv: LambdadServer) -> int | None:
    """The status of an unsigned ListFunctions from the attacker's address (None: the
    connection was closed without an answer)."""
    with attacker_socket(srv) as sock:
        with contextlib.suppress(ConnectionError):  # refused: closed under the request
            sock.sendall(
                b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
        status, _, _ = read_answer(sock)
    return status


def large_body_head(path: str, size: int, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {size}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_large_bodies_that_cannot_authenticate_are_refused_before_they_are_read(
    server: LambdadServer, bystander: Bystander
) -> None:
    url = server.endpoint + "/2015-03-31/functions"
    forged = sign_headers(
        "POST",
        url,
        b"",
        {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
        OTHER.__class__(OTHER.access_key_id, "not-the-secret", OTHER.account_id),
        "us-east-1",
    )
    with signing_clock(datetime(2020, 1, 1, tzinfo=UTC)):
        stale = sign_headers("POST", url, b"", {}, OTHER, "us-east-1")
    cases = {
        "unsigned": ({}, "MissingAuthenticationTokenException"),
        "unknown key": (
            {"Authorization": forged["Authorization"].replace(OTHER.access_key_id, "AKIDNOBODY")}
            | {k: v for k, v in forged.items() if k != "Authorization"},
            "UnrecognizedClientException",
        ),
        "forged, payload hash declared": (forged, "InvalidSignatureException"),
        "stale": (stale, "InvalidSignatureException"),
    }
    before = rss_mb(server)
    with bystander:
        for what, (headers, error) in cases.items():
            socks = []
            for _ in range(4):
                sock = attacker_socket(server)
                # The head of a 50 MB upload, and not one byte of its body yet.
                sock.sendall(large_body_head("/2015-03-31/functions", 50 * MB, headers))
                socks.append(sock)
            for sock in socks:
                # The answer is whole once its Content-Length is in: the server then
                # waits a while for the body it refused before closing.
                with sock:
                    status, answer, body = read_full_answer(sock, until_close=False)
                assert status == 403, (what, status, body)
                assert answer["x-amzn-errortype"] == error, (what, body)
                assert json.loads(body)["Type"] == "User"
    after = rss_mb(server)
    print(f"\nrefused large bodies: RSS {before:.0f} -> {after:.0f} MB; {bystander.summary()}")
    assert after - before < 40
    assert not bystander.failures, bystander.failures
    assert_clean_log(server)


def forged_upload(srv: LambdadServer, size: int) -> tuple[int | None, str, bytes]:
    """A code upload of ``size`` bytes signed with the right access key id and a wrong
    secret, its payload hash not declared (so its head passes): (status, error, body)."""
    path = "/2015-03-31/functions"
    wrong = OTHER.__class__(OTHER.access_key_id, "not-the-secret", OTHER.account_id)
    headers = sign_headers("POST", srv.endpoint + path, b"", {}, wrong, "us-east-1")
    with attacker_socket(srv, timeout=30) as sock:
        with contextlib.suppress(OSError):  # refused early: closed under the upload
            sock.sendall(large_body_head(path, size, headers))
            chunk = b"\0" * MB
            for _ in range(size // MB):
                sock.sendall(chunk)
        status, headers, body = read_full_answer(sock)
    return status, headers.get("x-amzn-errortype", ""), body


def test_forged_uploads_from_a_known_key_id_hold_a_bounded_budget(
    server: LambdadServer, bystander: Bystander
) -> None:
    before = peak = rss_mb(server)
    answers: list[tuple[int | None, str, bytes]] = []
    sampling = True

    def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb(server))
            time.sleep(0.01)

    def attack() -> None:
        answers.append(forged_upload(server, 50 * MB))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with bystander:
            for _ in range(2):
                clients = [threading.Thread(target=attack) for _ in range(6)]
                for client in clients:
                    client.start()
                for client in clients:
                    client.join()
    finally:
        sampling = False
        sampler.join()
    after = rss_mb(server)
    statuses = sorted(str(status) for status, _, _ in answers)
    print(
        f"\n12 forged 50 MB uploads (6 at once, twice): RSS {before:.0f} -> peak {peak:.0f}"
        f" -> {after:.0f} MB; answers {statuses}; {bystander.summary()}"
    )
    for status, error, body in answers:
        assert status in (403, 429), (status, body)
        assert error == (
            "InvalidSignatureException" if status == 403 else "TooManyRequestsException"
        )
        assert json.loads(body)["Type"] == "User"
    assert any(status == 429 for status, _, _ in answers)
    assert peak - before < 200
    assert not bystander.failures, bystander.failures
    assert_clean_log(server)


def test_a_signed_large_body_is_bounded_by_its_operations_limit(server: LambdadServer) -> None:
    # A 50 MB Invoke: refused from its head, before the body (the limit is 6 MB).
    path = "/2015-03-31/functions/anything/invocations"
    headers = sign_headers("POST", server.endpoint + path, b"", {}, OTHER, "us-east-1")
    with attacker_socket(server) as sock:
        sock.sendall(large_body_head(path, 50 * MB, headers))
        status, body, _ = read_answer(sock)
    assert status == 413
    assert json.loads(body)["Type"] == "User"


def test_connect_is_refused_cleanly(server: LambdadServer) -> None:
    with attacker_socket(server) as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        status, _, closed = read_answer(sock)
    assert (status, closed) == (405, True)
    assert_clean_log(server)


def test_a_5000_digit_presigned_lifetime_is_refused(server: LambdadServer) -> None:
    scope = f"{server.credential.access_key_id}/20240101/us-east-1/lambda/aws4_request"
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={quote(scope, safe='')}"
        "&X-Amz-Date=20240101T000000Z"
        f"&X-Amz-Expires={'9' * 5000}"
        "&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={'0' * 64}"
    )
    resp = send(server.endpoint, "GET", f"/_lambdad/code/{'a' * 64}?{query}", b"", {})
    assert resp.status in (400, 403), resp
    assert "X-Amz-Expires" in resp.json()["message"]
    assert_clean_log(server)


@pytest.mark.parametrize(
    ("service", "region", "message"),
    [
        ("s3", "us-east-1", "Credential should be scoped to correct service: 'lambda'. "),
        ("logs", "us-east-1", "Credential should be scoped to correct service: 'lambda'. "),
        ("lambda", "bogus-region", "Credential should be scoped to a valid region"),
    ],
)
def test_a_request_scoped_elsewhere_is_refused(
    server: LambdadServer, service: str, region: str, message: str
) -> None:
    resp = server.request(
        "GET", "/2015-03-31/functions/", service=service, region=region, sign=True
    )
    assert resp.status == 403
    assert resp.error_type == "InvalidSignatureException"
    assert resp.json()["message"].startswith(message)


def test_the_logs_api_still_answers_requests_signed_for_logs(server: LambdadServer) -> None:
    logs = server.client("logs")
    assert "logGroups" in logs.describe_log_groups()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_json_nested_100000_deep_is_a_400_everywhere(
    server: LambdadServer, bystander: Bystander
) -> None:
    logs_body = b'{"logGroupNamePrefix": ' + nested(100_000) + b"}"
    resp = server.request(
        "POST",
        "/",
        logs_body,
        {
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
        service="logs",
    )
    assert resp.status == 400, resp
    path = f"/2015-03-31/functions/{bystander.name}/invocations"
    resp = server.request("POST", path, nested(100_000), credential=OTHER)
    assert resp.status == 400, resp
    assert resp.error_type == "InvalidRequestContentException"
    context = base64.b64encode(nested(3000)).decode()
    resp = server.request("POST", path, b"{}", {"X-Amz-Client-Context": context}, credential=OTHER)
    assert resp.status == 400, resp
    token = base64.urlsafe_b64encode(nested(100_000)).decode()
    resp = server.request(
        "POST",
        "/",
        json.dumps({"logGroupName": "/aws/lambda/x", "logStreamName": "s", "nextToken": token}),
        {
            "X-Amz-Target": "Logs_20140328.GetLogEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
        service="logs",
    )
    assert resp.status == 400, resp
    assert_clean_log(server)
