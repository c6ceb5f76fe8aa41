"""Body bytes the API port holds for requests not yet answered, server-wide and per
client address.

A large body's head is checked before it is read (``api/admission.py``), but its whole
signature only once it is in: a client that knows an access key id, not its secret,
could make the port buffer a code upload per connection before the signature fails.
Every large or chunked body (function URL requests too) is counted here as it arrives
and released when its request is answered or its connection closes; one that would go
over is refused at once with AWS's throttling error (``api/http.py``).
"""

from __future__ import annotations

from lambdad.api.limits import Limits

# The answer, without a ``throttle`` given, to a body that would go over the budget.
THROTTLED = (429, [(b"retry-after", b"1")], b"Too many requests.")


class BodyBudget:
    """Held body bytes, in all and per client address, shared by a server's protocols."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.by_client: dict[str, int] = {}

    def room(self, client: str) -> int:
        """The most ``client`` may still make the port hold."""
        limits = self.limits
        return min(
            limits.max_unverified_bytes - self.total,
            limits.max_unverified_bytes_per_client - self.by_client.get(client, 0),
        )

    def take(self, client: str, size: int) -> bool:
        """Count ``size`` more bytes held for ``client``; False (not counted) over a cap."""
        if size > self.room(client):
            return False
        self.total += size
        self.by_client[client] = self.by_client.get(client, 0) + size
        return True

    def release(self, client: str, size: int) -> None:
        if size <= 0:
            return
        self.total -= size
        held = self.by_client.pop(client, size) - size
        if held > 0:
            self.by_client[client] = held
