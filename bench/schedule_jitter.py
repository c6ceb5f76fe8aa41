"""Schedule jitter: how late the timer service fires 1-second schedules, beside the
event loop's own timer lateness measured in the same run.

In process, no server: EventBridge Scheduler schedules (``rate(1 minute)``) on a real
SQLite store, fired by the real ``ScheduleTimer`` on the system clock with schedule
time scaled (``time_scale`` 1/60: a schedule's minute lasts one second). Several
schedules run at once so that 600 ticks take seconds, not ten minutes. A tick is
"fired" when the timer hands it to the async queue (``accept_many``; here a recorder,
so the queue's own commit is not counted: ``bench/async_bench.py`` measures that).
Lateness of a fire: the real time it came, less its tick's instant (the schedule's
anchor plus a whole number of periods); a tick that never came is counted as missed.

The baseline: as many coroutines, each sleeping until the same kind of instants with
``asyncio.sleep``, and how late the loop wakes them.

    .venv/bin/python bench/schedule_jitter.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json

from lambdad.clock import SystemClock
from lambdad.events.rule_store import EventStore
from lambdad.events.scheduler.groups import GroupService
from lambdad.events.scheduler.schedules import ScheduleService
from lambdad.events.scheduler.store import ScheduleRef, SchedulerStore
from lambdad.events.scheduler.ticks import SchedulerTicks
from lambdad.events.timer import ScheduleTimer
from lambdad.model.scope import Scope
from lambdad.store.queue import NewEvent
from lambdad.store.sqlite import SqliteStore

SCOPE = Scope("123456789012", "us-east-1")
PERIOD = 1.0  # real seconds per tick
SCALE = PERIOD / 60  # rate(1 minute) -> one second


class Recorder:
    """Stands in for the async invoke service: when each schedule's ticks were handed over."""

    def __init__(self) -> None:
        self.fired: dict[str, list[float]] = {}

    def prepare(self, request: Any, *, limit: int, operation: str) -> NewEvent:
        return NewEvent(
            id=request.request_id,
            account=SCOPE.account,
            region=SCOPE.region,
            function_name=request.function_name,
            qualifier=None,
            payload=request.payload,
            received_at=time.time(),
        )

    async def accept_many(self, events: list[NewEvent]) -> None:
        now = time.time()
        for event in events:
            self.fired.setdefault(event.payload.decode(), []).append(now)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(lateness: list[float], missed: int) -> dict[str, float]:
    ms = [x * 1000 for x in lateness]
    return {
        "median": statistics.median(ms),
        "p99": percentile(ms, 0.99),
        "max": max(ms),
        "n": len(ms),
        "missed": missed,
    }


async def baseline(schedules: int, seconds: float) -> tuple[list[float], int]:
    start = time.time()
    lateness: list[float] = []

    async def one(offset: float) -> None:
        anchor = start + offset
        k = 0
        while (due := anchor + k * PERIOD) < start + seconds:
            await asyncio.sleep(max(due - time.time(), 0))
            lateness.append(time.time() - due)
            k += 1

    await asyncio.gather(*(one(i / schedules) for i in range(schedules)))
    return lateness, 0


async def timer_run(schedules: int, seconds: float, data: Path) -> tuple[list[float], int]:
    store = SqliteStore(str(data / "meta.db"))
    store.open()
    try:
        clock = SystemClock()
        events, scheduler_store, recorder = EventStore(store), SchedulerStore(store), Recorder()
        ticks = SchedulerTicks(
            scheduler_store, events, recorder, None, clock,  # type: ignore[arg-type]
            max_payload=1 << 20, time_scale=SCALE,
        )  # fmt: skip
        timer = ScheduleTimer(
            events, None, clock, time_scale=SCALE, poll_interval=1.0, scheduled=ticks,  # type: ignore[arg-type]
        )  # fmt: skip
        groups = GroupService(scheduler_store, clock, lambda scope, group: None)
        service = ScheduleService(scheduler_store, groups, timer, ticks, clock)
        running = asyncio.get_running_loop().create_task(timer.run())
        names = [f"s{i:03d}" for i in range(schedules)]
        for name in names:
            await service.create_schedule(
                SCOPE,
                {
                    "Name": name,
                    "ScheduleExpression": "rate(1 minute)",
                    "Target": {
                        "Arn": f"arn:aws:lambda:us-east-1:{SCOPE.account}:function:f",
                        "RoleArn": f"arn:aws:iam::{SCOPE.account}:role/r",
                        "Input": name,
                    },
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                },
            )
            await asyncio.sleep(PERIOD / schedules)  # spread the schedules over a period
        anchors = {}
        for name in names:
            entry = events.get_schedule(SCOPE, ScheduleRef("default", name).timer_key)
            assert entry is not None
            anchors[name] = entry.anchor
        await asyncio.sleep(seconds)
        running.cancel()
    finally:
        store.close()
    lateness: list[float] = []
    missed = 0
    end = max(anchors.values()) + seconds - PERIOD
    for name, anchor in anchors.items():
        seen = set()
        for fired in recorder.fired.get(name, []):
            k = int((fired - anchor) // PERIOD)
            seen.add(k)
            lateness.append(fired - (anchor + k * PERIOD))
        expected = int((end - anchor) // PERIOD) + 1
        missed += max(expected - len(seen), 0)
    return lateness, missed


async def main_async(schedules: int, seconds: float) -> dict[str, Any]:
    base = summary(*await baseline(schedules, seconds))
    with tempfile.TemporaryDirectory() as tmp:
        timed = summary(*await timer_run(schedules, seconds, Path(tmp)))
    return {"schedules": schedules, "seconds": seconds, "baseline": base, "timer": timed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--json", help="where to write the figures")
    args = ap.parse_args()
    schedules, seconds = (10, 3.0) if args.quick else (60, 10.0)
    result = asyncio.run(main_async(schedules, seconds))
    print(f"{schedules} schedules of one tick per second for {seconds:g} s (lateness, ms)")
    print(f"  {'':40} {'median':>9} {'p99':>9} {'max':>9} {'n':>6} {'missed':>7}")
    for label, key in (("asyncio.sleep to each instant", "baseline"), ("timer service", "timer")):
        s = result[key]
        print(
            f"  {label:40} {s['median']:9.3f} {s['p99']:9.3f} {s['max']:9.3f} "
            f"{s['n']:6d} {s['missed']:7d}"
        )
    print(f"wrote {write_json('schedule_jitter', result, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
