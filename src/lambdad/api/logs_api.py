"""The CloudWatch Logs API subset, over AWS's JSON 1.1 protocol (awsJson1_1).

A request is ``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>`` and a JSON
body. This module parses and validates the body against botocore's ``logs`` model,
calls the ``LogStore`` and serialises its dict. Errors take the awsJson shape
botocore's JSON parser reads: status 400, ``x-amzn-ErrorType`` and a body of
``{"__type": ..., "message": ...}``. Constraint violations are
``InvalidParameterException`` with the message AWS's front end writes (CloudWatch
Logs does not answer ``ValidationException`` for them as Lambda does).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.api.protocol import ServiceModel
from lambdad.errors import (
    AwsError,
    ResourceNotFoundException,
    UnknownOperationException,
    ValidationException,
)
from lambdad.model.scope import Scope
from lambdad.observe.log_insights import LogInsights
from lambdad.observe.log_shapes import InvalidParameterException
from lambdad.observe.logs import LogStore

log = logging.getLogger(__name__)

TARGET_PREFIX = "Logs_20140328"
CONTENT_TYPE = "application/x-amz-json-1.1"

Params = dict[str, Any]
Handler = Callable[[Scope, Params], dict[str, Any]]
Response = tuple[int, dict[str, str], bytes]


class SerializationException(AwsError):
    """The body is not a JSON object."""


class ServiceUnavailableException(AwsError):
    """An internal failure; the model marks it a fault, so it is the one 5xx."""

    status = 500


class LogsApi:
    def __init__(self, store: LogStore, insights: LogInsights | None = None) -> None:
        self.store = store
        self.insights = insights or LogInsights(store, store.clock)
        self.model = ServiceModel.load("logs")
        self.handlers: dict[str, Handler] = {
            "CreateLogGroup": self.create_log_group,
            "CreateLogStream": self.create_log_stream,
            "DeleteLogGroup": self.delete_log_group,
            "DeleteLogStream": self.delete_log_stream,
            "DeleteRetentionPolicy": self.delete_retention_policy,
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "FilterLogEvents": self.filter_log_events,
            "GetLogEvents": self.get_log_events,
            "PutLogEvents": self.put_log_events,
            "PutRetentionPolicy": self.put_retention_policy,
            "StartQuery": self.start_query,
            "GetQueryResults": self.get_query_results,
            "StopQuery": self.stop_query,
            "DescribeQueries": self.describe_queries,
        }

    async def __call__(self, ctx: RequestContext, target: str, body: bytes) -> Response:
        try:
            prefix, _, name = target.partition(".")
            handler = self.handlers.get(name) if prefix == TARGET_PREFIX else None
            if handler is None:
                raise UnknownOperationException(f"Unknown operation {target}")
            params = self._parse(name, body)
            # SQLite reads and writes: off the event loop, so invokes keep flowing.
            result = await asyncio.to_thread(handler, ctx.scope, params)
        except AwsError as exc:
            return _error(exc)
        except Exception:
            log.exception("Logs operation %s failed in request %s", target, ctx.request_id)
            return _error(
                ServiceUnavailableException(
                    "An internal error occurred. Request id: " + ctx.request_id
                )
            )
        out = json.dumps(result, separators=(",", ":")).encode()
        return 200, {"Content-Type": CONTENT_TYPE}, out

    def _parse(self, operation: str, body: bytes) -> Params:
        if not body.strip():
            body = b"{}"
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise SerializationException("Could not parse request body as JSON") from None
        if not isinstance(doc, dict):
            raise SerializationException("The request body must be a JSON object")
        try:
            return self.model.parse_request(self.model.operations[operation], {}, [], {}, body)
        except ValidationException as exc:
            raise InvalidParameterException(exc.message) from None

    # -- operations ----------------------------------------------------------------------

    def create_log_group(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.store.create_log_group(scope.account, scope.region, p["logGroupName"])
        return {}

    def create_log_stream(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.store.create_log_stream(
            scope.account, scope.region, p["logGroupName"], p["logStreamName"]
        )
        return {}

    def delete_log_group(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.store.delete_log_group(scope.account, scope.region, p["logGroupName"])
        return {}

    def delete_log_stream(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.store.delete_log_stream(
            scope.account, scope.region, p["logGroupName"], p["logStreamName"]
        )
        return {}

    def put_retention_policy(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.store.put_retention_policy(
            scope.account, scope.region, p["logGroupName"], p["retentionInDays"]
        )
        return {}

    def delete_retention_policy(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.store.put_retention_policy(scope.account, scope.region, p["logGroupName"], None)
        return {}

    def put_log_events(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.store.put_log_events(
            scope.account, scope.region, p["logGroupName"], p["logStreamName"], p["logEvents"]
        )

    def describe_log_groups(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.store.describe_log_groups(
            scope.account,
            scope.region,
            p.get("logGroupNamePrefix"),
            p.get("limit"),
            p.get("nextToken"),
            pattern=p.get("logGroupNamePattern"),
        )

    def describe_log_streams(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.store.describe_log_streams(
            scope.account,
            scope.region,
            _group_name(scope, p),
            p.get("logStreamNamePrefix"),
            p.get("orderBy"),
            p.get("descending"),
            p.get("limit"),
            p.get("nextToken"),
        )

    def get_log_events(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.store.get_log_events(
            scope.account,
            scope.region,
            _group_name(scope, p),
            p["logStreamName"],
            p.get("startTime"),
            p.get("endTime"),
            p.get("startFromHead"),
            p.get("limit"),
            p.get("nextToken"),
        )

    def filter_log_events(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.store.filter_log_events(
            scope.account,
            scope.region,
            _group_name(scope, p),
            p.get("logStreamNames"),
            p.get("logStreamNamePrefix"),
            p.get("startTime"),
            p.get("endTime"),
            p.get("filterPattern"),
            p.get("limit"),
            p.get("nextToken"),
            start_from_head=p.get("startFromHead"),
        )

    # -- Logs Insights (observe/log_insights.py) ----------------------------------------

    def start_query(self, scope: Scope, p: Params) -> dict[str, Any]:
        named = [p["logGroupName"]] if p.get("logGroupName") else []
        named += p.get("logGroupNames") or []
        named += [_identified(scope, i) for i in p.get("logGroupIdentifiers") or []]
        query_id = self.insights.start(
            scope.account, scope.region, named, p["startTime"], p["endTime"],
            p["queryString"], p.get("limit"),
        )  # fmt: skip
        return {"queryId": query_id}

    def get_query_results(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.insights.results(scope.account, scope.region, p["queryId"])

    def stop_query(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.insights.stop(scope.account, scope.region, p["queryId"])

    def describe_queries(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self.insights.describe(
            scope.account, scope.region, p.get("logGroupName"), p.get("status")
        )


def _group_name(scope: Scope, p: Params) -> str:
    """The group a read names, by ``logGroupName`` or ``logGroupIdentifier`` (name or ARN)."""
    name: str | None = p.get("logGroupName")
    ident: str | None = p.get("logGroupIdentifier")
    if name and ident:
        raise InvalidParameterException(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters."
        )
    if name:
        return name
    if not ident:
        raise InvalidParameterException("Should provide either logGroupName or logGroupIdentifier.")
    return _identified(scope, ident)


def _identified(scope: Scope, ident: str) -> str:
    """The group a ``logGroupIdentifier`` names (a name, or an ARN of the caller's)."""
    if not ident.startswith("arn:"):
        return ident
    # arn:aws:logs:REGION:ACCOUNT:log-group:NAME, with or without a trailing ":*"
    parts = ident.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        raise InvalidParameterException(f"Invalid log group ARN: {ident}")
    if (parts[3], parts[4]) != (scope.region, scope.account):
        raise ResourceNotFoundException("The specified log group does not exist.")
    group = ":".join(parts[6:])
    return group.removesuffix(":*")


def _error(exc: AwsError) -> Response:
    status = 500 if isinstance(exc, ServiceUnavailableException) else 400
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": exc.code, **exc.headers}
    body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
    return status, headers, body
