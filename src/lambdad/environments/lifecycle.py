"""An execution environment's life cycle, as an explicit state machine:

    STARTING -> INITIALIZING -> READY <-> BUSY -> STOPPING -> STOPPED
         \\______________\\____________\\______/

Any state but STOPPED may go to STOPPING; anything else raises ``IllegalTransition``.
"""

from __future__ import annotations

import enum

from lambdad.errors import IllegalTransition


class State(enum.Enum):
    STARTING = "starting"
    INITIALIZING = "initializing"
    READY = "ready"
    BUSY = "busy"
    STOPPING = "stopping"
    STOPPED = "stopped"


ALLOWED: dict[State, frozenset[State]] = {
    State.STARTING: frozenset({State.INITIALIZING, State.STOPPING}),
    State.INITIALIZING: frozenset({State.READY, State.STOPPING}),
    State.READY: frozenset({State.BUSY, State.STOPPING}),
    State.BUSY: frozenset({State.READY, State.STOPPING}),
    State.STOPPING: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
}


class Lifecycle:
    """An environment's state, changed only along ``ALLOWED``.

    Changed on the event loop only (as is everything else of an environment), so the
    check and the change need no lock: two in a row per warm invoke (BUSY, READY).
    """

    __slots__ = ("_env_id", "_state")

    def __init__(self, env_id: str) -> None:
        self._env_id = env_id
        self._state = State.STARTING

    @property
    def state(self) -> State:
        return self._state

    def to(self, new: State) -> None:
        """Move to ``new``; raises ``IllegalTransition`` if the life cycle does not allow it."""
        if new not in ALLOWED[self._state]:
            raise IllegalTransition(self._env_id, self._state.name, new.name)
        self._state = new
