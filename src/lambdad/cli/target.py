"""Where and as whom the client commands call: finding a running server.

As AWS tools do:

- endpoint: ``--endpoint-url``, else ``AWS_ENDPOINT_URL_LAMBDA`` (for ``logs``:
  ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`` first), then ``AWS_ENDPOINT_URL``, then the
  profile's ``endpoint_url``, then ``http://127.0.0.1:9550``;
- credentials: boto3's chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a
  profile, the shared files), else the credential ``lambdad serve`` keeps in its data
  directory (``--data-dir``, ``LAMBDAD_DATA_DIR`` or ``./.lambdad``);
- region: ``AWS_REGION``/``AWS_DEFAULT_REGION`` or the profile's, else ``us-east-1``.

``Target.client`` makes a boto3 client that signs for it, and ``call`` turns what can
go wrong in a call into a message saying what to do. boto3 is imported only when a
command runs, so that ``lambdad serve`` does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from lambdad.config import DEFAULT_REGION, resolve_data_dir

DEFAULT_ENDPOINT = "http://127.0.0.1:9550"
# Environment variables naming the endpoint, most specific first, per boto3 service.
ENDPOINT_VARIABLES = {
    "lambda": ("AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"),
    "logs": ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"),
    "cloudformation": (
        "AWS_ENDPOINT_URL_CLOUDFORMATION",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_ENDPOINT_URL",
    ),
}


def find_endpoint(
    environ: Mapping[str, str], service: str = "lambda", fallback: str = DEFAULT_ENDPOINT
) -> str:
    for name in ENDPOINT_VARIABLES[service]:
        value = environ.get(name, "").strip()
        if value:
            return value.rstrip("/")
    return fallback


def checked_endpoint(url: str) -> str:
    """``url`` if it can be an endpoint (http or https, a host), else a message saying
    what one looks like (botocore's own is a traceback)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        ok = False
    if not ok:
        raise click.ClickException(
            f"{url!r} is not an endpoint URL: give one such as {DEFAULT_ENDPOINT} "
            "(--endpoint-url, AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL)"
        )
    return url


@dataclass(frozen=True, slots=True)
class Target:
    """Where and as whom client commands call."""

    endpoint: str
    region: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            config=Config(retries={"max_attempts": 1}, read_timeout=960, connect_timeout=5),
        )


def find_target(
    service: str, endpoint: str | None, data_dir: str | None, environ: Mapping[str, str]
) -> Target:
    import boto3
    import botocore.exceptions
    import botocore.session

    try:
        core = botocore.session.get_session()
        # Instance and container roles cannot sign for lambdad, and probing for them
        # costs seconds on any machine that is not in AWS.
        resolver = core.get_component("credential_provider")
        for provider in ("container-role", "iam-role"):
            if resolver.get_provider(provider) is not None:
                resolver.remove(provider)
        session = boto3.session.Session(botocore_session=core)
        creds = session.get_credentials()
        region = session.region_name
        # A profile's own endpoint_url, as the AWS CLI and SDKs read it.
        profile_url = str(core.get_scoped_config().get("endpoint_url") or "").strip()
    except botocore.exceptions.BotoCoreError as exc:
        raise click.ClickException(str(exc)) from None
    # boto3 reads AWS_DEFAULT_REGION; the AWS SDKs and `lambdad credentials` use AWS_REGION.
    region = environ.get("AWS_REGION") or region or DEFAULT_REGION
    fallback = profile_url.rstrip("/") or DEFAULT_ENDPOINT
    url = checked_endpoint(endpoint or find_endpoint(environ, service, fallback))
    if creds is not None:
        frozen = creds.get_frozen_credentials()
        return Target(url, region, frozen.access_key, frozen.secret_key, frozen.token)
    from lambdad.server import data_dir_credential

    directory = resolve_data_dir(data_dir, environ)
    cred = data_dir_credential(directory)
    if cred is None:
        raise click.ClickException(
            f"no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see "
            f"`lambdad credentials`), or point --data-dir / LAMBDAD_DATA_DIR at the "
            f"server's data directory (looked in {directory})"
        )
    return Target(url, region, cred.access_key_id, cred.secret_access_key)


def call(target: Target, fn: Callable[[], Any]) -> Any:
    """Run one API call; turn what can go wrong into a message that says what to do."""
    import botocore.exceptions

    try:
        return fn()
    except botocore.exceptions.EndpointConnectionError:
        raise click.ClickException(
            f"cannot reach lambdad at {target.endpoint}: is `lambdad serve` running? "
            "(set AWS_ENDPOINT_URL or --endpoint-url to point elsewhere)"
        ) from None
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        raise click.ClickException(f"{err.get('Code')}: {err.get('Message')}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise click.ClickException(str(exc)) from None
