"""Versions: publishing $LATEST frozen, listing, and SnapStart versions' snapshot state.

Driven through ``FunctionLookups`` (the public look-ups ``FunctionService`` hands it)
with a small fake over an in-memory store, so publishing is tested on its own.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lambdad.control.versions import Versions
from lambdad.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceNotFoundException,
)
from lambdad.model.arn import LATEST, FunctionRef, parse_function_ref
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.store.base import Doc
from lambdad.store.sqlite import SqliteStore

EAST = Scope("123456789012", "us-east-1")


class FakeFunctions:
    """The look-ups Versions needs; environments are stored in the clear."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._revisions = itertools.count(1)

    def function_ref(
        self, scope: Scope, function_name: str, field: str = "functionName"
    ) -> FunctionRef:
        return parse_function_ref(function_name, field=field)

    def function_doc(self, scope: Scope, name: str) -> Doc:
        doc = self.store.get_function(scope.account, scope.region, name)
        if doc is None:
            raise ResourceNotFoundException(f"Function not found: {name}")
        return doc

    def latest_for_update(
        self, scope: Scope, function_name: str, revision_id: str | None
    ) -> tuple[str, Doc]:
        doc = self.store.get_version(scope.account, scope.region, function_name, LATEST)
        if doc is None:
            raise ResourceNotFoundException(f"Function not found: {function_name}")
        if revision_id is not None and revision_id != doc["RevisionId"]:
            raise PreconditionFailedException("revision")
        return function_name, doc

    def render(
        self, scope: Scope, name: str, version: str, doc: Doc, as_qualifier: str | None = None
    ) -> dict[str, Any]:
        return {**{k: v for k, v in doc.items() if not k.startswith("_")}, "Version": version}

    def stamp(self, doc: Doc) -> None:
        doc["RevisionId"] = f"rev-{next(self._revisions)}"

    def unseal(self, scope: Scope, name: str, doc: Doc) -> dict[str, str]:
        return dict(doc["_env"]["plain"])


class Harness:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.functions = FakeFunctions(store)
        self.changes = ChangeHub()
        self.heard: list[tuple[str, str | None]] = []
        self.changes.on_function_change(lambda s, n, v: self.heard.append((n, v)))
        self.requested: list[tuple[str, str]] = []
        self.changes.on_snapshot_requested(lambda s, n, v: self.requested.append((n, v)))
        self.versions = Versions(self.functions, self.changes)

    def create(self, name: str = "fn", **config: Any) -> None:
        doc: Doc = {
            "Runtime": "python3.12",
            "Handler": "app.handler",
            "CodeSha256": "code-1",
            "Description": "",
            "RevisionId": "rev-0",
            **config,
        }
        self.store.put_function(EAST.account, EAST.region, name, {"LatestPublished": 0})
        self.store.put_version(EAST.account, EAST.region, name, LATEST, doc)

    def update_latest(self, name: str = "fn", **changes: Any) -> None:
        doc = self.store.get_version(EAST.account, EAST.region, name, LATEST)
        assert doc is not None
        doc.update(changes)
        self.store.put_version(EAST.account, EAST.region, name, LATEST, doc)

    def publish(self, name: str = "fn", **params: Any) -> dict[str, Any]:
        return self.versions.publish(EAST, {"FunctionName": name, **params})


@pytest.fixture
def h(store: SqliteStore) -> Harness:
    return Harness(store)


def test_publishing_freezes_latest_as_the_next_number(h: Harness) -> None:
    h.create()
    first = h.publish(Description="first")
    assert (first["Version"], first["Description"]) == ("1", "first")
    latest = h.store.get_version(EAST.account, EAST.region, "fn", LATEST)
    assert latest is not None
    # AWS gives $LATEST a new revision when a version is published from it.
    assert latest["RevisionId"] != "rev-0"
    h.update_latest(CodeSha256="code-2")
    assert h.publish()["Version"] == "2"
    assert h.functions.function_doc(EAST, "fn")["LatestPublished"] == 2


def test_publishing_nothing_new_answers_the_last_version(h: Harness) -> None:
    h.create(_env={"plain": {"A": "1"}})
    assert h.publish()["Version"] == "1"
    assert h.publish()["Version"] == "1"
    # Sealed again (a new nonce) but the same variables: still nothing new.
    h.update_latest(_env={"plain": {"A": "1"}, "nonce": "other"})
    assert h.publish()["Version"] == "1"
    h.update_latest(_env={"plain": {"A": "2"}})
    assert h.publish()["Version"] == "2"
    h.update_latest(Description="changed")
    assert h.publish()["Version"] == "3"


def test_a_code_sha256_other_than_latests_is_refused(h: Harness) -> None:
    h.create()
    with pytest.raises(InvalidParameterValueException, match="is different from current"):
        h.publish(CodeSha256="other")
    with pytest.raises(PreconditionFailedException):
        h.publish(RevisionId="stale")
    assert h.publish(CodeSha256="code-1")["Version"] == "1"


def test_a_snapstart_version_is_pending_until_its_snapshot_is_finished(h: Harness) -> None:
    h.create(SnapStart={"ApplyOn": "PublishedVersions"})
    out = h.publish()
    assert (out["State"], out["StateReasonCode"]) == ("Pending", "Creating")
    assert h.requested == [("fn", "1")]
    assert h.versions.pending_snapshots() == [(EAST, "fn", "1")]

    h.versions.finish_snapshot(EAST, "fn", "1", None, "FunctionError")
    doc = h.store.get_version(EAST.account, EAST.region, "fn", "1")
    assert doc is not None
    assert doc["State"] == "Active"
    assert h.heard == [("fn", "1")]
    assert h.versions.pending_snapshots() == []


def test_a_failed_snapshot_records_its_reason(h: Harness) -> None:
    h.create(SnapStart={"ApplyOn": "PublishedVersions"})
    h.publish()
    h.versions.finish_snapshot(EAST, "fn", "1", "init failed", "FunctionError")
    doc = h.store.get_version(EAST.account, EAST.region, "fn", "1")
    assert doc is not None
    assert (doc["State"], doc["StateReason"], doc["StateReasonCode"]) == (
        "Failed",
        "init failed",
        "FunctionError",
    )


def test_finishing_the_snapshot_of_a_deleted_version_changes_nothing(h: Harness) -> None:
    h.create(SnapStart={"ApplyOn": "PublishedVersions"})
    h.publish()
    h.store.delete_version(EAST.account, EAST.region, "fn", "1")
    h.versions.finish_snapshot(EAST, "fn", "1", None, "FunctionError")
    assert h.heard == []


def test_listing_pages_and_leaves_out_the_state_members(h: Harness) -> None:
    h.create()
    for n in range(3):
        h.update_latest(CodeSha256=f"code-{n + 2}")
        h.publish()
    page = h.versions.list(EAST, "fn", None, 2)
    assert [v["Version"] for v in page["Versions"]] == [LATEST, "1"]
    rest = h.versions.list(EAST, "fn", page["NextMarker"], 2)
    assert [v["Version"] for v in rest["Versions"]] == ["2", "3"]
    assert "NextMarker" not in rest
    assert all("State" not in v for v in page["Versions"] + rest["Versions"])
    with pytest.raises(InvalidParameterValueException, match="Invalid marker"):
        h.versions.list(EAST, "fn", "not-a-marker", None)
