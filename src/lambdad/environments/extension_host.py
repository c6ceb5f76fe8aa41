"""What one environment offers its extensions: the Extensions API 2020-01-01 and the
Telemetry API 2022-07-01 (and the Logs API 2020-08-15 it replaced), beside its Runtime
API on the same socket, and the streams its telemetry subscribers receive.

``handle`` answers the requests (``runtime_api`` routes every path outside
``/2018-06-01/runtime/`` here). The environment tells it what happens: ``platform``
for each platform event, ``output`` for each line of its output (an external
extension's lines arrive marked by the launcher, ``runtimes/extensions.sh``, and go out
as ``extension`` records, the others as ``function`` ones). The records of the init
phase are kept until it ends, so a subscription made during the init gets them too,
as on AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from lambdad.clock import Clock
from lambdad.environments import extension_events, report, telemetry, telemetry_records
from lambdad.environments.extension_agents import Agent
from lambdad.environments.extensions import ExtensionHub, FunctionIdentity, Reply
from lambdad.environments.invocation import Invocation
from lambdad.environments.platform_log import PlatformLog, init_start_record
from lambdad.environments.report import Outcome, Report
from lambdad.environments.telemetry_sender import Connector, Delivery

log = logging.getLogger(__name__)

EXTENSION_API = "/2020-01-01/extension/"
TELEMETRY_PATHS = ("/2022-07-01/telemetry", "/2022-07-01/telemetry/")
LOGS_PATHS = ("/2020-08-15/logs", "/2020-08-15/logs/")
# Where the launcher waits, before it starts the runtime, for every external extension
# to have registered (or one to have failed): AWS's init runs the extensions' init first.
REGISTERED_PATH = "/_lambdad/extensions/registered"
# What the launcher puts before each line an external extension writes.
EXTENSION_MARK = "\x1elambdad-extension\x1e"
# What the launcher writes when an external extension's process has ended (its name follows).
EXIT_MARK = "\x1elambdad-extension-exit\x1e"
# Init-phase records kept for subscriptions still to come.
MAX_EARLY_RECORDS = 1000


def serves(path: str) -> bool:
    """Whether ``path`` is one of these APIs' (else the Runtime API answers 404)."""
    return (
        path.startswith(EXTENSION_API)
        or path in TELEMETRY_PATHS
        or path in LOGS_PATHS
        or path == REGISTERED_PATH
    )


def _error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return Reply(status, body)


class ExtensionsHost:
    def __init__(
        self,
        env_id: str,
        identity: FunctionIdentity,
        expected: tuple[str, ...],
        clock: Clock,
        emit: Callable[[str], None],
        connect: Connector,
        platform_log: PlatformLog | None = None,
        init_timeout_s: float = 10.0,
    ) -> None:
        self.env_id = env_id
        self.hub = ExtensionHub(env_id, identity, expected, self._registered)
        self._clock = clock
        self._emit = emit
        self._connect = connect
        self._init_s = init_timeout_s
        self._platform_log = platform_log or PlatformLog()
        # Subscriptions made during the init: the log names them as it ends.
        self._subscribed: list[tuple[str, frozenset[str]]] = []
        self._deliveries: dict[str, Delivery] = {}
        self._early: list[tuple[str, bytes]] | None = []

    # -- requests -----------------------------------------------------------------------------

    def serves(self, path: str) -> bool:
        return serves(path)

    async def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        hub = self.hub
        if path == REGISTERED_PATH:
            # Answered once the extensions' init is over, however it went: the init's
            # end (init_outcome) tells how.
            await hub.until(lambda: hub.agents.all_registered() or hub.broken, self._init_s)
            return Reply(200, extension_events.STATUS_OK)
        if path.startswith(EXTENSION_API):
            route = (method, path[len(EXTENSION_API) :])
            if route == ("POST", "register"):
                return hub.register(headers, body)
            if route == ("GET", "event/next"):
                return await hub.next(headers)
            if route == ("POST", "init/error"):
                return hub.report_error(headers, "init")
            if route == ("POST", "exit/error"):
                return hub.report_error(headers, "exit")
            return _error(404, "InvalidRequest", f"{method} {path[:200]} is not served")
        if method != "PUT":
            return _error(405, "MethodNotAllowed", "Use PUT")
        return self.subscribe(headers, body)

    def subscribe(self, headers: Mapping[str, str], body: bytes) -> Reply:
        agent = self.hub.agent_of(headers)
        if isinstance(agent, Reply):
            return agent
        try:
            sub = telemetry.parse_subscription(body)
        except telemetry.InvalidSubscription as exc:
            return _error(400, "ValidationError", str(exc))
        old = self._deliveries.pop(agent.id, None)
        if old is not None:
            old.close()
        delivery = Delivery(self.env_id, agent.name, sub, self._connect)
        self._deliveries[agent.id] = delivery
        if self._early is None:
            self._log_lines(
                self._platform_log.subscription(self._clock.now(), agent.name, sub.types)
            )
        else:
            self._subscribed.append((agent.name, sub.types))
        log.debug("environment %s: %s subscribed to %s", self.env_id, agent.name, sorted(sub.types))
        for kind, record in self._early or ():
            delivery.add(kind, record)
        self.platform(
            self._clock.now(),
            "platform.telemetrySubscription",
            telemetry_records.subscription(agent.name, sub.types),
        )
        return Reply(200, b"OK")

    # -- what the environment reports ---------------------------------------------------------

    @property
    def active(self) -> bool:
        return bool(self._deliveries) or self._early is not None

    def platform(self, at: datetime, kind: str, record: dict[str, Any]) -> None:
        if self.active:
            self._record(kind, telemetry_records.encode(at, kind, record))

    def output(self, line: str) -> None:
        """One line of the environment's output: to its log, and to its subscribers."""
        kind = "function"
        if line.startswith(EXIT_MARK):
            self.hub.exited(line[len(EXIT_MARK) :])
            return
        if line.startswith(EXTENSION_MARK):
            line = line[len(EXTENSION_MARK) :]
            kind = "extension"
        self._emit(line)
        if self.active:
            record: Any = line
            if self._platform_log.json and line.startswith("{"):
                # With LogFormat JSON, a JSON line's record is the object itself.
                with contextlib.suppress(ValueError, RecursionError):
                    record = json.loads(line)
            self._record(kind, telemetry_records.encode(self._clock.now(), kind, record))

    def init_finished(self) -> None:
        """No more subscription can be made to see the init's records."""
        self._early = None
        self.flush()

    def flush(self) -> None:
        for delivery in self._deliveries.values():
            delivery.flush()

    async def drain(self, within_s: float) -> None:
        for delivery in list(self._deliveries.values()):
            await delivery.drain(within_s)

    # -- the life cycle's events ----------------------------------------------------------------

    def init_started(
        self,
        at: datetime,
        initialization_type: str,
        runtime: str,
        arn: str,
        function: tuple[str, str] = ("", ""),
    ) -> None:
        record = init_start_record(initialization_type, runtime, arn, function)
        self.platform(at, "platform.initStart", record)

    async def init_outcome(self, left_s: float, init_timeout_s: float) -> Outcome | None:
        """The runtime is ready (no internal extension registers now): the init ends when
        every extension is too (registered, and in ``next``) within ``left_s``; how it
        failed, if it did (None: it did not)."""
        hub = self.hub
        hub.close_registration()
        if not await hub.until(lambda: hub.agents.init_done(True) or hub.broken, left_s):
            return report.init_timeout(init_timeout_s)
        if hub.error is not None:
            name, error_type = hub.error
            return report.extension_init_error(name, error_type)
        return None

    def init_ended(
        self, at: datetime, initialization_type: str, duration_ms: float, error_type: str | None
    ) -> None:
        plog = self._platform_log
        for agent in self.hub.agents.all():
            self._log_lines(plog.extension(at, agent.name, agent.events))
        for name, types in self._subscribed:
            self._log_lines(plog.subscription(at, name, types))
        done = telemetry_records.init_runtime_done(initialization_type, error_type)
        self.platform(at, "platform.initRuntimeDone", done)
        report = telemetry_records.init_report(initialization_type, duration_ms, error_type)
        self.platform(at, "platform.initReport", report)
        self.init_finished()

    def invoke_started(self, at: datetime, inv: Invocation, version: str) -> int:
        """platform.start, and the INVOKE event to the extensions registered for it (how
        many must call ``next`` again before the invocation ends)."""
        if self.active:
            record = telemetry_records.start(inv.request_id, version, inv.trace_id)
            self.platform(at, "platform.start", record)
        if not len(self.hub.agents):
            return 0  # the usual case: nothing to build or send
        event = extension_events.invoke_event(
            inv.request_id, inv.deadline_ms, inv.function_arn, inv.trace_id
        )
        return self.hub.send("INVOKE", event)

    def runtime_done(
        self,
        at: datetime,
        inv: Invocation,
        duration_ms: float,
        produced_bytes: int,
        error_type: str | None,
        timed_out: bool,
    ) -> None:
        if not self.active:
            return
        status = telemetry_records.status_of(error_type, timed_out)
        started = at - timedelta(milliseconds=duration_ms)
        record = telemetry_records.runtime_done(
            inv.request_id, status, started, duration_ms, produced_bytes, error_type, inv.trace_id
        )
        self.platform(at, "platform.runtimeDone", record)

    def reported(
        self, at: datetime, figures: Report, error_type: str | None, trace_id: str
    ) -> None:
        if self.active:
            record = telemetry_records.platform_report(figures, error_type, trace_id)
            self.platform(at, "platform.report", record)

    def settled(self) -> bool:
        """Every extension is back in ``next`` (or one failed: the environment ends)."""
        return self.hub.agents.settled() or self.hub.broken

    async def shutdown(self, now_ms: int, reason: str = extension_events.SPINDOWN) -> None:
        """SHUTDOWN to the extensions registered for it, within AWS's deadline, once the
        subscribers have been sent what they are still owed (a quarter of it at most)."""
        deadline = extension_events.SHUTDOWN_DEADLINE_S
        await self.drain(deadline / 4)
        await self.hub.shutdown(reason, deadline, now_ms)

    def close(self) -> None:
        self.hub.cancel()
        for delivery in self._deliveries.values():
            delivery.close()
        self._deliveries.clear()

    def _log_lines(self, lines: list[str]) -> None:
        for line in lines:
            self._emit(line)

    def _registered(self, agent: Agent) -> None:
        record = telemetry_records.extension(agent.name, agent.events)
        self.platform(self._clock.now(), "platform.extension", record)

    def _record(self, kind: str, record: bytes) -> None:
        early = self._early
        if early is not None and len(early) < MAX_EARLY_RECORDS:
            early.append((kind, record))
        for delivery in self._deliveries.values():
            delivery.add(kind, record)
