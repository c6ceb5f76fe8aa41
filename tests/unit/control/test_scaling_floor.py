"""FunctionScaling: MinExecutionEnvironments (started at once) are checked as provisioned
concurrency is, against the reserved concurrency or the account's unreserved pool."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.aliases import AliasService
from lambdad.control.capacity_providers import CapacityProviders
from lambdad.control.concurrency import ConcurrencyService
from lambdad.control.function_scaling import FunctionScaling
from lambdad.control.functions import FunctionService
from lambdad.errors import InvalidParameterValueException
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore
from unit.mapping_harness import echo_zip

EAST = Scope("123456789012", "us-east-1")


class Harness:
    def __init__(self, store: SqliteStore, blobs: BlobStore) -> None:
        clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
        settings = Settings()
        self.providers = CapacityProviders(store, clock)
        self.functions = FunctionService(
            settings,
            store,
            blobs,
            Sealer(bytes(range(32))),
            clock,
            capacity_check=self.providers.check_config,
        )
        aliases = AliasService(store, self.functions, self.functions.changes)
        self.concurrency = ConcurrencyService(settings, store, self.functions, aliases, clock)
        self.scaling = FunctionScaling(
            store, self.functions, self.concurrency.limits, settings.account_concurrency
        )

    def version(self, name: str = "fn") -> str:
        self.providers.create(EAST, {"CapacityProviderName": "cp"})
        self.functions.create_function(
            EAST,
            {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Handler": "app.handler",
                "Code": {"ZipFile": echo_zip()},
                "CapacityProviderConfig": {
                    "LambdaManagedInstancesCapacityProviderConfig": {
                        "CapacityProviderArn": (
                            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp"
                        )
                    }
                },
            },
        )
        return str(self.functions.publish_version(EAST, {"FunctionName": name})["Version"])

    def put(self, version: str, **config: Any) -> dict[str, Any]:
        return self.scaling.put(
            EAST, {"FunctionName": "fn", "Qualifier": version, "FunctionScalingConfig": config}
        )


@pytest.fixture
def h(store: SqliteStore, blobs: BlobStore) -> Harness:
    return Harness(store, blobs)


def test_a_floor_beyond_the_unreserved_pool_is_refused_as_aws_refuses_provisioned(
    h: Harness,
) -> None:
    version = h.version()
    with pytest.raises(InvalidParameterValueException) as refused:
        h.put(version, MinExecutionEnvironments=15000, MaxExecutionEnvironments=15000)
    assert str(refused.value) == (
        "Specified MinExecutionEnvironments for function is greater than account's "
        "unreserved concurrency [1000]."
    )
    assert h.scaling.get(EAST, {"FunctionName": "fn", "Qualifier": version}).keys() == {
        "FunctionArn"
    }
    # Within the pool, and a cap alone (nothing started), are stored.
    assert h.put(version, MinExecutionEnvironments=3) == {"FunctionState": "Active"}
    assert h.put(version, MaxExecutionEnvironments=15000) == {"FunctionState": "Active"}


def test_a_floor_beyond_the_reserved_concurrency_is_refused(h: Harness) -> None:
    version = h.version()
    h.concurrency.put_reserved(EAST, "fn", 5)
    with pytest.raises(InvalidParameterValueException, match="reservedConcurrentExecution"):
        h.put(version, MinExecutionEnvironments=6)
    assert h.put(version, MinExecutionEnvironments=5) == {"FunctionState": "Active"}
