"""The executor: steps applied in order with their deferred values completed, deletions
last (retained ones kept), and a failed step rolled back, newest first."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.deploy import template
from lambdad.deploy.errors import ApplyFailed
from lambdad.deploy.executor import delete_all, execute
from lambdad.deploy.plan import plan
from lambdad.deploy.records import ResourceRecord
from unit.deploy.deploy_fakes import IDENTITY, FakeHandler, env

FN = "AWS::Lambda::Function"
VERSION = "AWS::Lambda::Version"
ALIAS = "AWS::Lambda::Alias"


def _doc() -> dict[str, Any]:
    return {
        "Resources": {
            "Fn": {"Type": FN, "Properties": {"Code": "v1"}},
            "Ver": {"Type": VERSION, "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {"Type": ALIAS, "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "FunctionVersion": {"Fn::GetAtt": ["Ver", "Version"]}}},
        },
        "Outputs": {"Alias": {"Value": {"Fn::Sub": "${Live} of ${Fn.Arn}"}}},
    }  # fmt: skip


def _run(doc: dict[str, Any], handler: FakeHandler, previous: Any = None) -> Any:
    reports: list[tuple[str, str]] = []
    the_plan = plan(template.read(doc), {}, IDENTITY, previous or {})
    handlers = {FN: handler, VERSION: handler, ALIAS: handler}
    result = execute(
        the_plan, previous or {}, env(), handlers, lambda lid, t, p, s, r: reports.append((lid, s))
    )
    return result, reports


def test_creates_in_order_and_completes_deferred_values() -> None:
    handler = FakeHandler()
    result, reports = _run(_doc(), handler)
    assert handler.calls == [("create", "Fn"), ("create", "Ver"), ("create", "Live")]
    assert list(result.deployment) == ["Fn", "Ver", "Live"]
    live = result.deployment["Live"]
    assert live.properties == {"FunctionName": "Fn-1", "FunctionVersion": "2"}
    assert result.outputs == {"Alias": ("Live-3 of arn:Fn-1", None)}
    assert reports[:2] == [("Fn", "CREATE_IN_PROGRESS"), ("Fn", "CREATE_COMPLETE")]


def test_failed_step_rolls_back_what_this_run_did() -> None:
    handler = FakeHandler(fail_on="Live")
    reports: list[tuple[str, str]] = []
    the_plan = plan(template.read(_doc()), {}, IDENTITY, {})
    handlers = {FN: handler, VERSION: handler, ALIAS: handler}
    with pytest.raises(ApplyFailed) as info:
        execute(the_plan, {}, env(), handlers, lambda lid, t, p, s, r: reports.append((lid, s)))
    assert info.value.logical_id == "Live"
    assert "Live refused" in info.value.reason
    assert handler.calls[-2:] == [("delete", "Ver"), ("delete", "Fn")]
    assert ("Live", "CREATE_FAILED") in reports
    assert reports[-1] == ("Fn", "DELETE_COMPLETE")


def test_update_failure_puts_back_the_previous_properties() -> None:
    handler = FakeHandler()
    first, _ = _run(_doc(), handler)
    doc = _doc()
    doc["Resources"]["Fn"]["Properties"]["Code"] = "v2"
    doc["Resources"]["Ver2"] = doc["Resources"].pop("Ver")
    doc["Resources"]["Live"]["Properties"]["FunctionVersion"] = {"Fn::GetAtt": ["Ver2", "Version"]}
    failing = FakeHandler(fail_on="Ver2")
    with pytest.raises(ApplyFailed):
        _run(doc, failing, first.deployment)
    # Fn was updated in place, then put back; nothing else ran.
    assert failing.calls == [("update", "Fn"), ("create", "Ver2"), ("update", "Fn")]


def test_deletions_come_last_and_retained_resources_stay() -> None:
    handler = FakeHandler()
    previous = {
        "Old": ResourceRecord("Old", FN, "old-1", {}),
        "Kept": ResourceRecord("Kept", VERSION, "kept-1", {}, deletion_policy="Retain"),
    }
    doc = {"Resources": {"Fn": {"Type": FN, "Properties": {}}}}
    result, reports = _run(doc, handler, previous)
    assert handler.calls == [("create", "Fn"), ("delete", "Old")]
    assert ("Kept", "DELETE_SKIPPED") in reports
    assert list(result.deployment) == ["Fn"]


def test_delete_all_reports_what_it_could_not_delete() -> None:
    class Stubborn(FakeHandler):
        def delete(self, env: Any, record: ResourceRecord) -> None:
            raise RuntimeError("busy")

    deployment = {"A": ResourceRecord("A", FN, "a", {}), "B": ResourceRecord("B", VERSION, "b", {})}
    reports: list[tuple[str, str]] = []
    left = delete_all(deployment, env(), {FN: FakeHandler(), VERSION: Stubborn()},
                      lambda lid, t, p, s, r: reports.append((lid, s)))  # fmt: skip
    assert [r.logical_id for r in left] == ["B"]
    assert reports == [("B", "DELETE_IN_PROGRESS"), ("B", "DELETE_FAILED"),
                       ("A", "DELETE_IN_PROGRESS"), ("A", "DELETE_COMPLETE")]  # fmt: skip


def test_each_change_is_kept_as_it_happens() -> None:
    kept: list[list[str]] = []
    the_plan = plan(template.read(_doc()), {}, IDENTITY, {})
    handler = FakeHandler()
    handlers = {FN: handler, VERSION: handler, ALIAS: handler}
    execute(
        the_plan,
        {},
        env(),
        handlers,
        lambda *a: None,
        lambda rs: kept.append([r.logical_id for r in rs]),
    )
    assert kept == [["Fn"], ["Fn", "Ver"], ["Fn", "Ver", "Live"]]


def test_a_rollback_that_cannot_delete_leaves_the_resource_recorded() -> None:
    class Stuck(FakeHandler):
        def delete(self, env: Any, record: ResourceRecord) -> None:
            raise RuntimeError("stuck")

    handler = Stuck(fail_on="Live")
    the_plan = plan(template.read(_doc()), {}, IDENTITY, {})
    with pytest.raises(ApplyFailed) as info:
        execute(
            the_plan, {}, env(), {FN: handler, VERSION: handler, ALIAS: handler}, lambda *a: None
        )
    assert [r.logical_id for r in info.value.stranded] == ["Ver", "Fn"]


def test_a_failed_create_of_a_named_resource_is_cleaned_up_by_its_name() -> None:
    class WaitFails(FakeHandler):
        def planned_id(self, env: Any, logical_id: str, props: Any, replaces: Any) -> str:
            return f"{logical_id}-planned"

        def create(self, env: Any, logical_id: str, props: Any, replaces: Any) -> Any:
            self.calls.append(("create", logical_id))
            raise RuntimeError("created, then the wait failed")

        def delete(self, env: Any, record: ResourceRecord) -> None:
            self.calls.append(("delete", record.physical_id))

    handler = WaitFails()
    doc = {"Resources": {"Fn": {"Type": FN, "Properties": {}}}}
    the_plan = plan(template.read(doc), {}, IDENTITY, {})
    with pytest.raises(ApplyFailed) as info:
        execute(the_plan, {}, env(), {FN: handler}, lambda *a: None)
    assert handler.calls == [("create", "Fn"), ("delete", "Fn-planned")]
    assert info.value.stranded == ()
