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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from lambdad.cli import own_api
from lambdad.cli.client import LogFollower, for_terminal
from lambdad.cli.code_dir import SKIPPED_SUFFIXES, code_files, missing_handler, packaged
from lambdad.cli.nargs_option import GreedyOption
from lambdad.cli.target import Target, call, find_target

# A fixed time for every archive member, so that the same files make the same archive.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_UPDATE_POLL = 0.02
DEBUG_PATH = "/_lambdad/debug/"


def zip_directory(root: Path) -> bytes:
    """The archive of ``root``'s files (sorted, fixed times, modes kept)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in (p for p in code_files(root) if not p.name.endswith(SKIPPED_SUFFIXES)):
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
        self.runtime = str(config.get("Runtime") or "")
        self.handler = str(config.get("Handler") or "")
        self.layered = bool(config.get("Layers"))  # its handler's module may be in one

    def missing_handler(self) -> str | None:
        """What is wrong with the directory, when it lacks the handler's module."""
        absent = None if self.layered else missing_handler(self.root, self.runtime, self.handler)
        if absent is None:
            return None
        return (
            f"{self.root} has no {absent}, the module of {self.name}'s handler "
            f"{self.handler}: is this its code directory?"
        )

    def push(self, changed: Iterable[Path] = ()) -> float:
        """Update the function's code from the directory; seconds it took."""
        for error in compile_errors(changed):
            self.echo(click.style(f"✗ {error}", fg="red"))
        problem = self.missing_handler()
        if problem:  # a file moved or renamed: said, and pushed as saved
            self.echo(click.style(f"✗ {problem}", fg="red"))
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
            self.echo(for_terminal(str(event.get("message", ""))))


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def template_functions(doc: dict[str, Any], base: Path) -> dict[str, Path]:
    """Logical id -> local code directory, for each function of a template whose code
    is a directory (SAM's CodeUri, its default the template's own directory, or a
    function's Code given as a path)."""
    global_uri = ((doc.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    out = {}
    for logical, res in (doc.get("Resources") or {}).items():
        if not isinstance(res, dict):
            continue
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function":
            value = props.get("CodeUri", global_uri or ("." if "InlineCode" not in props else None))
        elif res.get("Type") == "AWS::Lambda::Function":
            value = props.get("Code")
        else:
            continue
        if isinstance(value, str) and not value.startswith("s3://"):
            path = (base / value).resolve()
            if path.is_dir():
                out[str(logical)] = path
    return out


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
@click.option("--function", "function_name", default=None, help="The function to update.")
@click.option("--stack-name", default=None, help="Template mode: the stack [the directory's].")
@click.option(
    "--parameter-overrides",
    cls=GreedyOption,
    multiple=True,
    help="Template mode: KEY=VALUE ... (as `lambdad deploy` takes them).",
)
@click.option(
    "--allow-unsupported",
    is_flag=True,
    help="Template mode: skip, and list, resource types lambdad does not serve.",
)
@click.option("--debug", "debug_name", default=None, help="Start this function under a debugger.")
@click.option("--debug-port", default=5678, show_default=True, help="The debugger's host port.")
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
@click.pass_context
def dev(
    ctx: click.Context,
    path: Path,
    function_name: str | None,
    stack_name: str | None,
    parameter_overrides: tuple[str, ...],
    allow_unsupported: bool,
    debug_name: str | None,
    debug_port: int,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """The live development loop.

    \b
    lambdad dev [template.yaml] [--stack-name S] [--parameter-overrides K=V ...]
        deploys the template, then watches its functions' code directories (and the
        template: a change deploys again) and updates a function's code on every save.
    lambdad dev --function NAME [DIR]
        watches DIR and updates NAME's code on every save.

    Either way the functions' log lines are printed as they come. With --debug NAME,
    NAME's environments start under a debugger listening on 127.0.0.1:--debug-port
    (debugpy for Python, the Node.js inspector), waiting for it to attach before the
    handler loads, with no timeout, until this command ends.
    """
    target: Target = find_target("lambda", endpoint_url, data_dir, os.environ)
    template: Path | None = None
    if function_name is not None:
        if not path.is_dir():
            raise click.UsageError(f"--function takes a code directory, not {path}")
        watched = {function_name: path.resolve()}
    else:
        template = path if path.is_file() else path / "template.yaml"
        if not template.is_file():
            if debug_name is None:
                raise click.UsageError(
                    f"no template at {template}: name one, or --function NAME [DIR]"
                )
            template = None
        watched = {}
    deploy_again: Callable[[], dict[str, Path]] | None = None
    if template is not None:
        options = _DeployOptions(
            stack_name, parameter_overrides, allow_unsupported, endpoint_url, data_dir
        )
        deploy_again = functools.partial(_deploy, ctx, template, options, target)
        watched = deploy_again()
    if debug_name is not None:
        body = json.dumps({"Port": debug_port}).encode()
        own_api.request(target, "PUT", f"{DEBUG_PATH}{debug_name}", body)
        click.echo(
            f"{debug_name}: its next environment waits for a debugger on 127.0.0.1:{debug_port} "
            "(VS Code: a Python 'attach' or Node.js 'attach' configuration on that port)"
        )
    try:
        loop = _Loop(target, watched, [debug_name] if debug_name else [])
        loop.run(template=template.resolve() if template else None, redeploy=deploy_again)
    finally:
        if debug_name is not None:
            own_api.request(target, "DELETE", f"{DEBUG_PATH}{debug_name}")
            click.echo(f"{debug_name}: debugger detached; environments start normally again")


@dataclass(frozen=True)
class _DeployOptions:
    """What template mode passes on to ``lambdad deploy`` at each deployment."""

    stack_name: str | None
    parameter_overrides: tuple[str, ...]
    allow_unsupported: bool
    endpoint_url: str | None
    data_dir: str | None


def _deploy(
    ctx: click.Context, template: Path, options: _DeployOptions, target: Target
) -> dict[str, Path]:
    """Deploy the template (as ``lambdad deploy`` does); function name -> code directory
    of each of its functions whose code is local."""
    from lambdad.cli.deploy import _default_name, deploy
    from lambdad.model.cfn_yaml import load

    name = options.stack_name or _default_name(template)
    ctx.invoke(
        deploy,
        template_file=str(template),
        stack_name=name,
        parameter_overrides=options.parameter_overrides,
        build=False,
        allow_unsupported=options.allow_unsupported,
        endpoint_url=options.endpoint_url,
        data_dir=options.data_dir,
    )
    local = template_functions(load(template.read_text()), template.parent.resolve())
    cfn = target.client("cloudformation")
    resources = call(target, lambda: cfn.describe_stack_resources(StackName=name))
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    }
    return {physical[logical]: root for logical, root in local.items() if logical in physical}


class _Loop:
    """Watch the code directories (and the template); push on saves; print logs."""

    def __init__(self, target: Target, watched: dict[str, Path], followed: list[str]) -> None:
        self.target = target
        self.followed = followed
        self.sessions: dict[str, DevSession] = {}
        self.watch(watched)

    def watch(self, watched: dict[str, Path]) -> None:
        lam, logs = self.target.client("lambda"), self.target.client("logs")
        names = dict.fromkeys([*watched, *self.followed])
        echo = _echo if len(names) == 1 else None
        self.sessions = {
            name: call(
                self.target,
                functools.partial(
                    DevSession, lam, logs, name, watched.get(name, Path(".")),
                    echo or functools.partial(_prefixed, name), _now_ms,
                ),
            )
            for name in names
        }  # fmt: skip
        self.roots = {name: watched[name] for name in watched}

    def _watched(self, template: Path | None, _change: object, path: str) -> bool:
        p = Path(path)
        return p == template or any(packaged(p, root) for root in self.roots.values())

    def run(self, template: Path | None, redeploy: Callable[[], dict[str, Path]] | None) -> None:
        import watchfiles

        if template is None:  # a template's code was just deployed
            for name in self.roots:
                # Pushed from the wrong directory, the function's code would be lost.
                problem = self.sessions[name].missing_handler()
                if problem:
                    raise click.ClickException(
                        f"{problem} (name it: lambdad dev --function {name} DIR); "
                        "nothing was pushed"
                    )
                call(self.target, self.sessions[name].push)
        paths = sorted({*self.roots.values(), *([template.parent] if template else [])})
        if not paths:  # --debug NAME alone: no code to push, only its log to follow
            click.echo("following the log (Ctrl-C to stop)")
            batches: Iterable[set[tuple[Any, str]]] = _ticks()
        else:
            click.echo(f"watching {', '.join(map(str, paths))} (Ctrl-C to stop)")
            batches = watchfiles.watch(
                *paths,
                watch_filter=functools.partial(self._watched, template),
                debounce=50,
                step=10,
                rust_timeout=1000,
                yield_on_timeout=True,
            )
        try:
            for changes in batches:
                try:
                    self.step([Path(p) for _, p in changes], template, redeploy)
                except click.ClickException as exc:
                    # A template that does not deploy, a server restarting: said, and
                    # the next save tries again (the loop outlives what it watches).
                    self.echo_error(f"{exc.format_message()} (watching: save to try again)")
        except KeyboardInterrupt:
            return
        except OSError as exc:  # the watcher: a directory below it it may not read
            watched = ", ".join(map(str, paths))
            raise click.ClickException(f"cannot watch {watched}: {exc}") from None

    def step(
        self,
        changed: list[Path],
        template: Path | None,
        redeploy: Callable[[], dict[str, Path]] | None,
    ) -> None:
        """One batch of saves: deploy the template again, or push the code that changed;
        then print the log lines that came."""
        if template is not None and redeploy is not None and template in changed:
            self.watch(redeploy())
            changed = []
        for name, root in self.roots.items():
            mine = [p for p in changed if p.is_relative_to(root)]
            if mine:
                call(self.target, functools.partial(self.sessions[name].push, mine))
        for session in self.sessions.values():
            call(self.target, session.print_logs)

    @staticmethod
    def echo_error(message: str) -> None:
        _echo(click.style(f"✗ {message}", fg="red"))


def _ticks() -> Iterator[set[tuple[Any, str]]]:
    """No changes, once a second: the log's polls when nothing is watched."""
    while True:
        time.sleep(1.0)
        yield set()


def _prefixed(name: str, line: str) -> None:
    _echo(f"[{name}] {line}")
