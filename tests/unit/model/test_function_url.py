"""Function URL names: the url-id, FunctionUrl, the host and path forms, the time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdad.model.function_url import (
    UrlAddress,
    address,
    function_url,
    new_url_id,
    url_time,
)

ID = "abcdefghijklmnopqrstuvwxyz012345"


def test_url_ids_are_32_lowercase_alphanumerics_and_differ() -> None:
    ids = {new_url_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and i.isalnum() and i == i.lower() for i in ids)


def test_function_url_and_time_as_aws_writes_them() -> None:
    assert function_url(ID, "eu-west-1", 9550) == (
        f"http://{ID}.lambda-url.eu-west-1.localhost:9550/"
    )
    moment = datetime(2022, 7, 7, 15, 19, 41, 225854, tzinfo=UTC)
    assert url_time(moment) == "2022-07-07T15:19:41.225854Z"


@pytest.mark.parametrize(
    ("path", "host", "expected"),
    [
        (
            "/a/b?x=1",
            f"{ID}.lambda-url.us-east-1.localhost:9550",
            UrlAddress(ID, "us-east-1", "/a/b"),
        ),
        ("/", f"{ID.upper()}.LAMBDA-URL.us-east-1.localhost", UrlAddress(ID, "us-east-1", "/")),
        (f"/lambda-url/{ID}/a%20b", "127.0.0.1:9550", UrlAddress(ID, None, "/a%20b")),
        (f"/lambda-url/{ID}", "127.0.0.1:9550", UrlAddress(ID, None, "/")),
        (f"/lambda-url/{ID}?q=1", None, UrlAddress(ID, None, "/")),
        # Host first: a URL's own path may start with /lambda-url/.
        (
            f"/lambda-url/{ID}/x",
            f"{ID}.lambda-url.us-east-1.localhost",
            UrlAddress(ID, "us-east-1", f"/lambda-url/{ID}/x"),
        ),
    ],
)
def test_a_request_addresses_a_url_by_host_then_path(
    path: str, host: str | None, expected: UrlAddress
) -> None:
    assert address(path, host) == expected


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/2015-03-31/functions/f/invocations", "127.0.0.1:9550"),
        ("/lambda-url/short/x", "127.0.0.1"),
        (f"/lambda-url/{ID}x/", "127.0.0.1"),
        ("/lambda-url/ABCDEFGHIJKLMNOPQRSTUVWXYZ012345/", "127.0.0.1"),
        ("/", f"{ID}.lambda-url.us-east-1.localhost.evil.com"),
        ("/", f"x{ID}.lambda-url.us-east-1.localhost"),
    ],
)
def test_other_requests_are_not_urls(path: str, host: str) -> None:
    assert address(path, host) is None
