"""``lambdad roles upstream``: the credentials lambdad signs a role's calls with upstream.

For endpoints the operator mapped (``LAMBDAD_FUNCTION_ENDPOINTS``) that check
signatures (a real AWS account, MinIO, DynamoDB Local, LocalStack): per execution
role and per service (the name requests are signed for: ``s3``, ``dynamodb``... or
``*``), the keys lambdad's relay signs the function's requests with once it has
checked the role session's signature (model/upstream.py). The function never holds
them. An operator's command over the data directory's ``upstream.json`` (mode 0600,
changed under its lock: store/upstream.py); a running server uses the change within a
second (which endpoints are relayed: for environments started after it). The secret key
is read from standard input (hidden when it is a terminal), never from the command line,
which the host's other users can read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from lambdad.cli.roles import existing_data_dir
from lambdad.model.upstream import UpstreamCredential
from lambdad.store import upstream as upstream_file

Table = dict[str, dict[str, UpstreamCredential]]
_DATA_DIR = click.option(
    "--data-dir", default=None, help="Data directory [./.lambdad or LAMBDAD_DATA_DIR]."
)


def _path(data_dir: str | None) -> Path:
    return existing_data_dir(data_dir) / upstream_file.FILE_NAME


def _load(data_dir: str | None) -> Table:
    try:
        return upstream_file.load(_path(data_dir))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _change(data_dir: str | None, change: Callable[[Table], object]) -> None:
    """Change the file under its lock (another command at once loses nothing)."""
    try:
        upstream_file.update(_path(data_dir), change)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _read_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True))
    return sys.stdin.readline().strip()


@click.command("upstream")
@_DATA_DIR
@click.argument("role_arn")
@click.argument("service")
@click.option("--access-key-id", required=True, help="The upstream's access key id.")
@click.option(
    "--with-session-token",
    is_flag=True,
    help="Read a session token too (the line after the secret key on stdin).",
)
@click.option("--region", default=None, help="Sign for this region [the function's].")
def set_upstream(
    data_dir: str | None,
    role_arn: str,
    service: str,
    access_key_id: str,
    with_session_token: bool,
    region: str | None,
) -> None:
    """Sign ROLE_ARN's calls to SERVICE (s3, dynamodb, ... or *) with these keys upstream
    (the secret key from stdin)."""
    secret = _read_secret("Secret access key")
    token = _read_secret("Session token") if with_session_token else None
    if not secret:
        raise click.ClickException("no secret access key on standard input")
    credential = UpstreamCredential(access_key_id, secret, token or None, region)
    _change(data_dir, lambda table: table.setdefault(role_arn, {}).update({service: credential}))


@click.command("upstream-rm")
@_DATA_DIR
@click.argument("role_arn")
@click.argument("service", required=False)
def remove_upstream(data_dir: str | None, role_arn: str, service: str | None) -> None:
    """Stop signing ROLE_ARN's calls (to SERVICE, or to any) upstream."""

    def remove(table: Table) -> None:
        if service is None:
            removed = table.pop(role_arn, None) is not None
        else:
            removed = table.get(role_arn, {}).pop(service, None) is not None
        if not removed:  # nothing changed: nothing saved
            raise ValueError(f"no upstream credentials for {role_arn} {service or ''}")

    _change(data_dir, remove)


@click.command("upstream-ls")
@_DATA_DIR
def list_upstream(data_dir: str | None) -> None:
    """Print each role's services and the access key id used for them (no secret)."""
    for role, services in sorted(_load(data_dir).items()):
        for service, credential in sorted(services.items()):
            region = f" region={credential.region}" if credential.region else ""
            click.echo(f"{role}\t{service}\t{credential.access_key_id}{region}")
