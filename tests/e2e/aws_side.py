"""The AWS side of end-to-end tests: a moto server standing in for S3, SQS, SNS,
EventBridge, Kinesis and DynamoDB, clients for it, a lambdad server pointed at it, and
the asynchronous-invocation counters of a server.

``moto_server`` starts ``moto_server`` on a free port and stops it (the ``moto`` fixture
of ``conftest.py`` gives each module one); with ``no_auth_actions`` it checks signatures
and IAM policies after that many requests (moto's ``INITIAL_NO_AUTH_ACTION_COUNT``), so a
test can tell whose identity signed a call. ``moto_env`` is the environment of a lambdad
server whose calls to those services go to moto, and ``module_server`` runs one for a
module. ``async_stats`` runs ``lambdad async-stats --json`` (the server answers it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import BIN, LambdadServer, client_env, free_port, run_lambdad, serving

MOTO_REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"  # moto's default account


@contextlib.contextmanager
def moto_server(
    log: Path, no_auth_actions: int | None = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """A moto server on a free port (listening on ``host``); its endpoint on loopback."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if no_auth_actions is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(no_auth_actions)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", host, "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            # A connection, not a request: requests count against no_auth_actions.
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def moto_client(
    endpoint: str,
    service: str,
    access_key_id: str = "testing",
    secret_access_key: str = "testing",
    connections: int = 10,
) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=MOTO_REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=connections),
    )


def moto_env(endpoint: str, *services: str, **settings: str) -> dict[str, str]:
    """The environment of a lambdad server (process sandbox) whose calls to ``services``
    (boto3's ``AWS_ENDPOINT_URL_<SERVICE>`` names: ``SQS``, ``DYNAMODB_STREAMS``...) go
    to moto, signed with the identity the operator lends moto's account (outbound.py);
    ``settings`` add to it or override it."""
    env = {f"AWS_ENDPOINT_URL_{service}": endpoint for service in services}
    env.update(
        LAMBDAD_SANDBOX="process",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=MOTO_REGION,
        LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS=MOTO_ACCOUNT,
    )
    env.update(settings)
    return env


@contextlib.contextmanager
def module_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: Mapping[str, str]
) -> Iterator[LambdadServer]:
    """A server of a module's own, for a module-scoped fixture (``serving`` it)."""
    with serving(LambdadServer(tmp_path_factory.mktemp(name) / "data", env=dict(env))) as srv:
        yield srv


def queue_arn(name: str, account: str = MOTO_ACCOUNT) -> str:
    return f"arn:aws:sqs:{MOTO_REGION}:{account}:{name}"


def receive(sqs: Any, url: str, timeout: float = 15.0) -> dict[str, Any]:
    """The next message of a queue (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1, MaxNumberOfMessages=1
        )
        if got.get("Messages"):
            message: dict[str, Any] = got["Messages"][0]
            return message
    raise AssertionError(f"no message in {url} after {timeout} s")


def async_stats(server: LambdadServer, name: str, account: str | None = None) -> dict[str, Any]:
    """``lambdad async-stats --json``'s row for one function of ``account`` (the
    server's default signer's unless given), as its owner runs it."""
    cred = server.credential_for(account)
    env = client_env(
        server, AWS_ACCESS_KEY_ID=cred.access_key_id, AWS_SECRET_ACCESS_KEY=cred.secret_access_key
    )
    proc = run_lambdad("async-stats", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    return next((r for r in rows if r["function"] == name), {})


def wait_stat(
    server: LambdadServer, name: str, counter: str, at_least: int, account: str | None = None
) -> dict[str, Any]:
    """The function's row once ``counter`` reached ``at_least``."""
    deadline = time.monotonic() + 15
    while (row := async_stats(server, name, account)).get(counter, 0) < at_least:
        if time.monotonic() > deadline:
            raise AssertionError(f"{counter} of {name} stayed below {at_least}: {row}")
        time.sleep(0.05)
    return row


def wait_for(what: Callable[[], Any], timeout: float = 20.0) -> Any:
    """``what()`` once it is true (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return got


@contextlib.contextmanager
def event_source_mappings(lam: Any) -> Iterator[Callable[..., str]]:
    """``create(**CreateEventSourceMapping's parameters)``: a mapping's UUID once it is
    past Creating; every mapping made is deleted when the block ends."""
    made: list[str] = []

    def create(**params: Any) -> str:
        uuid_: str = lam.create_event_source_mapping(**params)["UUID"]
        made.append(uuid_)
        wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] != "Creating")
        return uuid_

    try:
        yield create
    finally:
        for uuid_ in made:
            with contextlib.suppress(ClientError):
                lam.delete_event_source_mapping(UUID=uuid_)
