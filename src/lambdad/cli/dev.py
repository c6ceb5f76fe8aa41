"""``lambdad dev --function NAME DIR``: the live development loop for one function.

Watches DIR (with ``watchfiles``) and, on every save, zips it and updates the
function's code through the Lambda API: no build step, the next invoke runs the new
code (UpdateFunctionCode retires the warm environments of the old). What the function
logs is printed as it comes, so an error of the new code (an import error, a
traceback) shows in the terminal; a Python file that does not compile is reported at
once, and deployed all the same (what is saved is what runs).
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from lambdad.cli import own_api
from lambdad.cli.client import LogFollower
from lambdad.cli.target import Target, call, find_target

# Paths never packaged (or watched): caches, version control, editors' droppings.
SKIPPED_PARTS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~")
# A fixed time for every archive member, so that the same files make the same archive.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_UPDATE_POLL = 0.02
DEBUG_PATH = "/_lambdad/debug/"


def packaged(path: Path, root: Path) -> bool:
    """Whether a file below ``root`` goes into the function's archive."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return not any(p in SKIPPED_PARTS for p in parts) and not path.name.endswith(SKIPPED_SUFFIXES)


def zip_directory(root: Path) -> bytes:
    """The archive of ``root``'s files (sorted, fixed times, modes kept)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and packaged(p, root)):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out.getvalue()


def compile_errors(paths: Iterable[Path]) -> list[str]:
    """What does not compile among the Python files ``paths``, one message each."""
    errors = []
    for path in paths:
        if path.suffix != ".py" or not path.is_file():
            continue
        try:
            compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as exc:
            errors.append(f"{path}:{exc.lineno}: {exc.msg}")
    return errors


class DevSession:
    """One function's loop: push the directory's code, follow its logs."""

    def __init__(
        self,
        client: Any,
        logs: Any,
        name: str,
        root: Path,
        echo: Callable[[str], None],
        now_ms: Callable[[], int],
    ) -> None:
        self.client = client
        self.name = name
        self.root = root
        self.echo = echo
        config = client.get_function_configuration(FunctionName=name)
        group = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
        self.follower = LogFollower(logs, group, now_ms())

    def push(self, changed: Iterable[Path] = ()) -> float:
        """Update the function's code from the directory; seconds it took."""
        for error in compile_errors(changed):
            self.echo(click.style(f"✗ {error}", fg="red"))
        started = time.monotonic()
        archive = zip_directory(self.root)
        self.client.update_function_code(FunctionName=self.name, ZipFile=archive)
        while True:
            config = self.client.get_function_configuration(FunctionName=self.name)
            if config.get("LastUpdateStatus") != "InProgress":
                break
            time.sleep(_UPDATE_POLL)
        took = time.monotonic() - started
        if config.get("LastUpdateStatus") == "Failed":
            reason = config.get("LastUpdateStatusReason", "")
            self.echo(click.style(f"✗ update of {self.name} failed: {reason}", fg="red"))
        else:
            size = len(archive)
            self.echo(f"✓ {self.name} updated in {took * 1000:.0f} ms ({size} bytes)")
        return took

    def print_logs(self) -> None:
        import botocore.exceptions

        try:
            events = self.follower.poll()
        except botocore.exceptions.ClientError as exc:
            # No log group before the first invoke: nothing to print yet.
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            return
        for event in events:
            self.echo(str(event.get("message", "")).rstrip("\n"))


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@click.command()
@click.option("--function", "function_name", default=None, help="The function to update.")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default="."
)
@click.option("--debug", "debug_name", default=None, help="Start this function under a debugger.")
@click.option("--debug-port", default=5678, show_default=True, help="The debugger's host port.")
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
def dev(
    function_name: str | None,
    directory: Path,
    debug_name: str | None,
    debug_port: int,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Watch DIRECTORY and update --function's code on every save; print its logs.

    With --debug NAME, NAME's environments start under a debugger listening on
    127.0.0.1:--debug-port (debugpy for Python, the Node.js inspector), waiting for
    it to attach before the handler loads, with no timeout, until this command ends.
    """
    if function_name is None and debug_name is None:
        raise click.UsageError("name a function: --function NAME [DIR] and/or --debug NAME")
    target: Target = find_target("lambda", endpoint_url, data_dir, os.environ)
    if debug_name is not None:
        body = json.dumps({"Port": debug_port}).encode()
        own_api.request(target, "PUT", f"{DEBUG_PATH}{debug_name}", body)
        click.echo(
            f"{debug_name}: its next environment waits for a debugger on 127.0.0.1:{debug_port} "
            "(VS Code: a Python 'attach' or Node.js 'attach' configuration on that port)"
        )
    try:
        watched = function_name or debug_name
        assert watched is not None
        _loop(target, watched, directory.resolve(), watch=function_name is not None)
    finally:
        if debug_name is not None:
            own_api.request(target, "DELETE", f"{DEBUG_PATH}{debug_name}")
            click.echo(f"{debug_name}: debugger detached; environments start normally again")


def _loop(target: Target, name: str, root: Path, *, watch: bool) -> None:
    """Follow the function's logs; with ``watch``, push ``root`` on every save."""
    import watchfiles

    session = call(
        target,
        lambda: DevSession(
            target.client("lambda"),
            target.client("logs"),
            name,
            root,
            _echo,
            lambda: int(datetime.now(UTC).timestamp() * 1000),
        ),
    )
    if watch:
        call(target, session.push)
        click.echo(f"watching {root} (Ctrl-C to stop)")
    try:
        for changes in watchfiles.watch(
            root,
            watch_filter=lambda _change, path: watch and packaged(Path(path), root),
            debounce=50,
            step=10,
            rust_timeout=1000,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if changes:
                call(target, functools.partial(session.push, [Path(p) for _, p in changes]))
            call(target, session.print_logs)
    except KeyboardInterrupt:
        return
