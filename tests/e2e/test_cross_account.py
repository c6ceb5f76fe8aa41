"""Another account's function or layer, reached the ways a tenant can name one.

The attacks of issue 11 (#2) as a tenant performs them on the session server: account
OTHER names a function of account PRIMARY as the destination of its own function and
invokes that function asynchronously; PRIMARY's function must not run until its
resource policy allows OTHER. Also the siblings: a destination on another account's
alias, and another account's layers (GetLayerVersion, UpdateFunctionConfiguration).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from e2e.aws_side import async_stats, wait_stat
from e2e.helpers import OTHER, PRIMARY, LambdadServer, handler_zip, make_zip, role_for
from e2e.invoke_support import log_messages

NewFunction = Callable[..., dict[str, Any]]

# The victim says in its log which event it ran for.
VICTIM = (
    "def handler(event, context):\n"
    "    print('VICTIM RAN ' + str(event.get('requestContext', {}).get('requestId')))\n"
    "    return 'ran'\n"
)


def _invoke_event(client: Any, name: str, payload: dict[str, Any]) -> str:
    out = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload))
    assert out["StatusCode"] == 202
    request_id: str = out["ResponseMetadata"]["RequestId"]
    return request_id


def _wait_refused(server: LambdadServer, name: str, count: int) -> dict[str, Any]:
    """The source's counters once ``count`` destination records were given up."""
    row = wait_stat(server, name, "deliveries_dropped", count, account=OTHER.account_id)
    # Refused once, not retried: a policy that says no says no again.
    assert row["delivery_failures"] == count
    return row


def wait_for_log(server: LambdadServer, name: str, needle: str, timeout: float) -> list[str]:
    """The function's log messages once one contains ``needle`` (its group may not
    exist yet: the destination's invocation is asynchronous)."""
    logs = server.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        messages: list[str] = []
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            messages = log_messages(server, name)
        if any(needle in m for m in messages):
            return messages
        assert time.monotonic() < deadline, f"{needle!r} never reached the log: {messages}"
        time.sleep(0.05)


def _server_log_has(server: LambdadServer, *needles: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        lines = server.stderr().splitlines()
        if any(all(n in line for n in needles) for line in lines):
            return
        assert time.monotonic() < deadline, f"no log line with {needles}"
        time.sleep(0.05)


def test_another_accounts_function_is_a_destination_only_with_its_permission(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    victim = new_function(handler_zip(VICTIM))  # PRIMARY's
    attacker = lambdad.client(account=OTHER.account_id)
    source = new_function(account=OTHER.account_id)
    # As on AWS, the configuration is accepted (the ARN is well formed): the permission
    # is the target's to give, and it is checked when a record is delivered.
    attacker.put_function_event_invoke_config(
        FunctionName=source["FunctionName"],
        DestinationConfig={"OnSuccess": {"Destination": victim["FunctionArn"]}},
    )
    request_id = _invoke_event(attacker, source["FunctionName"], {"from": "attacker"})

    row = _wait_refused(lambdad, source["FunctionName"], 1)
    assert row["processed"] == 1  # the attacker's own function ran
    # Nothing was queued for the victim (it would have been counted before the refusal).
    assert async_stats(lambdad, victim["FunctionName"]).get("received", 0) == 0
    _server_log_has(lambdad, request_id, victim["FunctionArn"], "AccessDeniedException")

    # Once the victim's owner allows OTHER, the records arrive.
    lambdad.client().add_permission(
        FunctionName=victim["FunctionName"],
        StatementId="other-may-invoke",
        Action="lambda:InvokeFunction",
        Principal=OTHER.account_id,
    )
    allowed_id = _invoke_event(attacker, source["FunctionName"], {"from": "a friend"})
    wait_for_log(lambdad, victim["FunctionName"], f"VICTIM RAN {allowed_id}", timeout=15)
    assert async_stats(lambdad, victim["FunctionName"])["received"] == 1
    stats = async_stats(lambdad, source["FunctionName"], account=OTHER.account_id)
    assert stats["deliveries_dropped"] == 1


def test_a_permission_on_another_qualifier_does_not_open_the_function(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    owner = lambdad.client()
    victim = new_function(handler_zip(VICTIM))
    name = victim["FunctionName"]
    version = owner.publish_version(FunctionName=name)["Version"]
    alias = owner.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    owner.add_permission(
        FunctionName=name,
        Qualifier="live",
        StatementId="other-may-invoke-live",
        Action="lambda:InvokeFunction",
        Principal=OTHER.account_id,
    )
    attacker = lambdad.client(account=OTHER.account_id)
    source = new_function(account=OTHER.account_id)
    # The alias is open to OTHER; the unqualified function (and $LATEST) is not.
    attacker.put_function_event_invoke_config(
        FunctionName=source["FunctionName"],
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": victim["FunctionArn"]}},
    )
    _invoke_event(attacker, source["FunctionName"], {})
    _wait_refused(lambdad, source["FunctionName"], 1)
    assert async_stats(lambdad, name).get("received", 0) == 0

    attacker.update_function_event_invoke_config(
        FunctionName=source["FunctionName"],
        DestinationConfig={"OnSuccess": {"Destination": alias["AliasArn"]}},
    )
    request_id = _invoke_event(attacker, source["FunctionName"], {})
    wait_for_log(lambdad, name, f"VICTIM RAN {request_id}", timeout=15)


def test_another_accounts_failure_destination_is_refused_too(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    victim = new_function(handler_zip(VICTIM))
    attacker = lambdad.client(account=OTHER.account_id)
    failing = "def handler(event, context):\n    raise RuntimeError('fails on purpose')\n"
    source = new_function(handler_zip(failing), account=OTHER.account_id)
    attacker.put_function_event_invoke_config(
        FunctionName=source["FunctionName"],
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": victim["FunctionArn"]}},
    )
    _invoke_event(attacker, source["FunctionName"], {})
    row = _wait_refused(lambdad, source["FunctionName"], 1)
    assert row["dropped"] == 1
    assert async_stats(lambdad, victim["FunctionName"]).get("received", 0) == 0


def test_another_accounts_layer_is_not_readable_or_usable_without_its_permission(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    owner = lambdad.client()
    layer = owner.publish_layer_version(
        LayerName=unique_name("private-"),
        Content={"ZipFile": make_zip({"python/private.py": "SECRET = 'primary'\n"})},
    )
    arn = layer["LayerVersionArn"]
    attacker = lambdad.client(account=OTHER.account_id)

    def denied(call: Callable[[], Any]) -> str:
        with pytest.raises(attacker.exceptions.ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
        return str(exc.value.response["Error"]["Message"])

    message = denied(lambda: attacker.get_layer_version_by_arn(Arn=arn))
    assert f"arn:aws:iam::{OTHER.account_id}:root" in message
    assert "lambda:GetLayerVersion" in message
    denied(lambda: attacker.get_layer_version(LayerName=layer["LayerArn"], VersionNumber=1))
    # A version that does not exist is refused alike: its existence is not revealed.
    missing = arn[: arn.rindex(":")] + ":9"
    assert "lambda:GetLayerVersion" in denied(
        lambda: attacker.get_layer_version_by_arn(Arn=missing)
    )
    # Nor may OTHER manage its permissions, or take it into a function afterwards.
    denied(
        lambda: attacker.add_layer_version_permission(
            LayerName=layer["LayerArn"],
            VersionNumber=1,
            StatementId="me",
            Action="lambda:GetLayerVersion",
            Principal=OTHER.account_id,
        )
    )
    mine = new_function(account=OTHER.account_id)
    denied(
        lambda: attacker.update_function_configuration(
            FunctionName=mine["FunctionName"], Layers=[arn]
        )
    )
    denied(
        lambda: attacker.update_function_configuration(
            FunctionName=mine["FunctionName"], Layers=[missing]
        )
    )
    assert "Layers" not in attacker.get_function_configuration(FunctionName=mine["FunctionName"])
    owner.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)


def test_destination_records_of_an_allowed_account_name_their_source(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    """The record a granted destination receives says where it came from: the victim
    can tell another account's records from its own."""
    sink_source = (
        "import json\n"
        "def handler(event, context):\n"
        "    print('RECORD ' + json.dumps(event['requestContext']))\n"
    )
    sink = new_function(handler_zip(sink_source))
    lambdad.client().add_permission(
        FunctionName=sink["FunctionName"],
        StatementId="other",
        Action="lambda:InvokeFunction",
        Principal=OTHER.account_id,
    )
    attacker = lambdad.client(account=OTHER.account_id)
    source = new_function(account=OTHER.account_id)
    attacker.put_function_event_invoke_config(
        FunctionName=source["FunctionName"],
        DestinationConfig={"OnSuccess": {"Destination": sink["FunctionArn"]}},
    )
    request_id = _invoke_event(attacker, source["FunctionName"], {})
    messages = wait_for_log(lambdad, sink["FunctionName"], request_id, timeout=15)
    line = next(m for m in messages if m.startswith("RECORD ") and request_id in m)
    context = json.loads(line.removeprefix("RECORD "))
    assert context["functionArn"] == (
        f"arn:aws:lambda:us-east-1:{OTHER.account_id}:function:{source['FunctionName']}:$LATEST"
    )
    assert PRIMARY.account_id not in context["functionArn"]


def test_a_grant_to_the_source_functions_execution_role_opens_the_destination(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    """As on AWS, a destination is invoked as the source function's execution role: a
    statement naming that role allows it, one naming another role of the account does
    not."""
    owner = lambdad.client()
    victim = new_function(handler_zip(VICTIM))
    name = victim["FunctionName"]
    owner.add_permission(
        FunctionName=name,
        StatementId="another-role",
        Action="lambda:InvokeFunction",
        Principal=f"arn:aws:iam::{OTHER.account_id}:role/some-other-role",
    )
    attacker = lambdad.client(account=OTHER.account_id)
    source = new_function(account=OTHER.account_id)  # runs as role_for(OTHER)
    attacker.put_function_event_invoke_config(
        FunctionName=source["FunctionName"],
        DestinationConfig={"OnSuccess": {"Destination": victim["FunctionArn"]}},
    )
    denied_id = _invoke_event(attacker, source["FunctionName"], {})
    _wait_refused(lambdad, source["FunctionName"], 1)
    # Refused in the name of the role the source runs as.
    _server_log_has(lambdad, denied_id, f"User: {role_for(OTHER.account_id)} is not authorized")
    assert async_stats(lambdad, name).get("received", 0) == 0

    owner.add_permission(
        FunctionName=name,
        StatementId="source-role",
        Action="lambda:InvokeFunction",
        Principal=role_for(OTHER.account_id),
    )
    request_id = _invoke_event(attacker, source["FunctionName"], {})
    wait_for_log(lambdad, name, f"VICTIM RAN {request_id}", timeout=15)
