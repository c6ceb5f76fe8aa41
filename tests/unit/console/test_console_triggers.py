"""A function's triggers, gathered from each source with fake operations: only those
naming this function (not one whose name merely starts with its name), and a source
that fails leaves the others standing."""

from __future__ import annotations

import asyncio
from typing import Any

from lambdad.console import triggers
from lambdad.console.aws import Aws
from lambdad.console.saved_events import SavedEvents
from lambdad.console.sessions import Session
from lambdad.console.view import View
from lambdad.console.web import Request
from lambdad.model.scope import Scope

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
OTHER = ARN + "-archive"  # a function whose name starts with "orders"


def scoped(out: Any) -> Any:
    def op(scope: Scope, params: dict[str, Any]) -> Any:
        assert scope == Scope("123456789012", "us-east-1")
        return out(params) if callable(out) else out

    return op


async def lambda_op(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {}


def view(aws: Aws) -> View:
    session = Session("AKID", "123456789012", "us-east-1", "csrf", 10.0, 0.0, "d")
    req = Request("GET", "/functions/orders", {}, {"host": "127.0.0.1:9550"})
    return View(req, session, aws, SavedEvents(), lambda: 0.0)


def test_sources_naming_the_function_are_its_triggers() -> None:
    targets = {"nightly": [{"Arn": ARN + ":live"}], "other": [{"Arn": OTHER}]}
    prefix = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    resources = [
        {"path": "/orders", "resourceMethods": {"POST": {"methodIntegration": {
            "uri": f"{prefix}{ARN}/invocations"}}}},
        {"path": "/archive", "resourceMethods": {"GET": {"methodIntegration": {
            "uri": f"{prefix}{OTHER}/invocations"}}}},
    ]  # fmt: skip
    aws = Aws(
        {
            "ListFunctionUrlConfigs": lambda_op,
            "ListEventSourceMappings": lambda_op,
        },
        events_ops={
            "ListRules": scoped(
                {
                    "Rules": [
                        {
                            "Name": "nightly",
                            "State": "ENABLED",
                            "ScheduleExpression": "rate(1 day)",
                        },
                        {"Name": "other", "State": "ENABLED"},
                    ]
                }
            ),
            "ListTargetsByRule": scoped(lambda p: {"Targets": targets[p["Rule"]]}),
        },
        scheduler_ops={
            "ListSchedules": scoped(
                {
                    "Schedules": [
                        {
                            "Name": "hourly",
                            "GroupName": "default",
                            "State": "ENABLED",
                            "Target": {"Arn": ARN},
                        },
                        {"Name": "elsewhere", "Target": {"Arn": OTHER}},
                    ]
                }
            )
        },
        apigateway_ops={
            "GetApis": scoped({"Items": [{"ApiId": "a1", "Name": "shop"}]}),
            "GetIntegrations": scoped({"Items": [{"IntegrationUri": ARN}]}),
            "GetRestApis": scoped({"items": [{"id": "r1", "name": "legacy"}]}),
            "GetResources": scoped({"items": resources}),
        },
    )
    found = asyncio.run(triggers.gather(view(aws), "orders", ARN))
    assert [(t.kind, t.name) for t in found] == [
        ("EventBridge rule", "nightly"),
        ("Scheduler schedule", "default/hourly"),
        ("HTTP API", "shop (a1)"),
        ("REST API", "legacy (r1)"),
    ]
    assert found[-1].detail == "POST /orders"


def test_a_failing_source_leaves_the_others() -> None:
    def broken(scope: Scope, params: dict[str, Any]) -> Any:
        raise RuntimeError("store down")

    aws = Aws(
        {"ListFunctionUrlConfigs": lambda_op, "ListEventSourceMappings": lambda_op},
        events_ops={"ListRules": broken},
        scheduler_ops={
            "ListSchedules": scoped({"Schedules": [{"Name": "s", "Target": {"Arn": ARN}}]})
        },
    )
    found = asyncio.run(triggers.gather(view(aws), "orders", ARN))
    assert [t.kind for t in found] == ["Scheduler schedule"]
