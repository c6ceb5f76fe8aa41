"""PutEvents' intake over fakes (no I/O): every match of a request is queued in one
durable write, and the request answers only after that write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from lambdad.clock import FakeClock
from lambdad.events.buses import BusService
from lambdad.events.delivery import RuleDelivery
from lambdad.events.put_events import EventIntake
from lambdad.events.rule_store import EventStore
from lambdad.model.scope import Scope

SCOPE = Scope("123456789012", "us-east-1")


class Rules:
    def __init__(self, count: int) -> None:
        self.rules_generation = 0
        self.reads = 0
        self.rules = [
            (
                f"r{i}",
                {
                    "Name": f"r{i}",
                    "EventBusName": "default",
                    "EventPattern": f'{{"source": ["s{i}"]}}',
                    "State": "ENABLED",
                    "Targets": [{"Id": "t", "Arn": "fn"}],
                },
            )
            for i in range(count)
        ]

    def list_rules(self, scope: Scope, bus: str) -> list[tuple[str, dict[str, Any]]]:
        self.reads += 1
        return self.rules


class Buses:
    def exists(self, scope: Scope, bus: str) -> bool:
        return bus == "default"


class Delivery:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.writes: list[list[str]] = []
        self.traces: list[str | None] = []

    def plan(
        self,
        scope: Scope,
        rule: dict[str, Any],
        event: dict[str, Any],
        trace_id: str | None = None,
    ) -> list[str]:
        self.traces.append(trace_id)
        return [f"{rule['Name']}:{event['source']}"]

    async def enqueue(self, planned: list[str]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.writes.append(planned)


def intake(delivery: Delivery, rules: Rules | None = None) -> EventIntake:
    return EventIntake(
        cast(EventStore, rules or Rules(10)),
        cast(BusService, Buses()),
        cast(RuleDelivery, delivery),
        FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
    )


def entries(*sources: str) -> dict[str, Any]:
    return {"Entries": [{"Source": s, "DetailType": "d", "Detail": "{}"} for s in sources]}


def test_every_match_of_a_request_is_queued_in_one_write() -> None:
    delivery = Delivery()
    sources = [f"s{i}" for i in range(10)]
    out = asyncio.run(intake(delivery).put_events(SCOPE, entries(*sources, "unmatched")))
    assert out["FailedEntryCount"] == 0
    assert len(out["Entries"]) == 11
    assert delivery.writes == [[f"r{i}:s{i}" for i in range(10)]]


def test_an_entrys_trace_header_goes_with_its_invocations() -> None:
    delivery = Delivery()
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    [entry] = entries("s1")["Entries"]
    request = {"Entries": [{**entry, "TraceHeader": header}]}
    asyncio.run(intake(delivery).put_events(SCOPE, request))
    assert delivery.traces == [header]


def test_no_answer_when_the_write_fails() -> None:
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(intake(Delivery(fail=True)).put_events(SCOPE, entries("s1")))


def test_rules_are_read_once_until_one_changes() -> None:
    rules, delivery = Rules(10), Delivery()
    events = intake(delivery, rules)
    for _ in range(3):
        asyncio.run(events.put_events(SCOPE, entries("s1", "s2")))
    assert rules.reads == 1
    rules.rules[1][1]["State"] = "DISABLED"
    rules.rules_generation += 1
    asyncio.run(events.put_events(SCOPE, entries("s1", "s2")))
    assert rules.reads == 2
    assert delivery.writes[-1] == ["r2:s2"]
