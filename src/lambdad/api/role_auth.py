"""Authorising requests made with an execution-role session (its identity policy).

A request signed with a long-term key is the account's root and may do anything in
its account; one signed with a session (``Principal.session``) may do only what its
role's policy allows (model/role_policy.py, the operator's ``roles.json``). Here:
the IAM action and resource a request names, and the refusal AWS answers when the
policy does not allow them. Resource policies (another account's function) are
checked later, by the operation itself, as for every caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from lambdad.api.sigv4 import Principal
from lambdad.errors import AccessDeniedException, LambdadError
from lambdad.model.arn import function_arn, parse_function_ref
from lambdad.model.role_policy import RolePolicy, allows

PolicyFor = Callable[[str], RolePolicy]
# JSON-protocol target prefixes -> the IAM service prefix of their actions.
TARGET_SERVICES = {
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    "CodeDeploy_20141006": "codedeploy",
}


def check(principal: Principal, policy_for: PolicyFor, action: str, resource: str) -> None:
    """Raise AWS's AccessDeniedException unless the principal's session (if any) may
    perform ``action`` on ``resource``."""
    session = principal.session
    if session is None:
        return
    if not allows(policy_for(session.role_arn), action, resource):
        raise AccessDeniedException(
            f"User: {session.assumed_role_arn} is not authorized to perform: {action} "
            f"on resource: {resource} because no identity-based policy allows the "
            f"{action} action"
        )


def permits(principal: Principal, policy_for: PolicyFor, action: str) -> bool:
    """Whether the principal may perform ``action`` where the resource is not known
    here (a function URL's or an API's door): a session only with a grant on ``*``
    (never more than its policy says; a grant on named resources alone is not enough)."""
    session = principal.session
    return session is None or allows(policy_for(session.role_arn), action, "*")


def lambda_resource(principal: Principal, params: Mapping[str, Any]) -> str:
    """The resource a Lambda operation acts on: its function or layer, else ``*``."""
    account = principal.credential.account_id
    region = principal.region
    name = params.get("FunctionName")
    if isinstance(name, str):
        try:
            ref = parse_function_ref(name, field="functionName", long_names=True)
        except LambdadError:
            return "*"
        qualifier = params.get("Qualifier") or ref.qualifier
        return function_arn(
            ref.region or region, ref.account or account, ref.name, qualifier or None
        )
    layer = params.get("LayerName")
    if isinstance(layer, str):
        if layer.startswith("arn:"):
            return ":".join(layer.split(":")[:7])
        return f"arn:aws:lambda:{region}:{account}:layer:{layer}"
    return "*"


def target_action(target: str) -> tuple[str, str]:
    """(IAM action, JSON-protocol service) of an ``X-Amz-Target`` value."""
    prefix, _, operation = target.partition(".")
    service = TARGET_SERVICES.get(prefix, prefix.lower())
    return f"{service}:{operation}", service


def logs_resource(principal: Principal, body: bytes) -> str:
    """The log group a Logs operation names (``logGroupName``), else ``*``."""
    try:
        doc = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        return "*"
    group = doc.get("logGroupName") if isinstance(doc, dict) else None
    if not isinstance(group, str):
        return "*"
    account = principal.credential.account_id
    return f"arn:aws:logs:{principal.region}:{account}:log-group:{group}:*"
