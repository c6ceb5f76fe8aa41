"""The deploy progress bar waits for the stack, not only for the call that applies it
(ExecuteChangeSet answers before a long deployment ends)."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

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
