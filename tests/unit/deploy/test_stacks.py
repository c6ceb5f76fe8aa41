"""The stack service over a real (in-memory) store and fake resource handlers: change
sets planned, executed, failed and rolled back, stacks deleted; AWS's answers."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from lambdad.deploy.errors import (
    ChangeSetNotFound,
    InsufficientCapabilities,
    UnsupportedResources,
    ValidationError,
)
from lambdad.deploy.kinds import KINDS
from lambdad.deploy.stack_records import StackRecords, Where
from lambdad.deploy.stacks import NO_CHANGES, SKIP_UNSUPPORTED, StackService
from lambdad.secrets import Sealer
from lambdad.store.sqlite import SqliteStore
from unit.deploy.deploy_fakes import FakeHandler, env

HERE = Where("123456789012", "us-east-1")
SEALER = Sealer(os.urandom(32))
BODY = """\
Parameters:
  Mem: {Type: Number, Default: 128}
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties: {MemorySize: !Ref Mem}
Outputs:
  Name: {Value: !Ref Fn, Description: the function}
"""


def _service(store: SqliteStore, fail_on: str | None = None) -> tuple[StackService, FakeHandler]:
    handler = FakeHandler(fail_on)
    records = StackRecords(store, SEALER)
    return StackService(records, lambda: 1.0e9, {t: handler for t in KINDS}), handler


def _change_set(s: StackService, name: str, kind: str, body: str = BODY, **extra: Any) -> Any:
    return s.create_change_set(
        HERE,
        {
            "StackName": "st",
            "ChangeSetName": name,
            "ChangeSetType": kind,
            "TemplateBody": body,
            **extra,
        },
    )


def test_create_execute_update_and_delete(store: SqliteStore) -> None:
    s, handler = _service(store)
    cs = _change_set(s, "one", "CREATE")
    assert cs["Status"] == "CREATE_COMPLETE"
    assert [c["ResourceChange"]["Action"] for c in cs["Changes"]] == ["Add"]
    assert s.stack(HERE, "st")["StackStatus"] == "REVIEW_IN_PROGRESS"
    # Its first event, as on AWS (SAM CLI reads the newest event before it executes).
    assert [e["ResourceStatus"] for e in s.stack(HERE, "st")["Events"]] == ["REVIEW_IN_PROGRESS"]
    doc = s.execute_change_set(HERE, "st", "one", lambda identity: env())
    assert doc["StackStatus"] == "CREATE_COMPLETE"
    assert doc["Outputs"] == [
        {"OutputKey": "Name", "OutputValue": "Fn-1", "Description": "the function"}
    ]
    # The executed change set is gone, as on AWS.
    with pytest.raises(ChangeSetNotFound):
        s.describe_change_set(HERE, "st", "one")

    same = _change_set(s, "two", "UPDATE")
    assert (same["Status"], same["StatusReason"]) == ("FAILED", NO_CHANGES)
    params = [{"ParameterKey": "Mem", "ParameterValue": "256"}]
    cs = _change_set(s, "three", "UPDATE", Parameters=params)
    assert cs["Changes"][0]["ResourceChange"]["Replacement"] == "False"
    assert (
        s.execute_change_set(HERE, "st", cs["ChangeSetId"], lambda i: env())["StackStatus"]
        == "UPDATE_COMPLETE"
    )
    assert handler.calls == [("create", "Fn"), ("update", "Fn")]
    # UsePreviousValue keeps the stack's value: nothing changes.
    again = _change_set(
        s, "four", "UPDATE", Parameters=[{"ParameterKey": "Mem", "UsePreviousValue": True}]
    )
    assert again["Status"] == "FAILED"

    s.delete_stack(HERE, "st", lambda i: env())
    assert handler.calls[-1] == ("delete", "Fn")
    with pytest.raises(ValidationError, match="Stack with id st does not exist"):
        s.stack(HERE, "st")


def test_failed_create_rolls_back(store: SqliteStore) -> None:
    s, _ = _service(store, fail_on="Fn")
    _change_set(s, "one", "CREATE")
    doc = s.execute_change_set(HERE, "st", "one", lambda i: env())
    assert doc["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "[Fn]" in doc["StackStatusReason"]
    assert doc["Resources"] == []
    with pytest.raises(ValidationError, match="already exists"):
        _change_set(s, "two", "CREATE")


def test_refusals(store: SqliteStore) -> None:
    s, _ = _service(store)
    with pytest.raises(ValidationError, match="does not exist"):
        _change_set(s, "one", "UPDATE")
    with pytest.raises(ValidationError, match="regular expression"):
        s.create_change_set(HERE, {"StackName": "1bad", "ChangeSetName": "x", "TemplateBody": BODY})
    with pytest.raises(ValidationError, match="Template format error"):
        _change_set(s, "one", "CREATE", body="Resources: [1, 2]")
    with pytest.raises(ValidationError, match="Fn::Sub takes"):
        _change_set(
            s,
            "one",
            "CREATE",
            body="Resources:\n  Fn: {Type: AWS::Lambda::Function, Properties: {A: !Sub [1, 2]}}\n",
        )
    with pytest.raises(ValidationError, match="Template format error: AttributeError"):
        _change_set(s, "one", "CREATE", body="Resources:\n  1: {Type: AWS::Lambda::Function}\n")
    with pytest.raises(ValidationError, match="aliases"):
        _change_set(s, "one", "CREATE", body="a: &x [1]\nb: *x\n")
    # A plan that fails leaves no stack behind.
    with pytest.raises(ValidationError):
        s.stack(HERE, "st")


def test_unsupported_types_refused_or_skipped_on_request(store: SqliteStore) -> None:
    s, _ = _service(store)
    body = BODY + "  Queue:\n    Type: AWS::DynamoDB::Table\n"
    body = body.replace("Outputs:\n  Name: {Value: !Ref Fn, Description: the function}\n", "")
    body += "  Q2:\n    Type: AWS::DynamoDB::Table\n"
    with pytest.raises(UnsupportedResources, match=r"AWS::DynamoDB::Table \(Queue, Q2\)"):
        _change_set(s, "one", "CREATE", body=body)
    cs = _change_set(s, "one", "CREATE", body=body, Capabilities=[SKIP_UNSUPPORTED])
    assert [c["ResourceChange"]["LogicalResourceId"] for c in cs["Changes"]] == ["Fn"]
    assert "Queue (AWS::DynamoDB::Table is not supported by lambdad)" in cs["StatusReason"]


def test_stacks_left_in_progress_are_marked_failed_at_start(store: SqliteStore) -> None:
    s, handler = _service(store)
    _change_set(s, "one", "CREATE")
    doc = s.execute_change_set(HERE, "st", "one", lambda i: env())
    doc["StackStatus"] = "UPDATE_IN_PROGRESS"  # as a run that stopped half-way left it
    s.records.put(HERE, doc)
    assert s.recover() == ["st"]
    stack = s.stack(HERE, "st")
    assert stack["StackStatus"] == "UPDATE_FAILED"
    assert [r["LogicalId"] for r in stack["Resources"]] == ["Fn"]
    s.delete_stack(HERE, "st", lambda i: env())
    assert handler.calls[-1] == ("delete", "Fn")


def test_stacks_are_sealed_at_rest(store: SqliteStore) -> None:
    s, _ = _service(store)
    body = BODY.replace(
        "Properties: {MemorySize: !Ref Mem}",
        "Properties: {MemorySize: !Ref Mem, Environment: {Variables: {PW: !Ref Secret}}}",
    ).replace("Parameters:\n", "Parameters:\n  Secret: {Type: String, NoEcho: true}\n")
    params = [{"ParameterKey": "Secret", "ParameterValue": "hunter2-secret"}]
    _change_set(s, "one", "CREATE", body=body, Parameters=params)
    s.execute_change_set(HERE, "st", "one", lambda i: env())
    _change_set(s, "two", "UPDATE", body=body.replace("128", "256"), Parameters=params)
    raw = [doc for _, doc in store.list_children("cfn-stack", HERE.account, HERE.region, "")]
    raw += [
        doc for _, doc in store.list_children("cfn-change-set", HERE.account, HERE.region, "st")
    ]
    assert len(raw) == 2
    assert all("hunter2" not in json.dumps(doc) for doc in raw)
    assert raw[0]["StackStatus"] == "CREATE_COMPLETE"
    deployed = s.stack(HERE, "st")["Resources"][0]["Properties"]
    assert deployed["Environment"] == {"Variables": {"PW": "hunter2-secret"}}
    # Sealed for its account and region: a row copied elsewhere does not open.
    other = Where("999999999999", "us-east-1")
    store.put_child("cfn-stack", other.account, other.region, "", "st", raw[0])
    with pytest.raises(InvalidTag):
        s.records.get(other, "st")
    assert s.stack(HERE, "st")["NoEcho"] == ["Secret"]


def test_no_echo_parameters_are_masked_when_described(store: SqliteStore) -> None:
    from lambdad.deploy.operations import describe_change_set, describe_stacks

    s, _ = _service(store)
    body = BODY.replace("Parameters:\n", "Parameters:\n  Secret: {Type: String, NoEcho: true}\n")
    params = [{"ParameterKey": "Secret", "ParameterValue": "pw"}]
    _change_set(s, "one", "CREATE", body=body, Parameters=params)
    shown = describe_change_set(
        s, HERE, {"StackName": "st", "ChangeSetName": "one"}, lambda i: env()
    )
    assert shown["Parameters"] == [{"ParameterKey": "Secret", "ParameterValue": "****"}]
    s.execute_change_set(HERE, "st", "one", lambda i: env())
    (stack,) = describe_stacks(s, HERE, {"StackName": "st"}, lambda i: env())["Stacks"]
    assert stack["Parameters"] == [{"ParameterKey": "Secret", "ParameterValue": "****"}]


def test_iam_resources_need_the_capability(store: SqliteStore) -> None:
    s, _ = _service(store)
    role = "  R:\n    Type: AWS::IAM::Role\n"
    with pytest.raises(InsufficientCapabilities, match=r"\[CAPABILITY_IAM\]"):
        _change_set(s, "one", "CREATE", body=BODY.replace("Outputs:", role + "Outputs:"))
    named = role + "    Properties: {RoleName: r}\n"
    body = BODY.replace("Outputs:", named + "Outputs:")
    with pytest.raises(InsufficientCapabilities, match=r"\[CAPABILITY_NAMED_IAM\]"):
        _change_set(s, "one", "CREATE", body=body, Capabilities=["CAPABILITY_IAM"])
    cs = _change_set(s, "one", "CREATE", body=body, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert cs["Status"] == "CREATE_COMPLETE"


def test_deleted_stacks_are_listed_for_90_days(store: SqliteStore) -> None:
    clock = [1.0e9]
    records = StackRecords(store, SEALER)
    handler = FakeHandler()
    s = StackService(records, lambda: clock[0], {t: handler for t in KINDS})
    _change_set(s, "one", "CREATE")
    stack_id = s.execute_change_set(HERE, "st", "one", lambda i: env())["StackId"]
    s.delete_stack(HERE, "st", lambda i: env())
    (gone,) = records.deleted(HERE, clock[0])
    assert (gone["StackId"], gone["StackStatus"]) == (stack_id, "DELETE_COMPLETE")
    clock[0] += 91 * 86400
    assert records.deleted(HERE, clock[0]) == []


def test_template_url_is_read_as_the_callers_account(store: SqliteStore) -> None:
    asked: list[tuple[Where, str]] = []

    def read(where: Where, url: str) -> str:
        asked.append((where, url))
        return BODY

    s = StackService(
        StackRecords(store, SEALER), lambda: 1.0e9, {t: FakeHandler() for t in KINDS}, read
    )
    cs = s.create_change_set(
        HERE, {"StackName": "st", "ChangeSetName": "a", "ChangeSetType": "CREATE",
               "TemplateURL": "https://s3.amazonaws.com/b/t.yaml"},
    )  # fmt: skip
    assert cs["Status"] == "CREATE_COMPLETE"
    assert asked == [(HERE, "https://s3.amazonaws.com/b/t.yaml")]


def test_described_as_sam_cli_reads_them(store: SqliteStore) -> None:
    """SAM CLI reads EnableTerminationProtection before ``sam delete`` and lists the
    resources (ListStackResources) for ``sam logs``."""
    from lambdad.deploy.operations import OPERATIONS

    s, _ = _service(store)
    _change_set(s, "one", "CREATE", Tags=[{"Key": "team", "Value": "a"}])
    shown = OPERATIONS["DescribeChangeSet"](
        s, HERE, {"StackName": "st", "ChangeSetName": "one"}, lambda i: env()
    )
    assert (shown["NotificationARNs"], shown["IncludeNestedStacks"]) == ([], False)
    s.execute_change_set(HERE, "st", "one", lambda identity: env())
    (view,) = OPERATIONS["DescribeStacks"](s, HERE, {"StackName": "st"}, lambda i: env())["Stacks"]
    assert view["EnableTerminationProtection"] is False
    assert view["Tags"] == [{"Key": "team", "Value": "a"}]
    detail = OPERATIONS["DescribeStackResource"](
        s, HERE, {"StackName": "st", "LogicalResourceId": "Fn"}, lambda i: env()
    )["StackResourceDetail"]
    assert (detail["PhysicalResourceId"], detail["ResourceStatus"]) == ("Fn-1", "CREATE_COMPLETE")
    with pytest.raises(ValidationError, match="Resource Nope does not exist for stack st"):
        OPERATIONS["DescribeStackResource"](
            s, HERE, {"StackName": "st", "LogicalResourceId": "Nope"}, lambda i: env()
        )
    listed = OPERATIONS["ListStackResources"](s, HERE, {"StackName": "st"}, lambda i: env())
    (row,) = listed["StackResourceSummaries"]
    assert (row["LogicalResourceId"], row["PhysicalResourceId"]) == ("Fn", "Fn-1")
    assert row["ResourceStatus"] == "CREATE_COMPLETE"


def test_a_stack_busy_with_a_long_update_refuses_other_operations(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update waiting for an alias's traffic shift holds the stack for minutes: a
    change set or a deletion meanwhile is refused as AWS refuses it, not left waiting."""
    import threading

    from lambdad.deploy import stacks

    monkeypatch.setattr(stacks, "BUSY_WAIT", 0.05)
    s, handler = _service(store)
    _change_set(s, "one", "CREATE")
    s.execute_change_set(HERE, "st", "one", lambda identity: env())
    params = [{"ParameterKey": "Mem", "ParameterValue": "256"}]
    _change_set(s, "two", "UPDATE", Parameters=params)
    started, release = threading.Event(), threading.Event()
    plain_update = handler.update

    def slow_update(*args: Any) -> Any:
        started.set()
        release.wait(5)
        return plain_update(*args)

    handler.update = slow_update  # type: ignore[method-assign]
    worker = threading.Thread(
        target=s.execute_change_set, args=(HERE, "st", "two", lambda identity: env())
    )
    worker.start()
    try:
        assert started.wait(5)
        busy = "is in UPDATE_IN_PROGRESS state and can not be updated"
        with pytest.raises(ValidationError, match=busy):
            _change_set(s, "three", "UPDATE", Parameters=params)
        with pytest.raises(ValidationError, match=busy):
            s.delete_stack(HERE, "st", lambda identity: env())
    finally:
        release.set()
        worker.join(5)
    assert s.stack(HERE, "st")["StackStatus"] == "UPDATE_COMPLETE"
