"""Capacity providers: stored, checked and found as AWS does (over the in-memory store
and a fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.control.capacity_providers import CapacityProviders, provider_of
from lambdad.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model.scope import Scope
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")
OTHER = Scope("210987654321", "us-east-1")
ARN = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp"


def _params(**extra: Any) -> dict[str, Any]:
    return {
        "CapacityProviderName": "cp",
        "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": []},
        "PermissionsConfig": {
            "CapacityProviderOperatorRoleArn": "arn:aws:iam::123456789012:role/op"
        },
        **extra,
    }


@pytest.fixture
def providers(store: SqliteStore) -> CapacityProviders:
    return CapacityProviders(store, FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))


def test_created_found_by_name_or_arn_and_only_in_its_account(
    providers: CapacityProviders,
) -> None:
    out = providers.create(EAST, _params(Tags={"a": "b"}))["CapacityProvider"]
    assert out["CapacityProviderArn"] == ARN
    assert out["State"] == "Active"
    assert out["LastModified"] == "2026-01-01T00:00:00.000+0000"
    assert "Tags" not in out
    assert providers.get(EAST, "cp") == providers.get(EAST, ARN)
    assert providers.list_tags(EAST, ARN) == {"Tags": {"a": "b"}}
    with pytest.raises(ResourceConflictException):
        providers.create(EAST, _params())
    with pytest.raises(ResourceNotFoundException, match=f"Capacity provider not found: {ARN}"):
        providers.get(OTHER, ARN)
    with pytest.raises(ResourceNotFoundException):
        providers.get(OTHER, "cp")


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            {"PermissionsConfig": {"CapacityProviderOperatorRoleArn": "arn:aws:iam::1:role/x"}},
            AccessDeniedException,
        ),
        (
            {"InstanceRequirements": {"AllowedInstanceTypes": ["m7g.*"],
                                      "ExcludedInstanceTypes": ["c7g.*"]}},
            InvalidParameterValueException,
        ),
        ({"CapacityProviderScalingConfig": {"ScalingMode": "Manual"}},
         InvalidParameterValueException),
        (
            {"CapacityProviderScalingConfig": {"ScalingMode": "Auto", "ScalingPolicies": [{}]}},
            InvalidParameterValueException,
        ),
    ],
)  # fmt: skip
def test_malformed_providers_are_refused(
    providers: CapacityProviders, extra: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        providers.create(EAST, _params(**extra))


def test_a_function_config_must_name_an_existing_provider(providers: CapacityProviders) -> None:
    providers.check_config(EAST, None)
    config = {"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": ARN}}
    with pytest.raises(ResourceNotFoundException):
        providers.check_config(EAST, config)
    providers.create(EAST, _params())
    providers.check_config(EAST, config)
    assert provider_of({"CapacityProviderConfig": config}) == ARN
    assert provider_of({}) is None


def test_delete_and_list(providers: CapacityProviders) -> None:
    providers.create(EAST, _params())
    providers.create(EAST, _params(CapacityProviderName="cq"))
    page = providers.list_providers(EAST, "Active", None, 1)
    assert [p["CapacityProviderArn"] for p in page["CapacityProviders"]] == [ARN]
    rest = providers.list_providers(EAST, None, page["NextMarker"], None)
    assert [p["CapacityProviderArn"] for p in rest["CapacityProviders"]] == [ARN[:-2] + "cq"]
    assert providers.delete(EAST, "cp")["CapacityProvider"]["State"] == "Deleting"
    with pytest.raises(ResourceNotFoundException):
        providers.delete(EAST, "cp")
