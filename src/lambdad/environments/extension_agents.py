"""Who takes part in an environment's life cycle besides its runtime: the extensions
registered with the Extensions API 2020-01-01, and what each must do before a phase ends.

As AWS's Lambda service (and its Runtime Interface Emulator) decides it:
- An external extension is one whose name is a file in ``/opt/extensions`` (the platform
  started it); any other name registers an internal one (started by the runtime's own
  process, through ``AWS_LAMBDA_EXEC_WRAPPER`` or a language agent). Internal extensions
  may not subscribe to SHUTDOWN, and may register only until the runtime's init is done.
- The init ends when every external extension has registered, and the runtime and every
  registered extension have called ``next``.
- An invocation ends (its REPORT is written, the environment is reusable) when the
  runtime has answered and every extension that was sent the INVOKE has called ``next``
  again.

Pure: ``Agents`` holds the states and answers those questions; ``extensions.py`` wires
them to the HTTP long polls.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

EVENT_TYPES = ("INVOKE", "SHUTDOWN")
# The most extensions one function may have, as on AWS.
MAX_EXTENSIONS = 10


class AgentState(enum.Enum):
    REGISTERED = "registered"  # registered, has not asked for an event yet
    WAITING = "waiting"  # in ``next``: done with whatever it was given
    ACTIVE = "active"  # handed an event it is still working on
    FAILED = "failed"  # reported an init or exit error, or ended before SHUTDOWN
    EXITED = "exited"  # ended after SHUTDOWN, as it should


@dataclass(slots=True)
class Agent:
    id: str
    name: str
    events: frozenset[str]
    external: bool
    state: AgentState = AgentState.REGISTERED


@dataclass(frozen=True, slots=True)
class Refusal:
    """A registration refused: the status and error document AWS answers."""

    status: int
    error_type: str
    message: str


class Agents:
    """The registered extensions of one environment (``expected``: the external ones'
    names, from ``/opt/extensions``)."""

    def __init__(
        self, expected: Iterable[str] = (), new_id: Callable[[], str] | None = None
    ) -> None:
        self.expected = frozenset(expected)
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
        self._by_id: dict[str, Agent] = {}
        # Internal extensions may register until the runtime's init is done.
        self.internal_open = True

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, agent_id: str | None) -> Agent | None:
        return self._by_id.get(agent_id or "")

    def all(self) -> list[Agent]:
        return list(self._by_id.values())

    def register(self, name: str, events: Iterable[object]) -> Agent | Refusal:
        wanted = list(events)
        if not name:
            return Refusal(403, "Extension.InvalidExtensionName", "Empty extension name")
        bad = [e for e in wanted if e not in EVENT_TYPES]
        if bad:
            return Refusal(400, "InvalidEventType", f"Invalid event type: {bad[0]}")
        if any(a.name == name for a in self._by_id.values()):
            return Refusal(403, "Extension.AlreadyRegistered", f"{name} is already registered")
        external = name in self.expected
        if not external:
            if not self.internal_open:
                return Refusal(
                    403,
                    "Extension.InvalidState",
                    "Internal extensions register before the runtime's init is done",
                )
            if "SHUTDOWN" in wanted:
                return Refusal(
                    403,
                    "ShutdownEventNotSupportedForInternalExtension",
                    f"{name}: internal extensions cannot register for SHUTDOWN",
                )
        if len(self._by_id) >= MAX_EXTENSIONS:
            return Refusal(403, "Extension.TooManyExtensions", "Too many extensions")
        agent = Agent(self._new_id(), name, frozenset(str(e) for e in wanted), external)
        self._by_id[agent.id] = agent
        return agent

    def all_registered(self) -> bool:
        names = {a.name for a in self._by_id.values()}
        return self.expected <= names

    def settled(self) -> bool:
        """Every registered extension is in ``next`` (or has failed): a phase may end."""
        done = (AgentState.WAITING, AgentState.FAILED, AgentState.EXITED)
        return all(a.state in done for a in self._by_id.values())

    def init_done(self, runtime_ready: bool) -> bool:
        return runtime_ready and self.all_registered() and self.settled()

    def subscribers(self, event: str) -> list[Agent]:
        gone = (AgentState.FAILED, AgentState.EXITED)
        return [a for a in self._by_id.values() if event in a.events and a.state not in gone]

    def named(self, name: str) -> Agent | None:
        return next((a for a in self._by_id.values() if a.name == name), None)

    def failed(self) -> bool:
        return any(a.state is AgentState.FAILED for a in self._by_id.values())
