"""``store.scoped_docs.ScopedDocs``: one kind of document per (account, region), under a
parent name, as EventBridge, Scheduler and capacity providers keep theirs."""

from __future__ import annotations

from lambdad.model.scope import Scope
from lambdad.store.scoped_docs import ScopedDocs
from lambdad.store.sqlite import SqliteStore

A = Scope("123456789012", "us-east-1")
B = Scope("210987654321", "us-east-1")


def test_documents_are_kept_per_scope_parent_and_kind(store: SqliteStore) -> None:
    rules, buses = ScopedDocs(store, "events-rule"), ScopedDocs(store, "events-bus")
    rules.put(A, "events:default", "nightly", {"State": "ENABLED"})
    rules.put(A, "events:orders", "nightly", {"State": "DISABLED"})
    assert rules.get(A, "events:default", "nightly") == {"State": "ENABLED"}
    assert rules.get(B, "events:default", "nightly") is None  # another account's world
    assert buses.get(A, "events:default", "nightly") is None  # another kind
    assert rules.list(A, "events:orders") == [("nightly", {"State": "DISABLED"})]
    rules.delete(A, "events:default", "nightly")
    assert rules.get(A, "events:default", "nightly") is None
    assert rules.list(A, "events:orders") == [("nightly", {"State": "DISABLED"})]
