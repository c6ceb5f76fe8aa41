"""Aliases, layers, resource policies and concurrency configuration, over an in-memory
store and a fake clock (lambdad.control.aliases/layers/policies/concurrency)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.aliases import AliasService
from lambdad.control.concurrency import ConcurrencyService
from lambdad.control.functions import FunctionService
from lambdad.control.layers import LayerService
from lambdad.control.policies import PolicyService
from lambdad.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    PreconditionFailedException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdad.invoke.leases import FunctionKey, limits_from
from lambdad.model.provisioned import ProvisionedState
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
EAST = Scope(ACCOUNT, "us-east-1")
OTHER = Scope("210987654321", "us-east-1")


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


def arn(name: str, qualifier: str | None = None, scope: Scope = EAST) -> str:
    base = f"arn:aws:lambda:{scope.region}:{scope.account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


class FakeStatus:
    """What the environments layer reports of provisioned targets (a test sets it)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], ProvisionedState] = {}

    def state(self, scope: Scope, name: str, qualifier: str) -> ProvisionedState:
        return self.states.get((name, qualifier), ProvisionedState())


class Harness:
    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.settings = Settings(**settings)
        self.clock = FakeClock()
        self.store = SqliteStore(":memory:")
        self.store.open()
        self.blobs = BlobStore(tmp_path / "blobs")
        self.blobs.open()
        self.layers = LayerService(self.settings, self.store, self.blobs, self.clock)
        self.functions = FunctionService(
            self.settings,
            self.store,
            self.blobs,
            Sealer(bytes(range(32)), tmp_path / "kms"),
            self.clock,
            layers=self.layers.resolve,
        )
        self.aliases = AliasService(self.store, self.functions)
        self.policies = PolicyService(
            self.store, self.functions, self.aliases, self.functions.changes
        )
        self.status = FakeStatus()
        self.concurrency = ConcurrencyService(
            self.settings,
            self.store,
            self.functions,
            self.aliases,
            self.clock,
            status=self.status,
        )
        self.provisioned: list[tuple[str, str, int | None]] = []
        self.concurrency.on_provisioned_change(
            lambda scope, name, q, n: self.provisioned.append((name, q, n))
        )

    def create(self, name: str = "fn", scope: Scope = EAST, **params: Any) -> dict[str, Any]:
        return self.functions.create_function(
            scope,
            {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": f"arn:aws:iam::{scope.account}:role/r",
                "Handler": "app.handler",
                "Code": {"ZipFile": base64.b64encode(zip_of({"app.py": "x = 1\n"})).decode()},
                **params,
            },
        )

    def publish(self, name: str = "fn", description: str | None = None) -> str:
        if description is not None:
            self.functions.update_configuration(
                EAST, {"FunctionName": name, "Description": description}
            )
        return str(self.functions.publish_version(EAST, {"FunctionName": name})["Version"])

    def layer(self, name: str = "lib", scope: Scope = EAST, **params: Any) -> dict[str, Any]:
        content = {"ZipFile": zip_of({"python/lib.py": "X = 1\n"})}
        return self.layers.publish(
            scope, {"LayerName": name, "Content": content, **params}, lambda sha: f"url:{sha}"
        )


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


# -- aliases ----------------------------------------------------------------------------------


def test_alias_life_cycle(h: Harness) -> None:
    h.create()
    v1, v2 = h.publish(), h.publish(description="second")
    created = h.aliases.create(
        EAST,
        {
            "FunctionName": "fn",
            "Name": "live",
            "FunctionVersion": v1,
            "RoutingConfig": {"AdditionalVersionWeights": {v2: 0.25}},
        },
    )
    assert created == {
        "AliasArn": arn("fn", "live"),
        "Name": "live",
        "FunctionVersion": "1",
        "Description": "",
        "RevisionId": created["RevisionId"],
        "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.25}},
    }
    assert h.aliases.get(EAST, arn("fn", "live"), "live") == created
    updated = h.aliases.update(
        EAST,
        {"FunctionName": "fn", "Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {}}},
    )
    assert "RoutingConfig" not in updated
    assert updated["RevisionId"] != created["RevisionId"]
    with pytest.raises(PreconditionFailedException):
        h.aliases.update(
            EAST, {"FunctionName": "fn", "Name": "live", "RevisionId": created["RevisionId"]}
        )
    h.aliases.create(EAST, {"FunctionName": "fn", "Name": "beta", "FunctionVersion": v2})
    listed = h.aliases.list_aliases(EAST, "fn", None, None, 1)
    assert [a["Name"] for a in listed["Aliases"]] == ["beta"]
    rest = h.aliases.list_aliases(EAST, "fn", None, listed["NextMarker"], None)
    assert [a["Name"] for a in rest["Aliases"]] == ["live"]
    assert [a["Name"] for a in h.aliases.list_aliases(EAST, "fn", "1", None, None)["Aliases"]] == [
        "live"
    ]
    h.aliases.delete(EAST, "fn", "beta")
    h.aliases.delete(EAST, "fn", "beta")  # AWS answers 204 again
    with pytest.raises(ResourceNotFoundException) as gone:
        h.aliases.get(EAST, "fn", "beta")
    assert gone.value.message == f"Cannot find alias arn: {arn('fn', 'beta')}"
    with pytest.raises(ResourceNotFoundException) as missing:
        h.aliases.update(EAST, {"FunctionName": "fn", "Name": "beta", "Description": "x"})
    assert missing.value.message == f"Alias not found: {arn('fn', 'beta')}"


@pytest.mark.parametrize(
    ("version", "weights", "error", "message"),
    [
        ("1", {"2": 0.5, "3": 0.1}, InvalidParameterValueException, "cannot be greater than 1"),
        ("1", {"2": 2.0}, ValidationException, "Map value must satisfy constraint"),
        ("1", {"1": 0.5}, InvalidParameterValueException, "already included in routing"),
        ("9", {}, ResourceNotFoundException, f"Function not found: {arn('fn', '9')}"),
        ("1", {"9": 0.5}, ResourceNotFoundException, f"Function not found: {arn('fn', '9')}"),
        ("$LATEST", {"1": 0.5}, InvalidParameterValueException, "$LATEST is not supported"),
    ],
)
def test_alias_targets_are_checked_as_aws_checks_them(
    h: Harness, version: str, weights: dict[str, float], error: type[Exception], message: str
) -> None:
    h.create()
    h.publish()
    h.publish(description="2")
    with pytest.raises(error, match=message.replace("$", r"\$")):
        h.aliases.create(
            EAST,
            {
                "FunctionName": "fn",
                "Name": "a",
                "FunctionVersion": version,
                "RoutingConfig": {"AdditionalVersionWeights": weights},
            },
        )


def test_an_alias_may_point_at_latest_and_names_conflict(h: Harness) -> None:
    h.create()
    h.aliases.create(EAST, {"FunctionName": "fn", "Name": "dev", "FunctionVersion": "$LATEST"})
    with pytest.raises(ResourceConflictException) as exc:
        h.aliases.create(EAST, {"FunctionName": "fn", "Name": "dev", "FunctionVersion": "$LATEST"})
    assert exc.value.message == f"Alias already exists: {arn('fn', 'dev')}"


# -- resource policies -------------------------------------------------------------------------


def permission(**extra: Any) -> dict[str, Any]:
    return {
        "FunctionName": "fn",
        "StatementId": "s1",
        "Action": "lambda:InvokeFunction",
        "Principal": OTHER.account,
        **extra,
    }


def test_policy_life_cycle_renews_the_function_revision(h: Harness) -> None:
    h.create()
    before = h.functions.get_configuration(EAST, "fn", None)["RevisionId"]
    with pytest.raises(ResourceNotFoundException, match="does not exist"):
        h.policies.get_policy(EAST, "fn", None)
    out = h.policies.add_permission(EAST, permission(RevisionId=before))
    assert json.loads(out["Statement"])["Principal"] == {
        "AWS": f"arn:aws:iam::{OTHER.account}:root"
    }
    after = h.functions.get_configuration(EAST, "fn", None)["RevisionId"]
    assert after != before
    policy = h.policies.get_policy(EAST, "fn", None)
    assert policy["RevisionId"] == after
    assert json.loads(policy["Policy"])["Statement"][0]["Sid"] == "s1"
    with pytest.raises(PreconditionFailedException):
        h.policies.add_permission(EAST, permission(StatementId="s2", RevisionId=before))
    with pytest.raises(ResourceConflictException, match=r"statement id \(s1\)"):
        h.policies.add_permission(EAST, permission())
    with pytest.raises(ResourceNotFoundException, match="Statement s9 is not found"):
        h.policies.remove_permission(EAST, "fn", "s9", None, None)
    h.policies.remove_permission(EAST, "fn", "s1", None, None)
    with pytest.raises(ResourceNotFoundException, match="No policy is associated"):
        h.policies.remove_permission(EAST, "fn", "s1", None, None)


def test_policies_are_per_qualifier(h: Harness) -> None:
    h.create()
    h.publish()
    h.aliases.create(EAST, {"FunctionName": "fn", "Name": "live", "FunctionVersion": "1"})
    with pytest.raises(InvalidParameterValueException, match=r"adding policies for \$LATEST"):
        h.policies.add_permission(EAST, permission(Qualifier="$LATEST"))
    with pytest.raises(ResourceNotFoundException) as missing:
        h.policies.add_permission(EAST, permission(Qualifier="nope"))
    assert missing.value.message == f"Function not found: {arn('fn', 'nope')}"
    with pytest.raises(PreconditionFailedException, match="Call the GetPolicy API"):
        h.policies.add_permission(EAST, permission(Qualifier="live", RevisionId="stale"))
    h.policies.add_permission(EAST, permission(Qualifier="live"))
    statement = json.loads(h.policies.get_policy(EAST, "fn", "live")["Policy"])["Statement"][0]
    assert statement["Resource"] == arn("fn", "live")
    with pytest.raises(ResourceNotFoundException):
        h.policies.get_policy(EAST, "fn", None)
    # Allowed through the alias only.
    h.policies.authorize(OTHER, EAST, "fn", "live")
    with pytest.raises(AccessDeniedException):
        h.policies.authorize(OTHER, EAST, "fn", None)
    with pytest.raises(AccessDeniedException):
        h.policies.authorize(Scope("333333333333", "us-east-1"), EAST, "fn", "live")
    # A deleted alias takes its policy along.
    h.aliases.delete(EAST, "fn", "live")
    h.aliases.create(EAST, {"FunctionName": "fn", "Name": "live", "FunctionVersion": "1"})
    with pytest.raises(AccessDeniedException):
        h.policies.authorize(OTHER, EAST, "fn", "live")


# -- layers -----------------------------------------------------------------------------------


def test_layer_versions_are_numbered_for_good(h: Harness) -> None:
    first = h.layer(CompatibleRuntimes=["python3.12"], LicenseInfo="MIT")
    assert first["Version"] == 1
    assert first["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:lib:1"
    assert first["Content"]["Location"].startswith("url:")
    assert h.layer()["Version"] == 2
    h.layers.delete(EAST, "lib", 1)
    h.layers.delete(EAST, "lib", 2)
    assert h.layers.list_layers(EAST, None, None, None, None) == {"Layers": []}
    assert h.layer()["Version"] == 3
    versions = h.layers.list_versions(EAST, "lib", None, None, None, None)["LayerVersions"]
    assert [v["Version"] for v in versions] == [3]
    with pytest.raises(ResourceNotFoundException):
        h.layers.get(EAST, "lib", 1, str)
    with pytest.raises(InvalidParameterValueException, match="Cannot be less than 1"):
        h.layers.get(EAST, "lib", 0, str)


def test_listing_layers_filters_by_runtime(h: Harness) -> None:
    h.layer("a", CompatibleRuntimes=["python3.12"])
    h.layer("a", CompatibleRuntimes=["nodejs20.x"])
    h.layer("b")
    layers = h.layers.list_layers(EAST, "python3.12", None, None, None)["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == [("a", 1)]
    everything = h.layers.list_layers(EAST, None, None, None, None)["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in everything] == [
        ("a", 2),
        ("b", 1),
    ]


def test_functions_take_layers_in_order_and_aws_checks_them(h: Harness) -> None:
    a, b = h.layer("a")["LayerVersionArn"], h.layer("b")["LayerVersionArn"]
    out = h.create(Layers=[b, a])
    assert [x["Arn"] for x in out["Layers"]] == [b, a]
    rv = h.functions.resolve(EAST, "fn", None)
    assert len(rv.layer_sha256_hex) == 2
    with pytest.raises(InvalidParameterValueException, match="more than 5 layers"):
        h.create("six", Layers=[a] * 6)
    with pytest.raises(InvalidParameterValueException, match="versions of the same layer"):
        h.create("twice", Layers=[a, a])
    with pytest.raises(InvalidParameterValueException, match="expected to be in region us-east-1"):
        h.create("west", Layers=[a.replace("us-east-1", "eu-west-1")])
    with pytest.raises(InvalidParameterValueException, match=r"Layer version .*:a:7 does not"):
        h.create("gone", Layers=[a[:-1] + "7"])
    # Removing every layer.
    updated = h.functions.update_configuration(EAST, {"FunctionName": "fn", "Layers": []})
    assert "Layers" not in updated
    assert h.functions.resolve(EAST, "fn", None).layer_sha256_hex == ()


def test_function_and_layers_share_the_unzipped_limit(tmp_path: Path) -> None:
    small = Harness(tmp_path, max_unzipped_bytes=1000)
    big = "x" * 700
    layer = small.layers.publish(
        EAST,
        {"LayerName": "big", "Content": {"ZipFile": zip_of({"python/big.py": big})}},
        str,
    )
    source = base64.b64encode(zip_of({"app.py": big})).decode()
    with pytest.raises(InvalidParameterValueException, match="combined with layers exceeds"):
        small.create(Code={"ZipFile": source}, Layers=[layer["LayerVersionArn"]])


def test_another_accounts_layer_needs_its_permission(h: Harness) -> None:
    theirs = h.layer("shared", scope=OTHER)
    with pytest.raises(AccessDeniedException, match="lambda:GetLayerVersion"):
        h.create(Layers=[theirs["LayerVersionArn"]])
    out = h.layers.add_permission(
        OTHER,
        {
            "LayerName": "shared",
            "VersionNumber": 1,
            "StatementId": "everyone",
            "Action": "lambda:GetLayerVersion",
            "Principal": "*",
        },
    )
    assert json.loads(out["Statement"])["Principal"] == "*"
    assert (
        h.create(Layers=[theirs["LayerVersionArn"]])["Layers"][0]["Arn"]
        == theirs["LayerVersionArn"]
    )
    assert h.layers.get_by_arn(EAST, theirs["LayerVersionArn"], str)["Version"] == 1
    policy = h.layers.get_policy(OTHER, "shared", 1)
    with pytest.raises(PreconditionFailedException, match="GetLayerPolicy"):
        h.layers.remove_permission(OTHER, "shared", 1, "everyone", "stale")
    h.layers.remove_permission(OTHER, "shared", 1, "everyone", policy["RevisionId"])
    with pytest.raises(ResourceNotFoundException, match="No policy is associated"):
        h.layers.get_policy(OTHER, "shared", 1)


# -- concurrency ------------------------------------------------------------------------------


def test_reserved_concurrency_follows_aws(h: Harness) -> None:
    h.create()
    with pytest.raises(ResourceNotFoundException) as missing:
        h.concurrency.put_reserved(EAST, "nope", 1)
    assert missing.value.message == f"Function not found: {arn('nope', '$LATEST')}"
    with pytest.raises(InvalidParameterValueException, match="permitted on Lambda functions"):
        h.concurrency.put_reserved(EAST, "fn:1", 1)
    assert h.concurrency.put_reserved(EAST, "fn", 900) == {"ReservedConcurrentExecutions": 900}
    assert h.concurrency.unreserved(EAST) == 100
    with pytest.raises(InvalidParameterValueException, match=r"minimum value of \[100\]"):
        h.concurrency.put_reserved(EAST, "fn", 901)
    assert h.concurrency.get_reserved(EAST, arn("fn")) == {"ReservedConcurrentExecutions": 900}
    h.concurrency.delete_reserved(EAST, "fn")
    assert h.concurrency.get_reserved(EAST, "fn") == {}
    assert h.concurrency.unreserved(EAST) == 1000


def test_the_reservations_view_follows_every_change(h: Harness) -> None:
    h.create()
    h.create("other")
    assert h.concurrency.reservations() == {}
    h.concurrency.put_reserved(EAST, "fn", 2)
    h.concurrency.put_reserved(EAST, "other", 0)
    assert h.concurrency.reservations() == {
        (ACCOUNT, "us-east-1", "fn"): 2,
        (ACCOUNT, "us-east-1", "other"): 0,
    }
    h.concurrency.delete_reserved(EAST, "other")
    h.functions.delete_function(EAST, "fn", None)
    assert h.concurrency.reservations() == {}


def test_provisioned_concurrency_checks_and_accounting(h: Harness) -> None:
    h.create()
    v1 = h.publish()
    h.aliases.create(EAST, {"FunctionName": "fn", "Name": "live", "FunctionVersion": v1})
    with pytest.raises(InvalidParameterValueException, match="unpublished function versions"):
        h.concurrency.put_provisioned(EAST, "fn", "$LATEST", 1)
    with pytest.raises(InvalidParameterValueException, match="alias or a published version"):
        h.concurrency.get_provisioned(EAST, "fn", "$LATEST")
    with pytest.raises(ProvisionedConcurrencyConfigNotFoundException):
        h.concurrency.get_provisioned(EAST, "fn", "live")
    out = h.concurrency.put_provisioned(EAST, "fn", "live", 3)
    assert (out["Status"], out["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)
    assert h.provisioned == [("fn", "live", 3)]
    with pytest.raises(ResourceConflictException, match="pointed by a Provisioned Concurrency"):
        h.concurrency.put_provisioned(EAST, "fn", v1, 1)
    # Without a reservation, provisioned concurrency comes out of the unreserved pool.
    assert h.concurrency.unreserved(EAST) == 997
    limits, account = limits_from(h.concurrency)(FunctionKey(ACCOUNT, "us-east-1", "fn"))
    assert (limits.reserved, dict(limits.provisioned)) == (None, {"live": 3})
    assert account.unreserved_pool == 997
    with pytest.raises(InvalidParameterValueException, match="should not be lower than"):
        h.concurrency.put_reserved(EAST, "fn", 2)
    h.concurrency.put_reserved(EAST, "fn", 3)
    assert h.concurrency.unreserved(EAST) == 997
    with pytest.raises(InvalidParameterValueException, match="greater than the reserved"):
        h.concurrency.put_provisioned(EAST, "fn", "live", 4)

    h.status.states[("fn", "live")] = ProvisionedState(3, "READY")
    [listed] = h.concurrency.list_provisioned(EAST, "fn", None, None)[
        "ProvisionedConcurrencyConfigs"
    ]
    assert listed["FunctionArn"] == arn("fn", "live")
    assert (listed["Status"], listed["AvailableProvisionedConcurrentExecutions"]) == ("READY", 3)

    # The configuration follows its alias, and goes when the alias goes.
    v2 = h.publish(description="2")
    h.aliases.update(EAST, {"FunctionName": "fn", "Name": "live", "FunctionVersion": v2})
    h.aliases.delete(EAST, "fn", "live")
    assert h.provisioned[-2:] == [("fn", "live", 3), ("fn", "live", None)]
    assert h.concurrency.list_provisioned(EAST, "fn", None, None) == {
        "ProvisionedConcurrencyConfigs": []
    }


def test_provisioned_concurrency_must_leave_the_unreserved_minimum(tmp_path: Path) -> None:
    small = Harness(tmp_path, account_concurrency=150)
    small.create()
    small.publish()
    with pytest.raises(InvalidParameterValueException, match=r"minimum value of \[100\]"):
        small.concurrency.put_provisioned(EAST, "fn", "1", 51)
    with pytest.raises(InvalidParameterValueException, match="greater than account's unreserved"):
        small.concurrency.put_provisioned(EAST, "fn", "1", 151)
    small.concurrency.put_provisioned(EAST, "fn", "1", 50)
