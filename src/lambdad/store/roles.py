"""The operator's roles: ``roles.json`` in the data directory.

``{"ROLE_ARN": {"Statement": [...], "AssumeRolePolicyDocument": {...}}, ...}``: each
execution role the operator declares, with its identity policy (model/role_policy.py;
no ``Statement``: the default) and its trust policy (model/role_trust.py; none:
Lambda's), written by ``lambdad roles`` (or by hand). A stack's ``AWS::IAM::Role``
adds its role with ``"Stack": STACK_ID`` and removes it with the stack. The server
reads the file again when it changed (one ``stat`` per request made with a session,
or per role check: a permission taken away holds at once), so no restart is needed.
Written whole and changed under a lock (json_file.py). A role not in the file gets the
default policy; a file that cannot be read leaves every role with no permission at all
(never the default's) and no role assumable, and says why in the server's log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from lambdad.model.role_policy import DEFAULT, RolePolicy, from_document
from lambdad.model.role_trust import Role, assumable, trust_text
from lambdad.store import json_file

log = logging.getLogger(__name__)

FILE_NAME = "roles.json"
TRUST = "AssumeRolePolicyDocument"
STACK = "Stack"
_NOTHING = RolePolicy(())


def load(path: Path) -> dict[str, Role]:
    """The roles in ``path`` (none if it does not exist); ValueError if malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{path} must hold an object of role ARN -> policy")
    out = {}
    for arn, entry in doc.items():
        try:
            out[str(arn)] = _role(entry)
        except ValueError as exc:
            raise ValueError(f"{path}: role {arn}: {exc}") from None
    return out


def _role(entry: object) -> Role:
    if not isinstance(entry, dict):
        raise ValueError("must be an object")
    policy = from_document(entry) if "Statement" in entry else None
    trust = trust_text(entry[TRUST]) if TRUST in entry else None
    stack = entry.get(STACK) or ""
    if not isinstance(stack, str):
        raise ValueError(f"{STACK} must be a string")
    return Role(policy, trust, stack)


def as_document(role: Role) -> dict[str, object]:
    """One role's entry in the file."""
    doc: dict[str, object] = role.policy.as_document() if role.policy is not None else {}
    if role.trust is not None:
        doc[TRUST] = json.loads(role.trust)
    if role.stack:
        doc[STACK] = role.stack
    return doc


def save(path: Path, roles: dict[str, Role]) -> None:
    """Replace ``path`` with ``roles``, whole (written aside, then renamed), mode 0600."""
    json_file.write(path, {arn: as_document(r) for arn, r in sorted(roles.items())})


def update(path: Path, change: Callable[[dict[str, Role]], None]) -> None:
    """Read, change and save the file under a lock, so that the CLI and a stack
    changing it at once do not lose each other's change."""
    json_file.update(path, load, save, change)


class RolePolicies:
    """The file's roles as of its last change: ``policy_for(role)``, ``assumable(role)``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._watch = json_file.Watch(path)
        self._roles: dict[str, Role] = {}
        self._broken = False

    def policy_for(self, role_arn: str) -> RolePolicy:
        self._refresh()
        if self._broken:
            return _NOTHING
        role = self._roles.get(role_arn)
        return DEFAULT if role is None or role.policy is None else role.policy

    def assumable(self, role_arn: str) -> bool:
        """Whether Lambda may assume ``role_arn`` (model/role_trust.assumable)."""
        self._refresh()
        return not self._broken and assumable(self._roles, role_arn)

    def _refresh(self) -> None:
        if not self._watch.changed():
            return
        try:
            self._roles = load(self.path)
            self._broken = False
        except (OSError, ValueError) as exc:
            log.error("roles unreadable, sessions denied until fixed: %s", exc)
            self._broken = True


class StackRoles:
    """The roles stacks declare (``AWS::IAM::Role``), kept in the file beside the
    operator's: a stack adds and removes only its own, never one declared otherwise."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def declare(
        self, role_arn: str, trust_document: object, stack: str, policy: RolePolicy | None = None
    ) -> None:
        """Add or change ``stack``'s role (``policy``: its identity policy, None for the
        default); ValueError if the trust policy is malformed or the role exists and
        is not the stack's."""
        trust = trust_text(trust_document)

        def change(roles: dict[str, Role]) -> None:
            current = roles.get(role_arn)
            if current is not None and current.stack != stack:
                name = role_arn.rsplit("/", 1)[-1]
                raise ValueError(
                    f"Resource of type 'AWS::IAM::Role' with identifier '{name}' already exists."
                )
            roles[role_arn] = Role(policy, trust, stack)

        update(self.path, change)

    def forget(self, role_arn: str, stack: str) -> None:
        """Remove ``stack``'s role (idempotent; another's is left alone)."""

        def change(roles: dict[str, Role]) -> None:
            current = roles.get(role_arn)
            if current is not None and current.stack == stack:
                del roles[role_arn]

        update(self.path, change)
