"""WebSocket API names and bounds: ids as API Gateway makes them, the route keys it
reserves, and the limits of its quotas page.

A WebSocket API is served at ``ws://<api-id>.execute-api.<region>.localhost:<port>/<stage>``
(and by path, ``ws://<host>:<port>/execute-api/<api-id>/<stage>``); its ``@connections``
API at the same places with ``http://``.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Final

WEBSOCKET: Final = "WEBSOCKET"
CONNECT: Final = "$connect"
DISCONNECT: Final = "$disconnect"
DEFAULT: Final = "$default"
RESERVED: Final = frozenset({CONNECT, DISCONNECT, DEFAULT})
# A route response's only key for WebSocket APIs, and the selection expression a route
# has to have for its integration's answer to reach the client.
ROUTE_RESPONSE_KEY: Final = "$default"
MAX_ROUTE_KEY: Final = 128
_NO_ESCAPES: Final = bytes.maketrans(b"+/", b"xZ")


def new_id() -> str:
    """A connection, message or request id in the form of AWS's (``L0SM9cOFvHcCIhw=``):
    88 random bits in base64, with letters for ``+`` and ``/`` (which a URL escapes)."""
    return base64.b64encode(secrets.token_bytes(11)).translate(_NO_ESCAPES).decode("ascii")


@dataclass(frozen=True, slots=True)
class Bounds:
    """API Gateway's WebSocket quotas: a message at most 128 KB, a frame 32 KB; a
    connection closed after 10 minutes idle and after 2 hours in all."""

    max_message: int = 128 * 1024
    max_frame: int = 32 * 1024
    idle_timeout: float = 600.0
    max_duration: float = 7200.0
    # Messages a connection may have at its functions at once before its reading stops.
    max_in_flight: int = 32
    # Frames one message may take (empty ones too: each costs a header to parse).
    max_frames: int = 1024
