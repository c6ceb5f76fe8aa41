"""The ``lambdad`` command line: the server and a client for humans.

Only this package prints. Client commands find the server and credentials the way
AWS tools do (see ``cli.target``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from lambdad import __version__, config
from lambdad.cli.exports import export_lines

DEFAULT_ENDPOINT = "http://127.0.0.1:9550"
ENDPOINT_FILE = "endpoint"


def _data_dir(value: str | None) -> Path:
    return config.resolve_data_dir(value, os.environ)


_SETTINGS_HELP = "\n".join(f"  {name} (default {default})" for name, default in config.describe())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="lambdad")
def main() -> None:
    """lambdad: a self-hosted, AWS-Lambda-compatible serverless platform.

    \b
    To start:
      lambdad serve                    in one terminal, then in another, same directory:
      eval "$(lambdad credentials)"    the AWS CLI, boto3 and the SDKs now reach it
      aws lambda list-functions
    """


@main.command(
    epilog="Every setting can also be given as an environment variable:\n\n" + _SETTINGS_HELP
)
@click.option("--host", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [9550].")
@click.option("--data-dir", default=None, help="Data directory [./.lambdad or LAMBDAD_DATA_DIR].")
@click.option(
    "--credential",
    "credentials",
    multiple=True,
    help="AKID:SECRET:ACCOUNT accepted for SigV4 (repeatable; or LAMBDAD_CREDENTIALS).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["auto", "bwrap", "process"]),
    default=None,
    help="Sandbox backend [auto: bwrap where it can run].",
)
@click.option(
    "--strict-runtimes",
    is_flag=True,
    default=None,
    help="Refuse a runtime whose exact interpreter is missing.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def serve(
    host: str | None,
    port: int | None,
    data_dir: str | None,
    credentials: tuple[str, ...],
    sandbox: str | None,
    strict_runtimes: bool | None,
    verbose: bool,
) -> None:
    """Start the server: the Lambda API and the other AWS APIs it answers (the
    endpoints `lambdad credentials` exports), the functions' triggers and the web
    console, on one port."""
    from lambdad import server
    from lambdad.store import serve_lock
    from lambdad.store.sqlite import StoreUnreadable

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = config.Settings.from_env(
        os.environ,
        host=host,
        port=port,
        data_dir=data_dir,
        credentials=credentials or None,
        sandbox=sandbox,
        strict_runtimes=strict_runtimes,
    )
    try:
        held = serve_lock.hold(settings.data_dir)
    except serve_lock.DataDirInUse as exc:
        raise click.ClickException(str(exc)) from None
    if port_in_use(settings.host, settings.port):
        os.close(held)
        raise click.ClickException(
            f"{settings.host}:{settings.port} is in use (another lambdad serve?): stop it, "
            "or pass --port (LAMBDAD_PORT)"
        )
    try:
        platform = server.open_platform(settings)
    except (ValueError, StoreUnreadable) as exc:
        raise click.ClickException(str(exc)) from None
    endpoint = f"http://{settings.host}:{settings.port}"
    # Remembered so that `lambdad credentials` prints where this data dir is served.
    (settings.data_dir / ENDPOINT_FILE).write_text(endpoint + "\n")
    click.echo(f"lambdad {__version__} listening on {endpoint}")
    click.echo(f"data dir: {settings.data_dir}")
    click.echo(f"web console: {endpoint}/console")
    first = next(iter(platform.credentials.values()))
    click.echo(f"access key id: {first.access_key_id} (account {first.account_id})")
    if platform.generated_credential is not None:
        c = platform.generated_credential
        click.echo("a credential was created for this data dir; use it with:")
        for line in export_lines(c, settings.default_region, endpoint):
            click.echo("  " + line)
        click.echo("(`lambdad credentials` prints these again)")
    elif not settings.credentials:
        click.echo("(`lambdad credentials` prints its AWS_* exports)")
    click.echo(f"isolation: {platform.isolation_banner()}")
    sys.stdout.flush()
    try:
        server.run(platform)
    finally:
        os.close(held)


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` is taken, asked before the platform opens: found only when
    uvicorn binds, a second server would already have cleaned up the data directory and
    printed that it listens."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return False  # uvicorn says what is wrong with the address
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


@main.command()
@click.option("--data-dir", default=None, help="Data directory [./.lambdad or LAMBDAD_DATA_DIR].")
@click.option(
    "--endpoint",
    default=None,
    help="Endpoint to print [where the data dir was last served, else http://127.0.0.1:9550].",
)
def credentials(data_dir: str | None, endpoint: str | None) -> None:
    """Print the data directory's credential as `export AWS_...` lines."""
    from lambdad.server import data_dir_credential

    directory = _data_dir(data_dir)
    cred = data_dir_credential(directory)
    if cred is None:
        raise click.ClickException(
            f"no credential in {directory}: start `lambdad serve` there once, or pass --data-dir"
        )
    if endpoint is None:
        served = directory / ENDPOINT_FILE
        endpoint = served.read_text().strip() if served.exists() else DEFAULT_ENDPOINT
    region = (
        os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or config.DEFAULT_REGION
    )
    for line in export_lines(cred, region, endpoint):
        click.echo(line)


def _register_client_commands() -> None:
    from lambdad.cli import async_stats, client, cost, deploy, dev, signing

    main.add_command(client.invoke)
    main.add_command(client.logs)
    main.add_command(client.ls)
    main.add_command(async_stats.async_stats)
    main.add_command(signing.signing_profile)
    main.add_command(signing.sign)
    main.add_command(dev.dev)
    main.add_command(cost.cost)
    main.add_command(deploy.deploy)
    main.add_command(deploy.delete_stack)


def _register_roles() -> None:
    from lambdad.cli.roles import roles
    from lambdad.cli.roles_upstream import list_upstream, remove_upstream, set_upstream

    main.add_command(roles)
    for command in (set_upstream, remove_upstream, list_upstream):
        roles.add_command(command)


_register_client_commands()
_register_roles()


def _register_doctor() -> None:
    from lambdad.cli.doctor import doctor

    main.add_command(doctor)


_register_doctor()


def _register_tune() -> None:
    from lambdad.cli.tune import tune

    main.add_command(tune)


_register_tune()


if __name__ == "__main__":
    main()
