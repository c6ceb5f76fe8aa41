"""The operator's upstream credentials: ``upstream.json`` in the data directory.

The table of model/upstream.py, written by ``lambdad roles upstream`` (or by hand),
mode 0600 (it holds secrets). The server reads it again when it changed (one ``stat``
per environment start), so no restart is needed; a file that cannot be read leaves
every request to pass unchanged, and says why in the server's log (never a secret).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from lambdad.model.upstream import (
    UpstreamCredential,
    UpstreamTable,
    as_document,
    credential_for,
    parse,
)

log = logging.getLogger(__name__)

FILE_NAME = "upstream.json"


def load(path: Path) -> dict[str, dict[str, UpstreamCredential]]:
    """The table in ``path`` (empty if it does not exist); ValueError if malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        return parse(json.loads(text))
    except ValueError as exc:  # json's errors quote no secret, parse's neither
        raise ValueError(f"{path}: {exc}") from None


def save(path: Path, table: UpstreamTable) -> None:
    """Replace ``path`` with ``table``, whole (written aside, then renamed), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upstream-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(as_document(table), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class UpstreamCredentials:
    """The file's table as of its last change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._table: dict[str, dict[str, UpstreamCredential]] = {}

    def has_role(self, role_arn: str) -> bool:
        """Whether any service's calls of ``role_arn`` are signed again upstream."""
        self._refresh()
        return bool(self._table.get(role_arn))

    def services(self, role_arn: str) -> frozenset[str]:
        """The services (or ``*``) whose calls of ``role_arn`` are signed again."""
        self._refresh()
        return frozenset(self._table.get(role_arn, {}))

    def credential_for(self, role_arn: str, service: str) -> UpstreamCredential | None:
        self._refresh()
        return credential_for(self._table, role_arn, service)

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._table = load(self.path) if stamp is not None else {}
        except (OSError, ValueError) as exc:
            log.error("upstream credentials unreadable, none used until fixed: %s", exc)
            self._table = {}
