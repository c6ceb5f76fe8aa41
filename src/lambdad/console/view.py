"""What a console page is given: the request, the session, and the way to the platform."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lambdad.console.aws import Aws, Caller
from lambdad.console.saved_events import SavedEvents
from lambdad.console.sessions import Session
from lambdad.console.web import Request, Response


@dataclass(frozen=True, slots=True)
class View:
    req: Request
    session: Session
    aws: Aws
    saved: SavedEvents
    now: Callable[[], float]

    @property
    def who(self) -> Caller:
        s = self.session
        return Caller(s.access_key_id, s.account, s.region)

    @property
    def host(self) -> str:
        return self.req.headers.get("host", "127.0.0.1")


# A page: (the view, the function name in the path or "") -> the answer.
Page = Callable[[View, str], Awaitable[Response]]
