"""pytest plugin loaded into moto's test run by the harness.

* Before a test starts, its node id is posted to the router's control path, so the
  lambdad exchanges that follow are filed under that test in ``results.json``.
* Unless ``CONFORMANCE_FROZEN_SIGNING`` is set, botocore's signers read the real
  clock. Some of moto's tests run under ``freeze_time("2015-01-01")``, which would
  make botocore sign with a 2015 ``X-Amz-Date``; real Lambda (and lambdad) rejects
  that as an expired signature, moto_server never checks it. Signing with the real
  clock keeps those tests about what they test.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import urllib.request

import pytest
from router import CONTROL_PATH

FROZEN_SIGNING_VARIABLE = "CONFORMANCE_FROZEN_SIGNING"

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(FROZEN_SIGNING_VARIABLE):
        return
    import botocore.auth  # type: ignore[import-untyped]

    # Captured before any freeze_time() starts, and kept in a closure: freezegun
    # swaps the datetime class in modules' attributes, not in closures.
    real_datetime = datetime.datetime

    def signing_clock(remove_tzinfo: bool = True) -> datetime.datetime:
        now = real_datetime.now(datetime.UTC)
        return now.replace(tzinfo=None) if remove_tzinfo else now

    botocore.auth.get_current_datetime = signing_clock


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    endpoint = os.environ.get("TEST_SERVER_MODE_ENDPOINT")
    if not endpoint:
        return
    request = urllib.request.Request(endpoint + CONTROL_PATH, data=nodeid.encode(), method="POST")
    with contextlib.suppress(OSError):
        _opener.open(request, timeout=5).close()
