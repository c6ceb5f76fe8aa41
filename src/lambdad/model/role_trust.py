"""Whether Lambda may assume a role: the role's trust policy, as IAM reads it, and the
roles the operator (or a stack) declared (``roles.json``, store/roles.py).

A trust policy is IAM's ``AssumeRolePolicyDocument``: statements with a ``Principal``
(``"*"``, or ``{"Service": ...}`` among others) and ``sts:AssumeRole`` among their
actions. Lambda may assume the role when an Allow statement names its service
principal (or ``*``) for that action and no Deny statement does. Conditions are not
evaluated: a statement with one counts as if it held (Lambda's own assume carries
the function's account and ARN, which conditions usually pin).

Role checks are on for an account once the operator has declared a trust policy for
one of its roles (``lambdad roles create``/``set-trust``); then CreateFunction and
UpdateFunctionConfiguration name a role that is declared and trusts Lambda, else
AWS's "cannot be assumed" error. A role declared without a trust policy (only an
identity policy: ``lambdad roles allow``) trusts Lambda. Roles a stack declared
(``AWS::IAM::Role``) are known like the others but do not turn checks on by
themselves: templates routinely name roles that exist only on AWS.

Pure: ``trusts(document, service)`` and ``assumable(roles, role_arn)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lambdad.model.role_policy import RolePolicy

LAMBDA_SERVICE = "lambda.amazonaws.com"
LAMBDA_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": LAMBDA_SERVICE},
            "Action": "sts:AssumeRole",
        }
    ],
}
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


@dataclass(frozen=True, slots=True)
class Role:
    """One declared role: its identity policy (None: the default), its trust policy
    as canonical JSON (None: not declared, Lambda's), and the stack that declared it
    ("" when the operator did)."""

    policy: RolePolicy | None = None
    trust: str | None = None
    stack: str = ""


def trust_text(document: Any) -> str:
    """A trust policy document (an object, or its JSON text) checked and made canonical
    JSON; ValueError naming what is wrong."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise ValueError("a trust policy must be a JSON object") from None
    if not isinstance(document, Mapping):
        raise ValueError("a trust policy must be a JSON object")
    # An empty list is accepted (a role nobody may assume), as templates write it.
    for raw in _statements(document, empty=True):
        if not isinstance(raw, Mapping):
            raise ValueError("each trust statement must be an object")
        if raw.get("Effect", "Allow") not in ("Allow", "Deny"):
            raise ValueError("Effect must be Allow or Deny")
        if "Principal" not in raw:
            raise ValueError("each trust statement needs a Principal")
        if not _strings(raw.get("Action")):
            raise ValueError("each trust statement needs an Action")
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def trusts(text: str, service: str) -> bool:
    """Whether the trust policy (canonical JSON) lets ``service`` call sts:AssumeRole."""
    return _trusts(text, service)


def assumable(roles: Mapping[str, Role], role_arn: str) -> bool:
    """Whether Lambda may assume ``role_arn`` given the declared ``roles``."""
    account = _account(role_arn)
    checked = any(
        r.trust is not None and not r.stack and _account(arn) == account for arn, r in roles.items()
    )
    if not checked:
        return True
    role = roles.get(role_arn)
    if role is None:
        return False
    return role.trust is None or trusts(role.trust, LAMBDA_SERVICE)


@lru_cache(maxsize=256)
def _trusts(text: str, service: str) -> bool:
    allowed = False
    for raw in _statements(json.loads(text), empty=True):
        if not isinstance(raw, Mapping) or not _names_principal(raw.get("Principal"), service):
            continue
        if not any(_assume_action(a) for a in _strings(raw.get("Action"))):
            continue
        if raw.get("Effect", "Allow") == "Deny":
            return False
        allowed = True
    return allowed


def _statements(document: Mapping[str, Any], empty: bool = False) -> list[Any]:
    raw = document.get("Statement")
    if isinstance(raw, Mapping):
        return [raw]
    if not isinstance(raw, list) or not (raw or empty):
        raise ValueError("a trust policy needs a Statement list")
    return raw


def _names_principal(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return service in _strings(principal.get("Service"))


def _assume_action(action: str) -> bool:
    return action.lower() in ("sts:assumerole", "sts:*", "*")


def _strings(value: Any) -> tuple[str, ...]:
    items: Iterable[Any] = [value] if isinstance(value, str) else (value or [])
    if not isinstance(items, list | tuple):
        return ()
    return tuple(v for v in items if isinstance(v, str))


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""
