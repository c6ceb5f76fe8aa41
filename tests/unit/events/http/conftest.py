"""The request every HTTP payload test starts from, built by ``make_request``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.events.http.request import HttpRequest

# 2020-03-04T19:03:58.390Z: the timeEpoch of the guides' example events.
EXAMPLE_TIME = datetime.fromtimestamp(1583348638.390, tz=UTC)
MakeRequest = Callable[..., HttpRequest]


def _make_request(**overrides: Any) -> HttpRequest:
    fields: dict[str, Any] = {
        "method": "GET",
        "raw_path": "/",
        "raw_query": "",
        "headers": (),
        "body": b"",
        "source_ip": "123.123.123.123",
        "time": EXAMPLE_TIME,
        "request_id": "id",
        "domain": "abc123.lambda-url.us-east-1.localhost",
        "port": 443,
        "scheme": "https",
    }
    fields.update(overrides)
    fields["headers"] = tuple(fields["headers"])
    return HttpRequest(**fields)


@pytest.fixture
def make_request() -> MakeRequest:
    """``make_request(method="POST", headers=[...])``: an ``HttpRequest`` with defaults."""
    return _make_request
