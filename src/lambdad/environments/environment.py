"""One execution environment: its life cycle, its Runtime API, its logs.

An environment serves one invocation at a time. Its state machine is explicit:

    STARTING -> INITIALIZING -> READY <-> BUSY -> STOPPING -> STOPPED
         \\______________\\____________\\______/

Any state may go to STOPPING; anything else raises ``IllegalTransition``.
``start()`` runs the init phase (until the runtime first asks for an event);
``invoke()`` hands one event to the runtime and waits for its answer, up to the
function's timeout; ``stop()`` destroys the sandbox, idempotently.

Output (stdout and stderr, one pipe) is read as it comes and turned into log
events; at the end of an invocation the pipe is drained synchronously, so every
line the function wrote before answering lands before ``END``.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import logging
import math
import os
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lambdad.environments import runtime_api
from lambdad.errors import SandboxError
from lambdad.sandbox.base import Sandbox, SandboxBackend, SandboxSpec

log = logging.getLogger(__name__)

TAIL_BYTES = 4096


class State(enum.Enum):
    STARTING = "starting"
    INITIALIZING = "initializing"
    READY = "ready"
    BUSY = "busy"
    STOPPING = "stopping"
    STOPPED = "stopped"


_ALLOWED = {
    State.STARTING: {State.INITIALIZING, State.STOPPING},
    State.INITIALIZING: {State.READY, State.STOPPING},
    State.READY: {State.BUSY, State.STOPPING},
    State.BUSY: {State.READY, State.STOPPING},
    State.STOPPING: {State.STOPPED},
    State.STOPPED: set(),
}


class IllegalTransition(Exception):
    pass


@dataclass(slots=True)
class Invocation:
    request_id: str
    payload: bytes
    function_arn: str
    deadline_ms: int
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str = ""
    result: asyncio.Future[InvocationResult] | None = None

    def runtime_headers(self) -> list[tuple[str, str]]:
        h = [
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
            ("Lambda-Runtime-Trace-Id", self.trace_id),
        ]
        if self.client_context is not None:
            h.append(("Lambda-Runtime-Client-Context", self.client_context))
        if self.cognito_identity is not None:
            h.append(("Lambda-Runtime-Cognito-Identity", self.cognito_identity))
        return h


@dataclass(frozen=True, slots=True)
class InvocationResult:
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the function failed
    error_type: str | None = None
    log_tail: bytes = b""
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    max_memory_mb: int = 0
    # The environment cannot be reused (timeout, crash, init failure).
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    function_arn: str
    version: str
    memory_mb: int
    timeout_s: float
    init_timeout_s: float
    log_group: str
    log_stream: str
    account: str
    region: str
    init_notice: str | None = None


LogSink = Callable[[str, str, str, str, int, str], None]


@dataclass(slots=True)
class _Outcome:
    kind: str  # "response", "error", "init_error", "exit", "too_large"
    body: bytes = b""
    error_type: str | None = None


class Environment:
    def __init__(
        self,
        env_id: str,
        config: EnvironmentConfig,
        spec: SandboxSpec,
        backend: SandboxBackend,
        log_sink: LogSink,
        *,
        prepare: Callable[[SandboxSpec], Awaitable[Sandbox]] | None = None,
        restored: bool = False,
    ) -> None:
        self.id = env_id
        self.config = config
        self.spec = spec
        self.backend = backend
        self.log_sink = log_sink
        # How its sandbox is made (the backend's prepare unless told otherwise: a
        # SnapStart template, a restore).
        self._prepare = prepare or backend.prepare
        # Restored from a SnapStart snapshot: its start is a restore (REPORT says so).
        self.restored = restored
        self.state = State.STARTING
        self.sandbox: Sandbox | None = None
        self.server: asyncio.Server | None = None
        self.last_used = time.monotonic()
        self.invocations = 0
        self.retired = False
        self._ready: asyncio.Future[_Outcome | None] | None = None
        self._waiter: asyncio.Future[Invocation] | None = None
        self._queued: Invocation | None = None
        self._current: Invocation | None = None
        self._outcome: asyncio.Future[_Outcome] | None = None
        self._partial = b""
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._init_duration_ms: float | None = None
        self._init_error: _Outcome | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- state ---------------------------------------------------------------------------

    def _to(self, new: State) -> None:
        if new not in _ALLOWED[self.state]:
            raise IllegalTransition(f"environment {self.id}: {self.state.name} -> {new.name}")
        self.state = new

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Run the init phase. On failure the environment is stopped and the init
        error is kept for the first invocation to report."""
        loop = self._loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        problem = _entrypoint_problem(self.spec)
        if problem is not None:
            # Every backend answers alike (bwrap would only see its exec fail inside).
            self._init_duration_ms = 0.0
            self._init_error = _Outcome(
                "init_error",
                json.dumps(
                    {
                        "errorType": "Runtime.InvalidEntrypoint",
                        "errorMessage": f"RequestId: - Error: {problem}",
                    }
                ).encode(),
                "Runtime.InvalidEntrypoint",
            )
            await self.stop()
            return
        self.sandbox = await self._prepare(self.spec)
        self.server = await runtime_api.serve(self.sandbox.runtime_api_socket(), self)
        # Init code may reach out (a secret, a configuration): outbound networking is up
        # before the runtime runs, not only by its first event. (The NAT started while
        # the sandbox was built, or before: the wait is what is left of its start.)
        await self.sandbox.network_ready()
        self._to(State.INITIALIZING)
        if self.config.init_notice:
            for line in self.config.init_notice.splitlines():
                self._emit(line)
        started = time.perf_counter()
        try:
            await self.sandbox.run()
        except SandboxError as exc:
            self._init_duration_ms = (time.perf_counter() - started) * 1000
            self._init_error = _Outcome(
                "init_error",
                json.dumps(
                    {
                        "errorType": "Runtime.InvalidEntrypoint",
                        "errorMessage": f"RequestId: - Error: {exc}",
                    }
                ).encode(),
                "Runtime.InvalidEntrypoint",
            )
            await self.stop()
            return
        loop.add_reader(self.sandbox.output_fd, self._read_output)
        self._exit_task = loop.create_task(self._watch_exit())
        try:
            outcome = await asyncio.wait_for(
                asyncio.shield(self._ready), self.config.init_timeout_s
            )
        except TimeoutError:
            outcome = _Outcome(
                "init_error",
                json.dumps(
                    {
                        "errorType": "Runtime.InitTimeout",
                        "errorMessage": "INIT phase timed out after "
                        f"{self.config.init_timeout_s:.2f} seconds",
                    }
                ).encode(),
                "Runtime.InitTimeout",
            )
        self._init_duration_ms = (time.perf_counter() - started) * 1000
        if outcome is None:
            self.sandbox.end_init()
            self._to(State.READY)
            return
        self._drain_output()
        self._init_error = outcome
        await self.stop()

    async def _watch_exit(self) -> None:
        assert self.sandbox is not None
        code = await self.sandbox.wait()
        self._drain_output()
        detail = f"signal: {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        outcome = _Outcome("exit", error_type="Runtime.ExitError", body=detail.encode())
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(self._init_error or outcome)
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()

    async def stop(self) -> None:
        """Destroy the sandbox; concurrent and repeated calls wait for the one teardown."""
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._teardown())
        await asyncio.shield(self._stopping)

    async def _teardown(self) -> None:
        if self.state is State.STOPPED:
            return
        self._to(State.STOPPING)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        if self.server is not None:
            self.server.close()
        if self.sandbox is not None:
            if self.sandbox.output_fd >= 0:
                self._drain_output()
            await self.sandbox.destroy()
        if self._exit_task is not None:
            self._exit_task.cancel()
        self._to(State.STOPPED)

    @property
    def init_error(self) -> bool:
        return self._init_error is not None

    @property
    def alive(self) -> bool:
        """Ready or busy, and its runtime process still running (an idle one can die too)."""
        return self.state in (State.READY, State.BUSY) and (
            self._exit_task is None or not self._exit_task.done()
        )

    # -- invocations ---------------------------------------------------------------------

    async def invoke(self, inv: Invocation, *, cold: bool) -> InvocationResult:
        """Hand one event to the runtime and wait for its answer."""
        if self._init_error is not None:
            return self._init_failure_result(inv)
        self._to(State.BUSY)
        self.invocations += 1
        self._tail.clear()
        self._tail_size = 0
        # Kept from start(): get_running_loop() is a getpid() system call on 3.11.
        loop = self._loop or asyncio.get_running_loop()
        self._outcome = loop.create_future()
        self._current = inv
        self._emit(f"START RequestId: {inv.request_id} Version: {self.config.version}")
        started = time.perf_counter()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(inv)
        else:
            self._queued = inv
        # A timer settles the outcome at the deadline (no wait_for/shield futures per invoke).
        deadline = loop.call_later(self.config.timeout_s, _time_out, self._outcome)
        try:
            outcome = await self._outcome
        finally:
            deadline.cancel()
        timed_out = outcome.kind == "timeout"
        duration = (time.perf_counter() - started) * 1000
        memory = self._memory_mb()
        self._current = None
        self._queued = None
        self._drain_output()
        payload, function_error, error_type, fatal = self._answer(inv, outcome)
        if timed_out:
            self._emit(
                f"{_now_iso()} {inv.request_id} Task timed out after "
                f"{self.config.timeout_s:.2f} seconds"
            )
        elif outcome.kind == "exit":
            self._emit(
                f"RequestId: {inv.request_id} Error: Runtime exited with error: "
                f"{outcome.body.decode()}\n{error_type}"
            )
        self._emit(f"END RequestId: {inv.request_id}")
        report = (
            f"REPORT RequestId: {inv.request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration))} ms\t"
            f"Memory Size: {self.config.memory_mb} MB\tMax Memory Used: {memory} MB\t"
        )
        init = self._init_duration_ms if cold else None
        if init is not None and self.restored:
            report += (
                f"Restore Duration: {init:.2f} ms\t"
                f"Billed Restore Duration: {max(1, math.ceil(init))} ms\t"
            )
        elif init is not None:
            report += f"Init Duration: {init:.2f} ms\t"
        if timed_out:
            report += "Status: timeout"
        self._emit(report)
        self.last_used = time.monotonic()
        if fatal:
            # Answer at the deadline: kill now, tear down (cgroup, NAT, files) after.
            if self.sandbox is not None:
                self.sandbox.kill()
            self._stopping = asyncio.get_running_loop().create_task(self._teardown())
        else:
            self._to(State.READY)
        return InvocationResult(
            payload=payload,
            function_error=function_error,
            error_type=error_type,
            log_tail=self._tail_bytes(),
            duration_ms=duration,
            init_duration_ms=init,
            max_memory_mb=memory,
            fatal=fatal,
        )

    def _answer(
        self, inv: Invocation, outcome: _Outcome
    ) -> tuple[bytes, str | None, str | None, bool]:
        if outcome.kind == "response":
            return outcome.body, None, None, False
        if outcome.kind == "error":
            return outcome.body, "Unhandled", outcome.error_type, False
        if outcome.kind == "too_large":
            body = json.dumps(
                {
                    "errorMessage": "Response payload size exceeded maximum allowed payload size "
                    f"({runtime_api.MAX_RESPONSE} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
            ).encode()
            return body, "Unhandled", "Function.ResponseSizeTooLarge", False
        if outcome.kind == "timeout":
            body = json.dumps(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {inv.request_id} Error: Task timed out after "
                    f"{self.config.timeout_s:.2f} seconds",
                }
            ).encode()
            return body, "Unhandled", "Sandbox.Timedout", True
        # The runtime exited (crash, os._exit, killed by the OOM killer...).
        detail = outcome.body.decode()
        error_type = "Runtime.OutOfMemory" if self._oom() else "Runtime.ExitError"
        body = json.dumps(
            {
                "errorType": error_type,
                "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: "
                f"{detail}",
            }
        ).encode()
        return body, "Unhandled", error_type, True

    def _oom(self) -> bool:
        check = getattr(self.sandbox, "oom_killed", None)
        return bool(check()) if callable(check) else False

    def _init_failure_result(self, inv: Invocation) -> InvocationResult:
        assert self._init_error is not None
        err = self._init_error
        if err.kind == "exit":
            body = json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with "
                    f"error: {err.body.decode()}",
                }
            ).encode()
            error_type: str | None = "Runtime.ExitError"
        else:
            body, error_type = err.body, err.error_type
        self._emit(f"START RequestId: {inv.request_id} Version: {self.config.version}")
        self._emit(f"END RequestId: {inv.request_id}")
        self._emit(
            f"REPORT RequestId: {inv.request_id}\tDuration: "
            f"{self._init_duration_ms or 0:.2f} ms\tBilled Duration: "
            f"{max(1, math.ceil(self._init_duration_ms or 0))} ms\tMemory Size: "
            f"{self.config.memory_mb} MB\tMax Memory Used: 0 MB\tStatus: error\t"
            f"Error Type: {error_type}"
        )
        return InvocationResult(
            payload=body,
            function_error="Unhandled",
            error_type=error_type,
            log_tail=self._tail_bytes(),
            init_duration_ms=self._init_duration_ms,
            fatal=True,
        )

    def snapshot_taken(self) -> None:
        """A SnapStart template's init is done (its runtime will never ask for work)."""
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    @property
    def init_error_type(self) -> str | None:
        """The init error's type (``Runtime.InitTimeout``, ...); None without one."""
        err = self._init_error
        return None if err is None else err.error_type or "Runtime.ExitError"

    def init_error_message(self) -> str | None:
        """Why the init failed, as its error document says (None: it did not)."""
        err = self._init_error
        if err is None:
            return None
        if err.kind == "exit":
            return f"Runtime exited with error: {err.body.decode('utf-8', 'replace')}"
        try:
            doc = json.loads(err.body)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and doc.get("errorMessage"):
            return f"{doc.get('errorType') or err.error_type}: {doc['errorMessage']}"
        return err.error_type or "the init failed"

    def _memory_mb(self) -> int:
        peak = self.sandbox.memory_peak_bytes() if self.sandbox else None
        return math.ceil(peak / 1048576) if peak else 0

    # -- Runtime API (called by runtime_api) ------------------------------------------------

    async def next_invocation(self) -> Invocation:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        if self._queued is not None:
            inv, self._queued = self._queued, None
            return inv
        self._waiter = (self._loop or asyncio.get_running_loop()).create_future()
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def _settle(self, request_id: str, outcome: _Outcome) -> tuple[int, dict[str, str]]:
        # As AWS's Runtime API (RAPID) answers: 400 for an id that is not the current
        # invocation's, and for one whose result was already sent.
        inv = self._current
        if (
            inv is None
            or inv.request_id != request_id
            or self._outcome is None
            or self._outcome.done()
        ):
            return 400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}
        self._outcome.set_result(outcome)
        return 202, {"status": "OK"}

    def post_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]:
        return self._settle(request_id, _Outcome("response", body))

    def post_error(
        self, request_id: str, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]:
        return self._settle(
            request_id, _Outcome("error", _error_payload(body, error_type), error_type)
        )

    def response_too_large(self, request_id: str) -> None:
        self._settle(request_id, _Outcome("too_large"))

    def post_init_error(self, error_type: str | None, body: bytes) -> tuple[int, dict[str, str]]:
        if self._ready is None or self._ready.done():
            return 403, {
                "errorType": "InvalidStateTransition",
                "errorMessage": "State transition from Ready to InitError failed",
            }
        payload = _error_payload(body, error_type)
        self._init_error = _Outcome("init_error", payload, error_type or "Runtime.Unknown")
        self._ready.set_result(self._init_error)
        return 202, {"status": "OK"}

    # -- logs ----------------------------------------------------------------------------

    def _read_output(self) -> None:
        assert self.sandbox is not None
        try:
            chunk = os.read(self.sandbox.output_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.sandbox.output_fd)
            self._flush_partial()
            return
        self._take(chunk)

    def _drain_output(self) -> None:
        """Read everything already in the pipe, so it is logged before END."""
        if self.sandbox is None or self.sandbox.output_fd < 0:
            return
        for _ in range(1024):
            try:
                chunk = os.read(self.sandbox.output_fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            self._take(chunk)
        self._flush_partial()

    def _take(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > 256 * 1024:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._emit(line.decode("utf-8", "replace"))

    def _flush_partial(self) -> None:
        if self._partial:
            line, self._partial = self._partial, b""
            self._emit(line.decode("utf-8", "replace"))

    def _emit(self, message: str) -> None:
        c = self.config
        self.log_sink(c.account, c.region, c.log_group, c.log_stream, _now_ms(), message)
        data = (message + "\n").encode()
        self._tail.append(data)
        self._tail_size += len(data)
        while self._tail_size > TAIL_BYTES * 2 and len(self._tail) > 1:
            self._tail_size -= len(self._tail.popleft())

    def _tail_bytes(self) -> bytes:
        return b"".join(self._tail)[-TAIL_BYTES:]


def _entrypoint_problem(spec: SandboxSpec) -> str | None:
    """Why a custom runtime's ``bootstrap`` cannot start, in AWS's words (else None)."""
    entry = spec.argv[0] if spec.argv else ""
    if not entry.startswith("{task}/"):
        return None
    relative = entry.removeprefix("{task}/")
    shown = f"/var/task/{relative}"
    path = spec.task_dir / relative
    if not path.is_file():
        return f"Couldn't find valid bootstrap(s): [{shown} /opt/bootstrap]"
    if not os.access(path, os.X_OK):
        return f"fork/exec {shown}: permission denied"
    return None


def _time_out(outcome: asyncio.Future[_Outcome]) -> None:
    if not outcome.done():
        outcome.set_result(_Outcome("timeout"))


def _error_payload(body: bytes, error_type: str | None) -> bytes:
    try:
        doc = json.loads(body) if body else None
    except (ValueError, RecursionError):  # whatever the function sent
        doc = None
    if isinstance(doc, dict):
        return body
    return json.dumps(
        {
            "errorMessage": body.decode("utf-8", "replace"),
            "errorType": error_type or "Runtime.Unknown",
        }
    ).encode()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _signal_name(sig: int) -> str:
    import signal

    try:
        return {
            signal.SIGKILL: "killed",
            signal.SIGSEGV: "segmentation fault",
            signal.SIGABRT: "aborted",
            signal.SIGTERM: "terminated",
        }.get(signal.Signals(sig), signal.Signals(sig).name.lower())
    except ValueError:
        return f"signal {sig}"


def new_env_id() -> str:
    return uuid.uuid4().hex


def encode_tail(data: bytes) -> str:
    return base64.b64encode(data).decode()
