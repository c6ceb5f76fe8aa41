"""Uploads over their operation's limit, answered as AWS answers them: boto3's
UpdateFunctionCode and PublishLayerVersion with a body over 70167211 bytes, and a
chunked request (no Content-Length) that goes over, answered once it does: nothing
past the limit is kept, and the client is not left waiting."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.helpers import LambdadServer, sign_headers
from e2e.test_aws_exact import answer, too_large

LIMIT = 70167211
# A zip whose base64 inside the JSON body is just over the limit.
OVER = b"z" * (LIMIT * 3 // 4 + 1024)


MIB = 1 << 20


def _message(operation: str, limit: int = LIMIT) -> str:
    return f"Request must be smaller than {limit} bytes for the {operation} operation"


@pytest.mark.parametrize("operation", ["UpdateFunctionCode", "PublishLayerVersion"])
def test_an_upload_over_the_limit_names_its_operation(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]], operation: str
) -> None:
    client = lambdad.client()
    if operation == "UpdateFunctionCode":
        name = new_function()["FunctionName"]

        def call() -> Any:
            return client.update_function_code(FunctionName=name, ZipFile=OVER)
    else:

        def call() -> Any:
            return client.publish_layer_version(LayerName="too-big", Content={"ZipFile": OVER})

    assert answer(call) == (413, too_large(_message(operation)))


@pytest.mark.parametrize(
    ("method", "path", "operation", "limit"),
    [
        ("POST", "/2015-03-31/functions", "CreateFunction", LIMIT),
        ("PUT", "/2015-03-31/functions/nobody/code", "UpdateFunctionCode", LIMIT),
        ("POST", "/2018-10-31/layers/too-big/versions", "PublishLayerVersion", LIMIT),
        ("POST", "/2015-03-31/functions/nobody/invocations", "InvokeFunction", 6291456),
    ],
)
def test_a_chunked_body_over_the_limit_is_answered_when_it_goes_over(
    lambdad: LambdadServer, method: str, path: str, operation: str, limit: int
) -> None:
    url = lambdad.endpoint + path
    headers = sign_headers(
        method,
        url,
        b"",
        {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-type": "application/json"},
        lambdad.credential,
        lambdad.region,
    )
    host = urlsplit(lambdad.endpoint)
    head = f"{method} {path} HTTP/1.1\r\nHost: {host.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b"a" * (1 << 20))
    sent = 0
    with socket.create_connection((host.hostname, host.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n")
        deadline = time.monotonic() + 60
        # Far past the limit if need be: the answer must come once it is passed.
        while sent < limit + 128 * MIB and time.monotonic() < deadline:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(chunk)
            sent += 1 << 20
        answer_bytes = b""
        while b"\r\n\r\n" not in answer_bytes or not answer_bytes.endswith(b"}"):
            piece = sock.recv(65536)
            if not piece:
                break
            answer_bytes += piece
    status_line, _, rest = answer_bytes.partition(b"\r\n")
    headers_text, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.split()[1] == b"413"
    assert b"x-amzn-errortype: RequestEntityTooLargeException" in headers_text
    assert json.loads(body) == {"Type": "User", "message": _message(operation, limit)}
    # Answered once the limit was passed, long before the whole body was sent (how far
    # past it depends on socket buffers and the machine's load, not on the server: up
    # to 27 MiB was seen on a loaded machine).
    assert limit <= sent < limit + 64 * MIB
