"""An environment's state machine: exactly the transitions of DESIGN.md §2 are allowed
(STARTING -> INITIALIZING -> READY <-> BUSY -> STOPPING -> STOPPED, any live state ->
STOPPING), every other one raises ``IllegalTransition`` and leaves the state as it was."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.environments.environment import (
    Environment,
    EnvironmentConfig,
    Invocation,
    Lifecycle,
    State,
)
from lambdad.errors import IllegalTransition, LambdadError
from lambdad.sandbox.base import SandboxSpec

S = State
# Written out rather than read from the module, so a change to the table fails here.
LEGAL: set[tuple[State, State]] = {
    (S.STARTING, S.INITIALIZING),
    (S.STARTING, S.STOPPING),
    (S.INITIALIZING, S.READY),
    (S.INITIALIZING, S.STOPPING),
    (S.READY, S.BUSY),
    (S.READY, S.STOPPING),
    (S.BUSY, S.READY),
    (S.BUSY, S.STOPPING),
    (S.STOPPING, S.STOPPED),
}
# A legal way to reach each state from STARTING.
ROUTE = {
    S.STARTING: [],
    S.INITIALIZING: [S.INITIALIZING],
    S.READY: [S.INITIALIZING, S.READY],
    S.BUSY: [S.INITIALIZING, S.READY, S.BUSY],
    S.STOPPING: [S.STOPPING],
    S.STOPPED: [S.STOPPING, S.STOPPED],
}


def by_name(pair: tuple[State, State]) -> tuple[str, str]:
    return pair[0].name, pair[1].name


LEGAL_IN_ORDER = sorted(LEGAL, key=by_name)
ILLEGAL = sorted({(a, b) for a in State for b in State} - LEGAL, key=by_name)


def at(state: State) -> Lifecycle:
    life = Lifecycle("env-1")
    for step in ROUTE[state]:
        life.to(step)
    assert life.state is state
    return life


def test_a_new_environment_is_starting() -> None:
    assert Lifecycle("env-1").state is State.STARTING


@pytest.mark.parametrize(("current", "target"), LEGAL_IN_ORDER)
def test_every_legal_transition_is_taken(current: State, target: State) -> None:
    life = at(current)
    life.to(target)
    assert life.state is target


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_other_transition_raises_and_changes_nothing(current: State, target: State) -> None:
    life = at(current)
    with pytest.raises(IllegalTransition) as raised:
        life.to(target)
    assert life.state is current
    err = raised.value
    assert (err.env_id, err.current, err.target) == ("env-1", current.name, target.name)
    assert str(err) == f"environment env-1: {current.name} -> {target.name}"


def test_illegal_transition_is_part_of_the_one_error_hierarchy() -> None:
    assert issubclass(IllegalTransition, LambdadError)


def test_ready_and_busy_alternate_for_as_long_as_the_environment_serves() -> None:
    life = at(State.READY)
    for _ in range(3):
        life.to(State.BUSY)
        life.to(State.READY)
    life.to(State.STOPPING)
    life.to(State.STOPPED)
    assert life.state is State.STOPPED


# -- through Environment: the machine is what its life cycle methods go through ---------


class NeverPrepared:
    """A backend an environment that is never started does not use."""

    async def prepare(self, spec: SandboxSpec) -> Any:
        raise AssertionError("not started: nothing to prepare")


def environment() -> Environment:
    config = EnvironmentConfig(
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:f",
        version="$LATEST",
        memory_mb=128,
        timeout_s=3.0,
        init_timeout_s=10.0,
        log_group="/aws/lambda/f",
        log_stream="2026/01/01/[$LATEST]env-1",
        account="000000000000",
        region="us-east-1",
    )
    spec = SandboxSpec(
        env_id="env-1",
        argv=("python3",),
        env={},
        task_dir=Path("/nonexistent/task"),
        runtime_dir=Path("/nonexistent/runtime"),
    )
    return Environment(
        "env-1",
        config,
        spec,
        NeverPrepared(),  # type: ignore[arg-type]
        lambda *event: None,
        clock=FakeClock(),
    )


def test_stop_is_idempotent_and_ends_stopped() -> None:
    env = environment()

    async def scenario() -> None:
        await env.stop()
        await env.stop()

    asyncio.run(scenario())
    assert env.state is State.STOPPED
    assert not env.alive


def test_a_stopped_environment_refuses_an_invocation() -> None:
    env = environment()
    inv = Invocation("req-1", b"{}", "arn:aws:lambda:us-east-1:000000000000:function:f", 0)

    async def scenario() -> None:
        await env.stop()
        with pytest.raises(IllegalTransition):
            await env.invoke(inv, cold=False)

    asyncio.run(scenario())
    assert env.state is State.STOPPED
