"""The resource handlers' calls, against a fake client that records them: what each
template property becomes in lambdad's API, and what an update sends (only the change)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

from lambdad.deploy.function_resource import FunctionHandler
from lambdad.deploy.handlers import Env
from lambdad.deploy.lambda_resources import AliasHandler, PermissionHandler, VersionHandler
from lambdad.deploy.other_resources import RoleHandler, RuleHandler
from lambdad.deploy.records import ResourceRecord
from lambdad.deploy.source_resources import ScheduleHandler
from unit.deploy.deploy_fakes import IDENTITY


class FakeClient:
    """Any method call is recorded; answers come from ``answers`` by method name."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]], answers: dict[str, Any]) -> None:
        self.calls = calls
        self.answers = answers

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((method, kwargs))
            return self.answers.get(method, {})

        return call


def _env(**answers: Any) -> tuple[Env, list[tuple[str, dict[str, Any]]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    client = FakeClient(calls, answers)
    return Env(
        IDENTITY, lambda service: client, lambda b, k: b"art" if b == "mine" else None
    ), calls


ACTIVE = {"State": "Active", "LastUpdateStatus": "Successful"}
FN_PROPS = {
    "Runtime": "python3.11",
    "Handler": "index.handler",
    "Role": "arn:aws:iam::123456789012:role/r",
    "MemorySize": "256",
    "Code": {"ZipFile": "def handler(e, c):\n    return 1\n"},
    "Environment": {"Variables": {"A": "1"}},
    "Tags": [{"Key": "team", "Value": "x"}],
}


def test_function_create_zips_inline_code_and_waits_until_active() -> None:
    env, calls = _env(create_function={"FunctionArn": "arn:fn"}, get_function_configuration=ACTIVE)
    done = FunctionHandler().create(env, "Fn", FN_PROPS, None)
    assert done.physical_id.startswith("s-Fn-")
    assert done.attributes == {"Ref": done.physical_id, "Arn": "arn:fn"}
    method, args = calls[0]
    assert method == "create_function"
    assert args["MemorySize"] == 256
    assert args["Tags"] == {"team": "x"}
    with zipfile.ZipFile(io.BytesIO(args["Code"]["ZipFile"])) as zf:
        assert zf.read("index.py").decode() == FN_PROPS["Code"]["ZipFile"]
    assert calls[1] == ("get_function_configuration", {"FunctionName": done.physical_id})


def test_function_update_sends_only_what_changed() -> None:
    env, calls = _env(get_function_configuration=ACTIVE)
    record = ResourceRecord(
        "Fn", "AWS::Lambda::Function", "fn", FN_PROPS, {"Ref": "fn", "Arn": "arn:fn"}
    )
    new = {**FN_PROPS, "Code": {"S3Bucket": "mine", "S3Key": "k"}}
    FunctionHandler().update(env, record, new)
    assert [c[0] for c in calls] == ["update_function_code", "get_function_configuration"]
    assert calls[0][1] == {"FunctionName": "fn", "ZipFile": b"art"}

    env, calls = _env(get_function_configuration=ACTIVE)
    new = {k: v for k, v in FN_PROPS.items() if k not in ("Environment", "Tags")}
    FunctionHandler().update(env, record, new)
    (method, args), _, (untag, untag_args) = calls
    assert method == "update_function_configuration"
    assert args["Environment"] == {"Variables": {}}  # removed from the template: reset
    assert (untag, untag_args) == ("untag_resource", {"Resource": "arn:fn", "TagKeys": ["team"]})


def test_version_alias_and_permission() -> None:
    published = {
        "FunctionName": "fn",
        "Version": "3",
        "FunctionArn": "arn:aws:lambda:us-east-1:1:function:fn:3",
    }
    env, calls = _env(publish_version=published, get_function_configuration=ACTIVE)
    done = VersionHandler().create(env, "V", {"FunctionName": "fn"}, None)
    assert done.attributes["Version"] == "3"
    assert calls[1] == ("get_function_configuration", {"FunctionName": "fn", "Qualifier": "3"})

    env, calls = _env(create_alias={"AliasArn": "arn:alias"})
    weights = [{"FunctionVersion": "2", "FunctionWeight": 0.1}]
    props = {"FunctionName": "fn", "Name": "live", "FunctionVersion": "3",
             "RoutingConfig": {"AdditionalVersionWeights": weights}}  # fmt: skip
    AliasHandler().create(env, "A", props, None)
    assert calls[0][1]["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}

    env, calls = _env()
    props = {"FunctionName": "arn:aws:lambda:us-east-1:1:function:fn:live",
             "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
             "SourceArn": "arn:rule"}  # fmt: skip
    done = PermissionHandler().create(env, "P", props, None)
    _, args = calls[0]
    assert args["FunctionName"] == "arn:aws:lambda:us-east-1:1:function:fn"
    assert args["Qualifier"] == "live"
    assert args["StatementId"] == done.physical_id


def test_rule_targets_are_diffed_on_update() -> None:
    env, calls = _env(put_rule={"RuleArn": "arn:rule"}, put_targets={"FailedEntryCount": 0})
    old = {
        "ScheduleExpression": "rate(1 day)",
        "Targets": [{"Id": "a", "Arn": "x"}, {"Id": "b", "Arn": "y"}],
    }
    record = ResourceRecord("R", "AWS::Events::Rule", "r", old, {"Ref": "r", "Arn": "arn:rule"})
    RuleHandler().update(
        env,
        record,
        {**old, "EventPattern": {"source": ["s"]}, "Targets": [{"Id": "a", "Arn": "x"}]},
    )
    assert calls[0] == (
        "put_rule",
        {"Name": "r", "ScheduleExpression": "rate(1 day)", "EventPattern": '{"source": ["s"]}'},
    )
    assert calls[1] == ("remove_targets", {"Rule": "r", "Ids": ["b"]})
    assert calls[2] == ("put_targets", {"Rule": "r", "Targets": [{"Id": "a", "Arn": "x"}]})


def test_schedule_and_role() -> None:
    env, calls = _env(create_schedule={"ScheduleArn": "arn:sched"})
    props = {
        "ScheduleExpression": "rate(1 hour)",
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": "5"},
        "Target": {
            "Arn": "arn:fn",
            "RoleArn": "arn:role",
            "RetryPolicy": {"MaximumRetryAttempts": "2"},
        },
    }
    done = ScheduleHandler().create(env, "S", props, None)
    _, args = calls[0]
    assert args["FlexibleTimeWindow"]["MaximumWindowInMinutes"] == 5
    assert args["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 2}
    assert done.attributes["Arn"] == "arn:sched"

    env, calls = _env()
    done = RoleHandler().create(env, "Role", {"Path": "/svc/"}, None)
    assert done.attributes["Arn"] == f"arn:aws:iam::123456789012:role/svc/{done.physical_id}"
    assert calls == []


def test_event_source_mapping_create_and_update() -> None:
    from lambdad.deploy.source_resources import EventSourceMappingHandler

    env, calls = _env(create_event_source_mapping={"UUID": "u-1"})
    props = {"FunctionName": "fn", "EventSourceArn": "arn:aws:sqs:us-east-1:1:q", "BatchSize": "5",
             "Enabled": True, "Tags": [{"Key": "k", "Value": "v"}]}  # fmt: skip
    done = EventSourceMappingHandler().create(env, "M", props, None)
    assert done.attributes == {"Ref": "u-1", "Id": "u-1"}
    assert calls[0] == (
        "create_event_source_mapping",
        {**props, "BatchSize": 5, "Tags": {"k": "v"}},
    )

    env, calls = _env()
    record = ResourceRecord("M", "AWS::Lambda::EventSourceMapping", "u-1", props, done.attributes)
    EventSourceMappingHandler().update(env, record, {**props, "BatchSize": 10})
    # The source and tags are not an update's to change.
    expected = {"UUID": "u-1", "FunctionName": "fn", "BatchSize": 10, "Enabled": True}
    assert calls == [("update_event_source_mapping", expected)]
