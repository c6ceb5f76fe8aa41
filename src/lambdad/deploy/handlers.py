"""What the executor needs of each resource type: a ``Handler`` that creates, updates
and deletes one resource through lambdad's APIs, and the ``Env`` it does that in."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.deploy.names import physical_name
from lambdad.deploy.parameters import StackIdentity
from lambdad.deploy.records import ResourceRecord
from lambdad.store.roles import StackRoles


@dataclass(frozen=True, slots=True)
class Env:
    """Where a plan is applied: the stack, the API clients (boto3, signed as the
    caller), how an uploaded artifact is read, and time (injected for tests)."""

    identity: StackIdentity
    # An API client (boto3, signed as the caller) by service name: "lambda", "events"...
    client: Callable[[str], Any]
    # (bucket, key) -> the archive when it is one lambdad keeps, else None.
    read_artifact: Callable[[str, str], bytes | None]
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    wait_limit: float = 120.0
    # (service, region) -> a client of a service lambdad does not serve, at the endpoint
    # the operator configured for it, signed with the account's outbound identity; None
    # where the operator configured none (only SNS today: sns_resources.py).
    outbound: Callable[[str, str], Any] | None = None
    # lambdad's base URL as the deploying caller reached it (pushed subscriptions).
    own_url: str = ""
    # Where the stack's AWS::IAM::Role resources are declared (the data directory's
    # roles.json); None: recorded in the stack only.
    roles: StackRoles | None = None
    # CodeDeploy's groups, configurations and deployments (an alias's traffic shifting);
    # None: an alias with a CodeDeploy UpdatePolicy is moved at once.
    codedeploy: CodeDeployRecords | None = None
    # Real seconds per deployment second (Settings.deployment_time_scale).
    time_scale: float = 1.0
    # Undoing a failed deployment: what is put back goes back at once (an alias's
    # traffic is not shifted again, hooks are not run).
    rolling_back: bool = False

    @property
    def lambda_client(self) -> Any:
        return self.client("lambda")

    @property
    def events_client(self) -> Any:
        return self.client("events")

    def name_for(self, logical_id: str, limit: int, replaces: str = "") -> str:
        i = self.identity
        return physical_name(i.stack_id, i.stack_name, logical_id, limit, replaces)


@dataclass(frozen=True, slots=True)
class Applied:
    physical_id: str
    attributes: Mapping[str, Any]


class Handler(Protocol):
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied: ...

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied: ...

    # Idempotent: a resource already gone is deleted.
    def delete(self, env: Env, record: ResourceRecord) -> None: ...


def error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def ignore_missing(call: Callable[[], Any]) -> None:
    """Run a deletion; a resource that is already gone is not an error."""
    try:
        call()
    except Exception as exc:
        if error_code(exc) not in ("ResourceNotFoundException", "ResourceNotFound"):
            raise


def as_int(props: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """``props`` with the named members as integers (a parameter's value is a string)."""
    out = dict(props)
    for name in names:
        if name in out and isinstance(out[name], str):
            out[name] = int(out[name])
    return out


def pick(props: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {n: props[n] for n in names if n in props}
