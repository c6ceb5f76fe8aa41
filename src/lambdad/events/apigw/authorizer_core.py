"""Lambda authorizers, the decisions (pure): which identity a request carries, the
event an authorizer function gets, and what its answer means.

- Identity sources (``$request.header.NAME``, ``$request.querystring.NAME``,
  ``$stageVariables.NAME``; REST's ``method.request.header.NAME`` and
  ``method.request.querystring.NAME``): every one must be present and non-empty, or
  the request is refused 401 without invoking anything. Their values key the cache.
- Events (API Gateway Developer Guide, "Lambda authorizers"): HTTP APIs' format 2.0
  is the route's 2.0 event without its body, after ``type``, ``routeArn`` and
  ``identitySource`` (the values, a list); format 1.0 and REST ``REQUEST``
  authorizers get the 1.0 event without its body with ``type``, ``methodArn`` (and
  HTTP APIs ``identitySource``/``authorizationToken``, the values joined); REST
  ``TOKEN`` authorizers get ``{"type", "authorizationToken", "methodArn"}``.
- Answers: a simple response ``{"isAuthorized": bool, "context": {...}}`` (HTTP APIs
  with ``EnableSimpleResponses``), else an IAM policy ``{"principalId",
  "policyDocument", "context"}`` whose statements must allow ``execute-api:Invoke``
  on the route's ARN (``*`` and ``?`` wildcards; an explicit ``Deny`` wins).
  Anything else is ``MalformedResult``: API Gateway answers 500.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lambdad.events.http.request import HttpRequest, query_pairs
from lambdad.events.http.response import MalformedResult, parse_payload

MAX_ANSWER_BYTES: Final = 6 * 1024 * 1024
_SOURCES: Final = (
    ("$request.header.", "header"), ("method.request.header.", "header"),
    ("$request.querystring.", "query"), ("method.request.querystring.", "query"),
    ("$stageVariables.", "stage"), ("stageVariables.", "stage"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an authorizer decided: ``allowed``, the ``context`` it passes on to the
    integration, and (IAM policy answers) its ``principal_id``."""

    allowed: bool
    context: Mapping[str, Any] = field(default_factory=dict)
    principal_id: str | None = None


def identity(
    request: HttpRequest, sources: Sequence[str], stage_variables: Mapping[str, str]
) -> list[str] | None:
    """The values of the identity sources, in order; None when one is missing."""
    query = query_pairs(request.raw_query, decode=True)
    values = []
    for source in sources:
        value = _value(source, request, query, stage_variables)
        if not value:
            return None
        values.append(value)
    return values


def _value(
    source: str,
    request: HttpRequest,
    query: list[tuple[str, str]],
    stage_variables: Mapping[str, str],
) -> str | None:
    for prefix, kind in _SOURCES:
        if source.startswith(prefix):
            name = source[len(prefix) :]
            if kind == "header":
                found = request.header_values(name)
                return ",".join(found) if found else None
            if kind == "query":
                found = [v for k, v in query if k == name]
                return ",".join(found) if found else None
            return stage_variables.get(name)
    return None  # a source lambdad does not read ($context...) is never present


def request_event_v2(event: Mapping[str, Any], route_arn: str, values: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"version": "2.0", "type": "REQUEST", "routeArn": route_arn,
                           "identitySource": values}  # fmt: skip
    out.update((k, v) for k, v in event.items() if k not in ("version", "body", "isBase64Encoded"))
    return out


def request_event_v1(
    event: Mapping[str, Any], method_arn: str, values: list[str] | None
) -> dict[str, Any]:
    """A format 1.0 / REST ``REQUEST`` authorizer's event (``values`` None: REST's,
    which carries no identity fields)."""
    out: dict[str, Any] = {}
    if "version" in event:
        out["version"] = event["version"]
    out.update({"type": "REQUEST", "methodArn": method_arn})
    if values is not None:
        out["identitySource"] = out["authorizationToken"] = ",".join(values)
    out.update((k, v) for k, v in event.items() if k not in ("version", "body", "isBase64Encoded"))
    return out


def token_event(token: str, method_arn: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}


def verdict(payload: bytes, *, simple: bool, route_arn: str) -> Verdict:
    """What an authorizer's answer decides; ``MalformedResult`` when it is no answer."""
    answer = parse_payload(payload, MAX_ANSWER_BYTES)
    if not isinstance(answer, dict):
        raise MalformedResult("authorizer answer is not an object")
    context = answer.get("context")
    context = {} if context is None else context
    if not isinstance(context, dict):
        raise MalformedResult("authorizer context is not an object")
    if simple and "isAuthorized" in answer:
        allowed = answer["isAuthorized"]
        if not isinstance(allowed, bool):
            raise MalformedResult("isAuthorized is not a boolean")
        return Verdict(allowed, context)
    document = answer.get("policyDocument")
    if not isinstance(document, dict):
        raise MalformedResult("authorizer answer has no policyDocument")
    principal = answer.get("principalId")
    return Verdict(policy_allows(document, route_arn), context,
                   None if principal is None else str(principal))  # fmt: skip


def policy_allows(document: Mapping[str, Any], route_arn: str) -> bool:
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise MalformedResult("policyDocument has no Statement")
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise MalformedResult("a policy statement is not an object")
        if not _matches(statement.get("Action"), "execute-api:Invoke", fold=True):
            continue
        if not _matches(statement.get("Resource"), route_arn, fold=False):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _matches(patterns: Any, value: str, *, fold: bool) -> bool:
    listed = [patterns] if isinstance(patterns, str) else patterns
    if not isinstance(listed, list):
        return False
    wanted = value.lower() if fold else value
    for pattern in listed:
        if isinstance(pattern, str):
            pattern = pattern.lower() if fold else pattern
            if fnmatch.fnmatchcase(wanted, pattern.replace("[", "[[]")):
                return True
    return False
