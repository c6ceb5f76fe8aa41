"""What makes a function run besides a direct invoke, gathered for its overview: its
function URLs, event source mappings, EventBridge rules and Scheduler schedules that
target it, and API Gateway integrations (HTTP APIs and REST APIs) naming it.

Each source is looked up on its own; one that fails (or that this server was built
without) leaves its part empty instead of failing the page."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from lambdad.console.view import View

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: str
    name: str
    detail: str
    link: str = ""


def _targets(arn: str, target: str) -> bool:
    """Whether ``target`` (an ARN, maybe qualified) names the function ``arn``."""
    return target == arn or target.startswith(arn + ":")


def _mentions(arn: str, uri: str) -> bool:
    """Whether an integration URI names the function ``arn`` (not one whose name
    merely starts with it)."""
    return re.search(re.escape(arn) + r"(?=$|[:/])", uri) is not None


async def _safe(work: Awaitable[list[Trigger]], what: str) -> list[Trigger]:
    try:
        return await work
    except Exception:  # one source's trouble must not take the page down
        log.warning("console: listing %s failed", what, exc_info=True)
        return []


async def _urls(view: View, name: str) -> list[Trigger]:
    out = await view.aws.lambda_(view.who, view.host, "ListFunctionUrlConfigs", FunctionName=name)
    return [
        Trigger("Function URL", c["FunctionUrl"], f"auth {c.get('AuthType', '')}", c["FunctionUrl"])
        for c in out.get("FunctionUrlConfigs") or []
    ]


async def _mappings(view: View, name: str) -> list[Trigger]:
    out = await view.aws.lambda_(view.who, view.host, "ListEventSourceMappings", FunctionName=name)
    return [
        Trigger(
            "Event source mapping",
            m.get("EventSourceArn") or m.get("UUID", ""),
            f"{m.get('State', '')} · batch {m.get('BatchSize', '')}",
        )
        for m in out.get("EventSourceMappings") or []
    ]


async def _rules(view: View, arn: str) -> list[Trigger]:
    rules = (await view.aws.events(view.who, "ListRules")).get("Rules") or []
    found: list[Trigger] = []
    for rule in rules:
        targets = await view.aws.events(view.who, "ListTargetsByRule", Rule=rule["Name"])
        if any(_targets(arn, t.get("Arn", "")) for t in targets.get("Targets") or []):
            what = rule.get("ScheduleExpression") or "event pattern"
            found.append(
                Trigger("EventBridge rule", rule["Name"], f"{rule.get('State', '')} · {what}")
            )
    return found


async def _schedules(view: View, arn: str) -> list[Trigger]:
    out = await view.aws.scheduler(view.who, "ListSchedules")
    return [
        Trigger(
            "Scheduler schedule", f"{s.get('GroupName', 'default')}/{s['Name']}", s.get("State", "")
        )
        for s in out.get("Schedules") or []
        if _targets(arn, (s.get("Target") or {}).get("Arn", ""))
    ]


async def _http_apis(view: View, arn: str) -> list[Trigger]:
    found: list[Trigger] = []
    for api in (await view.aws.apigateway(view.who, "GetApis")).get("Items") or []:
        got = await view.aws.apigateway(view.who, "GetIntegrations", ApiId=api["ApiId"])
        for i in got.get("Items") or []:
            if _mentions(arn, str(i.get("IntegrationUri", ""))):
                found.append(
                    Trigger("HTTP API", f"{api.get('Name', '')} ({api['ApiId']})",
                            str(api.get("ApiEndpoint", "")), str(api.get("ApiEndpoint", "")))
                )  # fmt: skip
    return found


async def _rest_apis(view: View, arn: str) -> list[Trigger]:
    found: list[Trigger] = []
    for api in (await view.aws.apigateway(view.who, "GetRestApis", limit=500)).get("items") or []:
        got = await view.aws.apigateway(view.who, "GetResources", restApiId=api["id"], limit=500)
        for resource in got.get("items") or []:
            methods: dict[str, Any] = resource.get("resourceMethods") or {}
            for verb, method in methods.items():
                uri = str((method or {}).get("methodIntegration", {}).get("uri", ""))
                if _mentions(arn, uri):
                    found.append(
                        Trigger("REST API", f"{api.get('name', '')} ({api['id']})",
                                f"{verb} {resource.get('path', '')}")
                    )  # fmt: skip
    return found


async def gather(view: View, name: str, arn: str) -> list[Trigger]:
    parts = await asyncio.gather(
        _safe(_urls(view, name), "function URLs"),
        _safe(_mappings(view, name), "event source mappings"),
        _safe(_rules(view, arn), "EventBridge rules"),
        _safe(_schedules(view, arn), "schedules"),
        _safe(_http_apis(view, arn), "HTTP APIs"),
        _safe(_rest_apis(view, arn), "REST APIs"),
    )
    return [t for part in parts for t in part]
