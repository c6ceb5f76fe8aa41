"""One WebSocket connection's framing and bounds, over a fake transport: a client
made with wsproto sends frames in, what the session writes is read back."""

from __future__ import annotations

import asyncio
from typing import Any

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from lambdad.events.websocket.names import Bounds
from lambdad.events.websocket.session import Busy, Gone, Session
from transports import FakeTransport

BOUNDS = Bounds(max_message=100, max_frame=40, idle_timeout=60.0, max_duration=600.0)


class Transport(FakeTransport):
    def __init__(self) -> None:
        super().__init__("127.0.0.1")
        self.buffered = 0

    def get_write_buffer_size(self) -> int:
        return self.buffered


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.messages: list[str] = []
        self.closed: list[tuple[int, str]] = []
        self.fail = fail

    async def on_message(self, session: Session, text: str) -> None:
        self.messages.append(text)
        if self.fail:
            raise RuntimeError("a bug in a handler")

    def on_close(self, session: Session, code: int, reason: str) -> None:
        self.closed.append((code, reason))


def _open(handler: Recorder, bounds: Bounds = BOUNDS) -> tuple[Session, Transport, list[int]]:
    transport = Transport()
    gone: list[int] = []
    session = Session(transport, handler, bounds, lambda: gone.append(1), label="c1")  # type: ignore[arg-type]
    return session, transport, gone


def _client() -> Connection:
    return Connection(ConnectionType.CLIENT)


def _read(client: Connection, transport: Transport) -> list[Any]:
    client.receive_data(bytes(transport.written))
    transport.written.clear()
    return list(client.events())


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_text_messages_from_frames_reach_the_handler_and_pings_are_answered() -> None:
    async def run() -> None:
        handler = Recorder()
        session, transport, _ = _open(handler)
        client = _client()
        data = client.send(TextMessage("hel", message_finished=False))
        data += client.send(TextMessage("lo"))
        data += client.send(Ping(b"p"))
        session.data_received(data)
        await _settle()
        assert handler.messages == ["hello"]
        assert _read(client, transport) == [Pong(b"p")]
        session.send("back")
        session.send(b"\x00\x01")
        assert _read(client, transport) == [TextMessage("back"), BytesMessage(b"\x00\x01")]

    asyncio.run(run())


def test_a_close_from_the_client_is_answered_and_reported_once() -> None:
    async def run() -> None:
        handler = Recorder()
        session, transport, gone = _open(handler)
        client = _client()
        session.data_received(client.send(CloseConnection(1000, "bye")))
        assert transport.closed
        assert [type(e) for e in _read(client, transport)] == [CloseConnection]
        session.connection_lost(None)
        session.connection_lost(None)
        assert handler.closed == [(1000, "bye")]
        assert gone == [1]
        try:
            session.send("late")
        except Gone:
            pass
        else:
            raise AssertionError("sent on a closed connection")

    asyncio.run(run())


def _closed_with(data: bytes, bounds: Bounds = BOUNDS) -> tuple[int, list[str]]:
    async def run() -> tuple[int, list[str]]:
        handler = Recorder()
        session, transport, _ = _open(handler, bounds)
        session.data_received(data)
        await _settle()
        client = _client()
        (close,) = [e for e in _read(client, transport) if isinstance(e, CloseConnection)]
        session.connection_lost(None)
        assert handler.closed[0][0] == close.code
        return int(close.code), handler.messages

    return asyncio.run(run())


def test_a_binary_frame_closes_with_1003() -> None:
    client = _client()
    after = client.send(BytesMessage(b"x")) + client.send(TextMessage("after the close"))
    assert _closed_with(after) == (1003, [])


def test_a_frame_or_message_over_the_bounds_closes_with_1009() -> None:
    assert _closed_with(_client().send(TextMessage("x" * 41))) == (1009, [])
    client = _client()
    frames = b"".join(client.send(TextMessage("x" * 30, message_finished=False)) for _ in range(4))
    assert _closed_with(frames + client.send(TextMessage("x"))) == (1009, [])


def test_invalid_utf8_and_garbage_close_the_connection() -> None:
    # A masked text frame carrying 0xff (mask of zeros): not UTF-8, 1007.
    assert _closed_with(b"\x81\x81\x00\x00\x00\x00\xff")[0] == 1007
    # An unmasked client frame: a protocol error, 1002.
    assert _closed_with(b"\x81\x02hi")[0] == 1002


def test_a_failing_handler_does_not_end_the_connection() -> None:
    async def run() -> None:
        handler = Recorder(fail=True)
        session, transport, _ = _open(handler)
        client = _client()
        session.data_received(client.send(TextMessage("a")) + client.send(TextMessage("b")))
        await _settle()
        assert handler.messages == ["a", "b"]
        assert session.is_open
        assert not transport.closed

    asyncio.run(run())


def test_a_client_that_reads_nothing_is_busy() -> None:
    async def run() -> None:
        session, transport, _ = _open(Recorder())
        transport.buffered = 10 * 1024 * 1024
        try:
            session.send("x")
        except Busy:
            return
        raise AssertionError("not refused")

    asyncio.run(run())


def test_idle_and_long_connections_are_closed_with_1001() -> None:
    async def run() -> None:
        handler = Recorder()
        bounds = Bounds(idle_timeout=0.0, max_duration=600.0)  # due at once
        session, transport, _ = _open(handler, bounds)
        await _settle()
        (close,) = _read(_client(), transport)
        assert close == CloseConnection(1001, "Going away")
        assert not session.is_open
        session.connection_lost(None)
        assert handler.closed == [(1001, "Going away")]

    asyncio.run(run())


def test_server_shutdown_says_going_away() -> None:
    async def run() -> None:
        session, transport, _ = _open(Recorder())
        session.shutdown()
        (close,) = _read(_client(), transport)
        assert close.code == 1001

    asyncio.run(run())


class SlowReader(Transport):
    """A transport whose client reads nothing: past ``high`` bytes it asks the
    protocol to pause writing, as asyncio's do."""

    def __init__(self, high: int) -> None:
        super().__init__()
        self.high = high
        self.protocol: Session | None = None

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.written) > self.high and self.protocol is not None:
            self.protocol.pause_writing()


def test_pings_from_a_client_that_reads_nothing_stop_being_taken() -> None:
    async def run() -> None:
        transport = SlowReader(high=100)
        session = Session(transport, Recorder(), BOUNDS, lambda: None, label="c1")  # type: ignore[arg-type]
        transport.protocol = session
        client = _client()
        session.data_received(b"".join(client.send(Ping(b"p" * 10)) for _ in range(1000)))
        assert not transport.reading
        assert len(transport.written) < 200  # not 1000 pongs
        transport.written.clear()
        transport.high = 10**9
        session.resume_writing()  # the client read: the rest are answered, reading resumes
        assert len(_read(client, transport)) == 1000 - 9
        assert transport.reading

    asyncio.run(run())


class Blocking(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()

    async def on_message(self, session: Session, text: str) -> None:
        self.messages.append(text)
        await self.go.wait()


def test_messages_past_the_in_flight_bound_wait_even_within_one_read() -> None:
    async def run() -> None:
        handler = Blocking()
        bounds = Bounds(max_in_flight=4)
        session, transport, _ = _open(handler, bounds)
        client = _client()
        session.data_received(b"".join(client.send(TextMessage(str(i))) for i in range(10)))
        await _settle()
        assert handler.messages == ["0", "1", "2", "3"]
        assert session.in_flight == 4
        assert not transport.reading
        handler.go.set()
        await _settle()
        assert handler.messages == [str(i) for i in range(10)]
        assert transport.reading

    asyncio.run(run())


def test_empty_frames_are_not_kept_and_a_message_of_too_many_frames_closes_1009() -> None:
    async def run() -> None:
        handler = Recorder()
        session, _, _ = _open(handler, Bounds(max_frames=8))
        client = _client()
        data = client.send(TextMessage("a", message_finished=False))
        data += b"".join(client.send(TextMessage("", message_finished=False)) for _ in range(5))
        session.data_received(data)
        assert session.parts == ["a"]
        session.data_received(client.send(TextMessage("b")))
        await _settle()
        assert handler.messages == ["ab"]

    asyncio.run(run())
    client = _client()
    start = client.send(TextMessage("a", message_finished=False))
    empties = b"".join(client.send(TextMessage("", message_finished=False)) for _ in range(2000))
    assert _closed_with(start + empties) == (1009, [])


def test_a_close_the_client_does_not_answer_drops_the_connection(monkeypatch: Any) -> None:
    monkeypatch.setattr("lambdad.events.websocket.session.CLOSE_WAIT", 0.0)

    async def run() -> None:
        transport = SlowReader(high=10)  # reads nothing: a close() would wait forever
        session = Session(transport, Recorder(), BOUNDS, lambda: None, label="c1")  # type: ignore[arg-type]
        transport.protocol = session
        session.close(1000, "")
        await _settle()
        assert transport.aborted

    asyncio.run(run())
