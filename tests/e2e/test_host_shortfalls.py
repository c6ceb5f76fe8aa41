"""Settings this host cannot honour are said where the user looks, never silently dropped.

The control plane stays AWS-exact (the function is created and Active), but the server
logs it at creation, the invoke error or the init log says it, and ``lambdad ls``
marks the function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from e2e.helpers import LambdadServer, client_env, run_lambdad
from e2e.invoke_support import Deployer, probe_zip, wait_for_log
from lambdad.runtimes.host_support import host_architecture

OTHER_ARCH = "arm64" if host_architecture() == "x86_64" else "x86_64"


@pytest.fixture(scope="module")
def deploy(lambdad: LambdadServer) -> Iterator[Deployer]:
    deployer = Deployer(lambdad, "host")
    yield deployer
    deployer.delete_all()
    assert not deployer.server_errors(), deployer.server_errors()


def ls(server: LambdadServer) -> str:
    proc = run_lambdad("ls", env=client_env(server))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def row(listing: str, name: str) -> str:
    return next(line for line in listing.splitlines() if f" {name} " in line and "│" in line)


def test_a_runtime_lambdad_cannot_run_is_created_and_said_everywhere(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    before = len(lambdad.stderr())
    name = deploy(probe_zip(), runtime="java21", handler="example.Handler")
    config = lambdad.client("lambda").get_function_configuration(FunctionName=name)
    assert (config["State"], config["Runtime"]) == ("Active", "java21")
    warned = lambdad.stderr()[before:]
    assert f"function {name} " in warned
    assert "cannot run on this host" in warned
    listing = ls(lambdad)
    assert "cannot run" in row(listing, name)
    assert f"{name}: The java21 runtime is not available" in listing


def test_the_invoke_error_says_what_runs_here(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = deploy(probe_zip(), runtime="java21", handler="example.Handler")
    client = lambdad.client("lambda")
    with pytest.raises(client.exceptions.InvalidRuntimeException) as caught:
        client.invoke(FunctionName=name, Payload=b"{}")
    message = caught.value.response["Error"]["Message"]
    assert "java21" in message
    assert "python3.x, nodejs*.x, provided.al2, provided.al2023" in message


def test_ignored_settings_run_but_the_init_log_and_ls_say_so(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(
        probe_zip(),
        Architectures=[OTHER_ARCH],
        VpcConfig={"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-01"]},
    )
    out = lambdad.client("lambda").invoke(FunctionName=name, Payload=b'{"still": "runs"}')
    assert json.loads(out["Payload"].read()) == {"still": "runs"}
    messages = wait_for_log(lambdad, name, "REPORT RequestId")
    assert any(m.startswith(f"lambdad: Architectures {OTHER_ARCH}: this host") for m in messages)
    assert any(m.startswith("lambdad: VpcConfig: lambdad attaches no VPC") for m in messages)
    listing = ls(lambdad)
    assert "degraded" in row(listing, name)
    assert f"{name}: VpcConfig" in listing
    assert "Architectures" in lambdad.stderr()
