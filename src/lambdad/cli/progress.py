"""A progress bar over a stack operation: the call that applies it runs on a thread
while the stack's events are read, one step forward for each resource finished, the
latest event as the bar's text (lambdad applies a change set before the call answers,
unless that takes long: so the events are the only news on the way, and the stack's
status says when it is over)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from lambdad.cli.target import Target, call

_POLL = 0.25
# Status reads that may fail in a row (a minute of them) before the wait gives up.
_MAX_UNKNOWN = 240
_DONE = ("_COMPLETE", "_FAILED", "_SKIPPED")


def follow(
    console: Console, target: Target, cfn: Any, stack: str, steps: int, apply: Callable[[], Any]
) -> None:
    """Run ``apply`` (raising what it raises) with a bar of ``steps`` resources."""
    seen = _event_ids(cfn, stack)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            call(target, apply)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="lambdad-deploy", daemon=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"applying {stack}", total=max(steps, 1))
        worker.start()
        # The call returns when the work is done, or earlier when it takes long (an
        # alias's traffic shifting): then the stack's status says when it is, asked
        # every _POLL seconds.
        unknown = 0
        while True:
            if worker.is_alive():
                worker.join(_POLL)
            elif outcome:
                break
            else:
                settled = _settled(cfn, stack)
                if settled:
                    break
                unknown = unknown + 1 if settled is None else 0
                if unknown > _MAX_UNKNOWN:
                    raise click.ClickException(
                        f"lost track of stack {stack}: its status could not be read "
                        f"{unknown} times in a row (is `lambdad serve` running?)"
                    )
                time.sleep(_POLL)
            for event in _new_events(cfn, stack, seen):
                status = event["ResourceStatus"]
                if event["LogicalResourceId"] != stack and status.endswith(_DONE):
                    progress.advance(task)
                progress.update(task, description=f"{event['LogicalResourceId']} {status}")
        progress.update(task, completed=max(steps, 1))
    if outcome:
        raise outcome[0]


def _settled(cfn: Any, stack: str) -> bool | None:
    """Whether the stack is in no operation (True also when it is gone); None when its
    status could not be read this time (a dropped connection, an error answer)."""
    import botocore.exceptions

    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        gone = "does not exist" in str(exc.response.get("Error", {}).get("Message", ""))
        return True if gone else None
    except botocore.exceptions.BotoCoreError:
        return None
    return not found or not str(found[0]["StackStatus"]).endswith("_IN_PROGRESS")


def _event_ids(cfn: Any, stack: str) -> set[str]:
    try:
        return {e["EventId"] for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]}
    except Exception:
        return set()


def _new_events(cfn: Any, stack: str, seen: set[str]) -> list[dict[str, Any]]:
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except Exception:
        return []  # the stack is gone (deleted): nothing more to read
    fresh = [e for e in reversed(events) if e["EventId"] not in seen]
    seen.update(e["EventId"] for e in fresh)
    return fresh
