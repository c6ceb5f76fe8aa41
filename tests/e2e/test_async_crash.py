"""Crash safety of asynchronous invocation: no accepted event is lost to a SIGKILL.

Accept 1,000 events, kill the server with SIGKILL at a random moment while they are
being processed, restart it on the same data directory, and check that every
accepted event ran at least once. Each handler appends its event's id to a file
(one ``O_APPEND`` write, atomic between processes); ids seen twice are events that
were running, or had run without their completion being committed, at the kill.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import ROLE, LambdadServer, handler_zip

EVENTS = 1000
CONCURRENCY = 8
HANDLER_SECONDS = 0.03  # slow enough that the kill lands while events are processed

HANDLER = """
import os, time

def handler(event, context):
    time.sleep(event["sleep"])
    fd = os.open(event["out"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (event["id"] + "\\n").encode())
    finally:
        os.close(fd)
"""


def ran(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_every_accepted_event_runs_after_a_sigkill(
    lambdad_factory: Callable[..., LambdadServer],
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    seed = int(os.environ.get("LAMBDAD_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    env = {
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_ASYNC_MAX_CONCURRENCY": str(CONCURRENCY),
        "LAMBDAD_ASYNC_POLL_INTERVAL": "0.1",
    }
    data_dir = tmp_path / "data"
    out = tmp_path / "ran.txt"
    first = lambdad_factory(data_dir=data_dir, env=env)
    lam = first.client("lambda")
    lam.create_function(
        FunctionName="crash",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": handler_zip(HANDLER)},
        Timeout=10,
    )

    ids = [f"event-{i:04d}" for i in range(EVENTS)]

    def accept(event_id: str) -> int:
        payload = {"id": event_id, "out": str(out), "sleep": HANDLER_SECONDS}
        answer = lam.invoke(
            FunctionName="crash", InvocationType="Event", Payload=json.dumps(payload)
        )
        status: int = answer["StatusCode"]
        return status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(accept, ids))
    assert statuses == [202] * EVENTS

    # Kill at a random point between "now" and 90 % of the events processed.
    done_at_accept = len(ran(out))
    assert done_at_accept < EVENTS * 0.8, "processing finished before the kill could happen"
    threshold = rng.randint(done_at_accept + 1, int(EVENTS * 0.9))
    deadline = time.monotonic() + 30
    while len(ran(out)) < threshold:
        assert time.monotonic() < deadline, f"stuck at {len(ran(out))} of {threshold} events"
        time.sleep(0.002)
    assert first.process is not None
    first.process.kill()
    first.process.wait()
    done_at_kill = len(ran(out))
    assert done_at_kill < EVENTS, "every event had run before the kill"

    second = lambdad_factory(data_dir=data_dir, env=env)
    deadline = time.monotonic() + 40
    while set(ids) - set(ran(out)):
        if time.monotonic() > deadline or second.process is None or second.process.poll():
            missing = sorted(set(ids) - set(ran(out)))
            pytest.fail(f"{len(missing)} accepted events never ran (seed {seed}): {missing[:10]}")
        time.sleep(0.05)

    counts = Counter(ran(out))
    duplicates = {event_id: n for event_id, n in counts.items() if n > 1}
    extra = sum(n - 1 for n in duplicates.values())
    report = (
        f"seed {seed}: killed at {done_at_kill}/{EVENTS} events; after restart every event "
        f"ran; {len(duplicates)} ran more than once ({extra} extra runs)"
    )
    print(report)
    record_property("async_crash", report)
    assert set(counts) == set(ids), "an event ran that was never accepted"
    # Only events in flight at the kill (at most the concurrency) may run again.
    assert len(duplicates) <= CONCURRENCY, report
