"""The snapshot state FunctionService keeps for SnapStart versions (the rules themselves:
``tests/unit/model/test_snapstart_rules.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.functions import FunctionService
from lambdad.errors import (
    InvalidParameterValueException,
)
from lambdad.model import snapstart
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore
from unit.mapping_harness import echo_zip

EAST = Scope("123456789012", "us-east-1")
ON = {"ApplyOn": "PublishedVersions"}


# -- FunctionService -------------------------------------------------------------------


class Harness:
    def __init__(self, store: SqliteStore, blobs: BlobStore) -> None:
        self.store = store
        self.service = FunctionService(
            Settings(),
            store,
            blobs,
            Sealer(bytes(range(32))),
            FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
        )
        self.requested: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, list[str]]] = []
        self.changes: list[tuple[str, str | None]] = []
        self.service.changes.on_snapshot_requested(lambda s, n, v: self.requested.append((n, v)))
        self.service.changes.on_snapshots_deleted(lambda s, n, vs: self.deleted.append((n, vs)))
        self.service.on_change(lambda s, n, v: self.changes.append((n, v)))

    def create(self, name: str, **params: Any) -> None:
        self.service.create_function(
            EAST,
            {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Handler": "app.handler",
                "Code": {"ZipFile": echo_zip()},
                **params,
            },
        )

    def publish(self, name: str) -> dict[str, Any]:
        return self.service.publish_version(EAST, {"FunctionName": name})

    def state(self, name: str, version: str) -> str:
        return str(self.service.get_configuration(EAST, name, version)["State"])


@pytest.fixture
def h(store: SqliteStore, blobs: BlobStore) -> Harness:
    return Harness(store, blobs)


def test_publishing_a_snapstart_version_asks_for_its_snapshot(h: Harness) -> None:
    h.create("snap", SnapStart=ON)
    h.create("plain")
    assert h.publish("snap")["State"] == "Pending"
    # Every publish answers Pending (as AWS does); only the snapshot keeps it so.
    assert h.publish("plain")["State"] == "Pending"
    assert (h.state("snap", "1"), h.state("plain", "1")) == ("Pending", "Active")
    assert h.requested == [("snap", "1")]
    assert h.service.versions.pending_snapshots() == [(EAST, "snap", "1")]


def test_finish_snapshot_stores_the_outcome_and_tells_the_listeners(h: Harness) -> None:
    h.create("snap", SnapStart=ON)
    h.publish("snap")
    h.service.update_configuration(EAST, {"FunctionName": "snap", "Description": "two"})
    h.publish("snap")
    h.changes.clear()
    h.service.finish_snapshot(EAST, "snap", "1", None)
    h.service.finish_snapshot(EAST, "snap", "2", "boom", snapstart.INTERNAL_ERROR)
    assert h.changes == [("snap", "1"), ("snap", "2")]
    assert h.state("snap", "1") == "Active"
    failed = h.service.get_configuration(EAST, "snap", "2")
    assert (failed["State"], failed["StateReasonCode"]) == ("Failed", "InternalError")
    assert h.service.versions.pending_snapshots() == []
    # A failed version is still the one an unchanged $LATEST publishes to.
    assert h.publish("snap")["Version"] == "2"
    assert h.requested == [("snap", "1"), ("snap", "2")]


def test_finish_snapshot_of_a_deleted_version_is_ignored(h: Harness) -> None:
    h.create("snap", SnapStart=ON)
    h.publish("snap")
    h.service.delete_function(EAST, "snap", "1")
    h.changes.clear()
    h.service.finish_snapshot(EAST, "snap", "1", None)
    h.service.finish_snapshot(EAST, "snap", "$LATEST", None)
    assert h.changes == []


def test_deleting_reports_the_snapstart_versions_removed(h: Harness) -> None:
    h.create("snap", SnapStart=ON)
    h.publish("snap")
    h.service.update_configuration(EAST, {"FunctionName": "snap", "Description": "two"})
    h.publish("snap")
    h.service.update_configuration(EAST, {"FunctionName": "snap", "SnapStart": {}})
    h.publish("snap")  # version 3: no SnapStart
    h.service.delete_function(EAST, "snap", "1")
    h.service.delete_function(EAST, "snap", "3")
    h.service.delete_function(EAST, "snap", None)
    assert h.deleted == [("snap", ["1"]), ("snap", ["2"])]


def test_a_refused_create_stores_no_code(h: Harness, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException, match="not supported for SnapStart"):
        h.create("old", Runtime="python3.11", SnapStart=ON)
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
    h.create("new", SnapStart=ON)
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] != []
