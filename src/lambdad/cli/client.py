"""Client commands: ``lambdad invoke``, ``lambdad logs`` and ``lambdad ls``.

They talk to a running server over its public APIs (Lambda and CloudWatch Logs) with
boto3, at the ``Target`` (endpoint, region, credentials) that ``cli.target`` finds the
way AWS tools do, and print what a human reads: the payload and the log tail of an
invoke, log events (followed until interrupted), a table of the functions.

boto3 is imported only when a command runs, so that ``lambdad serve`` does not pay for
it.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import click

from lambdad.cli.target import Target, call, find_endpoint, find_target

FOLLOW_INTERVAL = 1.0
_SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# -- invoke ------------------------------------------------------------------------------


def read_payload(value: str | None) -> bytes:
    """``--payload``: JSON text, ``@file``, or ``@-`` for standard input."""
    if value is None:
        return b""
    if value == "@-":
        return sys.stdin.buffer.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_bytes()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from None
    return value.encode()


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    payload: bytes
    function_error: str | None
    log_tail: str | None
    executed_version: str | None


def invoke_function(
    target: Target, name: str, payload: bytes, qualifier: str | None, tail: bool
) -> InvokeOutcome:
    client = target.client("lambda")
    params: dict[str, Any] = {"FunctionName": name, "Payload": payload}
    if qualifier:
        params["Qualifier"] = qualifier
    if tail:
        params["LogType"] = "Tail"
    out = call(target, lambda: client.invoke(**params))
    body: bytes = call(target, out["Payload"].read)
    log = base64.b64decode(out["LogResult"]).decode("utf-8", "replace") if tail else None
    return InvokeOutcome(body, out.get("FunctionError"), log, out.get("ExecutedVersion"))


@click.command()
@click.argument("name")
@click.option("--payload", "-p", default=None, help="Event: JSON text, @FILE, or @- for stdin.")
@click.option("--qualifier", "-q", default=None, help="Version or alias to invoke.")
@click.option("--tail", is_flag=True, help="Print the invocation's log (last 4 KB) to stderr.")
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
def invoke(
    name: str,
    payload: str | None,
    qualifier: str | None,
    tail: bool,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Invoke function NAME and print its result (exit status 1 if the function failed)."""
    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    outcome = invoke_function(target, name, read_payload(payload), qualifier, tail)
    if outcome.log_tail is not None:
        click.echo(for_terminal(outcome.log_tail), err=True)
    sys.stdout.flush()
    body = outcome.payload
    sys.stdout.buffer.write(body if body.endswith(b"\n") else body + b"\n")
    sys.stdout.buffer.flush()
    if outcome.function_error:
        sys.exit(1)


# -- logs --------------------------------------------------------------------------------


def parse_since(value: str, now: datetime) -> int:
    """``10m``, ``2h``, ``30s``, ``1d``, ``1w`` ago, or an ISO 8601 time: epoch ms."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", value)
    if m:
        return int((now.timestamp() - int(m.group(1)) * _SINCE_UNITS[m.group(2)]) * 1000)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use a duration such as 30s, 10m, 2h, 1d, 1w or an ISO 8601 time"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def log_events(client: Any, group: str, start_ms: int) -> Iterator[dict[str, Any]]:
    """Every event of ``group`` from ``start_ms`` on, in time order (FilterLogEvents)."""
    params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "interleaved": True}
    while True:
        page = client.filter_log_events(**params)
        yield from page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return
        params["nextToken"] = token


class LogFollower:
    """Polls a log group and hands out each event once."""

    def __init__(self, client: Any, group: str, start_ms: int) -> None:
        self.client = client
        self.group = group
        self.start_ms = start_ms
        # Events at the newest timestamp seen: the next poll starts there again.
        self._seen_at_start: set[str] = set()

    def poll(self) -> list[dict[str, Any]]:
        fresh = []
        for event in log_events(self.client, self.group, self.start_ms):
            event_id = event.get("eventId", "")
            ts = int(event["timestamp"])
            if ts == self.start_ms and event_id in self._seen_at_start:
                continue
            if ts > self.start_ms:
                self.start_ms = ts
                self._seen_at_start = set()
            self._seen_at_start.add(event_id)
            fresh.append(event)
        return fresh


def for_terminal(text: str) -> str:
    """Log text as a terminal should show it. Lambda's runtimes join the lines of one
    record (a traceback) with carriage returns, which a terminal takes as "back to the
    start of the line": the traceback would overwrite the error it explains. They
    become newlines, as the CloudWatch console shows them."""
    return text.rstrip("\r\n").replace("\r\n", "\n").replace("\r", "\n")


def _print_events(events: list[dict[str, Any]]) -> None:
    for event in events:
        click.echo(for_terminal(str(event.get("message", ""))))
    sys.stdout.flush()


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they come.")
@click.option("--since", default="10m", show_default=True, help="From when: 30s, 10m, 2h...")
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
def logs(
    name: str, follow: bool, since: str, endpoint_url: str | None, data_dir: str | None
) -> None:
    """Print the log lines of function NAME (its LoggingConfig's group, by default
    /aws/lambda/NAME), or of the log group NAME if it starts with /."""
    start_ms = parse_since(since, datetime.now(UTC))
    target = find_target("logs", endpoint_url, data_dir, os.environ)
    client = target.client("logs")
    group, missing = (
        (name, False) if name.startswith("/") else function_log_group(target, name, endpoint_url)
    )
    follower = LogFollower(client, group, start_ms)
    stopped = threading.Event()
    if follow:
        _stop_on_signals(stopped)
        if missing:  # a typo would otherwise wait in silence
            click.echo(
                f"function {name} does not exist (yet): waiting for its log group {group} "
                "(Ctrl-C to stop)",
                err=True,
            )
    try:
        while not stopped.is_set():
            try:
                events = call(target, follower.poll)
            except click.ClickException as exc:
                # A function that has not run yet has no log group: wait for it when
                # following, otherwise say so.
                if not exc.message.startswith("ResourceNotFoundException"):
                    raise
                if not follow:
                    what = (
                        f"function {name} does not exist" if missing else f"no logs for {name} yet"
                    )
                    raise click.ClickException(
                        f"{what} (log group {group} does not exist)"
                    ) from None
                events = []
            _print_events(events)
            if not follow:
                return
            stopped.wait(FOLLOW_INTERVAL)
    except KeyboardInterrupt:
        return


def function_log_group(target: Target, name: str, endpoint_url: str | None) -> tuple[str, bool]:
    """Where function NAME logs: its ``LoggingConfig.LogGroup``, as Lambda answers it
    (``/aws/lambda/NAME`` unless set; that too for a function not created yet); and
    whether Lambda says there is no such function."""
    import botocore.exceptions

    url = endpoint_url or find_endpoint(os.environ, "lambda", target.endpoint)
    lam = replace(target, endpoint=url).client("lambda")
    default = f"/aws/lambda/{name}"
    try:
        config = lam.get_function_configuration(FunctionName=name)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        return default, code == "ResourceNotFoundException"
    except botocore.exceptions.BotoCoreError:
        return default, False
    return str((config.get("LoggingConfig") or {}).get("LogGroup") or default), False


def _stop_on_signals(stopped: threading.Event) -> None:
    """Stop following on SIGINT and SIGTERM, whatever this process inherited: a job
    started in the background (``make test &``) begins with SIGINT ignored, and Python
    then installs no KeyboardInterrupt handler of its own. The handler only sets a
    flag: an exception raised wherever the signal lands (inside botocore or urllib3,
    between a lock's acquire and its release) could leave a lock held, and the exit
    would wait on it for ever."""

    def stop(signum: int, frame: object) -> None:
        stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)


# -- ls ----------------------------------------------------------------------------------


def list_functions(target: Target) -> list[dict[str, Any]]:
    client = target.client("lambda")
    functions: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = call(target, functools.partial(client.list_functions, **_marker(marker)))
        functions.extend(page.get("Functions", []))
        marker = page.get("NextMarker")
        if not marker:
            return sorted(functions, key=lambda f: f["FunctionName"])


def _marker(marker: str | None) -> dict[str, str]:
    return {"Marker": marker} if marker else {}


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@click.command("ls")
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
@click.option("--json", "as_json", is_flag=True, help="Print ListFunctions' entries as JSON.")
def ls(endpoint_url: str | None, data_dir: str | None, as_json: bool) -> None:
    """List the functions in the account and region, marking those this host cannot run
    (or runs without a setting they ask for), and why."""
    from rich.console import Console
    from rich.table import Table

    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    functions = list_functions(target)
    if as_json:
        click.echo(json.dumps(functions, indent=2, default=str))
        return
    console = Console(width=None if sys.stdout.isatty() else 200)
    if not functions:
        console.print(f"no functions in {target.region} at {target.endpoint}")
        return
    table = Table(title=f"functions in {target.region} at {target.endpoint}")
    for column, justify in (
        ("Name", "left"),
        ("Runtime", "left"),
        ("Handler", "left"),
        ("Memory", "right"),
        ("Timeout", "right"),
        ("Code size", "right"),
        ("Last modified", "left"),
        ("This host", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=column == "Name")  # type: ignore[arg-type]
    found = host_shortfalls(functions)
    for f in functions:
        short = found[f["FunctionName"]]
        here = "cannot run" if any(s.blocking for s in short) else "degraded" if short else "ok"
        table.add_row(
            f["FunctionName"],
            f.get("Runtime") or f.get("PackageType", ""),
            f.get("Handler", ""),
            f"{f.get('MemorySize', 128)} MB",
            f"{f.get('Timeout', 3)} s",
            _size(int(f.get("CodeSize", 0))),
            str(f.get("LastModified", ""))[:19].replace("T", " "),
            here,
        )
    console.print(table)
    for name, short in found.items():
        for s in short:
            console.print(f"{name}: {s.message}", highlight=False, markup=False)


class Shortfall(Protocol):
    """What a host cannot honour of a function (``runtimes.host_support.Shortfall``,
    which the command line gets through ``server`` and so does not import)."""

    @property
    def message(self) -> str: ...
    @property
    def blocking(self) -> bool: ...


def host_shortfalls(functions: list[dict[str, Any]]) -> Mapping[str, Sequence[Shortfall]]:
    """Per function, what this host cannot honour (judged here: ``ls`` is for the host
    lambdad runs on, with the runtime settings of this environment)."""
    from lambdad.server import host_shortfalls as judge

    return judge(functions, os.environ)
