"""Stacks and change sets as durable documents in the metadata store (per account and
region, sealed), and the events each stack keeps."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdad.deploy.records import ResourceRecord
from lambdad.secrets import Sealer
from lambdad.store.base import Doc, MetadataStore

STACK = "cfn-stack"
DELETED = "cfn-stack-deleted"
# How long ListStacks shows a deleted stack (as AWS: 90 days).
DELETED_KEPT = 90 * 86400.0
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
    """Stacks and change sets, sealed at rest (AES-GCM, the key that seals functions'
    environment variables): their templates, parameter values and resource properties
    carry the same secrets. Only the fields looked up by stay in the clear."""

    def __init__(self, store: MetadataStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    def _seal(self, kind: str, where: Where, doc: Doc, *clear: str) -> Doc:
        context = f"{kind}:{where.account}:{where.region}"
        token = self.sealer.seal({"doc": json.dumps(doc)}, context)
        return {**{k: doc[k] for k in clear if k in doc}, "Sealed": token}

    def _open(self, kind: str, account: str, region: str, row: Doc) -> Doc:
        opened: Doc = json.loads(
            self.sealer.unseal(row["Sealed"], f"{kind}:{account}:{region}")["doc"]
        )
        return opened

    def get(self, where: Where, name_or_id: str) -> Doc | None:
        name = _name_of(name_or_id, "stack")
        row = self.store.get_child(STACK, where.account, where.region, "", name)
        if row is None or (name_or_id.startswith("arn:") and row["StackId"] != name_or_id):
            return None
        return self._open(STACK, where.account, where.region, row)

    def put(self, where: Where, doc: Doc) -> None:
        row = self._seal(STACK, where, doc, "StackId", "StackName", "StackStatus")
        self.store.put_child(STACK, where.account, where.region, "", doc["StackName"], row)

    def delete(self, where: Where, name: str) -> None:
        self.store.delete_child(STACK, where.account, where.region, "", name)
        for key, _ in self.change_sets(where, name):
            self.store.delete_child(CHANGE_SET, where.account, where.region, name, key)

    def all(self, where: Where) -> list[Doc]:
        rows = self.store.list_children(STACK, where.account, where.region, "")
        return [self._open(STACK, where.account, where.region, row) for _, row in rows]

    def put_deleted(self, where: Where, doc: Doc, now: float) -> None:
        """What ListStacks (and DescribeStacks by stack id) tell of a deleted stack."""
        keys = ("StackId", "StackName", "CreationTime", "LastUpdatedTime", "Description")
        summary = {k: doc[k] for k in keys if doc.get(k)}
        summary.update(StackStatus="DELETE_COMPLETE", DeletionTime=now_iso(now), Deleted=now)
        self.store.put_child(DELETED, where.account, where.region, "", doc["StackId"], summary)

    def deleted(self, where: Where, now: float) -> list[Doc]:
        out = []
        for key, doc in self.store.list_children(DELETED, where.account, where.region, ""):
            if now - float(doc.get("Deleted", 0)) > DELETED_KEPT:
                self.store.delete_child(DELETED, where.account, where.region, "", key)
            else:
                out.append(doc)
        return out

    def in_status(self, status: str) -> list[tuple[str, str, Doc]]:
        """(account, region, stack) of every stack in ``status``, in every account."""
        rows = self.store.find_children(STACK, "StackStatus", status)
        return [
            (account, region, self._open(STACK, account, region, row))
            for account, region, _, _, row in rows
        ]

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
        row = self.store.get_child(CHANGE_SET, where.account, where.region, stack_name, name)
        if row is None or (name_or_id.startswith("arn:") and row["ChangeSetId"] != name_or_id):
            return None
        return self._open(CHANGE_SET, where.account, where.region, row)

    def change_sets(self, where: Where, stack_name: str) -> list[tuple[str, Doc]]:
        rows = self.store.list_children(CHANGE_SET, where.account, where.region, stack_name)
        return [
            (key, self._open(CHANGE_SET, where.account, where.region, row)) for key, row in rows
        ]

    def put_change_set(self, where: Where, doc: Doc) -> None:
        row = self._seal(CHANGE_SET, where, doc, "ChangeSetId", "ChangeSetName", "StackName")
        self.store.put_child(
            CHANGE_SET, where.account, where.region, doc["StackName"], doc["ChangeSetName"], row
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
