"""``lambdad deploy`` and ``lambdad delete-stack``: a template's code packaged and
uploaded, then a change set made, printed, executed, and the stack's outputs printed,
all through the CloudFormation API lambdad answers (the server translates SAM, plans
and applies: the same path ``aws cloudformation deploy`` takes)."""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from lambdad.cli.endpoints import stack_endpoints
from lambdad.cli.nargs_option import GreedyOption
from lambdad.cli.package import package
from lambdad.cli.progress import follow
from lambdad.cli.target import Target, call, find_target
from lambdad.model.cfn_yaml import load

# Beyond AWS's: skip (and list) the resource types lambdad does not serve.
SKIP_UNSUPPORTED = "LAMBDAD_SKIP_UNSUPPORTED"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_STYLE = {"Add": "green", "Modify": "yellow", "Remove": "red"}


def overrides(values: tuple[str, ...]) -> list[dict[str, str]]:
    """``KEY=VALUE`` items (several in one argument, space-separated, as SAM CLI takes
    them; or ``ParameterKey=K,ParameterValue=V``) as CreateChangeSet's parameters."""
    out = []
    for item in (part for value in values for part in shlex.split(value)):
        if item.startswith("ParameterKey="):
            fields = dict(f.partition("=")[::2] for f in item.split(",", 1))
            item = f"{fields.get('ParameterKey', '')}={fields.get('ParameterValue', '')}"
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(
                f"{item!r}: expected KEY=VALUE", param_hint="--parameter-overrides"
            )
        out.append({"ParameterKey": key, "ParameterValue": value})
    return out


def _with_hint(message: str, allow_unsupported: bool) -> str:
    """CloudFormation's refusal of a change set, with what this command offers for it."""
    if "lambdad does not support:" in message and not allow_unsupported:
        return (
            f"{message}\n(--allow-unsupported deploys the rest, skipping these and what "
            "refers to them)"
        )
    if "must have values" in message:
        return f"{message}\n(give them with --parameter-overrides KEY=VALUE ...)"
    return message


def _stack_status(target: Target, cfn: Any, name: str) -> str | None:
    import botocore.exceptions

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


@click.command()
@click.argument("template_file", default="template.yaml", type=click.Path(dir_okay=False))
@click.option("--stack-name", default=None, help="The stack [the template's directory name].")
@click.option(
    "--parameter-overrides",
    cls=GreedyOption,
    multiple=True,
    help="KEY=VALUE ... (repeatable; as SAM CLI takes them).",
)
@click.option(
    "--build", is_flag=True, help="Install requirements.txt / package.json into each zip."
)
@click.option(
    "--allow-unsupported",
    is_flag=True,
    help="Skip, and list, resource types lambdad does not serve.",
)
@click.option("--endpoint-url", default=None, help="lambdad's endpoint.")
@click.option("--data-dir", default=None, help="The server's data directory (for its credential).")
def deploy(
    template_file: str,
    stack_name: str | None,
    parameter_overrides: tuple[str, ...],
    build: bool,
    allow_unsupported: bool,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Deploy a SAM or CloudFormation template as a stack: package, plan, apply."""
    console = Console()
    path = Path(template_file)
    try:
        doc = load(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{template_file}: {exc}") from None
    if not isinstance(doc, dict):
        raise click.ClickException(f"{template_file}: not a template")
    name = stack_name or _default_name(path)
    target = find_target("cloudformation", endpoint_url, data_dir, os.environ)
    cfn = target.client("cloudformation")
    package(doc, path.parent.resolve(), target, build)

    status = call(target, lambda: _stack_status(target, cfn, name))
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
        console.print(f"stack {name} is {status} (a failed first deployment): deleting it first")
        call(target, lambda: cfn.delete_stack(StackName=name))
        status = None
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    capabilities = CAPABILITIES + ([SKIP_UNSUPPORTED] if allow_unsupported else [])
    parameters: list[dict[str, Any]] = list(overrides(parameter_overrides))
    if kind == "UPDATE":
        # As aws cloudformation deploy: a value not given again keeps the stack's.
        stack_now = call(target, lambda: cfn.describe_stacks(StackName=name))["Stacks"][0]
        given = {p["ParameterKey"] for p in parameters}
        declared = set(doc.get("Parameters") or {})
        parameters += [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack_now.get("Parameters") or []
            if p["ParameterKey"] in declared and p["ParameterKey"] not in given
        ]
    change_set = f"lambdad-deploy-{int(time.time() * 1000)}"
    with console.status("planning…"):
        try:
            call(
                target,
                lambda: cfn.create_change_set(
                    StackName=name,
                    ChangeSetName=change_set,
                    ChangeSetType=kind,
                    TemplateBody=json.dumps(doc),
                    Parameters=parameters,
                    Capabilities=capabilities,
                ),
            )
        except click.ClickException as exc:
            raise click.ClickException(_with_hint(exc.message, allow_unsupported)) from None
        described = call(
            target, lambda: cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        )
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason:
            console.print(f"No changes to deploy: stack {name} is up to date")
            _print_outputs(console, target, cfn, name)
            return
        raise click.ClickException(f"plan failed: {reason}")
    _print_plan(console, name, described)
    steps = len(described.get("Changes") or [])
    follow(
        console,
        target,
        cfn,
        name,
        steps,
        lambda: cfn.execute_change_set(StackName=name, ChangeSetName=change_set),
    )
    stack = call(target, lambda: cfn.describe_stacks(StackName=name))["Stacks"][0]
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        _print_failure(console, target, cfn, name, stack)
        raise click.ClickException(f"deploy of {name} failed: {stack['StackStatus']}")
    console.print(f"[bold green]{stack['StackStatus']}[/] {name}")
    _print_outputs(console, target, cfn, name)
    _print_endpoints(console, target, cfn, name)


def _default_name(path: Path) -> str:
    base = path.resolve().parent.name or "stack"
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in base).strip("-")
    return cleaned if cleaned and cleaned[0].isalpha() else f"stack-{cleaned}"


def _print_plan(console: Console, name: str, described: dict[str, Any]) -> None:
    table = Table(title=f"plan for {name}", title_justify="left")
    for column in ("Action", "LogicalId", "Type", "Replacement"):
        table.add_column(column)
    for change in described.get("Changes") or []:
        rc = change["ResourceChange"]
        action = rc["Action"]
        table.add_row(
            f"[{_STYLE.get(action, 'white')}]{action}[/]",
            rc["LogicalResourceId"],
            rc["ResourceType"],
            rc.get("Replacement", ""),
        )
    console.print(table)
    if described.get("StatusReason"):
        console.print(f"[yellow]{described['StatusReason']}[/]")


def _print_outputs(console: Console, target: Target, cfn: Any, name: str) -> None:
    stack = call(target, lambda: cfn.describe_stacks(StackName=name))["Stacks"][0]
    outputs = stack.get("Outputs") or []
    if not outputs:
        return
    table = Table(title="outputs", title_justify="left")
    table.add_column("Key")
    table.add_column("Value", overflow="fold")
    rows = [(out["OutputKey"], out.get("OutputValue", "")) for out in outputs]
    for key, value in rows:
        table.add_row(key, value)
    _print_unbroken(console, table, rows)


def _print_endpoints(console: Console, target: Target, cfn: Any, name: str) -> None:
    rows = call(target, lambda: stack_endpoints(target, cfn, name))
    if not rows:
        return
    table = Table(title="endpoints", title_justify="left")
    table.add_column("Resource")
    table.add_column("URL", overflow="fold")
    for logical, url in rows:
        table.add_row(logical, url)
    _print_unbroken(console, table, rows)


def _print_unbroken(console: Console, table: Table, rows: list[tuple[str, str]]) -> None:
    """A table of ARNs and URLs, as wide as its longest row: one folded over two lines
    (80 columns when the output is not a terminal: a CI log) could not be copied."""
    # Each column as wide as its longest cell, plus borders and padding.
    widest = max(len(k) for k, _ in rows) + max(len(v) for _, v in rows) + 7
    if widest <= console.width:
        console.print(table)
        return
    wide = Console(file=console.file, width=widest, force_terminal=console.is_terminal)
    wide.print(table, crop=False)


def _print_failure(
    console: Console, target: Target, cfn: Any, name: str, stack: dict[str, Any]
) -> None:
    console.print(f"[bold red]{stack['StackStatus']}[/] {stack.get('StackStatusReason', '')}")
    events = call(target, lambda: cfn.describe_stack_events(StackName=name))["StackEvents"]
    for event in reversed(events[:30]):
        reason = event.get("ResourceStatusReason", "")
        console.print(f"  {event['ResourceStatus']:<22} {event['LogicalResourceId']:<30} {reason}")


@click.command("delete-stack")
@click.argument("stack_name")
@click.option("--endpoint-url", default=None, help="lambdad's endpoint.")
@click.option("--data-dir", default=None, help="The server's data directory (for its credential).")
def delete_stack(stack_name: str, endpoint_url: str | None, data_dir: str | None) -> None:
    """Delete a stack and every resource it created."""
    target = find_target("cloudformation", endpoint_url, data_dir, os.environ)
    cfn = target.client("cloudformation")
    if call(target, lambda: _stack_status(target, cfn, stack_name)) is None:
        raise click.ClickException(f"Stack with id {stack_name} does not exist")
    count = len(cfn.describe_stack_resources(StackName=stack_name)["StackResources"])
    follow(
        Console(), target, cfn, stack_name, count, lambda: cfn.delete_stack(StackName=stack_name)
    )
    status = call(target, lambda: _stack_status(target, cfn, stack_name))
    if status is not None:
        raise click.ClickException(f"{stack_name}: {status}")
    click.echo(f"deleted stack {stack_name}")
