"""One request on an API port connection (``api/http.py``), as its parts arrive."""

from __future__ import annotations

from collections.abc import Callable

from lambdad.api.http_response import Response


class Request:
    """One request on a connection, from its head to its answer."""

    __slots__ = (
        "body",
        "budgeted",
        "complete",
        "expect_continue",
        "headers",
        "held",
        "keep_alive",
        "limit",
        "linger",
        "method",
        "names",
        "over",
        "queued",
        "refusal",
        "too_large",
        "upgrade",
        "upgraded_rest",
        "url",
    )

    def __init__(self, limit: int) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.names: list[str] = []  # the headers' names as sent (``headers`` lower-cases)
        self.body: list[bytes] = []
        self.method = ""
        self.keep_alive = True
        self.too_large = False
        # Answered without being handled (refused by the Gate, or a CONNECT).
        self.refusal: Response | None = None
        self.limit = limit  # the most body this request may have
        # What answers it when it has more (else Refusal's answer).
        self.over: Callable[[], Response] | None = None
        self.expect_continue = False
        self.queued = False
        self.complete = False  # its whole body is in
        # Refused before its body was in: after the answer, the rest of the body is read
        # and dropped for a while (a close now would reset the connection under a client
        # still sending, which then never reads the answer).
        self.linger = False
        self.budgeted, self.held = False, 0  # in the BodyBudget (gated): bytes counted
        # A WebSocket upgrade an Upgrader claimed (model/upgrade.py), and the bytes the
        # client sent after it (the parser reads nothing past an upgrade).
        self.upgrade: object | None = None
        self.upgraded_rest = b""
