"""Resource-based policies: building statements as AWS writes them, and evaluating them.

``AddPermission`` and ``AddLayerVersionPermission`` turn their parameters into one
IAM statement each; the statements of a function (per qualifier) or of a layer
version form one policy document, returned as JSON by ``GetPolicy``. ``allows``
decides whether a request is permitted by a document: an explicit ``Deny`` wins,
otherwise some ``Allow`` must match principal, action, resource and every
condition (a condition on a key the request does not carry fails, as in IAM).

Callers are identified by their account: lambdad's credentials are account keys,
so a caller is ``arn:aws:iam::ACCOUNT:root``. No I/O here.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdad.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    PolicyLengthExceededException,
)

POLICY_VERSION = "2012-10-17"
MAX_POLICY_BYTES = 20 * 1024

_ACCOUNT = re.compile(r"\d{12}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.(amazonaws\.com(\.cn)?|amazon\.com)")
_IAM_ARN = re.compile(r"arn:aws[a-zA-Z-]*:(iam|sts)::\d{12}:.+")

INVALID_PRINCIPAL = "The provided principal was invalid. Please check the principal and try again."

Statement = dict[str, Any]


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def principal_block(principal: str) -> str | dict[str, str]:
    """The ``Principal`` element AWS writes for an ``AddPermission`` principal."""
    if principal == "*":
        return "*"
    if _ACCOUNT.fullmatch(principal):
        return {"AWS": root_arn(principal)}
    if _IAM_ARN.fullmatch(principal):
        return {"AWS": principal}
    if _SERVICE.fullmatch(principal):
        return {"Service": principal}
    raise InvalidParameterValueException(INVALID_PRINCIPAL)


def function_statement(params: Mapping[str, Any], resource: str) -> Statement:
    """The statement ``AddPermission`` adds, keys in AWS's order."""
    statement: Statement = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": principal_block(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    equals: dict[str, str] = {}
    if params.get("SourceAccount"):
        equals["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("FunctionUrlAuthType"):
        equals["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("PrincipalOrgID"):
        equals["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("EventSourceToken"):
        equals["lambda:EventSourceToken"] = params["EventSourceToken"]
    condition: dict[str, dict[str, str]] = {}
    if equals:
        condition["StringEquals"] = equals
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if params.get("InvokedViaFunctionUrl"):
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if condition:
        statement["Condition"] = condition
    return statement


def layer_statement(params: Mapping[str, Any], resource: str) -> Statement:
    """The statement ``AddLayerVersionPermission`` adds."""
    principal = params["Principal"]
    statement: Statement = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": _layer_principal(principal)},
        "Action": params["Action"],
        "Resource": resource,
    }
    if params.get("OrganizationId"):
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
    return statement


def _layer_principal(principal: str) -> str:
    return root_arn(principal) if _ACCOUNT.fullmatch(principal) else principal


def document(statements: Sequence[Statement]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Id": "default", "Statement": list(statements)}


def to_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def check_size(statements: Sequence[Statement]) -> None:
    size = len(to_json(document(statements)).encode())
    if size > MAX_POLICY_BYTES:
        raise PolicyLengthExceededException(
            f"The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES})."
        )


# -- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """Who asks to do what to which resource, and what the request carries."""

    action: str
    resource: str
    account: str
    principal_arn: str = ""
    service: str | None = None
    # Who the caller is in a refusal, when not its principal ARN (a role's session).
    caller_arn: str = ""
    # Condition keys the request carries (case-insensitive names), e.g. AWS:SourceArn.
    context: Mapping[str, str] = field(default_factory=dict)

    @property
    def caller(self) -> str:
        return self.caller_arn or self.principal_arn or root_arn(self.account)


def allows(statements: Sequence[Mapping[str, Any]], request: AccessRequest) -> bool:
    allowed = False
    for statement in statements:
        if not _applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def access_denied(request: AccessRequest) -> AccessDeniedException:
    return AccessDeniedException(
        f"User: {request.caller} is not authorized to perform: {request.action} on resource: "
        f"{request.resource} because no resource-based policy allows the {request.action} "
        "action"
    )


def _applies(statement: Mapping[str, Any], request: AccessRequest) -> bool:
    return (
        _principal_matches(statement.get("Principal"), request)
        and _any_like(statement.get("Action"), request.action, fold=True)
        and _any_like(statement.get("Resource"), request.resource, fold=False)
        and _conditions_hold(statement.get("Condition") or {}, request)
    )


def _principal_matches(principal: Any, request: AccessRequest) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _as_list(principal.get("AWS")):
        if value in ("*", request.account, root_arn(request.account), request.principal_arn):
            return True
    return request.service is not None and request.service in _as_list(principal.get("Service"))


def _any_like(patterns: Any, value: str, *, fold: bool) -> bool:
    wanted = value.lower() if fold else value
    for pattern in _as_list(patterns):
        pattern = pattern.lower() if fold else pattern
        if pattern == "*" or fnmatch.fnmatchcase(wanted, pattern):
            return True
    return False


def _conditions_hold(conditions: Mapping[str, Any], request: AccessRequest) -> bool:
    context = {k.lower(): v for k, v in request.context.items()}
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None or not _compare(operator, actual, _as_list(expected)):
                return False
    return True


def _compare(operator: str, actual: str, expected: list[str]) -> bool:
    op = operator.removesuffix("IfExists")
    if op in ("StringEquals", "ArnEquals"):
        return actual in expected
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in (e.lower() for e in expected)
    if op in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if op == "Bool":
        return actual.lower() in (e.lower() for e in expected)
    return False  # an operator lambdad does not know never grants access


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
