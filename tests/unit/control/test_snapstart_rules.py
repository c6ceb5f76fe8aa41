"""SnapStart's rules (control/snapstart.py) and the snapshot state FunctionService keeps."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control import snapstart
from lambdad.control.functions import FunctionService
from lambdad.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    SnapStartNotReadyException,
)
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")
ON = {"ApplyOn": "PublishedVersions"}


@pytest.mark.parametrize(
    ("runtime", "supported"),
    [
        ("python3.12", True),
        ("python3.13", True),
        ("python3.14", True),
        ("python3.11", False),
        ("python3.9", False),
        ("nodejs22.x", False),
        ("java21", False),
        ("dotnet8", False),
        ("provided.al2023", False),
        ("python9.99", False),  # not a runtime at all
        (None, False),
    ],
)
def test_supports_python_312_and_later_only(runtime: str | None, supported: bool) -> None:
    assert snapstart.supports(runtime) is supported


def test_configure_stores_apply_on_with_optimization_off() -> None:
    doc: dict[str, Any] = {"Runtime": "python3.12"}
    snapstart.configure(doc, {"SnapStart": ON})
    assert doc["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    snapstart.configure(doc, {"SnapStart": {}})
    assert doc["SnapStart"]["ApplyOn"] == "None"


def test_configure_refuses_a_runtime_change_away_from_snapstart() -> None:
    doc: dict[str, Any] = {"Runtime": "python3.10", "SnapStart": dict(ON)}
    with pytest.raises(InvalidParameterValueException, match=r"python3\.10 is not supported"):
        snapstart.configure(doc, {"Runtime": "python3.10"})
    # A request that touches neither leaves an existing configuration alone.
    snapstart.configure(doc, {"Timeout": 5})


def test_render_turns_optimization_on_for_published_versions_only() -> None:
    stored = {"SnapStart": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}}
    latest, version = dict(stored), dict(stored)
    snapstart.render(latest, "$LATEST")
    snapstart.render(version, "3")
    assert latest["SnapStart"]["OptimizationStatus"] == "Off"
    assert version["SnapStart"]["OptimizationStatus"] == "On"
    off = {"SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}}
    snapstart.render(off, "3")
    assert off["SnapStart"]["OptimizationStatus"] == "Off"


def test_state_transitions_and_invocability() -> None:
    doc: dict[str, Any] = {"SnapStart": dict(ON), "State": "Active"}
    snapstart.mark_pending(doc)
    assert snapstart.is_pending("1", doc)
    assert not snapstart.is_pending("$LATEST", doc)
    with pytest.raises(SnapStartNotReadyException) as not_ready:
        snapstart.check_invocable(doc)
    assert not_ready.value.status == 409
    assert not_ready.value.body()["Message"].startswith("Lambda is initializing your function")

    failed = dict(doc)
    snapstart.mark_finished(failed, "init crashed", snapstart.FUNCTION_ERROR)
    assert (failed["State"], failed["StateReason"], failed["StateReasonCode"]) == (
        "Failed",
        "init crashed",
        "FunctionError",
    )
    with pytest.raises(ResourceConflictException, match="following state: Failed"):
        snapstart.check_invocable(failed)

    snapstart.mark_finished(doc, None, snapstart.FUNCTION_ERROR)
    assert doc["State"] == "Active"
    assert "StateReason" not in doc
    assert "StateReasonCode" not in doc
    snapstart.check_invocable(doc)
    snapstart.check_invocable({})  # a configuration without a state runs


# -- FunctionService -------------------------------------------------------------------


def code() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    return base64.b64encode(buf.getvalue()).decode()


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.store = SqliteStore(":memory:")
        self.store.open()
        blobs = BlobStore(tmp_path / "blobs")
        blobs.open()
        self.service = FunctionService(
            Settings(),
            self.store,
            blobs,
            Sealer(bytes(range(32))),
            FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
        )
        self.requested: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, list[str]]] = []
        self.changes: list[tuple[str, str | None]] = []
        self.service.snapshot_requested = lambda s, n, v: self.requested.append((n, v))
        self.service.snapshots_deleted = lambda s, n, vs: self.deleted.append((n, vs))
        self.service.on_change(lambda s, n, v: self.changes.append((n, v)))

    def create(self, name: str, **params: Any) -> None:
        self.service.create_function(
            EAST,
            {
                "FunctionName": name,
                "Runtime": "python3.12",
                "Role": "arn:aws:iam::123456789012:role/r",
                "Handler": "app.handler",
                "Code": {"ZipFile": code()},
                **params,
            },
        )

    def publish(self, name: str) -> dict[str, Any]:
        return self.service.publish_version(EAST, {"FunctionName": name})

    def state(self, name: str, version: str) -> str:
        return str(self.service.get_configuration(EAST, name, version)["State"])


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


def test_publishing_a_snapstart_version_asks_for_its_snapshot(h: Harness) -> None:
    h.create("snap", SnapStart=ON)
    h.create("plain")
    assert h.publish("snap")["State"] == "Pending"
    assert h.publish("plain")["State"] == "Active"
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
