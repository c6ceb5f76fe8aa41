"""Fixtures the functional tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functional.runtimes.fake_runtime_api import FakeRuntimeApi


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    """A fake Runtime API on a loopback port, for a bootstrap run as a real process."""
    with FakeRuntimeApi() as fake:
        yield fake
