"""The WebSocket connections open on this server, by connection id.

A connection is registered once its ``$connect`` let it in and its 101 went out, and
removed when it ends (before its ``$disconnect`` runs). The ``@connections`` API and
the door find it here; ids are random (88 bits), so one API's functions cannot guess
another's, and the API id is checked as well. Connections live in this process: a
server on several machines reaches only the ones its own clients made.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.events.websocket.session import Session
from lambdad.events.websocket.ws_events import ConnectionInfo
from lambdad.model.scope import Scope


@dataclass(slots=True)
class Live:
    info: ConnectionInfo
    owner: Scope
    session: Session
    last_active: int  # epoch ms of the last message either way


class Registry:
    def __init__(self) -> None:
        self._open: dict[str, Live] = {}

    def add(self, live: Live) -> None:
        self._open[live.info.connection_id] = live

    def get(self, connection_id: str, api_id: str) -> Live | None:
        live = self._open.get(connection_id)
        return live if live is not None and live.info.api_id == api_id else None

    def of(self, connection_id: str) -> Live | None:
        return self._open.get(connection_id)

    def remove(self, connection_id: str) -> Live | None:
        return self._open.pop(connection_id, None)

    def sessions(self) -> list[Session]:
        return [live.session for live in self._open.values()]

    def __len__(self) -> int:
        return len(self._open)
