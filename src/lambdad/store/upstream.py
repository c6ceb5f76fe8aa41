"""The operator's upstream credentials: ``upstream.json`` in the data directory.

The table of model/upstream.py, written by ``lambdad roles upstream`` (or by hand),
mode 0600 (it holds secrets), changed under the file's lock (json_file.py). The
server reads it again when it changed, looking at most once a second (the relay asks
for a credential on every request it signs again), so no restart is needed; a file
that cannot be read leaves every request to pass unchanged, and says why in the
server's log (never a secret).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lambdad.model.upstream import (
    UpstreamCredential,
    UpstreamTable,
    as_document,
    credential_for,
    parse,
)
from lambdad.store import json_file

log = logging.getLogger(__name__)

FILE_NAME = "upstream.json"
# Seconds between looks at the file: a change is used within this long.
LOOK_EVERY = 1.0
R = TypeVar("R")


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
    json_file.write(path, as_document(table))


def update(path: Path, change: Callable[[dict[str, dict[str, UpstreamCredential]]], R]) -> R:
    """Read, change and save the file under its lock (two commands at once lose
    neither change); what ``change`` answers."""
    return json_file.update(path, load, save, change)


class UpstreamCredentials:
    """The file's table as of its last change."""

    def __init__(
        self, path: Path, every: float = LOOK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._watch = json_file.Watch(path, every, clock)
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
        if not self._watch.changed():
            return
        try:
            self._table = load(self.path)
        except (OSError, ValueError) as exc:
            log.error("upstream credentials unreadable, none used until fixed: %s", exc)
            self._table = {}
