"""The WebSocket door without a server: an API made with the control operations, a
fake invoker and fake policies, connections over a fake transport. The handshake's
refusals, ``$connect``'s verdict, routing of messages, two-way routes, the permission
check with its source ARN, and ``$disconnect``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, TextMessage

from lambdad.clock import FakeClock
from lambdad.events.apigw.names import ApiAddress
from lambdad.events.apigw.service import ApiGateway
from lambdad.events.http.request import IamCaller
from lambdad.events.url_cache import UrlCache
from lambdad.events.websocket.connect_rate import ConnectRate
from lambdad.events.websocket.door import WebSocketDoor
from lambdad.events.websocket.session import Session
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from transports import FakeTransport
from unit.events.apigw.conftest import PORT, Call

ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
HANDSHAKE = [("host", "x"), ("connection", "Upgrade"), ("upgrade", "websocket"),
             ("sec-websocket-key", KEY), ("sec-websocket-version", "13")]  # fmt: skip


class Invoker:
    def __init__(self) -> None:
        self.answers: dict[str, tuple[bytes, str | None]] = {}
        self.events: list[dict[str, Any]] = []
        self.hang: set[str] = set()  # route keys whose invocations never end

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        event = json.loads(req.payload)
        self.events.append(event)
        key = (
            "authorizer" if event.get("type") == "REQUEST" else event["requestContext"]["routeKey"]
        )
        if key in self.hang:
            await asyncio.Event().wait()
        payload, error = self.answers.get(key, (b'{"statusCode": 200}', None))
        return InvokeResponse(200, payload, "$LATEST", function_error=error)


class Policies:
    def __init__(self) -> None:
        self.allow = True
        self.asked: list[str] = []

    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool:
        self.asked.append(source_arn)
        return self.allow


class Transport(FakeTransport):
    def get_write_buffer_size(self) -> int:
        return 0


def _api(v2: Call, *keys: str, two_way: str = "") -> str:
    select = "$request.body.action"
    api_id = v2("CreateApi", {"Name": "w", "ProtocolType": "WEBSOCKET",
                              "RouteSelectionExpression": select})["ApiId"]  # fmt: skip
    integration = v2("CreateIntegration", {"ApiId": api_id, "IntegrationType": "AWS_PROXY",
                                           "IntegrationUri": ARN})["IntegrationId"]  # fmt: skip
    for key in keys:
        extra = {"RouteResponseSelectionExpression": "$default"} if key == two_way else {}
        route = v2("CreateRoute", {"ApiId": api_id, "RouteKey": key,
                                   "Target": f"integrations/{integration}", **extra})  # fmt: skip
        if extra:
            v2("CreateRouteResponse", {"ApiId": api_id, "RouteId": route["RouteId"],
                                       "RouteResponseKey": "$default"})  # fmt: skip
    v2("CreateStage", {"ApiId": api_id, "StageName": "prod", "AutoDeploy": True})
    return str(api_id)


def _verify(method: str, path: str, query: str, headers: Any, body: bytes, region: str) -> Any:
    signed = dict(headers).get("authorization")
    account = {"by-owner": "111111111111", "by-other": "222222222222"}.get(signed or "")
    return None if account is None else IamCaller("AKID", account, account, "arn", account)


def _door(gateway: ApiGateway) -> tuple[WebSocketDoor, Invoker, Policies]:
    invoker, policies = Invoker(), Policies()
    clock = FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    door = WebSocketDoor(gateway.apis, invoker, policies, UrlCache(ChangeHub()), clock,
                         port=PORT, verify=_verify)  # fmt: skip
    return door, invoker, policies


async def _accept(
    door: WebSocketDoor,
    api_id: str,
    path: str = "/prod",
    headers: list[tuple[str, str]] = HANDSHAKE,
) -> Any:
    claim = door.claim(path, [("host", f"{api_id}.execute-api.us-east-1.localhost:{PORT}")])
    assert claim == ApiAddress(api_id, "us-east-1", path)
    return await door.accept(claim, path, "a=1", headers, "192.0.2.7")


async def _connected(
    door: WebSocketDoor, api_id: str, *, written: bool = False
) -> tuple[Session, Transport]:
    takeover = await _accept(door, api_id)
    assert callable(takeover)
    transport = Transport()
    session = takeover(transport, b"", lambda: None)
    head = bytes(transport.written)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    if not written:
        transport.written.clear()
    return session, transport


def _received(transport: Transport) -> list[Any]:
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(bytes(transport.written))
    transport.written.clear()
    return list(client.events())


def _send(session: Session, text: str) -> None:
    session.data_received(Connection(ConnectionType.CLIENT).send(TextMessage(text)))


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_handshake_refusals(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$default")
    door, invoker, _ = _door(gateway)

    async def run() -> None:
        assert (await _accept(door, api_id, "/nostage"))[0] == 403
        assert (await _accept(door, api_id, "/prod/more"))[0] == 403
        old = [(k, "8" if k == "sec-websocket-version" else v) for k, v in HANDSHAKE]
        assert (await _accept(door, api_id, headers=old))[0] == 426
        bad = [(k, "short" if k == "sec-websocket-key" else v) for k, v in HANDSHAKE]
        assert (await _accept(door, api_id, headers=bad))[0] == 400
        assert invoker.events == []

    asyncio.run(run())
    http_api = v2("CreateApi", {"Name": "h", "ProtocolType": "HTTP"})["ApiId"]
    assert door.claim("/prod", [("host", f"{http_api}.execute-api.us-east-1.localhost")]) is None


def test_new_connections_past_the_owners_rate_are_429(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$connect")
    door, invoker, _ = _door(gateway)
    door.rate = ConnectRate(per_second=2)

    async def run() -> None:
        assert callable(await _accept(door, api_id))
        assert callable(await _accept(door, api_id))
        refused = await _accept(door, api_id)
        assert refused[0] == 429
        assert json.loads(refused[2]) == {"message": "Too Many Requests"}

    asyncio.run(run())
    assert len(invoker.events) == 2  # the refused one's $connect did not run


def test_connect_decides_and_gets_the_connect_event(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$connect")
    door, invoker, policies = _door(gateway)

    async def run() -> None:
        policies.allow = False  # (what the policy says is remembered until it changes)
        assert (await _accept(door, api_id))[0] == 500
        assert invoker.events == []
        allowed, _, _ = _door(gateway)
        allowed.invoker = invoker
        invoker.answers["$connect"] = (b'{"statusCode": 401}', None)
        assert (await _accept(allowed, api_id))[0] == 401
        invoker.answers["$connect"] = (b'{"errorMessage": "x"}', "Unhandled")
        assert (await _accept(allowed, api_id))[0] == 502
        injected = b'{"headers": {"Sec-WebSocket-Protocol": "chat\\r\\nX-Injected: 1"}}'
        invoker.answers["$connect"] = (injected, None)
        _, transport = await _connected(allowed, api_id, written=True)
        assert b"X-Injected" not in bytes(transport.written)
        invoker.answers.clear()
        assert callable(await _accept(allowed, api_id))

    asyncio.run(run())
    event = invoker.events[-1]
    assert event["requestContext"]["eventType"] == "CONNECT"
    assert event["requestContext"]["identity"]["sourceIp"] == "192.0.2.7"
    assert event["queryStringParameters"] == {"a": "1"}
    assert (
        policies.asked[-1] == f"arn:aws:execute-api:us-east-1:111111111111:{api_id}/prod/$connect"
    )


def test_messages_are_routed_and_two_way_routes_answer(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$disconnect", "say", "ask", two_way="ask")
    door, invoker, policies = _door(gateway)
    invoker.answers["ask"] = (b'{"statusCode": 200, "body": "answer"}', None)
    invoker.answers["say"] = (b'{"statusCode": 200, "body": "kept"}', None)

    async def run() -> None:
        session, transport = await _connected(door, api_id)
        assert len(door.registry) == 1
        _send(session, '{"action": "say"}')
        await _settle()
        assert _received(transport) == []
        _send(session, '{"action": "ask"}')
        await _settle()
        assert _received(transport) == [TextMessage("answer")]
        _send(session, '{"action": "other"}')
        await _settle()
        (forbidden,) = _received(transport)
        assert json.loads(forbidden.data)["message"] == "Forbidden"
        invoker.answers["say"] = (b'{"errorMessage": "x"}', "Unhandled")
        _send(session, '{"action": "say"}')
        await _settle()
        (failed,) = _received(transport)
        assert json.loads(failed.data)["message"] == "Internal server error"
        assert session.is_open
        session.data_received(Connection(ConnectionType.CLIENT).send(CloseConnection(1001)))
        session.connection_lost(None)
        await _settle()
        assert len(door.registry) == 0

    asyncio.run(run())
    message = next(e for e in invoker.events if e["requestContext"]["routeKey"] == "ask")
    assert message["body"] == '{"action": "ask"}'
    assert message["requestContext"]["eventType"] == "MESSAGE"
    gone = invoker.events[-1]["requestContext"]
    assert (gone["eventType"], gone["disconnectStatusCode"]) == ("DISCONNECT", 1001)
    assert f"{api_id}/prod/ask" in policies.asked[-2]


def test_drain_closes_sessions_and_ends_their_messages_and_disconnects(
    gateway: ApiGateway, v2: Call
) -> None:
    api_id = _api(v2, "$disconnect", "say")
    door, invoker, _ = _door(gateway)
    invoker.hang = {"say", "$disconnect"}

    async def run() -> None:
        session, transport = await _connected(door, api_id)
        _send(session, '{"action": "say"}')
        await _settle()
        (message,) = session.tasks
        draining = asyncio.create_task(door.drain(grace=0.3))
        await _settle()
        assert _received(transport) == [CloseConnection(1001, "Going away")]
        session.connection_lost(None)  # the client went; its $disconnect hangs too
        await draining
        assert message.cancelled()
        assert not door._messages
        assert not door._disconnects
        assert [e["requestContext"]["eventType"] for e in invoker.events] == [
            "MESSAGE",
            "DISCONNECT",
        ]

    asyncio.run(run())


ALLOW = json.dumps({
    "principalId": "ada",
    "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}]},
    "context": {"team": "blue"},
}).encode()  # fmt: skip


def _authorized(v2: Call, api_id: str, **route: Any) -> None:
    (connect,) = [r for r in v2("GetRoutes", {"ApiId": api_id})["Items"]
                  if r["RouteKey"] == "$connect"]  # fmt: skip
    v2("UpdateRoute", {"ApiId": api_id, "RouteId": connect["RouteId"], **route})


def test_a_lambda_authorizer_on_connect(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$connect", "say")
    authorizer = v2("CreateAuthorizer", {
        "ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "a", "AuthorizerUri": ARN,
        "IdentitySource": ["route.request.querystring.a"],
    })["AuthorizerId"]  # fmt: skip
    _authorized(v2, api_id, AuthorizationType="CUSTOM", AuthorizerId=authorizer)
    door, invoker, policies = _door(gateway)

    async def run() -> None:
        invoker.answers["authorizer"] = (ALLOW.replace(b"Allow", b"Deny"), None)
        assert (await _accept(door, api_id))[0] == 403
        invoker.answers["authorizer"] = (b"nonsense", None)
        assert (await _accept(door, api_id))[0] == 500
        invoker.answers["authorizer"] = (ALLOW, None)
        session, _ = await _connected(door, api_id)
        _send(session, '{"action": "say"}')
        await _settle()

    asyncio.run(run())
    asked = invoker.events[0]
    assert asked["type"] == "REQUEST"
    assert (
        asked["methodArn"] == f"arn:aws:execute-api:us-east-1:111111111111:{api_id}/prod/$connect"
    )
    assert asked["queryStringParameters"] == {"a": "1"}
    assert f"{api_id}/authorizers/{authorizer}" in policies.asked[0]
    connect, message = invoker.events[-2:]
    for event in (connect, message):
        assert event["requestContext"]["authorizer"] == {"principalId": "ada", "team": "blue"}
    assert message["requestContext"]["eventType"] == "MESSAGE"


def test_a_lambda_authorizer_without_its_identity_is_401(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$connect")
    authorizer = v2("CreateAuthorizer", {
        "ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "a", "AuthorizerUri": ARN,
        "IdentitySource": ["route.request.header.Auth"],
    })["AuthorizerId"]  # fmt: skip
    _authorized(v2, api_id, AuthorizationType="CUSTOM", AuthorizerId=authorizer)
    door, invoker, _ = _door(gateway)
    assert asyncio.run(_accept(door, api_id))[0] == 401
    assert invoker.events == []


def test_aws_iam_on_connect(gateway: ApiGateway, v2: Call) -> None:
    api_id = _api(v2, "$connect")
    _authorized(v2, api_id, AuthorizationType="AWS_IAM")
    door, invoker, _ = _door(gateway)

    async def run() -> None:
        assert (await _accept(door, api_id))[0] == 403
        other = [*HANDSHAKE, ("authorization", "by-other")]
        assert (await _accept(door, api_id, headers=other))[0] == 403
        owner = [*HANDSHAKE, ("authorization", "by-owner")]
        assert callable(await _accept(door, api_id, headers=owner))

    asyncio.run(run())
    (connect,) = invoker.events
    assert connect["requestContext"]["identity"]["accountId"] == "111111111111"


def test_a_message_sent_with_the_upgrade_request_is_read_first(
    gateway: ApiGateway, v2: Call
) -> None:
    api_id = _api(v2, "ask", two_way="ask")
    door, invoker, _ = _door(gateway)
    invoker.answers["ask"] = (b'{"statusCode": 200, "body": "answer"}', None)

    async def run() -> None:
        takeover = await _accept(door, api_id)
        transport = Transport()
        frame = Connection(ConnectionType.CLIENT).send(TextMessage('{"action": "ask"}'))
        takeover(transport, frame, lambda: None)
        await _settle()
        written = bytes(transport.written)
        head, _, frames = written.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        client = Connection(ConnectionType.CLIENT)
        client.receive_data(frames)
        assert list(client.events()) == [TextMessage("answer")]

    asyncio.run(run())
