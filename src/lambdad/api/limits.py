"""What one client may make the API port hold, and the answers that refuse it.

The port is open to anyone who can reach it, so what an unauthenticated client can
make it hold is bounded: connections per client address and in all (503), the size
and header count of a request head (431/400; a load balancer's listener port: its
lines too, and its own answer), and the time a head may take and the
rate a body must keep (408), and body bytes held before they are answered (429,
``api/body_budget.py``). ``api/http.py`` enforces these per connection. A connection
upgraded to a WebSocket (``api/http_upgrade.py``) leaves the port's count for a
smaller one of its own (429 ``Too Many Requests`` past it, as API Gateway throttles).
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.api.http_response import plain

HEAD_TOO_LARGE = plain(431, "Request header fields too large.")
TOO_MANY_HEADERS = plain(400, "Too many header fields.")
TIMEOUT = plain(408, "Request timed out.")
BUSY = plain(503, "Too many connections.")
UPGRADES_BUSY = (429, [(b"content-type", b"application/json")], b'{"message":"Too Many Requests"}')


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may make the API port hold (settings ``api_*``)."""

    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    # Seconds from a request's first byte to the end of its head.
    head_timeout: float = 30.0
    # A body may take body_timeout seconds plus one second per min_body_rate bytes.
    body_timeout: float = 30.0
    min_body_rate: float = 16 * 1024
    max_connections: int = 1024
    max_connections_per_client: int = 256
    # Body bytes held for requests not yet answered (api/body_budget.py): in all, and
    # per client address (room for one upload of MAX_BODY and more).
    max_unverified_bytes: int = 256 * 1024 * 1024
    max_unverified_bytes_per_client: int = 96 * 1024 * 1024
    # Connections upgraded to WebSockets (they may stay 2 hours), apart from the above.
    max_upgraded: int = 1000
    max_upgraded_per_client: int = 100
    # The longest request line or header line (name and value), if bounded apart from
    # the whole head; and the one answer for every head refused (a port that serves
    # another product's front door answers as it does), else the ones below.
    max_line_bytes: int | None = None
    head_refusal: bytes | None = None


class Count:
    """Open connections, in all (at most ``cap``) and per client address."""

    def __init__(self, cap: int, per_client: int) -> None:
        self.cap = cap
        self.per_client = per_client
        self.total = 0
        self.by_client: dict[str, int] = {}

    def admit(self, client: str) -> bool:
        """Count one more connection from ``client``; False (not counted) over a cap."""
        held = self.by_client.get(client, 0)
        if self.total >= self.cap or held >= self.per_client:
            return False
        self.total += 1
        self.by_client[client] = held + 1
        return True

    def release(self, client: str) -> None:
        self.total -= 1
        held = self.by_client.pop(client, 1) - 1
        if held > 0:
            self.by_client[client] = held


class ConnectionCount(Count):
    """A server's open connections, shared by its protocols; those upgraded to
    WebSockets are counted in ``upgraded`` instead."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits.max_connections, limits.max_connections_per_client)
        self.limits = limits
        self.upgraded = Count(limits.max_upgraded, limits.max_upgraded_per_client)
