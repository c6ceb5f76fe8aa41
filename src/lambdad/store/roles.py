"""The operator's role policies: ``roles.json`` in the data directory.

``{"ROLE_ARN": {"Statement": [...]}, ...}``: the identity policy of each execution
role the operator configures (model/role_policy.py), written by ``lambdad roles`` (or
by hand) and read by the server, which notices a changed file on the next request
made with a session (one ``stat`` per such request), so no restart is needed. A
role not in the file gets the default policy; a file that cannot be read leaves
every configured role with no permission at all (never the default's), and says why
in the server's log.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from lambdad.model.role_policy import DEFAULT, RolePolicy, from_document

log = logging.getLogger(__name__)

FILE_NAME = "roles.json"
_NOTHING = RolePolicy(())


def load(path: Path) -> dict[str, RolePolicy]:
    """The policies in ``path`` (none if it does not exist); ValueError if malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{path} must hold an object of role ARN -> policy")
    out = {}
    for role, policy in doc.items():
        try:
            out[str(role)] = from_document(policy)
        except ValueError as exc:
            raise ValueError(f"{path}: role {role}: {exc}") from None
    return out


def save(path: Path, policies: dict[str, RolePolicy]) -> None:
    """Replace ``path`` with ``policies``, whole (written aside, then renamed), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {role: p.as_document() for role, p in sorted(policies.items())}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".roles-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class RolePolicies:
    """The file's policies as of its last change: ``policy_for(role)``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._policies: dict[str, RolePolicy] = {}
        self._broken = False

    def policy_for(self, role_arn: str) -> RolePolicy:
        self._refresh()
        if self._broken:
            return _NOTHING
        return self._policies.get(role_arn, DEFAULT)

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp and (stamp is not None or not self._policies):
            return
        self._stamp = stamp
        try:
            self._policies = load(self.path) if stamp is not None else {}
            self._broken = False
        except (OSError, ValueError) as exc:
            log.error("role policies unreadable, sessions denied until fixed: %s", exc)
            self._broken = True
