"""End-to-end fixtures: the real ``lambdad serve`` as a subprocess, and ways to drive it.

- ``lambdad``: one server for the whole session (two accounts: ``PRIMARY`` signs by
  default, ``OTHER`` is a second account for isolation tests). Tests share it, so
  they name their functions with ``unique_name``.
- ``lambdad_factory``: more servers for one test (own data dir, env, credentials),
  stopped at the end of the test.
- ``new_function``: creates a function on the session server and deletes it after.
- ``new_balancer``: creates a load balancer (``elbv2``) and deletes it after, which
  closes its listeners' ports.
- ``make_zip``: builds an archive in memory (also importable from ``e2e.helpers``).
- ``moto``: a moto server for the module (``e2e.aws_side``); its endpoint.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from e2e.aws_side import moto_server
from e2e.helpers import (
    OTHER,
    PRIMARY,
    ROLE,
    LambdadServer,
    TestCredential,
    handler_zip,
    role_for,
    serving,
)
from e2e.helpers import make_zip as _make_zip


@pytest.fixture(scope="session")
def lambdad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    with serving(LambdadServer(tmp_path_factory.mktemp("lambdad") / "data")) as server:
        yield server


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server for the module (SQS, SNS, S3, Kinesis, DynamoDB...); its endpoint."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


ServerFactory = Callable[..., LambdadServer]


@pytest.fixture
def lambdad_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start extra servers: ``lambdad_factory(data_dir=None, credentials=..., env={...})``."""
    started: list[LambdadServer] = []
    counter = itertools.count()

    def start(
        data_dir: Path | None = None,
        credentials: tuple[TestCredential, ...] | None = (PRIMARY, OTHER),
        env: Mapping[str, str] | None = None,
        start: bool = True,
    ) -> LambdadServer:
        server = LambdadServer(
            data_dir or tmp_path / f"data{next(counter)}",
            credentials=credentials,
            env=dict(env or {}),
        )
        started.append(server)
        return server.start() if start else server

    yield start
    for server in started:
        # SIGTERM: a clean stop removes the server's cgroups and sandboxes.
        if server.process is not None:
            server.stop()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Function names no other test on the shared server uses."""
    base = request.node.name.split("[")[0].removeprefix("test_")[:30].replace("_", "-")

    def name(suffix: str = "") -> str:
        return f"{base}-{suffix}{uuid.uuid4().hex[:8]}"[:64]

    return name


@pytest.fixture
def new_function(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> Iterator[Callable[..., dict[str, Any]]]:
    """``new_function(ZipFile=..., Runtime=..., **create_function_args)`` -> the response.

    Defaults: a fresh name, python3.12, ``app.handler`` echoing its event. Every
    function made is deleted after the test (in whatever region and account).
    """
    made: list[tuple[Any, str]] = []

    def create(
        zip_file: bytes | None = None,
        *,
        region: str | None = None,
        account: str | None = None,
        wait: bool = True,
        **params: Any,
    ) -> dict[str, Any]:
        client = lambdad.client("lambda", region=region, account=account)
        args: dict[str, Any] = {
            "FunctionName": unique_name(),
            "Runtime": "python3.12",
            "Role": role_for(account) if account else ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": zip_file if zip_file is not None else handler_zip()},
            **params,
        }
        result: dict[str, Any] = client.create_function(**args)
        made.append((client, result["FunctionName"]))
        if wait:
            client.get_waiter("function_active_v2").wait(
                FunctionName=result["FunctionName"],
                WaiterConfig={"Delay": 0.05, "MaxAttempts": 200},
            )
        return result

    yield create
    for client, name in made:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function(FunctionName=name)


@pytest.fixture
def new_balancer(lambdad: LambdadServer) -> Iterator[Callable[[str], dict[str, Any]]]:
    """``new_balancer(name)`` -> the load balancer made (deleted after the test)."""
    elb = lambdad.client("elbv2")
    made: list[str] = []

    def create(name: str) -> dict[str, Any]:
        balancer: dict[str, Any] = elb.create_load_balancer(Name=name)["LoadBalancers"][0]
        made.append(balancer["LoadBalancerArn"])
        return balancer

    yield create
    for arn in made:
        with contextlib.suppress(elb.exceptions.LoadBalancerNotFoundException):
            elb.delete_load_balancer(LoadBalancerArn=arn)


@pytest.fixture
def make_zip() -> Callable[..., bytes]:
    return _make_zip
