"""The Telemetry API 2022-07-01's subscriptions and buffering, as pure values.

An extension subscribes (``PUT /2022-07-01/telemetry``) to one or more streams
(``platform``, ``function``, ``extension``) with an HTTP destination inside its sandbox
(``http://sandbox.localdomain:PORT/path``); the platform POSTs JSON arrays of records
there, batched by the subscription's buffering: a batch goes when it holds ``maxItems``
records, would pass ``maxBytes``, or ``timeoutMs`` after its first record.
``parse_subscription`` validates the request as AWS does (its ranges, its defaults);
``Batch`` decides when to send. The deprecated Logs API (``PUT /2020-08-15/logs``) takes
the same document and is served the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

STREAMS = ("platform", "function", "extension")
# AWS's buffering ranges and defaults: (least, most, default).
MAX_ITEMS = (1000, 10000, 10000)
MAX_BYTES = (262144, 1048576, 262144)
TIMEOUT_MS = (25, 30000, 1000)
# The names a destination may use for the sandbox itself (its listener's address).
LOCAL_HOSTS = ("sandbox.localdomain", "sandbox", "localhost", "127.0.0.1")


class InvalidSubscription(ValueError):
    """A subscription refused: answered 400 ``ValidationError`` with this message."""


@dataclass(frozen=True, slots=True)
class Subscription:
    types: frozenset[str]
    max_items: int
    max_bytes: int
    timeout_ms: int
    port: int
    path: str
    host: str


def _bounded(buffering: dict[str, object], key: str, limits: tuple[int, int, int]) -> int:
    low, high, default = limits
    value = buffering.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSubscription(f"buffering.{key} must be an integer from {low} to {high}")
    return value


def parse_subscription(body: bytes) -> Subscription:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidSubscription("The request body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidSubscription("The request body must be a JSON object")
    types = doc.get("types")
    if not isinstance(types, list) or not types or any(t not in STREAMS for t in types):
        raise InvalidSubscription(f"types must be a non-empty list of {', '.join(STREAMS)}")
    buffering = doc.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise InvalidSubscription("buffering must be an object")
    destination = doc.get("destination")
    if not isinstance(destination, dict):
        raise InvalidSubscription("destination is required")
    if destination.get("protocol") != "HTTP":
        raise InvalidSubscription("destination.protocol must be HTTP")
    uri = destination.get("URI")
    parts = urlsplit(uri) if isinstance(uri, str) else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        port = None
    if parts is None or parts.scheme != "http" or port is None or not 0 < port < 65536:
        raise InvalidSubscription("destination.URI must be http://sandbox.localdomain:PORT/...")
    if (parts.hostname or "") not in LOCAL_HOSTS:
        raise InvalidSubscription("destination.URI must name sandbox.localdomain")
    return Subscription(
        types=frozenset(types),
        max_items=_bounded(buffering, "maxItems", MAX_ITEMS),
        max_bytes=_bounded(buffering, "maxBytes", MAX_BYTES),
        timeout_ms=_bounded(buffering, "timeoutMs", TIMEOUT_MS),
        port=port,
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        host=parts.netloc,
    )


class Batch:
    """The records waiting for one subscription's next delivery (JSON-encoded each)."""

    __slots__ = ("_items", "_size", "first_at", "max_bytes", "max_items", "timeout_s")

    def __init__(self, max_items: int, max_bytes: int, timeout_ms: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.timeout_s = timeout_ms / 1000
        self._items: list[bytes] = []
        self._size = 2  # the brackets
        self.first_at: float | None = None  # when its oldest record came

    def __len__(self) -> int:
        return len(self._items)

    def add(self, record: bytes, now: float) -> list[list[bytes]]:
        """Take ``record``; the batches that must go now (full ones), oldest first."""
        out: list[list[bytes]] = []
        if self._items and self._size + len(record) + 1 > self.max_bytes:
            out.append(self.take())
        if not self._items:
            self.first_at = now
        self._items.append(record)
        self._size += len(record) + 1
        if len(self._items) >= self.max_items or self._size >= self.max_bytes:
            out.append(self.take())
        return out

    def due_at(self) -> float | None:
        """When the waiting records must go even if the batch is not full."""
        return None if self.first_at is None else self.first_at + self.timeout_s

    def take(self) -> list[bytes]:
        items, self._items, self._size, self.first_at = self._items, [], 2, None
        return items


def body(records: list[bytes]) -> bytes:
    """A delivery's body: the records as one JSON array."""
    return b"[" + b",".join(records) + b"]"
