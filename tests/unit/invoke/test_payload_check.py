"""An invocation's payload: its size, and JSON unless the platform wrote it itself."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.errors import InvalidRequestContentException, RequestTooLargeException
from lambdad.invoke.sync import InvokeService

check = InvokeService.check_payload
SELF: Any = None  # the check uses nothing of the service


def test_a_callers_payload_must_be_json() -> None:
    assert check(SELF, b'{"k": 1}', 100, "Invoke") == b'{"k": 1}'
    assert check(SELF, b"  ", 100, "Invoke") == b"{}"
    with pytest.raises(InvalidRequestContentException, match="Could not parse request body"):
        check(SELF, b"{nope", 100, "Invoke")


def test_the_platforms_own_json_is_not_parsed_again_but_its_size_counts() -> None:
    event = b'{"rawPath":"/x"}'
    assert check(SELF, event, 100, "Invoke", is_json=True) is event
    assert check(SELF, b"", 100, "Invoke", is_json=True) == b"{}"
    with pytest.raises(RequestTooLargeException, match="smaller than 10 bytes"):
        check(SELF, event, 10, "Invoke", is_json=True)
