"""The deploy progress bar waits for the stack, not only for the call that applies it
(ExecuteChangeSet answers before a long deployment ends)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from rich.console import Console

from lambdad.cli import progress
from lambdad.cli.progress import follow
from lambdad.cli.target import Target


class Stack:
    """A stack whose operation goes on for three looks after the call answered."""

    def __init__(self) -> None:
        self.looks = 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.looks += 1
        status = "UPDATE_IN_PROGRESS" if self.looks < 3 else "UPDATE_COMPLETE"
        return {"Stacks": [{"StackName": StackName, "StackStatus": status}]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": []}


def test_follow_waits_until_the_stack_settles() -> None:
    cfn = Stack()
    console = Console(file=io.StringIO())
    follow(console, Target("http://x", "us-east-1", "AKID", "secret"), cfn, "s", 1, lambda: {})
    assert cfn.looks == 3


class Flaky(Stack):
    """A stack whose status read fails once (a dropped connection) while it updates."""

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.looks += 1
        if self.looks == 1:
            raise EndpointConnectionError(endpoint_url="http://x")
        status = "UPDATE_IN_PROGRESS" if self.looks < 4 else "UPDATE_COMPLETE"
        return {"Stacks": [{"StackName": StackName, "StackStatus": status}]}


def test_a_failed_status_read_is_asked_again_at_the_poll_pace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    naps: list[float] = []
    monkeypatch.setattr(progress.time, "sleep", naps.append)
    cfn = Flaky()
    target = Target("http://x", "us-east-1", "A", "s")
    follow(Console(file=io.StringIO()), target, cfn, "s", 1, dict)
    assert cfn.looks == 4  # not taken for "deleted" at the failed read
    assert naps == [progress._POLL] * 3  # one pause between reads, none busy
