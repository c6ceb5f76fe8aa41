"""What a deployment left behind, per resource: the durable part of a stack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    """One applied resource: its physical id, the properties it was applied with
    (fully resolved), and its attributes ("Ref" for what ``Ref`` returns)."""

    logical_id: str
    type: str
    physical_id: str
    properties: Mapping[str, Any]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"

    def as_doc(self) -> dict[str, Any]:
        return {
            "LogicalId": self.logical_id,
            "Type": self.type,
            "PhysicalId": self.physical_id,
            "Properties": dict(self.properties),
            "Attributes": dict(self.attributes),
            "DeletionPolicy": self.deletion_policy,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ResourceRecord:
        return cls(
            logical_id=doc["LogicalId"],
            type=doc["Type"],
            physical_id=doc["PhysicalId"],
            properties=doc.get("Properties") or {},
            attributes=doc.get("Attributes") or {},
            deletion_policy=doc.get("DeletionPolicy", "Delete"),
        )


# A deployment: the records in the order they were applied (deleted in reverse).
Deployment = Mapping[str, ResourceRecord]
