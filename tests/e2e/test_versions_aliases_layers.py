"""Versions, aliases, layers, secrets at rest and resource policies, end to end.

The real server, driven through boto3 as users drive it: published versions keep
their code and variables after ``$LATEST`` changes; a weighted alias splits
traffic by weight and says which version ran; a layer's module imports from a
function; an environment variable never reaches the data directory in clear; a
second account is denied until the function's policy allows it.
"""

from __future__ import annotations

import base64
import json
import shutil
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import OTHER, PRIMARY, LambdadServer, handler_zip, make_zip

NewFunction = Callable[..., dict[str, Any]]

# Answers which code and which variables ran.
WHO = """
import os
CODE = {code!r}
def handler(event, context):
    return {{"code": CODE, "value": os.environ.get("VALUE"), "arn": context.invoked_function_arn,
            "version": context.function_version}}
"""


def who(code: str) -> bytes:
    return handler_zip(WHO.format(code=code))


def call(client: Any, name: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Invoke; (decoded payload, response)."""
    out = client.invoke(FunctionName=name, **kwargs)
    return json.loads(out["Payload"].read()), out


def wait_updated(client: Any, name: str) -> None:
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )


# -- versions ---------------------------------------------------------------------------------


def test_published_versions_keep_their_code_and_variables(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    created = new_function(who("first"), Environment={"Variables": {"VALUE": "one"}})
    name = created["FunctionName"]
    v1 = client.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == created["FunctionArn"] + ":1"

    client.update_function_code(FunctionName=name, ZipFile=who("second"))
    wait_updated(client, name)
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"VALUE": "two"}}
    )
    wait_updated(client, name)

    payload, out = call(client, name, Qualifier="1")
    assert payload["code"] == "first"
    assert payload["value"] == "one"
    assert payload["version"] == "1"
    assert payload["arn"] == created["FunctionArn"] + ":1"
    assert out["ExecutedVersion"] == "1"

    payload, out = call(client, name)
    assert (payload["code"], payload["value"]) == ("second", "two")
    assert out["ExecutedVersion"] == "$LATEST"

    # A published version's configuration is frozen too.
    config = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert config["Environment"] == {"Variables": {"VALUE": "one"}}
    assert config["CodeSha256"] == v1["CodeSha256"]
    assert config["Description"] == "first"
    assert client.get_function(FunctionName=f"{name}:1")["Configuration"]["Version"] == "1"


def test_publish_is_a_no_op_when_nothing_changed_and_checks_its_preconditions(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    latest = client.get_function_configuration(FunctionName=name)
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.publish_version(FunctionName=name, RevisionId=str(uuid.uuid4()))
    with pytest.raises(client.exceptions.InvalidParameterValueException) as wrong_sha:
        client.publish_version(FunctionName=name, CodeSha256="nope")
    assert "is different from current CodeSHA256 in $LATEST" in str(wrong_sha.value)

    first = client.publish_version(
        FunctionName=name, RevisionId=latest["RevisionId"], CodeSha256=latest["CodeSha256"]
    )
    again = client.publish_version(FunctionName=name)
    assert again["Version"] == first["Version"] == "1"
    # The publish answered Pending; once Active, the version is what a no-op answers.
    active = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert again["RevisionId"] == active["RevisionId"] != first["RevisionId"]
    versions = client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert versions[0]["FunctionArn"].endswith(":$LATEST")


def test_a_version_an_alias_points_at_cannot_be_deleted(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    client.publish_version(FunctionName=name)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(client.exceptions.ResourceConflictException) as exc:
        client.delete_function(FunctionName=name, Qualifier="1")
    assert "[live]" in str(exc.value)
    client.delete_alias(FunctionName=name, Name="live")
    client.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName=name, Qualifier="1")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.delete_function(FunctionName=name, Qualifier="$LATEST")


# -- aliases ----------------------------------------------------------------------------------


def test_weighted_alias_routes_by_weight(lambdad: LambdadServer, new_function: NewFunction) -> None:
    client = lambdad.client()
    name = new_function(who("blue"))["FunctionName"]
    client.publish_version(FunctionName=name)
    client.update_function_code(FunctionName=name, ZipFile=who("green"))
    wait_updated(client, name)
    client.publish_version(FunctionName=name)
    alias = client.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.3}}

    ran: Counter[str] = Counter()
    for _ in range(400):
        payload, out = call(client, name, Qualifier="live")
        ran[out["ExecutedVersion"]] += 1
        # The executed version's own code runs, and sees the alias it was invoked through.
        assert payload["code"] == {"1": "blue", "2": "green"}[out["ExecutedVersion"]]
        assert payload["arn"].endswith(f":{name}:live")
    assert set(ran) == {"1", "2"}
    share = ran["2"] / 400
    assert abs(share - 0.3) <= 0.07, ran


def test_alias_updates_honour_revision_ids(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    client.publish_version(FunctionName=name)
    created = client.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.update_alias(FunctionName=name, Name="prod", Description="x", RevisionId="stale")
    updated = client.update_alias(
        FunctionName=name, Name="prod", Description="x", RevisionId=created["RevisionId"]
    )
    assert updated["Description"] == "x"
    assert updated["RevisionId"] != created["RevisionId"]
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as latest:
        client.create_alias(
            FunctionName=name,
            Name="canary",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert "$LATEST is not supported" in str(latest.value)
    # GetFunction through the alias names the alias in the ARN and runs its version.
    config = client.get_function_configuration(FunctionName=name, Qualifier="prod")
    assert config["FunctionArn"].endswith(":prod")
    assert config["Version"] == "1"


# -- layers -----------------------------------------------------------------------------------


LAYERED = (
    "import os, sys, greeting, shadowed\n"
    "def handler(event, context):\n"
    "    return {'who': greeting.WHO, 'from': shadowed.FROM, 'path': sys.path[:3],\n"
    "            'bin': [p for p in os.environ['PATH'].split(':') if p.endswith('/bin')]}\n"
)


def check_layer_imports(server: LambdadServer, base: str, new: Callable[..., Any]) -> None:
    client = server.client()
    first = client.publish_layer_version(
        LayerName=base + "a",
        Content={
            "ZipFile": make_zip(
                {"python/greeting.py": "WHO = 'layer a'\n", "python/shadowed.py": "FROM = 'a'\n"}
            )
        },
        CompatibleRuntimes=["python3.12"],
        LicenseInfo="MIT",
    )
    second = client.publish_layer_version(
        LayerName=base + "b",
        Content={"ZipFile": make_zip({"python/shadowed.py": "FROM = 'b'\n"})},
    )
    assert first["Version"] == 1
    assert first["LayerVersionArn"] == first["LayerArn"] + ":1"
    # Content.Location is a presigned URL any HTTP client can download.
    with urllib.request.urlopen(first["Content"]["Location"]) as resp:
        assert len(resp.read()) == first["Content"]["CodeSize"]
    got = client.get_layer_version_by_arn(Arn=first["LayerVersionArn"])
    assert got["CompatibleRuntimes"] == ["python3.12"]
    assert got["LicenseInfo"] == "MIT"

    created = new(
        handler_zip(LAYERED), Layers=[first["LayerVersionArn"], second["LayerVersionArn"]]
    )
    assert created["Layers"] == [
        {"Arn": first["LayerVersionArn"], "CodeSize": first["Content"]["CodeSize"]},
        {"Arn": second["LayerVersionArn"], "CodeSize": second["Content"]["CodeSize"]},
    ]
    payload, _ = call(client, created["FunctionName"])
    assert payload["who"] == "layer a"
    assert payload["from"] == "b"  # the later layer wins
    _, site, opt_python = payload["path"]
    opt = opt_python.removesuffix("/python")
    assert site == f"{opt}/python/lib/python3.12/site-packages"
    assert f"{opt}/bin" in payload["bin"]

    for layer in (first, second):
        client.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)
    # Deleting a layer version does not break a function that uses it.
    client.update_function_configuration(FunctionName=created["FunctionName"], Timeout=4)
    wait_updated(client, created["FunctionName"])
    assert call(client, created["FunctionName"])[0]["who"] == "layer a"


def test_layer_modules_import_from_a_function_in_layer_order(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    check_layer_imports(lambdad, unique_name("layer-"), new_function)


def test_layers_reach_the_process_sandbox_through_lambdad_opt_dir(
    lambdad_factory: Callable[..., LambdadServer],
) -> None:
    server = lambdad_factory(env={"LAMBDAD_SANDBOX": "process"})

    def new(zip_file: bytes, **params: Any) -> dict[str, Any]:
        client = server.client()
        out: dict[str, Any] = client.create_function(
            FunctionName=f"layered-{uuid.uuid4().hex[:8]}",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{PRIMARY.account_id}:role/lambda-role",
            Handler="app.handler",
            Code={"ZipFile": zip_file},
            **params,
        )
        wait_updated(client, out["FunctionName"])
        return out

    check_layer_imports(server, "plain-", new)


def test_layer_limits_follow_aws(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    client = lambdad.client()
    layer = client.publish_layer_version(
        LayerName=unique_name("lim-"), Content={"ZipFile": make_zip({"python/x.py": "X = 1\n"})}
    )
    arn = layer["LayerVersionArn"]
    with pytest.raises(client.exceptions.InvalidParameterValueException) as six:
        new_function(Layers=[arn] * 6)
    assert str(six.value).endswith("Cannot reference more than 5 layers.")
    missing = arn[: arn.rindex(":")] + ":9"
    with pytest.raises(client.exceptions.InvalidParameterValueException) as gone:
        new_function(Layers=[missing])
    assert f"Layer version {missing} does not exist." in str(gone.value)
    client.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)


def test_another_accounts_layer_needs_its_permission(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    theirs = lambdad.client(account=OTHER.account_id)
    layer = theirs.publish_layer_version(
        LayerName=unique_name("shared-"),
        Content={"ZipFile": make_zip({"python/shared.py": "OWNER = 'other account'\n"})},
    )
    source = "import shared\ndef handler(e, c):\n    return shared.OWNER\n"
    client = lambdad.client()
    with pytest.raises(client.exceptions.ClientError) as denied:
        new_function(handler_zip(source), Layers=[layer["LayerVersionArn"]])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "lambda:GetLayerVersion" in denied.value.response["Error"]["Message"]

    theirs.add_layer_version_permission(
        LayerName=layer["LayerArn"],
        VersionNumber=1,
        StatementId="primary",
        Action="lambda:GetLayerVersion",
        Principal=PRIMARY.account_id,
    )
    assert client.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Version"] == 1
    created = new_function(handler_zip(source), Layers=[layer["LayerVersionArn"]])
    assert call(client, created["FunctionName"])[0] == "other account"
    theirs.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_layer_modules_resolve_through_node_path(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    client = lambdad.client()
    layer = client.publish_layer_version(
        LayerName=unique_name("node-"),
        Content={
            "ZipFile": make_zip(
                {"nodejs/node_modules/greet/index.js": "module.exports = () => 'from layer';\n"}
            )
        },
    )
    source = "exports.handler = async () => require('greet')();\n"
    created = new_function(
        make_zip({"index.js": source}),
        Runtime="nodejs20.x",
        Handler="index.handler",
        Layers=[layer["LayerVersionArn"]],
    )
    payload, _ = call(client, created["FunctionName"])
    assert payload == "from layer"
    client.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)


# -- secrets at rest --------------------------------------------------------------------------


def _data_files(lambdad: LambdadServer) -> list[Path]:
    return [p for p in lambdad.data_dir.rglob("*") if p.is_file() and "blobs" not in p.parts]


@pytest.mark.parametrize("kms", [False, True], ids=["default-key", "kms-key"])
def test_environment_variables_are_not_stored_in_clear(
    lambdad: LambdadServer, new_function: NewFunction, kms: bool
) -> None:
    client = lambdad.client()
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    extra = (
        {"KMSKeyArn": f"arn:aws:kms:us-east-1:{PRIMARY.account_id}:key/{uuid.uuid4()}"}
        if kms
        else {}
    )
    source = "import os\ndef handler(e, c):\n    return os.environ['DB_PASSWORD']\n"
    created = new_function(
        handler_zip(source), Environment={"Variables": {"DB_PASSWORD": secret}}, **extra
    )
    name = created["FunctionName"]
    # Returned as AWS returns it, and the function sees it.
    assert created["Environment"] == {"Variables": {"DB_PASSWORD": secret}}
    assert call(client, name)[0] == secret
    client.publish_version(FunctionName=name)
    config = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert config["Environment"]["Variables"]["DB_PASSWORD"] == secret
    if kms:
        assert config["KMSKeyArn"] == extra["KMSKeyArn"]
        assert list((lambdad.data_dir / "kms").glob("*.key"))
    needle = secret.encode()
    for path in _data_files(lambdad):
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            continue  # a sandbox's scratch file, gone with its environment
        assert needle not in content, f"{path} holds the value in clear"


# -- resource policies ----------------------------------------------------------------------


def test_another_account_is_denied_until_the_policy_allows_it(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    owner = lambdad.client()
    other = lambdad.client(account=OTHER.account_id)
    created = new_function(handler_zip("def handler(e, c):\n    return 'hi'\n"))
    name, arn = created["FunctionName"], created["FunctionArn"]

    def denied() -> str:
        with pytest.raises(other.exceptions.ClientError) as exc:
            other.invoke(FunctionName=arn)
        err = exc.value.response
        assert err["Error"]["Code"] == "AccessDeniedException"
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
        return str(err["Error"]["Message"])

    assert denied() == (
        f"User: arn:aws:iam::{OTHER.account_id}:root is not authorized to perform: "
        f"lambda:InvokeFunction on resource: {arn} because no resource-based policy allows "
        "the lambda:InvokeFunction action"
    )
    with pytest.raises(owner.exceptions.ResourceNotFoundException) as no_policy:
        owner.get_policy(FunctionName=name)
    assert "The resource you requested does not exist." in str(no_policy.value)

    # A statement for someone else, or one with a condition a direct call cannot meet.
    owner.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::bucket",
    )
    denied()
    statement = owner.add_permission(
        FunctionName=name,
        StatementId="other-account",
        Action="lambda:InvokeFunction",
        Principal=OTHER.account_id,
    )
    assert json.loads(statement["Statement"]) == {
        "Sid": "other-account",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER.account_id}:root"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
    }
    out = other.invoke(FunctionName=arn)
    assert json.loads(out["Payload"].read()) == "hi"

    policy = owner.get_policy(FunctionName=name)
    doc = json.loads(policy["Policy"])
    assert doc["Version"] == "2012-10-17"
    assert [s["Sid"] for s in doc["Statement"]] == ["s3", "other-account"]
    assert (
        policy["RevisionId"] == owner.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    )
    with pytest.raises(owner.exceptions.PreconditionFailedException):
        owner.remove_permission(FunctionName=name, StatementId="other-account", RevisionId="x")
    owner.remove_permission(FunctionName=name, StatementId="other-account")
    denied()


def test_policy_size_is_limited(lambdad: LambdadServer, new_function: NewFunction) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]

    def add(i: int) -> None:
        client.add_permission(
            FunctionName=name,
            StatementId=f"s{i}",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=f"arn:aws:events:us-east-1:{PRIMARY.account_id}:rule/{'r' * 40}{i}",
        )

    def add_until_refused() -> None:
        for i in range(500):
            add(i)

    with pytest.raises(client.exceptions.PolicyLengthExceededException) as exc:
        add_until_refused()
    assert "is bigger than the limit (20480)" in str(exc.value)
    # The statements that fitted are kept; the policy stays under 20 KB.
    policy = client.get_policy(FunctionName=name)["Policy"]
    assert 50 < len(json.loads(policy)["Statement"]) < 200
    assert len(policy.encode()) <= 20480


def test_start_line_names_the_version_that_ran(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    client = lambdad.client()
    name = new_function()["FunctionName"]
    client.publish_version(FunctionName=name)
    out = client.invoke(FunctionName=name, Qualifier="1", LogType="Tail")
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "Version: 1" in tail
