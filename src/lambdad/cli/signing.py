"""``lambdad signing-profile`` and ``lambdad sign``: the publishers' keys the server
keeps, and signing a deployment package with one, as an AWS Signer job would.

A code signing configuration (``aws lambda create-code-signing-config
--allowed-publishers SigningProfileVersionArns=ARN``) trusts a profile version by the
ARN ``signing-profile create`` prints; ``sign`` writes the signed .zip, an ordinary
archive whose comment carries the signature.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import click

from lambdad.cli import own_api
from lambdad.cli.target import find_target

PATH = "/_lambdad/signing-profiles"
_endpoint = click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL].")
_data_dir = click.option("--data-dir", default=None, help="Where to find a credential.")


@click.group("signing-profile")
def signing_profile() -> None:
    """Signing profiles (keys kept by the server) for code signing."""


@signing_profile.command("create")
@click.argument("name")
@click.option("--validity-days", type=int, default=None, help="How long signatures last.")
@_endpoint
@_data_dir
def create(
    name: str, validity_days: int | None, endpoint_url: str | None, data_dir: str | None
) -> None:
    """Create profile NAME, or a new version of it; prints the version's ARN."""
    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    body = json.dumps({} if validity_days is None else {"SignatureValidityDays": validity_days})
    path = f"{PATH}/{quote(name, safe='')}"
    answer = json.loads(own_api.request(target, "POST", path, body.encode()))
    click.echo(answer["ProfileVersionArn"])


@signing_profile.command("list")
@_endpoint
@_data_dir
def list_profiles(endpoint_url: str | None, data_dir: str | None) -> None:
    """The account's profiles and their versions, as JSON."""
    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    click.echo(json.dumps(json.loads(own_api.request(target, "GET", PATH)), indent=2))


@signing_profile.command("revoke")
@click.argument("name")
@click.argument("version")
@click.option("--effective-time", default=None, help="ISO time with zone (default: now).")
@click.option("--reason", default="", help="Why it is revoked.")
@_endpoint
@_data_dir
def revoke(
    name: str,
    version: str,
    effective_time: str | None,
    reason: str,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Revoke VERSION of profile NAME: its signatures from the effective time on fail."""
    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    doc: dict[str, str] = {"ProfileVersion": version, "Reason": reason}
    if effective_time:
        doc["EffectiveTime"] = effective_time
    own_api.request(
        target, "POST", f"{PATH}/{quote(name, safe='')}/revoke", json.dumps(doc).encode()
    )


@click.command("sign")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", "profile", required=True, help="The signing profile's name.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@_endpoint
@_data_dir
def sign(
    archive: Path,
    profile: str,
    output: Path | None,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Sign ARCHIVE (.zip) with PROFILE; writes ARCHIVE-signed.zip or --output."""
    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    signed = own_api.request(
        target, "POST", f"{PATH}/{profile}/sign", archive.read_bytes(), "application/zip"
    )
    destination = output or archive.with_name(f"{archive.stem}-signed.zip")
    destination.write_bytes(signed)
    click.echo(str(destination))
