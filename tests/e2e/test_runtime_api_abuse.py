"""A tenant's function abuses its own Runtime API: the server stays correct and keeps
serving every other account.

Functions from ``functions/runtime_abuse.py`` talk raw HTTP to 127.0.0.1:9001 from
inside their sandbox: a result in a million one-byte chunks, malformed chunk sizes
and lengths, results far over the size limit, a pile of connections. Meanwhile
another account's echo function is invoked in a loop; its latencies are printed
(``-s``) and bounded only loosely, as a guard against a stalled server.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.bystander import Bystander
from e2e.helpers import OTHER, PRIMARY, LambdadServer, handler_zip, make_zip, role_for, serving

SOURCE = (Path(__file__).parent / "functions" / "runtime_abuse.py").read_text()
# No invoke of the other account may take this long while the attack runs: only a
# hang guard (the attack used to stall everything for 8 s), not a latency target.
HANG_GUARD = 4.0
TOO_LARGE = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    srv = LambdadServer(tmp_path_factory.mktemp("runtime-abuse") / "data")
    with serving(srv):
        yield srv


def deploy(srv: LambdadServer, handler: str, *, account: str = PRIMARY.account_id) -> str:
    name = f"abuse-{handler.split('.')[-1].replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    client = srv.client(account=account)
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_for(account),
        Handler=handler,
        Code={
            "ZipFile": make_zip({"runtime_abuse.py": SOURCE})
            if handler.startswith("runtime_abuse.")
            else handler_zip()
        },
        Timeout=60,
        MemorySize=512,
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    return name


def invoke(srv: LambdadServer, name: str, event: Any) -> tuple[bytes, str | None]:
    resp = srv.client().invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert resp["StatusCode"] == 200
    return resp["Payload"].read(), resp.get("FunctionError")


@pytest.fixture(scope="module")
def bystander_function(server: LambdadServer) -> str:
    return deploy(server, "app.handler", account=OTHER.account_id)


def assert_clean_log(srv: LambdadServer) -> None:
    log = srv.stderr()
    for bad in ("Fatal error on transport", "Traceback", "Exception in callback"):
        assert bad not in log, log[-3000:]


def test_a_million_one_byte_chunks_do_not_stall_other_accounts(
    server: LambdadServer, bystander_function: str
) -> None:
    name = deploy(server, "runtime_abuse.chunk_flood")
    invoke(server, name, {"chunks": 10})  # warm: the flood below is not a cold start
    probe = Bystander(server, bystander_function)
    baseline = [probe.once() for _ in range(30)]
    count = 1_100_000
    with probe:
        probe.wait_for_calls()  # the other account is being served when the flood starts
        started = time.monotonic()
        payload, error = invoke(server, name, {"chunks": count})
        attack = time.monotonic() - started
        probe.wait_for_calls()  # and still is after it
    assert error is None, payload[:500]
    assert payload == b'"' + b"x" * (count - 2) + b'"'
    assert not probe.failures, probe.failures
    assert probe.latencies
    print(
        f"\nchunk flood of {count} chunks: the attacker's invoke took {attack:.2f} s; "
        f"other account before: median {statistics.median(baseline) * 1000:.1f} ms, "
        f"max {max(baseline) * 1000:.1f} ms; during: {probe.summary()}"
    )
    assert max(probe.latencies) < HANG_GUARD, probe.summary()
    assert_clean_log(server)


BAD_REQUESTS = {
    "chunk size zz": "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n"
    "Host: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "negative chunk size": "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n"
    "Host: h\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    "negative content-length": "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n"
    "Host: h\r\nContent-Length: -5\r\n\r\nabcde",
    "5000-digit content-length": "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n"
    "Host: h\r\nContent-Length: " + "9" * 5000 + "\r\n\r\nabc",
    "smuggled length": "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n"
    "Host: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    "0\r\n\r\nPOST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n"
    'Host: h\r\nContent-Length: 8\r\n\r\n"hijack"',
}


def test_malformed_runtime_requests_close_their_connection_cleanly(
    server: LambdadServer,
) -> None:
    name = deploy(server, "runtime_abuse.malformed")
    payload, error = invoke(server, name, {"requests": BAD_REQUESTS})
    assert error is None, payload[:500]
    report = json.loads(payload)
    for what, answer in report["answers"].items():
        assert answer["status"] in (400, 413, 501), (what, answer)
        assert answer["closed"], (what, answer)
    # Nothing reached the invocation: the handler's own result was the answer, and
    # the environment serves the next one.
    again, error = invoke(server, name, {"requests": {}})
    assert error is None
    assert json.loads(again)["environment"] == report["environment"]
    assert_clean_log(server)


@pytest.mark.parametrize("handler", ["big_result", "big_chunked_result"])
def test_a_20_mb_result_is_response_size_too_large_and_the_environment_serves_on(
    server: LambdadServer, bystander_function: str, handler: str
) -> None:
    name = deploy(server, f"runtime_abuse.{handler}")
    first, error = invoke(server, name, {"mb": 0})
    assert error is None, first[:500]
    environment = json.loads(first)["environment"]
    for _ in range(2):
        with Bystander(server, bystander_function) as probe:
            payload, error = invoke(server, name, {"mb": 20})
        assert error == "Unhandled", payload[:500]
        assert json.loads(payload) == {
            "errorMessage": TOO_LARGE,
            "errorType": "Function.ResponseSizeTooLarge",
        }
        assert not probe.failures, probe.failures
        print(f"\n{handler} of 20 MB; other account meanwhile: {probe.summary()}")
    # The same environment answers next (it is not lost to a Runtime.ExitError).
    last, error = invoke(server, name, {"mb": 0})
    assert error is None, last[:500]
    assert json.loads(last)["environment"] == environment
    assert_clean_log(server)


def test_connections_to_the_runtime_api_are_capped(server: LambdadServer) -> None:
    name = deploy(server, "runtime_abuse.connections")
    payload, error = invoke(server, name, {"count": 200})
    assert error is None, payload[:500]
    report = json.loads(payload)
    assert report["kept"] <= 16, report
    assert_clean_log(server)
