"""Saved test events, per function, as the AWS console keeps them: a name and a JSON
payload, in the function's (account, region). Kept in a small SQLite file of the data
directory (``console.db``), or in memory for tests. At most ``MAX_EVENTS`` per function
and ``MAX_BYTES`` per payload; saving an existing name replaces it."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from pathlib import Path

from lambdad.model.scope import Scope

MAX_EVENTS = 10
MAX_BYTES = 256 * 1024
NAME = re.compile(r"[A-Za-z0-9._-]{1,25}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS test_events (
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL,
    name TEXT NOT NULL, payload TEXT NOT NULL, saved_at REAL NOT NULL,
    PRIMARY KEY (account, region, function, name)
)
"""


class SavedEventError(ValueError):
    """A test event that cannot be saved (its name, size or the number kept)."""


class SavedEvents:
    def __init__(self, path: Path | None = None) -> None:
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def named(self, scope: Scope, function: str) -> list[tuple[str, str]]:
        return await asyncio.to_thread(self._list, scope, function)

    async def save(self, scope: Scope, function: str, name: str, payload: str, at: float) -> None:
        if not NAME.fullmatch(name):
            raise SavedEventError("Event names are 1 to 25 letters, digits, '.', '_' or '-'.")
        if len(payload.encode()) > MAX_BYTES:
            raise SavedEventError("A saved event is at most 256 KB.")
        await asyncio.to_thread(self._save, scope, function, name, payload, at)

    async def delete(self, scope: Scope, function: str, name: str) -> None:
        await asyncio.to_thread(self._delete, scope, function, name)

    def _list(self, scope: Scope, function: str) -> list[tuple[str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, payload FROM test_events WHERE account=? AND region=? "
                "AND function=? ORDER BY name",
                (scope.account, scope.region, function),
            ).fetchall()
        return [(str(n), str(p)) for n, p in rows]

    def _save(self, scope: Scope, function: str, name: str, payload: str, at: float) -> None:
        key = (scope.account, scope.region, function)
        with self._lock, self._db:
            names = {
                r[0]
                for r in self._db.execute(
                    "SELECT name FROM test_events WHERE account=? AND region=? AND function=?",
                    key,
                )
            }
            if name not in names and len(names) >= MAX_EVENTS:
                raise SavedEventError(f"A function keeps at most {MAX_EVENTS} saved events.")
            self._db.execute(
                "INSERT OR REPLACE INTO test_events VALUES (?, ?, ?, ?, ?, ?)",
                (*key, name, payload, at),
            )

    def _delete(self, scope: Scope, function: str, name: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM test_events WHERE account=? AND region=? AND function=? AND name=?",
                (scope.account, scope.region, function, name),
            )
