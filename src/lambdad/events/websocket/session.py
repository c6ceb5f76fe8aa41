"""One client connection of a WebSocket API, after its upgrade: RFC 6455 framing
(``wsproto``, sans-IO, over the connection's asyncio transport) and API Gateway's
bounds on it.

Text messages are put together from their frames and handed to the ``Handler`` one
task each. Frames are taken from what was read one at a time, and taking them stops
(as does reading) while ``Bounds.max_in_flight`` messages are at the handler or the
transport's write buffer is over its high-water mark (a client that sends pings and
reads nothing); what is left is taken when both are below again. Pings are answered.
A binary frame closes the connection with 1003 (API Gateway takes text frames only),
a frame over 32 KB or a message over 128 KB or ``Bounds.max_frames`` frames with
1009, a malformed frame or invalid UTF-8 with wsproto's code (1002, 1007); 10
minutes without a frame either way and 2 hours in all close it with 1001.
A close from the client is answered; a close from here waits a second for the
client's, then drops the connection (a client that reads nothing is not waited on).
The ``Handler`` hears of the end once, with the
code and reason its ``$disconnect`` event carries. Nothing here raises into the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import LocalProtocolError

from lambdad.events.websocket.names import Bounds

log = logging.getLogger(__name__)

CLOSE_WAIT: Final = 1.0
# Close codes and the reasons the $disconnect event gives for the ones sent from here.
GOING_AWAY: Final = 1001
UNSUPPORTED: Final = 1003
NO_STATUS: Final = 1005
ABNORMAL: Final = 1006
TOO_BIG: Final = 1009
REASONS: Final = {
    NO_STATUS: "Client-side close frame status not set",
    ABNORMAL: "Connection closed abnormally",
}
# Bytes a client may leave unread before a message to it is refused (LimitExceeded).
MAX_UNREAD: Final = 4 * 1024 * 1024


class Handler(Protocol):
    async def on_message(self, session: Session, text: str) -> None: ...

    def on_close(self, session: Session, code: int, reason: str) -> None: ...


class Gone(Exception):
    """The connection is closed (or closing): nothing more can be sent on it."""


class Busy(Exception):
    """The client has not read what was sent to it: its buffer is full."""


class Session(asyncio.Protocol):
    def __init__(
        self,
        transport: asyncio.Transport,
        handler: Handler,
        bounds: Bounds,
        gone: Callable[[], None],
        *,
        label: str = "",
    ) -> None:
        self.transport: asyncio.Transport | None = transport
        self.handler = handler
        self.bounds = bounds
        self.gone = gone
        self.label = label
        self.loop = asyncio.get_running_loop()
        self.ws = Connection(ConnectionType.SERVER)
        self.parts: list[str] = []
        self.message_bytes = 0
        self.message_frames = 0
        self.frame_bytes = 0
        self.in_flight = 0
        self.write_paused = False
        self.reading = True
        self.tasks: set[asyncio.Task[None]] = set()
        self.close_code: int | None = None
        self.close_reason = ""
        self.ended = False
        self.last_active = self.loop.time()
        self.idle_timer: asyncio.TimerHandle | None = None
        self._arm_idle()
        self.duration_timer = self.loop.call_later(bounds.max_duration, self._too_long)
        self.close_timer: asyncio.TimerHandle | None = None

    # -- sending ------------------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """Send one message (text, or binary for bytes); ``Gone`` when closed, ``Busy``
        when the client has left too much unread."""
        transport = self.transport
        if transport is None or self.ws.state is not ConnectionState.OPEN:
            raise Gone()
        if transport.get_write_buffer_size() > MAX_UNREAD:
            raise Busy()
        event = BytesMessage(data=message) if isinstance(message, bytes) else TextMessage(message)
        transport.write(self.ws.send(event))
        self._touch()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from this side: a close frame, then the transport once the client's
        close arrives (or after ``CLOSE_WAIT``)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        transport = self.transport
        if transport is None:
            return
        try:
            transport.write(self.ws.send(CloseConnection(code=code, reason=reason or None)))
        except LocalProtocolError:
            transport.close()
            return
        if self.close_timer is None:
            self.close_timer = self.loop.call_later(CLOSE_WAIT, self._close_late)

    def _close_late(self) -> None:
        """No close from the client in time (it may read nothing at all): the
        connection is dropped, whatever is left unsent with it."""
        self.close_timer = None
        if self.transport is not None:
            self.transport.abort()

    def shutdown(self) -> None:
        """Server shutdown (uvicorn asks each connection)."""
        self.close(GOING_AWAY, "Going away")

    @property
    def is_open(self) -> bool:
        return self.transport is not None and self.ws.state is ConnectionState.OPEN

    # -- asyncio.Protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            self._received(data)
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        """A bug must end this connection only, and quietly."""
        log.warning("WebSocket connection %s failed (%r); closing it", self.label, exc)
        log.debug("WebSocket connection %s failed", self.label, exc_info=True)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for timer in (self.idle_timer, self.duration_timer, self.close_timer):
            if timer is not None:
                timer.cancel()
        if self.close_code is None:
            self.close_code, self.close_reason = ABNORMAL, REASONS[ABNORMAL]
        self._end()

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        self.write_paused = True
        self._sync_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._resume()

    # -- frames --------------------------------------------------------------------------

    def _blocked(self) -> bool:
        """Whether frames wait: too many messages at the handler, or the client is not
        reading what it is sent."""
        return self.write_paused or self.in_flight >= self.bounds.max_in_flight

    def _sync_reading(self) -> None:
        transport, wanted = self.transport, not self._blocked()
        if transport is not None and wanted != self.reading:
            self.reading = wanted
            (transport.resume_reading if wanted else transport.pause_reading)()

    def _resume(self) -> None:
        """Take the frames left waiting, then read on (unless blocked again)."""
        if self._blocked() or self.transport is None:
            return
        try:
            self._take()
        except Exception as exc:
            self._failed(exc)
        self._sync_reading()

    def _received(self, data: bytes) -> None:
        if self.ws.state is ConnectionState.CLOSED:
            return
        self._touch()
        self.ws.receive_data(data)
        self._take()
        self._sync_reading()

    def _take(self) -> None:
        for event in self.ws.events():
            if self.transport is None:
                return
            if self.ws.state is ConnectionState.LOCAL_CLOSING and not isinstance(
                event, CloseConnection
            ):
                continue  # closing from here: only the client's close matters now
            if isinstance(event, TextMessage):
                self._text(event)
            elif isinstance(event, BytesMessage):
                self.close(UNSUPPORTED, "Binary frames are not supported")
            elif isinstance(event, Ping):
                self.transport.write(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._closed_by_client(event)
            if self._blocked():
                return  # the rest is taken on resume

    def _text(self, event: TextMessage) -> None:
        size = len(event.data.encode("utf-8", "surrogatepass"))
        self.frame_bytes += size
        self.message_bytes += size
        self.message_frames += event.frame_finished
        if (
            self.frame_bytes > self.bounds.max_frame
            or self.message_bytes > self.bounds.max_message
            or self.message_frames > self.bounds.max_frames
        ):
            self.close(TOO_BIG, "Message too big")
            return
        if event.frame_finished:
            self.frame_bytes = 0
        if event.data:
            self.parts.append(event.data)
        if not event.message_finished:
            return
        text = "".join(self.parts)
        self.parts.clear()
        self.message_bytes = self.message_frames = 0
        self._dispatch(text)

    def _closed_by_client(self, event: CloseConnection) -> None:
        transport = self.transport
        if transport is None:
            return
        if self.ws.state is ConnectionState.REMOTE_CLOSING:
            if self.close_code is None:
                code = event.code
                self.close_code = int(code)
                self.close_reason = event.reason or REASONS.get(self.close_code, "")
            transport.write(self.ws.send(event.response()))
            transport.close()
        elif self.ws.state is ConnectionState.CLOSED:
            transport.close()  # the answer to our own close
        else:
            # A malformed frame: wsproto names the code (1002, 1007...) and its reason.
            self.close(int(event.code), event.reason or "")

    # -- messages ------------------------------------------------------------------------

    def _dispatch(self, text: str) -> None:
        self.in_flight += 1
        task = self.loop.create_task(self._handle(text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, text: str) -> None:
        try:
            await self.handler.on_message(self, text)
        except Exception as exc:
            log.warning("WebSocket connection %s: a message failed (%r)", self.label, exc)
            log.debug("WebSocket connection %s: a message failed", self.label, exc_info=True)
        finally:
            self.in_flight -= 1
            if self.in_flight == self.bounds.max_in_flight - 1:
                self._resume()

    # -- time ----------------------------------------------------------------------------

    def _touch(self) -> None:
        self.last_active = self.loop.time()

    def _arm_idle(self) -> None:
        delay = self.last_active + self.bounds.idle_timeout - self.loop.time()
        self.idle_timer = self.loop.call_later(max(delay, 0.0), self._check_idle)

    def _check_idle(self) -> None:
        self.idle_timer = None
        if self.transport is None:
            return
        if self.loop.time() - self.last_active >= self.bounds.idle_timeout:
            self.close(GOING_AWAY, "Going away")
        else:
            self._arm_idle()

    def _too_long(self) -> None:
        self.close(GOING_AWAY, "Going away")

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            self.gone()
        finally:
            self.handler.on_close(self, self.close_code or ABNORMAL, self.close_reason)
