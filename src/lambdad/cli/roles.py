"""``lambdad roles``: the identity policies of functions' execution roles.

An operator's command over the data directory's ``roles.json`` (store/roles.py), like
``lambdad credentials``: a running server notices the change on the next request a
function makes with its role's session. A role with no policy here may call Lambda
and CloudWatch Logs operations in its own account (the default).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

import click

from lambdad import config
from lambdad.model.role_policy import DEFAULT, RolePolicy, Statement, from_document
from lambdad.store import roles as roles_file

_DATA_DIR = click.option(
    "--data-dir", default=None, help="Data directory [./.lambdad or LAMBDAD_DATA_DIR]."
)


def _path(data_dir: str | None) -> Path:
    return config.resolve_data_dir(data_dir, os.environ) / roles_file.FILE_NAME


def _load(data_dir: str | None) -> dict[str, RolePolicy]:
    try:
        return roles_file.load(_path(data_dir))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def roles() -> None:
    """Execution roles' policies: what functions may do with their credentials."""


@roles.command("ls")
@_DATA_DIR
def list_roles(data_dir: str | None) -> None:
    """Print every configured role's policy (JSON)."""
    policies = _load(data_dir)
    doc = {role: p.as_document() for role, p in sorted(policies.items())}
    doc["(any other role)"] = DEFAULT.as_document()
    click.echo(json.dumps(doc, indent=2))


@roles.command("allow")
@_DATA_DIR
@click.argument("role_arn")
@click.option("--action", "actions", multiple=True, required=True, help="e.g. lambda:Get*")
@click.option("--resource", "resources", multiple=True, default=("*",), show_default=True)
def allow(
    data_dir: str | None, role_arn: str, actions: tuple[str, ...], resources: tuple[str, ...]
) -> None:
    """Add an Allow statement to ROLE_ARN's policy (its first replaces the default)."""
    _add(data_dir, role_arn, Statement("Allow", actions, resources))


@roles.command("deny")
@_DATA_DIR
@click.argument("role_arn")
@click.option("--action", "actions", multiple=True, required=True)
@click.option("--resource", "resources", multiple=True, default=("*",), show_default=True)
def deny(
    data_dir: str | None, role_arn: str, actions: tuple[str, ...], resources: tuple[str, ...]
) -> None:
    """Add a Deny statement to ROLE_ARN's policy."""
    _add(data_dir, role_arn, Statement("Deny", actions, resources))


@roles.command("set")
@_DATA_DIR
@click.argument("role_arn")
@click.argument("policy_file", type=click.File())
def set_policy(data_dir: str | None, role_arn: str, policy_file: IO[str]) -> None:
    """Replace ROLE_ARN's policy with an IAM policy document (a file, or - for stdin)."""
    try:
        policy = from_document(json.load(policy_file))
    except ValueError as exc:
        raise click.ClickException(f"{policy_file.name}: {exc}") from None
    policies = _load(data_dir)
    policies[role_arn] = policy
    roles_file.save(_path(data_dir), policies)


@roles.command("rm")
@_DATA_DIR
@click.argument("role_arn")
def remove(data_dir: str | None, role_arn: str) -> None:
    """Remove ROLE_ARN's policy: it gets the default again."""
    policies = _load(data_dir)
    if policies.pop(role_arn, None) is None:
        raise click.ClickException(f"no policy for {role_arn}")
    roles_file.save(_path(data_dir), policies)


def _add(data_dir: str | None, role_arn: str, statement: Statement) -> None:
    policies = _load(data_dir)
    current = policies.get(role_arn, RolePolicy(()))
    policies[role_arn] = RolePolicy((*current.statements, statement))
    roles_file.save(_path(data_dir), policies)
