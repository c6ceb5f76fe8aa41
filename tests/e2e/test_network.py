"""Outbound networking of isolated environments, from the first line of their init.

An environment's NAT helper is started while its sandbox is built (a zygote's spare
sandbox has its own before anyone asks for it); the runtime runs only once the helper
says it is up, so init code that reaches out (a secret, a configuration) finds the
network there on every cold start, not only by the first event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from e2e.helpers import LambdadServer
from e2e.sandboxes import deploy_hostile, host_listener, require_full_isolation

require_full_isolation()

ServerFactory = Callable[..., LambdadServer]
# Both ways an environment starts: bwrap exec'ing the runtime, or a zygote's fork.
START_PATHS = {"exec": "false", "zygote": "true"}
CONCURRENT = 8  # more than the spare sandboxes a zygote keeps: most are built anew

REACH_AT_INIT = """
import os, socket, time

host, port = os.environ["TARGET"].rsplit(":", 1)
try:
    socket.create_connection((host, int(port)), timeout=5).close()
    AT_INIT = "connected"
except OSError as exc:
    AT_INIT = f"{type(exc).__name__}: {exc}"
ENVIRONMENT = os.urandom(8).hex()


def handler(event, context):
    time.sleep(0.3)  # holds its environment: the others are cold starts too
    return {"init": AT_INIT, "environment": ENVIRONMENT}
"""


@pytest.fixture(name="host_listener")
def host_listener_fixture() -> Iterator[tuple[str, int]]:
    with host_listener(4 * CONCURRENT) as published:
        yield published


@pytest.mark.parametrize("start", sorted(START_PATHS))
def test_init_code_reaches_the_network_on_every_cold_start(
    lambdad_factory: ServerFactory, host_listener: tuple[str, int], start: str
) -> None:
    srv = lambdad_factory(
        env={
            "LAMBDAD_SANDBOX": "bwrap",
            "LAMBDAD_NETWORK": "isolated",
            "LAMBDAD_FAST_PATH": START_PATHS[start],
        }
    )
    addr, port = host_listener
    seen: set[str] = set()
    # A function of its own per burst, so every invocation is a cold start; the second
    # burst has the spare sandboxes built after the first.
    for _ in range(2):
        name = deploy_hostile(
            srv,
            "reach",
            files={"reach.py": REACH_AT_INIT},
            Handler="reach.handler",
            Environment={"Variables": {"TARGET": f"{addr}:{port}"}},
        )

        def invoke(_: int, name: str = name) -> Any:
            resp = srv.client().invoke(FunctionName=name, Payload=b"{}")
            return json.loads(resp["Payload"].read())

        with ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(invoke, range(CONCURRENT)))

        assert [r["init"] for r in results] == ["connected"] * CONCURRENT, results
        environments = {r["environment"] for r in results}
        assert len(environments) == CONCURRENT
        assert seen.isdisjoint(environments)
        seen |= environments
