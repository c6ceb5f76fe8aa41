"""lambdad's Python runtime bootstrap: the process inside an execution environment.

It speaks the Lambda Runtime API 2018-06-01 to ``AWS_LAMBDA_RUNTIME_API``, imports the
handler named by ``_HANDLER`` from ``LAMBDA_TASK_ROOT`` and runs invocations in a loop,
behaving like AWS's own client (awslambdaric): the same context object, error payloads,
init error types, log line format and exit status.

Constraints that shape this file:

- It is copied into every environment and runs on the function's interpreter, CPython 3.9
  through 3.13, so it uses the standard library only and no syntax newer than 3.9.
- It is the hot path of every invoke. It keeps one keep-alive HTTP/1.1 connection with
  ``TCP_NODELAY`` (``http.client`` costs imports and, with Nagle and delayed ACKs, up to
  40 ms a request) and does nothing per invoke that AWS's client does not do.
- A zygote may import it before forking and call :func:`main` in the child, so importing it
  only defines things; every side effect (``sys.path``, stdout, logging) happens in main().
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time

# typing costs ~2 ms of every cold start; annotations are strings, so only mypy needs it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    Handler = Callable[[Any, "LambdaContext"], Any]

__all__ = ["LambdaContext", "RuntimeApiError", "RuntimeClient", "main"]

_API_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = b"Lambda-Runtime-Function-Error-Type"
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# AWS indents error stack lines in the log with no-break spaces and joins lines with "\r" so
# that one error stays one log event.
_ERROR_LOG_INDENT = "\u00a0"
_INIT_ERROR_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code.\r"
)
# Request ids are UUIDs; anything else is percent-encoded before it goes into a path.
_PATH_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

# The invocation the logging filter stamps on every record (awslambdaric keeps it global too:
# user code may log from any thread).
_current_request_id: str | None = None
# Set by lambdad's zygote in a SnapStart template: called after init, it returns in
# each environment restored from the snapshot (runtimes/python/snapstart.py).
snapshot: Callable[[], None] | None = None
_current_tenant_id: str | None = None
# LoggingConfig.LogFormat JSON (AWS_LAMBDA_LOG_FORMAT): log records and errors as JSON
# objects, one per line, as awslambdaric writes them. Read by _set_up_logging in main().
_json_logs = False
# What a JSON record takes from a LogRecord's attributes: everything but these (the
# user's ``extra=`` keys among them).
_RECORD_FIELDS = frozenset(
    {
        *("name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module"),
        *("exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs"),
        *("relativeCreated", "thread", "threadName", "processName", "process", "taskName"),
        *("aws_request_id", "tenant_id", "message", "asctime"),
    }
)


class RuntimeApiError(Exception):
    """The Runtime API could not be reached or answered something unusable."""


class _Fault(Exception):
    """An error the runtime reports with a ``Runtime.*`` type rather than a traceback."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


# --------------------------------------------------------------------------- HTTP client


class RuntimeClient:
    """A minimal HTTP/1.1 client for the Runtime API over one keep-alive socket.

    The Runtime API always answers with ``Content-Length``; chunked bodies and bodies
    delimited by ``Connection: close`` are understood too so that a proxy in between cannot
    desynchronise the connection.

    A result is posted with the next ``GET /invocation/next`` right behind it in the same
    segment (HTTP/1.1 pipelining): one send and one wake-up per invocation instead of two,
    on both sides. If the server closes the connection after answering the post, the
    request for the next event is sent again on a new connection.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RuntimeApiError(f"AWS_LAMBDA_RUNTIME_API is not host:port: {address!r}")
        self._address = (host.strip("[]"), int(port))
        version = "{}.{}.{}".format(*sys.version_info[:3])
        self._common = f"Host: {address}\r\nUser-Agent: lambdad-python/{version}\r\n".encode()
        self._next_request = (
            f"GET {_API_PREFIX}/invocation/next HTTP/1.1\r\n".encode() + self._common + b"\r\n"
        )
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        # A GET /invocation/next already sent behind a post, its answer not read yet.
        self._next_sent = False

    # -- Runtime API calls

    def next_invocation(self) -> tuple[bytes, dict[str, str]]:
        """Block until the platform hands over the next event; return (body, headers)."""
        answer = None
        if self._next_sent:
            self._next_sent = False
            answer = self._read_pipelined()
        if answer is None:
            answer = self._round_trip(self._next_request, b"")
        status, headers, body = answer
        if status != 200:
            detail = body[:512].decode("utf-8", "replace")
            raise RuntimeApiError(f"GET /invocation/next answered {status}: {detail}")
        return body, headers

    def post_response(
        self, request_id: str, payload: bytes, content_type: str, *, then_next: bool = False
    ) -> int:
        """Post a result; with ``then_next``, ask for the next event in the same send."""
        path = f"{_API_PREFIX}/invocation/{_path_segment(request_id)}/response"
        return self._post(path, payload, content_type, b"", then_next)

    def post_error(
        self, request_id: str, payload: bytes, error_type: str, *, then_next: bool = False
    ) -> int:
        path = f"{_API_PREFIX}/invocation/{_path_segment(request_id)}/error"
        return self._post(
            path, payload, "application/json", _error_type_header(error_type), then_next
        )

    def post_init_error(self, payload: bytes, error_type: str) -> int:
        path = _API_PREFIX + "/init/error"
        return self._post(path, payload, "application/json", _error_type_header(error_type), False)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buffer = bytearray()
        self._next_sent = False

    # -- plumbing

    def _post(
        self, path: str, body: bytes, content_type: str, extra: bytes, then_next: bool
    ) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\n".encode()
            + self._common
            + f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
            + extra
            + b"\r\n"
        )
        status, _, _ = self._round_trip(head, body, self._next_request if then_next else b"")
        # The pipelined request went out unless the connection is gone (it is then sent
        # again by next_invocation()).
        self._next_sent = then_next and self._sock is not None
        return status

    def _connect(self) -> None:
        try:
            sock = _connect_numeric(self._address) or socket.create_connection(self._address)
        except OSError as exc:
            host, port = self._address
            raise RuntimeApiError(
                f"cannot connect to the Runtime API at {host}:{port}: {exc}"
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._buffer = bytearray()

    def _round_trip(
        self, head: bytes, body: bytes, after: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        # A keep-alive connection the server closed while we were idle shows up as a failed
        # send or an empty read; that (and only that) is retried once on a new connection.
        for attempt in (0, 1):
            reused = self._sock is not None
            if not reused:
                self._connect()
            try:
                self._send(head, body, after)
                answer = self._read_response()
            except OSError as exc:
                self.close()
                if reused and attempt == 0:
                    continue
                raise RuntimeApiError(f"Runtime API connection failed: {exc}") from exc
            except _ConnectionClosed:
                self.close()
                if reused and attempt == 0:
                    continue
                raise RuntimeApiError("Runtime API closed the connection") from None
            except ValueError as exc:
                self.close()
                raise RuntimeApiError(f"bad response from the Runtime API: {exc}") from exc
            return answer
        raise AssertionError("unreachable")

    def _read_pipelined(self) -> tuple[int, dict[str, str], bytes] | None:
        """The answer to a request sent ahead, or None if the connection closed first."""
        if self._sock is None:
            return None
        try:
            return self._read_response()
        except (OSError, _ConnectionClosed):
            self.close()
            return None
        except ValueError as exc:
            self.close()
            raise RuntimeApiError(f"bad response from the Runtime API: {exc}") from exc

    def _send(self, head: bytes, body: bytes, after: bytes) -> None:
        sock = self._sock
        assert sock is not None
        # One segment for small messages (the common case); no copy of a large body.
        if len(body) < 65536:
            sock.sendall(head + body + after)
        else:
            sock.sendall(head)
            sock.sendall(body)
            if after:
                sock.sendall(after)

    def _fill(self) -> bool:
        """Read what the server sent next into the buffer; False at end of stream."""
        sock = self._sock
        assert sock is not None
        data = sock.recv(65536)
        if not data:
            return False
        self._buffer += data
        return True

    def _read_response(self) -> tuple[int, dict[str, str], bytes]:
        buf = self._buffer
        started = bool(buf)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > 65536:
                raise ValueError("response head too large")
            if not self._fill():
                if started or buf:
                    raise ValueError("connection closed inside the response head")
                raise _ConnectionClosed()
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        parts = lines[0].split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ValueError(f"malformed status line {lines[0][:100]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            # Header values may carry UTF-8 (client context JSON); names are ASCII.
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode(
                "utf-8", "replace"
            )
        length = headers.get("content-length")
        if length is not None:
            body = self._read_exact(int(length))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        elif headers.get("connection", "").lower() == "close":
            while self._fill():
                pass
            body = bytes(buf)
            buf.clear()
        else:
            body = b""
        if headers.get("connection", "").lower() == "close" or parts[0] == b"HTTP/1.0":
            self.close()
        return status, headers, body

    def _read_exact(self, size: int) -> bytes:
        buf = self._buffer
        while len(buf) < size:
            if not self._fill():
                raise ValueError("connection closed inside the body")
        body = bytes(buf[:size])
        del buf[:size]
        return body

    def _read_line(self) -> bytes:
        buf = self._buffer
        while True:
            end = buf.find(b"\n")
            if end >= 0:
                line = bytes(buf[: end + 1])
                del buf[: end + 1]
                return line
            if len(buf) > 65536:
                raise ValueError("line too long in a chunked body")
            if not self._fill():
                raise ValueError("connection closed inside a chunked body")

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self._read_line().split(b";", 1)[0], 16)
            if size == 0:
                while self._read_line() not in (b"\r\n", b"\n"):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self._read_exact(size))
            self._read_line()


class _ConnectionClosed(Exception):
    """The server closed the connection before the first byte of an answer."""


def _connect_numeric(address: tuple[str, int]) -> socket.socket | None:
    """A connection to a numeric address without getaddrinfo(), whose first call imports
    the IDNA codec (~3 ms of every cold start); None for a host name."""
    host, port = address
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        return sock
    return None


def _path_segment(value: str) -> str:
    if _PATH_SAFE.issuperset(value):
        return value
    return "".join(
        c if c in _PATH_SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in value
    )


def _error_type_header(error_type: str) -> bytes:
    # awslambdaric sends this header with init errors; it is sent with invocation errors
    # too so that the platform need not parse the body to learn the type.
    safe = error_type.encode("latin-1", "replace").replace(b"\r", b"").replace(b"\n", b"")
    return _ERROR_TYPE_HEADER + b": " + safe + b"\r\n"


# ----------------------------------------------------------------------------- context


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict[str, Any]) -> None:
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else client
        self.custom = data.get("custom")
        self.env = data.get("env")

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """The ``context`` argument, attribute for attribute like awslambdaric's."""

    def __init__(
        self,
        invoke_id: str,
        client_context: dict[str, Any] | None,
        cognito_identity: dict[str, Any] | None,
        epoch_deadline_time_in_ms: int,
        invoked_function_arn: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        environ = os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as on AWS (it comes from the environment unchanged).
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = ClientContext(client_context) if client_context is not None else None
        # Always an object, its fields None without a Cognito header: code reads
        # context.identity.cognito_identity_id without checking.
        if cognito_identity is None:
            self.identity = CognitoIdentity()
        else:
            self.identity = CognitoIdentity(
                cognito_identity.get("cognitoIdentityId"),
                cognito_identity.get("cognitoIdentityPoolId"),
            )
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg: Any) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


def _parse_json_header(value: str | None, name: str) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as exc:
        raise _Fault(
            "Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {exc}"
        ) from exc


# ------------------------------------------------------------------------- marshalling


class _ResultEncoder(json.JSONEncoder):
    """json.JSONEncoder that writes ``decimal.Decimal`` exactly, as awslambdaric does.

    The standard library has no raw-JSON hook, so a Decimal is first encoded as a
    placeholder string and swapped for its digits afterwards; results without Decimals pay
    nothing. The decimal module is never imported here: a Decimal can only reach us if the
    user's code imported it.
    """

    _MARK = "\x00lambdad-decimal-{}\x00"

    def __init__(self) -> None:
        # python3.12 and later AWS runtimes write UTF-8 as is; older ones escape to ASCII.
        super().__init__(ensure_ascii=sys.version_info < (3, 12), allow_nan=True)
        self._raw: list[str] = []

    def default(self, o: Any) -> Any:
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(o, decimal.Decimal):
            self._raw.append("NaN" if o.is_nan() else str(o))
            return self._MARK.format(len(self._raw) - 1)
        return super().default(o)

    def dumps(self, obj: Any) -> str:
        raw = self._raw
        raw.clear()
        text = self.encode(obj)
        for index, digits in enumerate(raw):
            # encode() escapes the NULs, so the placeholder reads "\u0000...\u0000".
            token = json.dumps(self._MARK.format(index))
            text = text.replace(token, digits)
        raw.clear()
        return text


def _decode_event(body: bytes, content_type: str | None) -> Any:
    # Like awslambdaric, an event that is explicitly not JSON reaches the handler as bytes.
    if content_type and not content_type.startswith("application/json"):
        return body
    try:
        return json.loads(body)
    except Exception as exc:
        raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from exc


def _marshal(encoder: _ResultEncoder, result: Any) -> tuple[bytes, str]:
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return encoder.dumps(result).encode("utf-8"), "application/json"
    except Exception as exc:
        raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


# -------------------------------------------------------------------------------- errors


def _make_error(
    message: str, error_type: str, stack_trace: list[str] | None, request_id: str | None
) -> dict[str, Any]:
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def _error_from_exception(exc: BaseException, request_id: str | None) -> dict[str, Any]:
    import traceback  # only on the error path

    # Plain 4-tuples, not FrameSummary objects: format_list then prints no 3.11+ caret
    # lines, which is what AWS shows.
    frames: list[Any] = [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)
    ]
    # The frames of this file above the user's code are noise; drop the leading ones (if
    # the error is in this file only, keep them all).
    own = _error_from_exception.__code__.co_filename
    for index, frame in enumerate(frames):
        if frame[0] != own:
            frames = frames[index:]
            break
    return _make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def _log_error(error: dict[str, Any]) -> None:
    """Write an error the way AWS puts it in the function's log: one "\\r"-joined event
    (with JSON logs: one JSON object, level ERROR)."""
    if _json_logs:
        stamp = time.strftime(_LOG_DATE_FORMAT, time.gmtime())
        document = {"timestamp": stamp, "level": "ERROR", **error}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
        return
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
    if error["errorMessage"]:
        if error["errorType"]:
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        if element == "":
            lines.append("")
            continue
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append(_ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")


# ------------------------------------------------------------------------ handler loading


def _load_handler(name: str) -> Handler:
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': {exc}") from exc

    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    import importlib

    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _Fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            trace,
        ) from exc

    try:
        handler: Handler = getattr(module, function_name)
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None
    return handler


# ------------------------------------------------------------------------ process set-up


def _set_sys_path(task_root: str) -> None:
    """Task root first, then the layers' directories, as on AWS.

    The bootstrap's own directory (sys.path[0] when started as a script) is removed so
    that it can never shadow a user module.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    version = "python{}.{}".format(*sys.version_info[:2])
    # Layers are at /opt; a sandbox that cannot mount them there names their directory.
    opt = os.environ.get("LAMBDAD_OPT_DIR") or "/opt"
    front = [task_root, f"{opt}/python/lib/{version}/site-packages", f"{opt}/python"]
    # The AWS SDK (boto3), as AWS's runtimes carry it, after the layers.
    sdk = os.path.join(here, "sdk")
    if os.path.isdir(sdk):
        front.append(sdk)
    # What AWS's runtimes add of their own (snapshot_restore_py).
    front.append(os.path.join(here, "lib"))
    sys.path[:] = [p for p in sys.path if p not in front and os.path.abspath(p or ".") != here]
    sys.path[0:0] = front


def _set_up_streams() -> None:
    # Line buffering puts every print() in the log as it happens; whatever is left without a
    # newline is flushed before each response is posted, so it precedes END.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        # A closed or replaced stream must not fail the invocation.
        with contextlib.suppress(Exception):
            stream.flush()


class _StdoutHandler(logging.Handler):
    """Root-logger handler writing formatted records to (the current) sys.stdout."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


class _JsonFormatter(logging.Formatter):
    """A log record as one JSON object, with awslambdaric's fields: timestamp, level,
    message, logger, requestId; on an exception errorType, errorMessage, stackTrace
    and location; then whatever the record carries besides (``extra=``)."""

    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        record.levelno = level
        record.levelname = logging.getLevelName(level)
        created = time.gmtime(record.created)
        stamp = f"{time.strftime(_LOG_DATE_FORMAT, created)}.{int(record.msecs):03d}Z"
        document: dict[str, Any] = {
            "timestamp": stamp,
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        exc = record.exc_info
        if exc and exc[0] is not None:
            import traceback

            document["stackTrace"] = traceback.format_tb(exc[2])
            document["errorType"] = exc[0].__name__
            document["errorMessage"] = str(exc[1])
            document["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        document["requestId"] = getattr(record, "aws_request_id", "")
        tenant = getattr(record, "tenant_id", None)
        if tenant is not None:
            document["tenantId"] = tenant
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in document:
                document[key] = value
        return json.dumps(document, ensure_ascii=False, default=str) + "\n"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id or ""
        record.tenant_id = _current_tenant_id
        return True


def _set_up_logging() -> None:
    global _json_logs
    # Log times are UTC, like AWS, for the user's formatters too.
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    _json_logs = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    if _json_logs:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_LOG_FORMAT, _LOG_DATE_FORMAT))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    # Without AWS_LAMBDA_LOG_LEVEL the root logger keeps Python's default (WARNING).
    level_name = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level_name == "TRACE":
        level_name = "DEBUG"
    if level_name:
        level = logging.getLevelName(level_name)
        if isinstance(level, int):
            root.setLevel(level)


# ------------------------------------------------------------------------------ the loop


def _invoke(
    handler: Handler,
    encoder: _ResultEncoder,
    request_id: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[bytes, str, str | None]:
    """Run one invocation; return (payload, content type, error type or None)."""
    try:
        deadline = headers.get("lambda-runtime-deadline-ms")
        context = LambdaContext(
            request_id,
            _parse_json_header(headers.get("lambda-runtime-client-context"), "Client Context"),
            _parse_json_header(headers.get("lambda-runtime-cognito-identity"), "Cognito Identity"),
            int(deadline) if deadline else 0,
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )
        event = _decode_event(body, headers.get("content-type"))
        result = handler(event, context)
        payload, content_type = _marshal(encoder, result)
        return payload, content_type, None
    except _Fault as fault:
        error = _make_error(fault.message, fault.error_type, fault.trace, request_id)
    except Exception as exc:
        error = _error_from_exception(exc, request_id)
    _log_error(error)
    return _encode_error(encoder, error), "application/json", error["errorType"]


def _encode_error(encoder: _ResultEncoder, error: dict[str, Any]) -> bytes:
    try:
        return encoder.dumps(error).encode("utf-8")
    except Exception:
        # A message with a lone surrogate cannot be UTF-8; ASCII escapes can carry it.
        return json.dumps(error).encode("ascii")


def _serve(client: RuntimeClient, handler: Handler) -> NoReturn:
    global _current_request_id, _current_tenant_id
    encoder = _ResultEncoder()
    environ = os.environ
    while True:
        body, headers = client.next_invocation()
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        _current_request_id = request_id
        _current_tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]

        payload, content_type, error_type = _invoke(handler, encoder, request_id, body, headers)
        _flush_streams()
        # The next event is asked for along with this result (see RuntimeClient).
        if error_type is None:
            status = client.post_response(request_id, payload, content_type, then_next=True)
        else:
            status = client.post_error(request_id, payload, error_type, then_next=True)
        if status >= 300:
            # E.g. 413 for a response over the limit: the platform has already failed the
            # invocation, and this environment can take the next one.
            sys.stderr.write(
                f"lambdad runtime: the Runtime API refused the result of {request_id}"
                f" with status {status}\n"
            )


def _fail_init(client: RuntimeClient, error: dict[str, Any]) -> NoReturn:
    logging.warning(_INIT_ERROR_WARNING)
    _log_error(error)
    _flush_streams()
    client.post_init_error(_encode_error(_ResultEncoder(), error), error["errorType"])
    # The platform reports the init error; this process is done (awslambdaric exits 1 too).
    sys.exit(1)


def _run_hooks(kind: str) -> None:
    """``snapshot_restore_py``'s hooks, if the function registered any: before the
    snapshot in the reverse order of registration, after a restore in order."""
    module = sys.modules.get("snapshot_restore_py")
    if module is None:
        return
    if kind == "before":
        hooks = module.get_before_snapshot()
        while hooks:
            func, args, kwargs = hooks.pop()
            func(*args, **kwargs)
    else:
        for func, args, kwargs in module.get_after_restore():
            func(*args, **kwargs)


def _point_container_credentials() -> None:
    """SnapStart: the role's credentials come from the container credentials endpoint
    of this environment's Runtime API (the SDKs ask it again before they expire), as
    on AWS; the platform gives the token, the address is the Runtime API's."""
    if (
        os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        and "AWS_ACCESS_KEY_ID" not in os.environ
    ):
        api = os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
        os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://{api}/2021-04-23/credentials"


def _snapshot_and_restore(client: RuntimeClient, take: Callable[[], None]) -> RuntimeClient:
    """SnapStart: the before-snapshot hooks (a failure is an init error), the snapshot,
    and, in each restored environment, a new Runtime API connection and the
    after-restore hooks (a failure is reported as the restore's error)."""
    try:
        _run_hooks("before")
    except Exception as exc:
        _fail_init(client, _error_from_exception(exc, None))
    _flush_streams()
    client.close()
    take()  # returns in a restored environment, with its own variables
    _point_container_credentials()
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        _run_hooks("after")
    except Exception as exc:
        _fail_init(client, _error_from_exception(exc, None))
    return client


def _wait_for_debugger() -> None:
    """With ``lambdad dev --debug``: listen with debugpy and wait until a debugger
    attaches, before the handler's module is imported (so that its breakpoints, module
    level ones too, are hit)."""
    port = os.environ.pop("_LAMBDAD_DEBUG_PORT", "")
    path = os.environ.pop("_LAMBDAD_DEBUGPY_PATH", "")
    if not port.isdigit():
        return
    if path:
        sys.path.append(path)
    import debugpy

    debugpy.listen(("127.0.0.1", int(port)))
    sys.stderr.write(f"lambdad runtime: waiting for a debugger on port {port}\n")
    debugpy.wait_for_client()


def main() -> NoReturn:
    """Set the process up, import the handler and serve invocations until killed."""
    try:
        client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    except KeyError:
        sys.stderr.write("lambdad runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        sys.exit(2)
    except RuntimeApiError as exc:
        sys.stderr.write(f"lambdad runtime: {exc}\n")
        sys.exit(2)

    _set_sys_path(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    _point_container_credentials()
    _set_up_streams()
    _set_up_logging()
    _wait_for_debugger()

    try:
        try:
            handler = _load_handler(os.environ.get("_HANDLER", ""))
        except _Fault as fault:
            _fail_init(client, _make_error(fault.message, fault.error_type, fault.trace, None))
        except Exception as exc:
            _fail_init(client, _error_from_exception(exc, None))
        if snapshot is not None:
            client = _snapshot_and_restore(client, snapshot)
        _serve(client, handler)
    except RuntimeApiError as exc:
        _flush_streams()
        sys.stderr.write(f"lambdad runtime: {exc}\n")
        sys.exit(3)


if __name__ == "__main__":
    main()
