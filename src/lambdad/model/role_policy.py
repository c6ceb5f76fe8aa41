"""What an execution-role session may do: the role's identity policy, as the operator
configures it (``lambdad roles``, ``roles.json`` in the data directory).

A policy is a list of statements, each ``Allow`` or ``Deny`` over action and resource
patterns (IAM's wildcards: ``*`` any run of characters, ``?`` one; actions compared
without regard to case, as IAM does). A request is allowed when some Allow statement
matches its action and resource and no Deny statement does. A request whose
operation names no resource (ListFunctions, GetAccountSettings) has the resource
``*``, which only a statement whose resource pattern matches ``*`` grants (as IAM
requires ``"Resource": "*"`` for such actions).

A role the operator names no policy for gets ``DEFAULT``: Lambda and CloudWatch Logs
operations, on any resource. Its requests act in its own account (the session's), so
another account's resource is reached only through an ARN, where that resource's own
policy decides, as today for every caller; the session never reaches another
account's resources by its own identity.

Pure: the decision is ``allows(policy, action, resource)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EFFECTS = ("Allow", "Deny")


@dataclass(frozen=True, slots=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str) -> bool:
        return any(_pattern(p, True).fullmatch(action) for p in self.actions) and any(
            _pattern(p, False).fullmatch(resource) for p in self.resources
        )


@dataclass(frozen=True, slots=True)
class RolePolicy:
    statements: tuple[Statement, ...]

    def as_document(self) -> dict[str, Any]:
        """The policy as an IAM policy document."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": s.effect, "Action": list(s.actions), "Resource": list(s.resources)}
                for s in self.statements
            ],
        }


DEFAULT = RolePolicy((Statement("Allow", ("lambda:*", "logs:*"), ("*",)),))


def allows(policy: RolePolicy, action: str, resource: str) -> bool:
    """Whether ``policy`` lets a session perform ``action`` on ``resource``."""
    matching = [s for s in policy.statements if s.matches(action, resource)]
    return any(s.effect == "Allow" for s in matching) and not any(
        s.effect == "Deny" for s in matching
    )


def from_document(doc: Mapping[str, Any]) -> RolePolicy:
    """A policy from an IAM policy document (``{"Statement": [...]}``) or a bare list of
    statements; raises ValueError naming what is wrong."""
    raw = doc.get("Statement") if isinstance(doc, Mapping) else doc
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ValueError("a role policy needs a non-empty Statement list")
    return RolePolicy(tuple(_statement(s) for s in raw))


def _statement(raw: Any) -> Statement:
    if not isinstance(raw, Mapping):
        raise ValueError("each statement must be an object")
    effect = raw.get("Effect", "Allow")
    if effect not in EFFECTS:
        raise ValueError(f"Effect must be Allow or Deny, not {effect!r}")
    return Statement(effect, _strings(raw, "Action"), _strings(raw, "Resource"))


def _strings(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    items: Iterable[Any] = [value] if isinstance(value, str) else (value or [])
    out = tuple(items)
    if not out or not all(isinstance(v, str) and v for v in out):
        raise ValueError(f"{key} must be a string or a non-empty list of strings")
    return out


@lru_cache(maxsize=1024)
def _pattern(pattern: str, fold_case: bool) -> re.Pattern[str]:
    # IAM's wildcards only: brackets and the rest are literal (unlike fnmatch's).
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(body, re.DOTALL | (re.IGNORECASE if fold_case else 0))
