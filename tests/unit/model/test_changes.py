"""The change-event hub: listeners hear what they subscribed to, in order."""

from __future__ import annotations

from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope

EAST = Scope("123456789012", "us-east-1")


def test_each_kind_reaches_its_own_listeners_in_subscription_order() -> None:
    hub = ChangeHub()
    heard: list[tuple[object, ...]] = []
    hub.on_function_change(lambda s, n, v: heard.append(("first", n, v)))
    hub.on_function_change(lambda s, n, v: heard.append(("second", n, v)))
    hub.on_alias_change(lambda s, n, a: heard.append(("alias", n, a)))
    hub.on_provisioned_change(lambda s, n, q, c: heard.append(("provisioned", n, q, c)))
    hub.on_snapshot_requested(lambda s, n, v: heard.append(("snapshot", n, v)))
    hub.on_snapshots_deleted(lambda s, n, vs: heard.append(("deleted", n, tuple(vs))))

    hub.function_changed(EAST, "fn", None)
    hub.alias_changed(EAST, "fn", "live")
    hub.provisioned_changed(EAST, "fn", "live", 2)
    hub.snapshot_requested(EAST, "fn", "3")
    hub.snapshots_deleted(EAST, "fn", ["1", "3"])

    assert heard == [
        ("first", "fn", None),
        ("second", "fn", None),
        ("alias", "fn", "live"),
        ("provisioned", "fn", "live", 2),
        ("snapshot", "fn", "3"),
        ("deleted", "fn", ("1", "3")),
    ]


def test_deleting_no_snapshot_versions_tells_no_one() -> None:
    hub = ChangeHub()
    heard: list[list[str]] = []
    hub.on_snapshots_deleted(lambda s, n, vs: heard.append(vs))
    hub.snapshots_deleted(EAST, "fn", [])
    assert heard == []


def test_a_listener_subscribing_while_a_change_is_told_hears_the_next_one() -> None:
    hub = ChangeHub()
    heard: list[str] = []

    def late(scope: Scope, name: str, version: str | None) -> None:
        heard.append(f"late {version}")

    def first(scope: Scope, name: str, version: str | None) -> None:
        heard.append(f"first {version}")
        if version == "1":
            hub.on_function_change(late)

    hub.on_function_change(first)
    hub.function_changed(EAST, "fn", "1")
    hub.function_changed(EAST, "fn", "2")
    assert heard == ["first 1", "first 2", "late 2"]
