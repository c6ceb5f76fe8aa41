"""What one client may make the API port hold, and the answers that refuse it.

The port is open to anyone who can reach it, so what an unauthenticated client can
make it hold is bounded: connections per client address and in all (503), the size
and header count of a request head (431/400; a load balancer's listener port: its
lines too, and its own answer), and the time a head may take and the
rate a body must keep (408), and body bytes held before they are answered (429,
``api/body_budget.py``). ``api/http.py`` enforces these per connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.api.http_response import plain

HEAD_TOO_LARGE = plain(431, "Request header fields too large.")
TOO_MANY_HEADERS = plain(400, "Too many header fields.")
TIMEOUT = plain(408, "Request timed out.")
BUSY = plain(503, "Too many connections.")


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
    # The longest request line or header line (name and value), if bounded apart from
    # the whole head; and the one answer for every head refused (a port that serves
    # another product's front door answers as it does), else the ones below.
    max_line_bytes: int | None = None
    head_refusal: bytes | None = None


class ConnectionCount:
    """Open connections, in all and per client address, shared by a server's protocols."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.by_client: dict[str, int] = {}

    def admit(self, client: str) -> bool:
        """Count one more connection from ``client``; False (not counted) over a cap."""
        held = self.by_client.get(client, 0)
        if (
            self.total >= self.limits.max_connections
            or held >= self.limits.max_connections_per_client
        ):
            return False
        self.total += 1
        self.by_client[client] = held + 1
        return True

    def release(self, client: str) -> None:
        self.total -= 1
        held = self.by_client.pop(client, 1) - 1
        if held > 0:
            self.by_client[client] = held
