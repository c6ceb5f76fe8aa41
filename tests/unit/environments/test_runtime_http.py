"""The Runtime API's request reader: heads parsed once and reused (a runtime sends the
same headers with every response) still give each request its own path and headers,
and a malformed head is refused after good ones as it is on its own."""

from __future__ import annotations

import pytest

from lambdad.environments.runtime_http import BadRequest, RequestReader

PREFIX = "/2018-06-01/runtime/invocation"


def reader() -> RequestReader:
    r = RequestReader(1 << 20, lambda path: None)
    r.work = 100
    return r


def post(request_id: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {PREFIX}/{request_id}/response HTTP/1.1\r\nHost: h\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_responses_with_the_same_headers_keep_their_own_paths_and_headers() -> None:
    r = reader()
    seen = []
    for request_id in ("r1", "r2", "r3"):
        r.feed(post(request_id, b'{"ok":1}', "Content-Type: application/json\r\n"))
        request = r.next_request()
        assert request is not None
        seen.append((request.method, request.path, bytes(request.body)))
        request.headers["x-changed"] = "by the handler"  # not seen by the next request
        assert request.headers["content-type"] == "application/json"
    assert seen == [("POST", f"{PREFIX}/{i}/response", b'{"ok":1}') for i in ("r1", "r2", "r3")]
    r.feed(post("r4", b"{}"))
    request = r.next_request()
    assert request is not None
    assert "x-changed" not in request.headers
    assert request.headers["content-length"] == "2"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"POST /x HTTP/1.1\r\nBad Name : v\r\nContent-Length: 0\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nA: v\r\n folded\r\nContent-Length: 0\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST /a\t:b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"PO ST /x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ],
)
def test_a_malformed_head_is_refused(head: bytes, status: int) -> None:
    for earlier in (b"", post("r1", b"{}")):
        r = reader()
        r.feed(earlier)
        if earlier:
            assert r.next_request() is not None
        r.feed(head)
        with pytest.raises(BadRequest) as raised:
            r.next_request()
        assert raised.value.status == status
