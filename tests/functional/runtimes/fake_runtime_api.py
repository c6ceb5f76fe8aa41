"""A fake Lambda Runtime API (2018-06-01) for testing runtime bootstraps as real processes.

It queues events for ``GET /invocation/next``, records what the runtime posts to
``/response``, ``/error`` and ``/init/error``, and counts TCP connections so that tests can
check that a runtime keeps one connection alive. Every answer carries ``Content-Type`` and
``Content-Length``, as the platform's server does.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


@dataclass(frozen=True)
class Posted:
    """A result, invocation error or init error the runtime posted."""

    kind: str  # "response", "error" or "init_error"
    request_id: str | None
    body: bytes
    headers: dict[str, str]  # names in lower case

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Event:
    request_id: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeRuntimeApi:
    """The fake server; use as a context manager, hand ``address`` to the runtime."""

    def __init__(self) -> None:
        self._events: queue.Queue[_Event] = queue.Queue()
        self._posted: list[Posted] = []
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self.connections = 0
        # After every answer close the connection: "announced" says so in a
        # "Connection: close" header, "silently" does not (like an idle timeout).
        self.close_connections: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeRuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    # -- the test's side

    def invoke(
        self,
        event: Any = None,
        *,
        raw: bytes | None = None,
        request_id: str | None = None,
        deadline_in_ms: int = 3000,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Queue one event; return its request id."""
        request_id = request_id or str(uuid.uuid4())
        all_headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + deadline_in_ms),
            "Lambda-Runtime-Invoked-Function-Arn": (
                "arn:aws:lambda:us-east-1:123456789012:function:fn"
            ),
            "Content-Type": "application/json",
        }
        all_headers.update(headers or {})
        body = raw if raw is not None else json.dumps(event).encode()
        self._events.put(_Event(request_id, body, all_headers))
        return request_id

    def wait_for(self, request_id: str, timeout: float = 5.0) -> Posted:
        """The response or error posted for ``request_id``."""
        return self._wait(lambda p: p.request_id == request_id, timeout)

    def wait_init_error(self, timeout: float = 5.0) -> Posted:
        return self._wait(lambda p: p.kind == "init_error", timeout)

    @property
    def posted(self) -> list[Posted]:
        with self._changed:
            return list(self._posted)

    def _wait(self, match: Any, timeout: float) -> Posted:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((p for p in self._posted if match(p)), None), timeout
            )
        if found is None:
            raise TimeoutError(f"nothing posted within {timeout} s; posted: {self.posted}")
        return found

    # -- the server's side

    def _record(self, posted: Posted) -> None:
        with self._changed:
            self._posted.append(posted)
            self._changed.notify_all()

    def _next_event(self) -> _Event | None:
        while not self._closed.is_set():
            try:
                return self._events.get(timeout=0.05)
            except queue.Empty:
                continue
        return None


def _make_handler(api: FakeRuntimeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with api._changed:
                api.connections += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            lines = [f"HTTP/1.1 {status} {self.responses[status][0]}"]
            merged = {"Content-Type": "application/json", **(headers or {})}
            merged["Content-Length"] = str(len(body))
            if api.close_connections == "announced":
                merged["Connection"] = "close"
            self.close_connection = api.close_connections is not None
            lines += [f"{name}: {value}" for name, value in merged.items()]
            # Head and body in one write: no Nagle/delayed-ACK stall.
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

        def do_GET(self) -> None:
            if self.path != PREFIX + "/invocation/next":
                self._answer(404, b'{"errorMessage":"not found"}')
                return
            event = api._next_event()
            if event is None:
                self.close_connection = True
                return
            self._answer(200, event.body, event.headers)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            parts = self.path[len(PREFIX) :].strip("/").split("/")
            if parts == ["init", "error"]:
                api._record(Posted("init_error", None, body, headers))
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                api._record(Posted(parts[2], parts[1], body, headers))
            else:
                self._answer(404, b'{"errorMessage":"not found"}')
                return
            self._answer(202, b'{"status":"OK"}')

    return Handler
