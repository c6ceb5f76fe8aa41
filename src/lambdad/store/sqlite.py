"""The embedded metadata store: SQLite in WAL mode.

One connection, guarded by a lock; statements are short primary-key look-ups, so
they run inline on the event loop. ``synchronous=FULL`` makes every commit durable
(an accepted change survives a power cut). ``":memory:"`` gives a fast store for
tests with the same code path.

A write SQLite cannot make because the disk is full or failing is answered as a
``ServiceException`` and logged in one line; a file that is not a database is
``StoreUnreadable``, for the server to explain at start-up.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from lambdad.errors import LambdadError, ServiceException
from lambdad.store.base import Doc

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")
# SQLite's primary result codes for a full disk and an I/O failure.
_SQLITE_PERM = 3
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14


class StoreUnreadable(LambdadError):
    """The metadata database cannot be opened (not a database, damaged, unreadable, or
    no room to open it); ``path`` names it, the message says what to do."""

    def __init__(
        self,
        path: str,
        exc: sqlite3.Error,
        *,
        what: str = "the metadata database",
        holds: str = "the functions, versions and layers it lists",
    ) -> None:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code == _SQLITE_FULL:
            advice = "free space on its file system, then start lambdad again"
        elif code in (_SQLITE_CANTOPEN, _SQLITE_PERM, _SQLITE_READONLY):
            advice = "check that the file and its directory are readable and writable"
        else:
            advice = (
                "restore it from a backup, or move it aside to start with an empty one "
                f"({holds} are then forgotten)"
            )
        super().__init__(f"{what} {path} cannot be opened ({exc}); {advice}")
        self.path = path
        self.reason = str(exc)


def _writes(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a write the disk refuses into the error AWS answers for its own storage."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise _storage_error(exc) from None

    return wrapper


def _storage_error(exc: sqlite3.Error) -> Exception:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == _SQLITE_FULL:
        log.error("metadata write failed: the data directory's file system is full (%s)", exc)
        return ServiceException(
            "The request could not be stored: the server is out of storage space. Try again later."
        )
    if code == _SQLITE_IOERR:
        log.error("metadata write failed: %s", exc)
        return ServiceException("The request could not be stored. Try again later.")
    return exc


_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS versions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    version TEXT NOT NULL, code_sha TEXT, doc TEXT NOT NULL,
    PRIMARY KEY (account, region, name, version)
);
CREATE INDEX IF NOT EXISTS versions_code ON versions (code_sha);
CREATE TABLE IF NOT EXISTS children (
    kind TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    key TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (kind, account, region, name, key)
);
"""


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._depth = 0

    def open(self) -> None:
        """Open (creating it) the database; ``StoreUnreadable`` if the file is not one."""
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnreadable(self.path, exc) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            if self.path != ":memory:":
                row = conn.execute("PRAGMA quick_check(1)").fetchone()
                if row is None or row[0] != "ok":
                    raise sqlite3.DatabaseError(f"integrity check failed: {row and row[0]}")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreUnreadable(self.path, exc) from None
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                _writes(self.conn.execute)("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise _storage_error(exc) from None

    def _one(self, sql: str, args: tuple[object, ...]) -> Doc | None:
        with self._lock:
            row = self.conn.execute(sql, args).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            self.conn.execute(sql, args)

    # -- functions ---------------------------------------------------------------------

    def get_function(self, account: str, region: str, name: str) -> Doc | None:
        return self._one(
            "SELECT doc FROM functions WHERE account=? AND region=? AND name=?",
            (account, region, name),
        )

    @_writes
    def put_function(self, account: str, region: str, name: str, doc: Doc) -> None:
        self._write(
            "INSERT OR REPLACE INTO functions (account, region, name, doc) VALUES (?,?,?,?)",
            (account, region, name, json.dumps(doc)),
        )

    @_writes
    def delete_function(self, account: str, region: str, name: str) -> None:
        with self.transaction():
            for table in ("functions", "versions", "children"):
                self.conn.execute(
                    f"DELETE FROM {table} WHERE account=? AND region=? AND name=?",
                    (account, region, name),
                )

    def list_functions(
        self, account: str, region: str, after: str | None, limit: int
    ) -> list[tuple[str, Doc]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT name, doc FROM functions WHERE account=? AND region=? AND name>? "
                "ORDER BY name LIMIT ?",
                (account, region, after or "", limit),
            ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def iter_all_functions(self) -> Iterator[tuple[str, str, str, Doc]]:
        with self._lock:
            rows = self.conn.execute("SELECT account, region, name, doc FROM functions").fetchall()
        for r in rows:
            yield r[0], r[1], r[2], json.loads(r[3])

    # -- versions ----------------------------------------------------------------------

    def get_version(self, account: str, region: str, name: str, version: str) -> Doc | None:
        return self._one(
            "SELECT doc FROM versions WHERE account=? AND region=? AND name=? AND version=?",
            (account, region, name, version),
        )

    @_writes
    def put_version(self, account: str, region: str, name: str, version: str, doc: Doc) -> None:
        self._write(
            "INSERT OR REPLACE INTO versions (account, region, name, version, code_sha, doc) "
            "VALUES (?,?,?,?,?,?)",
            (account, region, name, version, doc.get("CodeSha256Hex"), json.dumps(doc)),
        )

    @_writes
    def delete_version(self, account: str, region: str, name: str, version: str) -> None:
        self._write(
            "DELETE FROM versions WHERE account=? AND region=? AND name=? AND version=?",
            (account, region, name, version),
        )

    def list_versions(self, account: str, region: str, name: str) -> list[tuple[str, Doc]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT version, doc FROM versions WHERE account=? AND region=? AND name=?",
                (account, region, name),
            ).fetchall()
        out = [(r[0], json.loads(r[1])) for r in rows]
        # $LATEST first, then published versions in numeric order, as AWS lists them.
        out.sort(key=lambda kv: -1 if kv[0] == "$LATEST" else int(kv[0]))
        return out

    def archive_references(self, sha256_hex: str) -> int:
        # Layers are in documents only (a version's "_layers", a layer version's
        # "Sha256Hex"); instr() spares parsing the documents that cannot match.
        with self._lock:
            row = self.conn.execute(
                "SELECT (SELECT COUNT(*) FROM versions WHERE code_sha=?1)"
                " + (SELECT COUNT(*) FROM versions WHERE instr(doc, ?1) > 0 AND EXISTS"
                "    (SELECT 1 FROM json_each(doc, '$._layers') WHERE value=?1))"
                " + (SELECT COUNT(*) FROM children WHERE kind='layer' AND instr(doc, ?1) > 0"
                "    AND json_extract(doc, '$.Sha256Hex')=?1)",
                (sha256_hex,),
            ).fetchone()
        return int(row[0])

    def archive_holders(self, sha256_hex: str) -> list[tuple[str, str, str, str, Doc]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT 'version', account, region, name, doc FROM versions WHERE code_sha=?1"
                " UNION ALL SELECT kind, account, region, name, doc FROM children"
                " WHERE kind='layer' AND instr(doc, ?1) > 0"
                " AND json_extract(doc, '$.Sha256Hex')=?1",
                (sha256_hex,),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # -- children ----------------------------------------------------------------------

    def get_child(self, kind: str, account: str, region: str, name: str, key: str) -> Doc | None:
        return self._one(
            "SELECT doc FROM children WHERE kind=? AND account=? AND region=? AND name=? AND key=?",
            (kind, account, region, name, key),
        )

    @_writes
    def put_child(
        self, kind: str, account: str, region: str, name: str, key: str, doc: Doc
    ) -> None:
        self._write(
            "INSERT OR REPLACE INTO children (kind, account, region, name, key, doc) "
            "VALUES (?,?,?,?,?,?)",
            (kind, account, region, name, key, json.dumps(doc)),
        )

    @_writes
    def delete_child(self, kind: str, account: str, region: str, name: str, key: str) -> None:
        self._write(
            "DELETE FROM children WHERE kind=? AND account=? AND region=? AND name=? AND key=?",
            (kind, account, region, name, key),
        )

    def list_children(
        self, kind: str, account: str, region: str, name: str
    ) -> list[tuple[str, Doc]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT key, doc FROM children WHERE kind=? AND account=? AND region=? AND "
                "name=? ORDER BY key",
                (kind, account, region, name),
            ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def find_children(
        self, kind: str, field: str, value: str
    ) -> list[tuple[str, str, str, str, Doc]]:
        # The primary key's first column narrows the scan to the kind's rows.
        with self._lock:
            rows = self.conn.execute(
                "SELECT account, region, name, key, doc FROM children WHERE kind=? AND "
                "json_extract(doc, '$.' || ?)=?",
                (kind, field, value),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def all_children(self, kind: str) -> list[tuple[str, str, str, str, Doc]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT account, region, name, key, doc FROM children WHERE kind=?", (kind,)
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]
