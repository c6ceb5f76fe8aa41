"""Another account's calls, timed while a tenant attacks the server.

``Bystander`` invokes an echo function of the ``OTHER`` account in a loop on a thread
of its own and keeps every latency; tests print ``summary()`` and bound the slowest
only loosely, as a guard against a stalled server (machines are noisy).
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import boto3
from botocore.config import Config

from e2e.helpers import OTHER, LambdadServer


class Bystander:
    """Another account invoking its echo function in a loop, timing each invoke."""

    def __init__(self, srv: LambdadServer, name: str) -> None:
        self.client = boto3.session.Session().client(
            "lambda",
            endpoint_url=srv.endpoint,
            region_name=srv.region,
            aws_access_key_id=OTHER.access_key_id,
            aws_secret_access_key=OTHER.secret_access_key,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
        )
        self.name = name
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        # Invokes ended (answered or failed), under the condition waiters wait on.
        self._ended = threading.Condition()
        self._calls = 0
        self._thread = threading.Thread(target=self._run, name="bystander", daemon=True)

    def once(self) -> float:
        started = time.monotonic()
        resp = self.client.invoke(FunctionName=self.name, Payload=b'{"n": 1}')
        body = resp["Payload"].read()
        if resp.get("FunctionError") or json.loads(body) != {"n": 1}:
            self.failures.append(f"{resp.get('FunctionError')}: {body[:300]!r}")
        return time.monotonic() - started

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.latencies.append(self.once())
            except Exception as exc:
                self.failures.append(repr(exc))
            with self._ended:
                self._calls += 1
                self._ended.notify_all()
            self._stop.wait(0.01)

    def wait_for_calls(self, more: int = 1, timeout: float = 60.0) -> None:
        """Return once ``more`` further invokes have ended (answered or failed)."""
        with self._ended:
            target = self._calls + more
            reached = self._ended.wait_for(lambda: self._calls >= target, timeout)
        assert reached, f"the bystander's invokes did not end within {timeout} s"

    def __enter__(self) -> Bystander:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def summary(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        return (
            f"{len(ms)} invokes, median {statistics.median(ms):.1f} ms, "
            f"p99 {ms[int(len(ms) * 0.99)]:.1f} ms, max {ms[-1]:.1f} ms"
        )
