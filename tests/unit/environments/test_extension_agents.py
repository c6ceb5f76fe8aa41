"""Who must call next before a phase ends (the extensions' life cycle, as AWS runs it)."""

from __future__ import annotations

import itertools

from lambdad.environments.extension_agents import Agent, Agents, AgentState, Refusal


def agents(*expected: str) -> Agents:
    ids = (f"id-{n}" for n in itertools.count())
    return Agents(expected, lambda: next(ids))


def registered(a: Agents, name: str, events: list[object]) -> Agent:
    agent = a.register(name, events)
    assert isinstance(agent, Agent)
    return agent


def test_a_name_from_opt_extensions_registers_an_external_extension() -> None:
    a = agents("recorder")
    ext = registered(a, "recorder", ["INVOKE", "SHUTDOWN"])
    inner = registered(a, "in-process", ["INVOKE"])
    assert ext.external
    assert not inner.external
    assert ext.id != inner.id


def test_internal_extensions_cannot_have_shutdown_nor_register_after_the_runtime_init() -> None:
    a = agents()
    refused = a.register("agent", ["INVOKE", "SHUTDOWN"])
    assert refused == Refusal(
        403,
        "ShutdownEventNotSupportedForInternalExtension",
        "agent: internal extensions cannot register for SHUTDOWN",
    )
    a.internal_open = False
    late = a.register("agent", ["INVOKE"])
    assert isinstance(late, Refusal)
    assert late.status == 403


def test_bad_events_and_a_second_registration_are_refused() -> None:
    a = agents("x")
    bad = a.register("x", ["INVOKE", "RESTORE?"])
    assert isinstance(bad, Refusal)
    assert (bad.status, bad.error_type) == (400, "InvalidEventType")
    registered(a, "x", [])
    again = a.register("x", ["INVOKE"])
    assert isinstance(again, Refusal)
    assert again.status == 403


def test_the_init_ends_once_every_external_extension_registered_and_all_wait() -> None:
    a = agents("one", "two")
    assert not a.init_done(runtime_ready=True)  # none registered yet
    one = registered(a, "one", ["INVOKE"])
    two = registered(a, "two", ["SHUTDOWN"])
    one.state = AgentState.WAITING
    assert not a.init_done(runtime_ready=True)  # two has not called next
    two.state = AgentState.WAITING
    assert not a.init_done(runtime_ready=False)  # the runtime has not either
    assert a.init_done(runtime_ready=True)


def test_an_invoke_waits_only_for_the_extensions_it_was_sent_to() -> None:
    a = agents("inv", "shut")
    inv = registered(a, "inv", ["INVOKE"])
    shut = registered(a, "shut", ["SHUTDOWN"])
    inv.state = shut.state = AgentState.WAITING
    assert a.subscribers("INVOKE") == [inv]
    inv.state = AgentState.ACTIVE  # sent the INVOKE
    assert not a.settled()
    inv.state = AgentState.WAITING  # back in next
    assert a.settled()


def test_a_failed_extension_no_longer_holds_a_phase_but_marks_the_environment() -> None:
    a = agents("x")
    x = registered(a, "x", ["INVOKE"])
    x.state = AgentState.FAILED
    assert a.settled()
    assert a.failed()
    assert a.subscribers("INVOKE") == []
