"""``lambdad roles``: functions' execution roles, their identity and trust policies.

An operator's command over the data directory's ``roles.json`` (store/roles.py), like
``lambdad credentials``: a running server notices the change on the next request a
function makes with its role's session, or that names a role. A role with no policy
here may call Lambda and CloudWatch Logs operations in its own account (the default).
Once a role of an account is created here (a trust policy declared), the account's
functions must name a declared role that trusts Lambda (model/role_trust.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click

from lambdad import config
from lambdad.model.role_policy import DEFAULT, RolePolicy, Statement, from_document
from lambdad.model.role_trust import LAMBDA_TRUST, Role, trust_text
from lambdad.store import roles as roles_file

_DATA_DIR = click.option(
    "--data-dir", default=None, help="Data directory [./.lambdad or LAMBDAD_DATA_DIR]."
)


def existing_data_dir(data_dir: str | None) -> Path:
    """The data directory a command means, which must exist: run elsewhere than where
    ``lambdad serve`` ran, a file written to a new ``./.lambdad`` would change nothing."""
    directory = config.resolve_data_dir(data_dir, os.environ)
    if not directory.is_dir():
        raise click.ClickException(
            f"no data directory at {directory}: run this where `lambdad serve` ran, "
            "or pass --data-dir (or LAMBDAD_DATA_DIR)"
        )
    return directory


def _path(data_dir: str | None) -> Path:
    return existing_data_dir(data_dir) / roles_file.FILE_NAME


def _change(data_dir: str | None, change: Callable[[dict[str, Role]], None]) -> None:
    try:
        roles_file.update(_path(data_dir), change)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _read_trust(trust_file: IO[str]) -> str:
    try:
        return trust_text(json.load(trust_file))
    except ValueError as exc:
        raise click.ClickException(f"{trust_file.name}: {exc}") from None


@click.group()
def roles() -> None:
    """Execution roles: what functions may do with their credentials, who may assume them."""


@roles.command("ls")
@_DATA_DIR
def list_roles(data_dir: str | None) -> None:
    """Print every declared role's policies (JSON)."""
    try:
        declared = roles_file.load(_path(data_dir))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    doc = {arn: roles_file.as_document(r) for arn, r in sorted(declared.items())}
    doc["(any other role)"] = DEFAULT.as_document()
    click.echo(json.dumps(doc, indent=2))


@roles.command("create")
@_DATA_DIR
@click.argument("role_arn")
@click.option(
    "--trust-policy",
    "trust_file",
    type=click.File(),
    default=None,
    help="An AssumeRolePolicyDocument (a file, or - for stdin) [trusts lambda.amazonaws.com].",
)
def create(data_dir: str | None, role_arn: str, trust_file: IO[str] | None) -> None:
    """Declare ROLE_ARN with a trust policy: the account's roles are checked from now on."""
    trust = _read_trust(trust_file) if trust_file else trust_text(LAMBDA_TRUST)

    def change(declared: dict[str, Role]) -> None:
        current = declared.get(role_arn)
        if current is not None and current.trust is not None and not current.stack:
            raise click.ClickException(f"{role_arn} already exists")
        declared[role_arn] = Role(current.policy if current else None, trust)

    _change(data_dir, change)


@roles.command("set-trust")
@_DATA_DIR
@click.argument("role_arn")
@click.argument("trust_file", type=click.File())
def set_trust(data_dir: str | None, role_arn: str, trust_file: IO[str]) -> None:
    """Replace ROLE_ARN's trust policy (an AssumeRolePolicyDocument file, or -)."""
    trust = _read_trust(trust_file)

    def change(declared: dict[str, Role]) -> None:
        current = declared.get(role_arn)
        declared[role_arn] = Role(current.policy if current else None, trust)

    _change(data_dir, change)


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
    _set_policy(data_dir, role_arn, lambda _current: policy)


@roles.command("rm")
@_DATA_DIR
@click.argument("role_arn")
def remove(data_dir: str | None, role_arn: str) -> None:
    """Remove ROLE_ARN: it gets the default policy, and is no longer declared."""

    def change(declared: dict[str, Role]) -> None:
        if declared.pop(role_arn, None) is None:
            raise click.ClickException(f"no role {role_arn} declared")

    _change(data_dir, change)


def _add(data_dir: str | None, role_arn: str, statement: Statement) -> None:
    def extend(current: RolePolicy | None) -> RolePolicy:
        return RolePolicy((*(current.statements if current else ()), statement))

    _set_policy(data_dir, role_arn, extend)


def _set_policy(
    data_dir: str | None, role_arn: str, policy: Callable[[RolePolicy | None], RolePolicy]
) -> None:
    # Any change here makes the role the operator's (a stack no longer removes it).
    def change(declared: dict[str, Role]) -> None:
        current = declared.get(role_arn, Role())
        declared[role_arn] = Role(policy(current.policy), current.trust)

    _change(data_dir, change)
