"""The end-to-end cases of AWS's Runtime Interface Emulator, against lambdad's Invoke.

AWS's emulator (``aws-lambda-runtime-interface-emulator``) checks, in
``test/integration/local_lambda/test_end_to_end.py``, that a container behaves like
Lambda for: an environment variable whose value contains ``=``, two invokes in a row,
the function ARN in the context (also under another function name), a timeout,
an exception's payload, ``get_remaining_time_in_millis`` under several timeouts,
an older runtime, a function name the user cannot override, and a custom client
context. The same behaviours are checked here, with handlers of our own, through
boto3 against a real server. Where the emulator differs from AWS (it answers a
timeout with plain text, and its default timeout is 300 s) the test expects what
AWS does: a JSON error document, and a default timeout of 3 s. Its port-override
case has no counterpart: lambdad picks each environment's Runtime API address and
passes it in ``AWS_LAMBDA_RUNTIME_API`` (see the provided-runtime tests).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from e2e.helpers import PRIMARY, ROLE, LambdadServer, make_zip
from e2e.invoke_support import Deployer, invoke

ACCOUNT = PRIMARY.account_id

# Line numbers matter: the exception test checks the stack trace exactly.
MAIN = """import os
import time


def explode(event, context):
    note = "line 6"
    raise Exception("Raising an exception")


def greet(event, context):
    print("Printing data to console")
    return "My lambda ran succesfully"


def read_my_env(event, context):
    return os.environ.get("MyEnv")


def whoami(event, context):
    return {
        "arn": context.invoked_function_arn,
        "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
    }


def doze(event, context):
    time.sleep(event.get("seconds", 5))
    return context.get_remaining_time_in_millis()


def client_custom(event, context):
    return context.client_context.custom
"""


@pytest.fixture(scope="module")
def deploy(lambdad: LambdadServer) -> Iterator[Deployer]:
    deployer = Deployer(lambdad, "rie")
    yield deployer
    deployer.delete_all()
    assert not deployer.server_errors(), deployer.server_errors()


def main_function(deploy: Deployer, handler: str, **params: object) -> str:
    return deploy(make_zip({"main.py": MAIN}), handler=f"main.{handler}", **params)


def test_env_var_with_equal_sign(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = main_function(deploy, "read_my_env", Environment={"Variables": {"MyEnv": "4=4"}})
    assert invoke(lambdad, name).payload == b'"4=4"'


def test_two_invokes(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = main_function(deploy, "greet")
    first = invoke(lambdad, name)
    second = invoke(lambdad, name)
    for out in (first, second):
        assert out.status == 200
        assert out.function_error is None
        assert out.payload == b'"My lambda ran succesfully"'
        assert "Printing data to console" in out.log.splitlines()
    assert first.cold
    assert not second.cold


def test_lambda_function_arn_exists(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = main_function(deploy, "whoami")
    doc = invoke(lambdad, name).json()
    assert doc["name"] == name
    assert doc["arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def test_lambda_function_arn_exists_with_a_custom_name(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = main_function(deploy, "whoami", name=f"MyCoolName-{id(deploy) % 100000}")
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    for target in (name, arn, f"{ACCOUNT}:function:{name}"):
        doc = invoke(lambdad, target).json()
        assert doc == {"arn": arn, "name": name, "task_root": doc["task_root"]}


def test_function_name_cannot_be_overridden(lambdad: LambdadServer, deploy: Deployer) -> None:
    client = lambdad.client("lambda")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as info:
        client.create_function(
            FunctionName="rie-override-attempt",
            Runtime="python3.12",
            Role=ROLE,
            Handler="main.whoami",
            Code={"ZipFile": make_zip({"main.py": MAIN})},
            Environment={"Variables": {"AWS_LAMBDA_FUNCTION_NAME": "MyCoolName"}},
        )
    assert "AWS_LAMBDA_FUNCTION_NAME" in str(info.value)
    name = main_function(deploy, "whoami")
    assert invoke(lambdad, name).json()["name"] == name


def test_timeout_invoke(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = main_function(deploy, "doze", Timeout=1)
    out = invoke(lambdad, name, {"seconds": 5})
    assert out.elapsed < 1.5
    assert out.function_error == "Unhandled"
    doc = out.json()
    assert doc["errorType"] == "Sandbox.Timedout"
    assert doc["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_exception_returned(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = main_function(deploy, "explode")
    out = invoke(lambdad, name)
    assert out.function_error == "Unhandled"
    doc = out.json()
    assert doc["errorMessage"] == "Raising an exception"
    assert doc["errorType"] == "Exception"
    assert doc["requestId"] == out.request_id
    task_root = invoke_whoami_task_root(lambdad, deploy)
    assert doc["stackTrace"] == [
        f'  File "{task_root}/main.py", line 7, in explode\n'
        '    raise Exception("Raising an exception")\n'
    ]


def invoke_whoami_task_root(lambdad: LambdadServer, deploy: Deployer) -> str:
    """Where code is mounted inside an environment (/var/task under bwrap)."""
    task_root: str = invoke(lambdad, main_function(deploy, "whoami")).json()["task_root"]
    return task_root


@pytest.mark.parametrize("timeout", [3, 10, None])
def test_context_get_remaining_time(
    lambdad: LambdadServer, deploy: Deployer, timeout: int | None
) -> None:
    params = {} if timeout is None else {"Timeout": timeout}
    name = main_function(deploy, "doze", **params)
    budget_ms = (timeout or 3) * 1000  # AWS's default timeout is 3 s
    remaining = invoke(lambdad, name, {"seconds": 0.4}).json()
    assert budget_ms - 1000 < remaining <= budget_ms - 400


def test_invoke_with_an_older_runtime(lambdad: LambdadServer, deploy: Deployer) -> None:
    # The emulator runs python3.6; here: the oldest Python AWS still lets you create.
    name = main_function(deploy, "greet", runtime="python3.10")
    assert invoke(lambdad, name).payload == b'"My lambda ran succesfully"'


def test_custom_client_context(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = main_function(deploy, "client_custom")
    custom = {"foo": "bar", "baz": [1, 2, {"q": None}]}
    encoded = base64.b64encode(json.dumps({"custom": custom}).encode()).decode()
    out = invoke(lambdad, name, ClientContext=encoded)
    assert out.json() == custom
