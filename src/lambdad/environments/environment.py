"""One execution environment: its life cycle (``lifecycle``) and how it serves one
invocation at a time. ``start()`` runs the init phase (until the runtime first asks
for an event); ``invoke()`` hands one event to the runtime and waits for its answer,
up to the function's timeout; ``stop()`` destroys the sandbox, idempotently. The Runtime API
(``runtime_api``) calls back into it as the runtime asks for events and posts answers.

The runtime's output is read by ``output``; the lines and documents an invocation
produces are written by ``report``; its extensions and their telemetry are served by
``extension_host``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import uuid
from collections.abc import Awaitable, Callable

from lambdad.clock import Clock, SystemClock
from lambdad.environments import image_start, report, runtime_api, telemetry_sender
from lambdad.environments.code import entrypoint_problem
from lambdad.environments.container_credentials import ContainerCredentials
from lambdad.environments.environment_config import EnvironmentConfig as EnvironmentConfig
from lambdad.environments.extension_host import ExtensionsHost
from lambdad.environments.extensions import FunctionIdentity
from lambdad.environments.forwards import Relays
from lambdad.environments.invocation import Invocation as Invocation
from lambdad.environments.invocation import InvocationResult as InvocationResult
from lambdad.environments.lifecycle import ALLOWED as ALLOWED
from lambdad.environments.lifecycle import Lifecycle as Lifecycle
from lambdad.environments.lifecycle import State as State
from lambdad.environments.output import LogDestination, LogWriter, PipeReader
from lambdad.environments.output import LogSink as LogSink
from lambdad.environments.platform_log import PlatformLog
from lambdad.environments.report import Outcome, OutcomeKind
from lambdad.environments.runtime_http import Sink
from lambdad.environments.stream_sink import BufferedBody
from lambdad.errors import SandboxError
from lambdad.model.endpoints import relay_source
from lambdad.sandbox.base import Sandbox, SandboxBackend, SandboxSpec

log = logging.getLogger(__name__)


class Environment:
    """One execution environment of one function version (``clock``: where its
    durations, timestamps and idle time are read; the system's unless told)."""

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
        clock: Clock | None = None,
    ) -> None:
        self.id = env_id
        self.config = config
        self.spec = spec
        self.backend = backend
        self.log_sink = log_sink
        self._clock: Clock = clock or SystemClock()
        # How its sandbox is made (the backend's prepare unless told otherwise: a
        # SnapStart template, a restore).
        self._prepare = prepare or backend.prepare
        # Restored from a SnapStart snapshot: its start is a restore (REPORT says so).
        self.restored = restored
        self._life = Lifecycle(env_id)
        self.sandbox: Sandbox | None = None
        self.server: asyncio.Server | None = None
        self.last_used = self._clock.monotonic()
        self.invocations = 0
        self.retired = False
        self._credentials = ContainerCredentials(
            config.container_token, config.credentials, self._clock
        )
        self._relays = Relays(env_id, relay_source(config.account), config.upstream)
        self._platform = PlatformLog(config.log_format, config.system_log_level)
        self._log = LogWriter(
            log_sink,
            LogDestination(config.account, config.region, config.log_group, config.log_stream),
            self._clock,
            newline=config.log_format != "JSON",
        )
        self._pipe: PipeReader | None = None
        self._ready: asyncio.Future[Outcome | None] | None = None
        self._waiter: asyncio.Future[Invocation] | None = None
        self._queued: Invocation | None = None
        self._current: Invocation | None = None
        self._outcome: asyncio.Future[Outcome] | None = None
        self._gathered: BufferedBody | None = None  # a streamed response, for Invoke
        self._init_duration_ms: float | None = None
        self._init_error: Outcome | None = None
        self._init_memory_mb = 0  # Max Memory Used of a failed init
        self._exit_task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Its Extensions and Telemetry APIs (made with its sandbox), and the end of an
        # invocation whose extensions are still at work (REPORT, then READY).
        self._ext: ExtensionsHost | None = None
        self.finishing: asyncio.Task[None] | None = None

    @property
    def state(self) -> State:
        return self._life.state

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Run the init phase. On failure the environment is stopped and the init
        error is kept for the first invocation to report."""
        loop = self._loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        problem = entrypoint_problem(self.spec)
        failure = image_start.start_failure(self.spec)  # an image's working dir, entrypoint
        if problem is not None or failure is not None:
            # Every backend answers alike (bwrap would only see its exec fail inside).
            self._init_duration_ms = 0.0
            self._init_error = failure or report.invalid_entrypoint(str(problem))
            await self.stop()
            return
        self.sandbox = await self._prepare(self.spec)
        ext = self._ext = self._extensions_host(self.sandbox)
        self._pipe = PipeReader(self.sandbox, ext.output)
        self.server = await runtime_api.serve(self.sandbox.runtime_api_socket(), self, ext)
        if self.config.forwards:
            try:
                await self._relays.open(self.sandbox.runtime_api_socket(), self.config.forwards)
            except OSError as exc:
                log.warning("environment %s: no relay to its endpoints: %s", self.id, exc)
        if self.config.debug_port is not None:
            try:
                await self._relays.expose(self.sandbox.runtime_api_socket(), self.config.debug_port)
            except OSError as exc:
                log.warning("environment %s: no debugger port: %s", self.id, exc)
        # Init code may reach out (a secret, a configuration): outbound networking is up
        # before the runtime runs, not only by its first event. (The NAT started while
        # the sandbox was built, or before: the wait is what is left of its start.)
        await self.sandbox.network_ready()
        self._life.to(State.INITIALIZING)
        c = self.config
        now = self._clock.now()
        function = (c.function_arn.split(":function:")[-1].split(":")[0], c.version)
        init_start = (c.initialization_type, c.runtime_version, c.runtime_version_arn, function)
        for line in self._platform.init_start(now, *init_start):
            self._log.emit(line, tail=False)
        ext.init_started(now, *init_start)
        if self.config.init_notice:
            for line in self.config.init_notice.splitlines():
                self._log.emit(line)
        started = self._clock.monotonic()
        try:
            await self.sandbox.run()
        except SandboxError as exc:
            self._init_duration_ms = (self._clock.monotonic() - started) * 1000
            self._init_error = report.invalid_entrypoint(str(exc))
            await self.stop()
            return
        self._pipe.watch(loop)
        self._exit_task = loop.create_task(self._watch_exit())
        try:
            outcome = await asyncio.wait_for(
                asyncio.shield(self._ready), self.config.init_timeout_s
            )
        except TimeoutError:
            outcome = report.init_timeout(self.config.init_timeout_s)
        if outcome is None:
            left = self.config.init_timeout_s - (self._clock.monotonic() - started)
            outcome = await ext.init_outcome(left, self.config.init_timeout_s)
        self._init_duration_ms = (self._clock.monotonic() - started) * 1000
        error_type = None if outcome is None else report.init_error_type(outcome)
        ext.init_ended(self._clock.now(), c.initialization_type, self._init_duration_ms, error_type)
        if outcome is None:
            self.sandbox.end_init()
            self._life.to(State.READY)
            return
        self._drain_output()
        self._init_error = outcome
        self._init_memory_mb = max(self._init_memory_mb, self._memory_mb())
        await self.stop()

    def _extensions_host(self, sandbox: Sandbox) -> ExtensionsHost:
        c = self.config
        name = c.function_arn.split(":")[6] if c.function_arn.count(":") >= 6 else ""
        identity = FunctionIdentity(name, c.version, c.handler, c.account)
        connect = telemetry_sender.connector(sandbox.runtime_api_socket())
        return ExtensionsHost(
            self.id,
            identity,
            c.extensions,
            self._clock,
            self._log.emit,
            connect,
            self._platform,
            c.init_timeout_s,
        )

    async def _watch_exit(self) -> None:
        assert self.sandbox is not None
        code = await self.sandbox.wait()
        self._drain_output()
        outcome = report.runtime_exit(code)
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
        was = self.state
        self._life.to(State.STOPPING)
        if self._ext is not None:
            if was is State.READY and self.alive_process:
                await self._ext.shutdown(self._clock.now_ms())
            self._ext.close()
        if self.finishing is not None:
            self.finishing.cancel()  # stopped before its extensions were done: no REPORT
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        if self.server is not None:
            self.server.close()
        self._relays.close()
        if self.sandbox is not None:
            self._drain_output()
            await self.sandbox.destroy()
        if self._exit_task is not None:
            self._exit_task.cancel()
        self._life.to(State.STOPPED)

    @property
    def init_error(self) -> bool:
        return self._init_error is not None

    def container_credentials(self, authorization: str | None) -> tuple[int, dict[str, str]]:
        """The container credentials endpoint (SnapStart versions)."""
        return self._credentials.answer(authorization)

    @property
    def expired(self) -> bool:
        """Whether its credentials are too close to their expiry for another invocation
        (an environment cannot be given new ones: AWS replaces it)."""
        retire_at = self.config.retire_at
        return retire_at is not None and self._clock.now() >= retire_at

    @property
    def alive(self) -> bool:
        """Ready or busy, its runtime process still running (an idle one can die too), and
        none of its extensions failed."""
        return (
            self.state in (State.READY, State.BUSY)
            and self.alive_process
            and (self._ext is None or not self._ext.hub.broken)
        )

    @property
    def alive_process(self) -> bool:
        """Its runtime still running: not seen to exit, nor exited and not reaped yet (a
        process killed a moment ago is only reaped a turn or two of the loop later)."""
        if self._exit_task is not None and self._exit_task.done():
            return False
        return self.sandbox is None or not self.sandbox.exited_now()

    # -- invocations ---------------------------------------------------------------------

    async def invoke(self, inv: Invocation, *, cold: bool) -> InvocationResult:
        """Hand one event to the runtime and wait for its answer."""
        if self._init_error is not None:
            return self._init_failure_result(inv)
        self._life.to(State.BUSY)
        self.invocations += 1
        self._log.tail.clear()
        # Kept from start(): get_running_loop() is a getpid() system call on 3.11.
        loop = self._loop or asyncio.get_running_loop()
        self._outcome = loop.create_future()
        self._current = inv
        now = self._clock.now()
        for line in self._platform.start(now, inv.request_id, self.config.version):
            self._log.emit(line)
        ext = self._ext
        # Extensions sent the INVOKE: each must call next again before the invocation ends.
        sent = ext.invoke_started(now, inv, self.config.version) if ext is not None else 0
        started = self._clock.monotonic()
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
            if inv.stream is not None:
                inv.stream.end()
            self._gathered = None
        timed_out = outcome.kind is OutcomeKind.TIMEOUT
        duration = (self._clock.monotonic() - started) * 1000
        memory = self._memory_mb()
        self._current = None
        self._queued = None
        self._drain_output()
        oom = outcome.kind is OutcomeKind.EXIT and self._oom()
        answer = report.answer(outcome, inv.request_id, self.config.timeout_s, oom=oom)
        if timed_out:
            self._log.emit(
                report.timeout_line(self._clock.now(), inv.request_id, self.config.timeout_s)
            )
        elif outcome.kind is OutcomeKind.EXIT:
            self._log.emit(
                report.exit_line(inv.request_id, outcome.body.decode(), answer.error_type)
            )
        init = self._init_duration_ms if cold else None
        if ext is not None:
            produced = len(answer.payload) if answer.function_error is None else 0
            ext.runtime_done(
                self._clock.now(), inv, duration, produced, answer.error_type, timed_out
            )
            if sent and not answer.fatal and not ext.settled():
                # The caller has its answer now; the invocation ends (REPORT, READY) when
                # the extensions are done, as on AWS.
                self.finishing = loop.create_task(
                    self._finish_after_extensions(ext, inv, answer, started, init)
                )
                return self._result(answer, duration, init, memory)
        self._finish(inv, answer, duration, init, memory, timed_out)
        return self._result(answer, duration, init, memory)

    async def _finish_after_extensions(
        self,
        ext: ExtensionsHost,
        inv: Invocation,
        answer: report.Answer,
        started: float,
        init: float | None,
    ) -> None:
        left = self.config.timeout_s - (self._clock.monotonic() - started)
        in_time = await ext.hub.until(ext.settled, left)
        if self.state is not State.BUSY:
            return
        duration = (self._clock.monotonic() - started) * 1000
        if not in_time:
            self._log.emit(
                report.timeout_line(self._clock.now(), inv.request_id, self.config.timeout_s)
            )
        if not in_time or ext.hub.broken:
            answer = dataclasses.replace(answer, fatal=True)
        self._finish(inv, answer, duration, init, self._memory_mb(), not in_time)

    def _finish(
        self,
        inv: Invocation,
        answer: report.Answer,
        duration: float,
        init: float | None,
        memory: int,
        timed_out: bool,
    ) -> None:
        """END and REPORT; the environment is ready again, or torn down."""
        figures = report.Report(
            request_id=inv.request_id,
            duration_ms=duration,
            memory_size_mb=self.config.memory_mb,
            max_memory_used_mb=memory,
            init_duration_ms=init,
            restored=self.restored,
            timed_out=timed_out,
        )
        now = self._clock.now()
        for line in [
            *self._platform.end(inv.request_id),
            *self._platform.report(now, figures, answer.error_type),
        ]:
            self._log.emit(line)
        if self._ext is not None:
            self._ext.reported(now, figures, answer.error_type, inv.trace_id)
        self.last_used = self._clock.monotonic()
        if answer.fatal:
            # Answer at the deadline: kill now, tear down (cgroup, NAT, files) after.
            if self.sandbox is not None:
                self.sandbox.kill()
            self._stopping = asyncio.get_running_loop().create_task(self._teardown())
        else:
            self._life.to(State.READY)

    def _result(
        self, answer: report.Answer, duration: float, init: float | None, memory: int
    ) -> InvocationResult:
        return InvocationResult(
            payload=answer.payload,
            function_error=answer.function_error,
            error_type=answer.error_type,
            log_tail=self._log.tail.tail(),
            duration_ms=duration,
            init_duration_ms=init,
            max_memory_mb=memory,
            fatal=answer.fatal,
        )

    def _oom(self) -> bool:
        check = getattr(self.sandbox, "oom_killed", None)
        return bool(check()) if callable(check) else False

    def _init_failure_result(self, inv: Invocation) -> InvocationResult:
        assert self._init_error is not None
        answer = report.init_failure_answer(self._init_error, inv.request_id)
        now = self._clock.now()
        for line in [
            *self._platform.start(now, inv.request_id, self.config.version),
            *self._platform.end(inv.request_id),
            *self._platform.init_failure_report(
                now,
                inv.request_id,
                self._init_duration_ms,
                self.config.memory_mb,
                answer.error_type,
                max(self._init_memory_mb, self._memory_mb()),
            ),
        ]:
            self._log.emit(line)
        return InvocationResult(
            payload=answer.payload,
            function_error=answer.function_error,
            error_type=answer.error_type,
            log_tail=self._log.tail.tail(),
            init_duration_ms=self._init_duration_ms,
            fatal=answer.fatal,
        )

    def snapshot_taken(self) -> None:
        """A SnapStart template's init is done (its runtime will never ask for work)."""
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    @property
    def init_error_type(self) -> str | None:
        """The init error's type (``Runtime.InitTimeout``, ...); None without one."""
        err = self._init_error
        return None if err is None else report.init_error_type(err)

    def init_error_message(self) -> str | None:
        """Why the init failed, as its error document says (None: it did not)."""
        err = self._init_error
        return None if err is None else report.init_error_message(err)

    def _memory_mb(self) -> int:
        peak = self.sandbox.memory_peak_bytes() if self.sandbox else None
        return math.ceil(peak / 1048576) if peak else 0

    def _drain_output(self) -> None:
        """Log everything already in the pipe, so it lands before ``END``."""
        if self._pipe is not None:
            self._pipe.drain()

    # -- Runtime API (called by runtime_api) ------------------------------------------------

    def next_invocation(self) -> asyncio.Future[Invocation]:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        waiter = (self._loop or asyncio.get_running_loop()).create_future()
        if self._queued is not None:
            inv, self._queued = self._queued, None
            waiter.set_result(inv)
        else:
            self._waiter = waiter  # invoke() settles it, a stop cancels it
        return waiter

    def _settle(self, request_id: str, outcome: Outcome) -> tuple[int, dict[str, str]]:
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
        return self._settle(request_id, Outcome(OutcomeKind.RESPONSE, body))

    def post_error(
        self, request_id: str, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]:
        return self._settle(request_id, report.posted_error(body, error_type))

    def response_too_large(self, request_id: str) -> None:
        inv = self._current
        streamed = inv is not None and inv.stream is not None and inv.stream.streaming
        limit = str(self.config.max_stream_bytes).encode() if streamed else b""
        self._settle(request_id, Outcome(OutcomeKind.TOO_LARGE, limit))

    def begin_stream(
        self, request_id: str, content_type: str | None, pressure: Callable[[bool], None]
    ) -> tuple[Sink, int] | None:
        inv = self._current
        if inv is None or inv.request_id != request_id or self._outcome is None:
            return None
        if self._outcome.done():
            return None
        if inv.stream is not None:
            inv.stream.open(content_type, pressure)
            return inv.stream.write, self.config.max_stream_bytes
        self._gathered = BufferedBody()
        return self._gathered.write, runtime_api.MAX_RESPONSE

    def end_stream(
        self, request_id: str, error_type: str | None, error_body: str | None
    ) -> tuple[int, dict[str, str]]:
        if error_type is not None or error_body is not None:
            return self._settle(request_id, report.streamed_error(error_type, error_body))
        gathered = self._gathered
        body = bytes(gathered.data) if gathered is not None else b""
        return self._settle(request_id, Outcome(OutcomeKind.RESPONSE, body))

    def post_init_error(self, error_type: str | None, body: bytes) -> tuple[int, dict[str, str]]:
        if self._ready is None or self._ready.done():
            return 403, {
                "errorType": "InvalidStateTransition",
                "errorMessage": "State transition from Ready to InitError failed",
            }
        self._init_error = report.posted_init_error(body, error_type)
        # Read while the runtime is alive: its peak leaves with it.
        self._init_memory_mb = self._memory_mb()
        self._ready.set_result(self._init_error)
        return 202, {"status": "OK"}


def _time_out(outcome: asyncio.Future[Outcome]) -> None:
    if not outcome.done():
        outcome.set_result(Outcome(OutcomeKind.TIMEOUT))


def new_env_id() -> str:
    return uuid.uuid4().hex
