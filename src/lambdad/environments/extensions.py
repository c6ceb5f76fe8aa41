"""One environment's Extensions API 2020-01-01: registrations, the ``next`` long polls,
init and exit errors, and the waits of its life cycle (``extension_agents`` decides).

``ExtensionHub`` lives on the environment's event loop. An event sent to an extension
(INVOKE, SHUTDOWN) waits for its ``next`` if it is not polling yet; the extension is
busy with it (``ACTIVE``) from the moment it is sent until it calls ``next`` again.
``until`` waits for a condition over the agents to hold, bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lambdad.environments import extension_events as events
from lambdad.environments.extension_agents import Agent, Agents, AgentState, Refusal

log = logging.getLogger(__name__)

Headers = tuple[tuple[str, str], ...]
MAX_REGISTER_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class FunctionIdentity:
    """What ``register`` tells an extension about its function."""

    name: str
    version: str
    handler: str
    account: str


def _error(status: int, error_type: str, message: str) -> Reply:
    return Reply(status, events.error_body(error_type, message))


class ExtensionHub:
    def __init__(
        self,
        env_id: str,
        identity: FunctionIdentity,
        expected: tuple[str, ...] = (),
        on_register: Callable[[Agent], None] | None = None,
    ) -> None:
        self.env_id = env_id
        self.identity = identity
        self.agents = Agents(expected)
        self._on_register = on_register
        self._queued: dict[str, bytes] = {}
        self._polls: dict[str, asyncio.Future[bytes]] = {}
        self._watchers: list[asyncio.Future[None]] = []
        # An extension's init or exit error: (its name, the error type it posted).
        self.error: tuple[str, str] | None = None
        self.shutting_down = False

    @property
    def broken(self) -> bool:
        """An extension failed: the environment must not serve again."""
        return self.error is not None

    # -- the API ----------------------------------------------------------------------------

    def register(self, headers: Mapping[str, str], body: bytes) -> Reply:
        name = headers.get("lambda-extension-name", "")
        try:
            doc = json.loads(body or b"{}")
        except (ValueError, RecursionError):
            doc = None
        wanted = doc.get("events") if isinstance(doc, dict) else None
        if not isinstance(wanted, list) or len(body) > MAX_REGISTER_BODY:
            return _error(400, "InvalidRequestFormat", "Could not parse the request body")
        agent = self.agents.register(name, wanted)
        if isinstance(agent, Refusal):
            return _error(agent.status, agent.error_type, agent.message)
        log.debug("environment %s: extension %s registered (%s)", self.env_id, name, agent.id)
        features = headers.get("lambda-extension-accept-feature", "")
        who = self.identity
        account = who.account if "accountId" in features.split(",") else None
        doc = events.register_body(who.name, who.version, who.handler, account)
        self._changed()
        if self._on_register is not None:
            self._on_register(agent)
        return Reply(200, json.dumps(doc).encode(), (("Lambda-Extension-Identifier", agent.id),))

    def agent_of(self, headers: Mapping[str, str]) -> Agent | Reply:
        agent_id = headers.get("lambda-extension-identifier")
        if not agent_id:
            return _error(
                403, "Extension.MissingExtensionIdentifier", "Missing extension identifier"
            )
        agent = self.agents.get(agent_id)
        if agent is None:
            return _error(403, "Extension.InvalidExtensionIdentifier", "Unknown extension")
        return agent

    async def next(self, headers: Mapping[str, str]) -> Reply:
        agent = self.agent_of(headers)
        if isinstance(agent, Reply):
            return agent
        if agent.id in self._polls:
            return _error(403, "Extension.InvalidState", "Already waiting for the next event")
        agent.state = AgentState.WAITING
        self._changed()
        event = self._queued.pop(agent.id, None)
        if event is None:
            poll = asyncio.get_running_loop().create_future()
            self._polls[agent.id] = poll
            try:
                event = await poll
            finally:
                self._polls.pop(agent.id, None)
        ident = ("Lambda-Extension-Event-Identifier", str(uuid.uuid4()))
        return Reply(200, event, (ident,))

    def report_error(self, headers: Mapping[str, str], phase: str) -> Reply:
        """``init/error`` or ``exit/error``: the extension failed; so does the environment."""
        agent = self.agent_of(headers)
        if isinstance(agent, Reply):
            return agent
        error_type = headers.get("lambda-extension-function-error-type")
        if not error_type:
            return _error(400, "InvalidErrorType", "Missing Lambda-Extension-Function-Error-Type")
        log.info(
            "environment %s: extension %s %s error %s", self.env_id, agent.name, phase, error_type
        )
        agent.state = AgentState.FAILED
        if self.error is None:
            self.error = (agent.name, error_type)
        self._changed()
        return Reply(202, events.STATUS_OK)

    # -- the platform's side ----------------------------------------------------------------

    def exited(self, name: str) -> None:
        """An external extension's process ended: as it should after SHUTDOWN; else it
        crashed (``Extension.Crash``), registered or not, and the environment with it."""
        agent = self.agents.named(name)
        if self.shutting_down:
            if agent is not None:
                agent.state = AgentState.EXITED
        else:
            log.info("environment %s: extension %s crashed", self.env_id, name)
            if agent is not None:
                agent.state = AgentState.FAILED
            if self.error is None:
                self.error = (name, "Extension.Crash")
        self._changed()

    def send(self, event_type: str, event: bytes) -> int:
        """Hand ``event`` to every extension registered for ``event_type``; how many."""
        targets = self.agents.subscribers(event_type)
        for agent in targets:
            agent.state = AgentState.ACTIVE
            poll = self._polls.get(agent.id)
            if poll is not None and not poll.done():
                poll.set_result(event)
            else:
                self._queued[agent.id] = event
        if targets:
            self._changed()
        return len(targets)

    def close_registration(self) -> None:
        self.agents.internal_open = False

    async def until(self, done: Callable[[], bool], within_s: float) -> bool:
        """Wait until ``done()`` holds (re-checked on every change); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not done():
            left = deadline - loop.time()
            if left <= 0:
                return False
            watcher = loop.create_future()
            self._watchers.append(watcher)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watcher, left)
        return True

    async def shutdown(self, reason: str, deadline_s: float, now_ms: int) -> None:
        """Send SHUTDOWN to its subscribers and give them ``deadline_s`` to call ``next``."""
        deadline_ms = now_ms + int(deadline_s * 1000)
        self.shutting_down = True
        if self.send("SHUTDOWN", events.shutdown_event(reason, deadline_ms)):
            await self.until(self.agents.settled, deadline_s)

    def cancel(self) -> None:
        for poll in self._polls.values():
            if not poll.done():
                poll.cancel()

    def _changed(self) -> None:
        watchers, self._watchers = self._watchers, []
        for w in watchers:
            if not w.done():
                w.set_result(None)
