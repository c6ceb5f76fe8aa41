"""A fake resource handler for the executor's and the stack service's unit tests: it
records what it was asked to do and fails where a test says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env
from lambdad.deploy.parameters import StackIdentity
from lambdad.deploy.records import ResourceRecord

IDENTITY = StackIdentity(
    "123456789012", "us-east-1", "s", "arn:aws:cloudformation:us-east-1:123456789012:stack/s/x"
)


class FakeHandler:
    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on
        self.serial = 0

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        self.calls.append(("create", logical_id))
        if logical_id == self.fail_on:
            raise RuntimeError(f"{logical_id} refused")
        self.serial += 1
        physical = f"{logical_id}-{self.serial}"
        return Applied(
            physical, {"Ref": physical, "Arn": f"arn:{physical}", "Version": str(self.serial)}
        )

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self.calls.append(("update", record.logical_id))
        if record.logical_id == self.fail_on:
            raise RuntimeError(f"{record.logical_id} refused")
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        self.calls.append(("delete", record.logical_id))


def env() -> Env:
    def no_client(name: str) -> Any:
        raise AssertionError(f"no {name} client in unit tests")

    return Env(IDENTITY, no_client, lambda bucket, key: None, sleep=lambda s: None)
