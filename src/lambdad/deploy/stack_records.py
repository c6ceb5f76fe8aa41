"""Stacks and change sets as durable documents in the metadata store (per account and
region), and the events each stack keeps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdad.deploy.records import ResourceRecord
from lambdad.store.base import Doc, MetadataStore

STACK = "cfn-stack"
CHANGE_SET = "cfn-change-set"
# The most events a stack keeps (the oldest go first).
MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class Where:
    account: str
    region: str

    def stack_arn(self, name: str) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{name}/{uuid.uuid4()}"

    def change_set_arn(self, name: str) -> str:
        return (
            f"arn:aws:cloudformation:{self.region}:{self.account}:changeSet/{name}/{uuid.uuid4()}"
        )


def now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class StackRecords:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def get(self, where: Where, name_or_id: str) -> Doc | None:
        name = _name_of(name_or_id, "stack")
        doc = self.store.get_child(STACK, where.account, where.region, "", name)
        if doc is None or (name_or_id.startswith("arn:") and doc["StackId"] != name_or_id):
            return None
        return doc

    def put(self, where: Where, doc: Doc) -> None:
        self.store.put_child(STACK, where.account, where.region, "", doc["StackName"], doc)

    def delete(self, where: Where, name: str) -> None:
        self.store.delete_child(STACK, where.account, where.region, "", name)
        for key, _ in self.change_sets(where, name):
            self.store.delete_child(CHANGE_SET, where.account, where.region, name, key)

    def all(self, where: Where) -> list[Doc]:
        return [doc for _, doc in self.store.list_children(STACK, where.account, where.region, "")]

    def in_status(self, status: str) -> list[tuple[str, str, Doc]]:
        """(account, region, stack) of every stack in ``status``, in every account."""
        rows = self.store.find_children(STACK, "StackStatus", status)
        return [(account, region, doc) for account, region, _, _, doc in rows]

    def change_set(self, where: Where, stack: str | None, name_or_id: str) -> Doc | None:
        name = _name_of(name_or_id, "changeSet")
        if stack is None:
            if not name_or_id.startswith("arn:"):
                return None
            candidates = [
                doc
                for s in self.all(where)
                for _, doc in self.change_sets(where, s["StackName"])
                if doc["ChangeSetId"] == name_or_id
            ]
            return candidates[0] if candidates else None
        stack_name = _name_of(stack, "stack")
        doc = self.store.get_child(CHANGE_SET, where.account, where.region, stack_name, name)
        if doc is None or (name_or_id.startswith("arn:") and doc["ChangeSetId"] != name_or_id):
            return None
        return doc

    def change_sets(self, where: Where, stack_name: str) -> list[tuple[str, Doc]]:
        return self.store.list_children(CHANGE_SET, where.account, where.region, stack_name)

    def put_change_set(self, where: Where, doc: Doc) -> None:
        self.store.put_child(
            CHANGE_SET, where.account, where.region, doc["StackName"], doc["ChangeSetName"], doc
        )

    def delete_change_set(self, where: Where, stack_name: str, name: str) -> None:
        self.store.delete_child(CHANGE_SET, where.account, where.region, stack_name, name)


def deployment(doc: Doc) -> dict[str, ResourceRecord]:
    return {r["LogicalId"]: ResourceRecord.from_doc(r) for r in doc.get("Resources") or []}


def add_event(
    doc: Doc, now: float, logical_id: str, type_: str, physical: str, status: str, reason: str
) -> None:
    events: list[dict[str, Any]] = doc.setdefault("Events", [])
    event = {
        "EventId": str(uuid.uuid4()),
        "StackId": doc["StackId"],
        "StackName": doc["StackName"],
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical,
        "ResourceType": type_,
        "Timestamp": now_iso(now),
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    events.append(event)
    del events[:-MAX_EVENTS]


def _name_of(name_or_id: str, kind: str) -> str:
    # arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID
    if name_or_id.startswith("arn:"):
        resource = name_or_id.split(":", 5)[-1]
        parts = resource.split("/")
        if len(parts) >= 2 and parts[0] == kind:
            return parts[1]
    return name_or_id
