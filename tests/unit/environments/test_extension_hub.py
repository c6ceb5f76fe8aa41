"""The Extensions API's long polls: events wait for next, phases wait for the extensions."""

from __future__ import annotations

import asyncio
import json

from lambdad.environments import extension_events
from lambdad.environments.extensions import ExtensionHub, FunctionIdentity, Reply

WHO = FunctionIdentity("fn", "$LATEST", "app.handler", "123456789012")


def register(hub: ExtensionHub, name: str, events: list[str], feature: str = "") -> Reply:
    headers = {"lambda-extension-name": name}
    if feature:
        headers["lambda-extension-accept-feature"] = feature
    return hub.register(headers, json.dumps({"events": events}).encode())


def ident(reply: Reply) -> dict[str, str]:
    return {"lambda-extension-identifier": dict(reply.headers)["Lambda-Extension-Identifier"]}


def test_register_answers_the_function_and_the_account_only_when_asked() -> None:
    hub = ExtensionHub("env", WHO, ("ext",))
    plain = register(hub, "ext", ["INVOKE"])
    assert plain.status == 200
    assert json.loads(plain.body) == {
        "functionName": "fn",
        "functionVersion": "$LATEST",
        "handler": "app.handler",
    }
    asked = register(hub, "other", ["INVOKE"], feature="accountId")
    assert json.loads(asked.body)["accountId"] == "123456789012"


def test_unknown_identifiers_and_bad_bodies_are_refused() -> None:
    hub = ExtensionHub("env", WHO)
    assert hub.register({"lambda-extension-name": "x"}, b"[").status == 400
    missing = asyncio.run(hub.next({}))
    assert missing.status == 403
    assert json.loads(missing.body)["errorType"] == "Extension.MissingExtensionIdentifier"
    unknown = asyncio.run(hub.next({"lambda-extension-identifier": "nope"}))
    assert unknown.status == 403


def test_an_invoke_is_done_when_its_extensions_call_next_again() -> None:
    async def scenario() -> None:
        hub = ExtensionHub("env", WHO, ("ext",))
        me = ident(register(hub, "ext", ["INVOKE", "SHUTDOWN"]))
        poll = asyncio.create_task(hub.next(me))
        assert await hub.until(hub.agents.settled, 1.0)
        event = extension_events.invoke_event("req-1", 123, "arn:fn", "Root=1-abc")
        assert hub.send("INVOKE", event) == 1
        assert not hub.agents.settled()
        got = await poll
        assert json.loads(got.body) == {
            "eventType": "INVOKE",
            "deadlineMs": 123,
            "requestId": "req-1",
            "invokedFunctionArn": "arn:fn",
            "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-abc"},
        }
        assert "Lambda-Extension-Event-Identifier" in dict(got.headers)
        waiting = asyncio.create_task(hub.until(hub.agents.settled, 5.0))
        await asyncio.sleep(0)
        assert not waiting.done()
        again = asyncio.create_task(hub.next(me))
        assert await waiting
        again.cancel()

    asyncio.run(scenario())


def test_an_event_sent_before_next_waits_for_it_and_shutdown_carries_its_deadline() -> None:
    async def scenario() -> None:
        hub = ExtensionHub("env", WHO, ("ext",))
        me = ident(register(hub, "ext", ["SHUTDOWN"]))
        assert hub.send("INVOKE", b"{}") == 0  # not registered for it
        stopping = asyncio.create_task(hub.shutdown("spindown", 0.05, now_ms=1000))
        got = await hub.next(me)
        assert json.loads(got.body) == {
            "eventType": "SHUTDOWN",
            "shutdownReason": "spindown",
            "deadlineMs": 1050,
        }
        await stopping  # it never calls next again: the deadline ends the wait

    asyncio.run(scenario())


def test_an_init_error_breaks_the_environment() -> None:
    hub = ExtensionHub("env", WHO, ("ext",))
    me = ident(register(hub, "ext", ["INVOKE"]))
    no_type = hub.report_error(me, "init")
    assert no_type.status == 400
    reply = hub.report_error(
        {**me, "lambda-extension-function-error-type": "Extension.Bad"}, "init"
    )
    assert reply.status == 202
    assert hub.broken
    assert hub.error == ("ext", "Extension.Bad")


def test_an_extension_that_ends_before_shutdown_has_crashed() -> None:
    hub = ExtensionHub("env", WHO, ("ext", "never"))
    register(hub, "ext", ["INVOKE"])
    hub.exited("never")  # ended without even registering
    assert hub.error == ("never", "Extension.Crash")
    assert hub.broken


def test_an_extension_that_ends_after_shutdown_is_done_with_it() -> None:
    async def scenario() -> None:
        hub = ExtensionHub("env", WHO, ("ext",))
        register(hub, "ext", ["SHUTDOWN"])
        stopping = asyncio.create_task(hub.shutdown("spindown", 60.0, now_ms=0))
        await asyncio.sleep(0)
        assert not stopping.done()
        hub.exited("ext")
        await stopping  # at once, not at the deadline
        assert not hub.broken

    asyncio.run(scenario())
