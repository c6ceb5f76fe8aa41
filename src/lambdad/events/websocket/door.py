"""The WebSocket API door: upgrades to a WebSocket API (an ``Upgrader`` for the API
port, model/upgrade.py), its connections' messages, and their ends.

An ``Upgrade: websocket`` request addressed to a WebSocket API (``Host``
``<api-id>.execute-api.<region>.localhost``, or the path ``/execute-api/<api-id>/``)
names the stage as its path (``/<stage>``, nothing after it; else 403 ``Forbidden``);
past 500 new connections a second for the API's owner, 429 (``connect_rate``).
The ``$connect`` route, when the stage has one, is authorized (``connect_auth``) and
its integration invoked with the CONNECT event while the upgrade waits: a refusal
(``answers.connect_verdict``: the function's status, or 502 when it failed; 500 when
it cannot be invoked) is answered; otherwise 101, and the connection is a
``Session``. Each message takes the route its ``RouteSelectionExpression`` selects
(``selection``), whose function gets the MESSAGE event; the end runs ``$disconnect``.
Functions are invoked through ``invoke/`` as
``Invoke`` does, only when their resource policy lets ``apigateway.amazonaws.com``
invoke them for ``arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/ROUTE_KEY``, and only in
the API's own account and region. A failing function fails its own message only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import AwsError
from lambdad.events.apigw import dispatch, http_stages
from lambdad.events.apigw import names as apigw_names
from lambdad.events.apigw.api_store import ApiStore, Found
from lambdad.events.apigw.gateway_access import ApiLookup, Permissions, ServicePolicies, as_sent
from lambdad.events.function_urls import SyncInvoker
from lambdad.events.http.request import event_json
from lambdad.events.url_cache import UrlCache
from lambdad.events.url_routing import LOOPBACK
from lambdad.events.websocket import answers, names, selection, ws_events
from lambdad.events.websocket.connect_auth import ConnectAuthorizer, Granted, Verifier
from lambdad.events.websocket.connect_rate import ConnectRate
from lambdad.events.websocket.control import is_websocket
from lambdad.events.websocket.registry import Live, Registry
from lambdad.events.websocket.session import Session
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.front_door import host_of
from lambdad.model.upgrade import Headers, Response, Takeover

log = logging.getLogger(__name__)

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_JSON: Final = [(b"content-type", b"application/json")]
FORBIDDEN: Final = (403, _JSON, b'{"message":"Forbidden"}')
TOO_MANY: Final = (429, _JSON, b'{"message":"Too Many Requests"}')
BAD_HANDSHAKE: Final = (400, _JSON, b'{"message":"Bad Request"}')
OLD_VERSION: Final = (
    426,
    [*_JSON, (b"sec-websocket-version", b"13")],
    b'{"message":"Upgrade Required"}',
)


class WebSocketDoor:
    def __init__(
        self,
        apis: ApiStore,
        invoker: SyncInvoker,
        policies: ServicePolicies,
        cache: UrlCache,
        clock: Clock,
        *,
        port: int,
        bounds: names.Bounds | None = None,
        verify: Verifier | None = None,
    ) -> None:
        self.apis = apis
        self.invoker = invoker
        self.policies = policies
        self.cache = cache
        self.clock = clock
        self.port = port
        self.bounds = bounds or names.Bounds()
        self.registry = Registry()
        self.auth = ConnectAuthorizer(self._ask, verify)
        self._lookup = ApiLookup(apis)
        self.rate = ConnectRate()
        self._rights = Permissions(policies, cache)
        self._disconnects: set[asyncio.Task[None]] = set()
        self._messages: set[asyncio.Task[Any]] = set()  # tasks in on_message

    def find(self, api_id: str, region: str | None) -> Found | None:
        """The WebSocket API with this id (in ``region`` when the host names one);
        remembered until the next control-plane write."""
        found = self._lookup.find(api_id)
        if found is None or not is_websocket(found.doc) or region not in (None, found.scope.region):
            return None
        return found

    # -- the upgrade (model.upgrade.Upgrader) ---------------------------------------------

    def claim(self, path: str, headers: Headers) -> apigw_names.ApiAddress | None:
        address = apigw_names.address(path, host_of(headers))
        if address is None or self.find(address.api_id, address.region) is None:
            return None
        return address

    async def accept(
        self,
        claim: apigw_names.ApiAddress,
        path: str,
        query: str,
        headers: Headers,
        client: str | None,
    ) -> Response | Takeover:
        key = _header(headers, "sec-websocket-key")
        if _header(headers, "sec-websocket-version") != "13":
            return OLD_VERSION
        if key is None or not _valid_key(key):
            return BAD_HANDSHAKE
        found = self.find(claim.api_id, claim.region)
        stage, rest = dispatch.split_stage(claim.raw_path)
        parts = _served(found, stage)
        if found is None or parts is None or rest != "/":
            return FORBIDDEN
        now = self.clock.now_ms()
        if not self.rate.take(found.scope, now):
            return TOO_MANY
        info = ws_events.ConnectionInfo(
            connection_id=names.new_id(),
            api_id=claim.api_id,
            stage=stage,
            domain=apigw_names.domain(claim.api_id, found.scope.region),
            port=self.port,
            connected_at=now,
            source_ip=client or LOOPBACK,
            user_agent=_header(headers, "user-agent"),
            headers=tuple(as_sent(headers)),
            query=query,
        )
        verdict = answers.ConnectVerdict(True)
        route = _route(parts, names.CONNECT)
        if route is not None:
            granted = await self.auth.check(found, route, info, path, headers, now)
            if not isinstance(granted, Granted):
                return granted
            info = dataclasses.replace(info, authorizer=granted.authorizer, signer=granted.identity)
        if route is not None and route.get("Target"):
            event = ws_events.connect_event(info, names.new_id(), now)
            result = await self._invoke(found, stage, parts, route, event)
            if result is None:
                return answers.INTERNAL
            offers = answers.offered(headers)
            verdict = answers.connect_verdict(result.payload, result.function_error, offers)
            if verdict.refusal is not None:
                return verdict.refusal

        def takeover(
            transport: asyncio.Transport, rest: bytes, gone: Callable[[], None]
        ) -> Session:
            transport.write(_switching(key, verdict.subprotocol))
            session = Session(transport, self, self.bounds, gone, label=info.connection_id)
            self.registry.add(Live(info, found.scope, session, self.clock.now_ms()))
            if rest:  # before anything read later (the transport resumes reading after)
                session.data_received(rest)
            return session

        return takeover

    # -- messages and ends (session.Handler) ------------------------------------------------

    async def on_message(self, session: Session, text: str) -> None:
        task = asyncio.current_task()
        if task is None:
            return await self._message(session, text)
        self._messages.add(task)
        try:
            await self._message(session, text)
        finally:
            self._messages.discard(task)

    async def drain(self, grace: float = 5.0) -> None:
        """At server shutdown, before the platform stops: the connections still open are
        closed (1001), their messages and ``$disconnect`` invocations are awaited for up
        to ``grace`` seconds, and those still running then are cancelled."""
        for session in self.registry.sessions():
            session.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline:
            # A closing connection's $disconnect starts once its client answers.
            pending = self._messages | self._disconnects
            if pending:
                await asyncio.wait(pending, timeout=min(0.1, deadline - loop.time()))
            elif self.registry:
                await asyncio.sleep(0.05)
            else:
                break
        pending = self._messages | self._disconnects
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _message(self, session: Session, text: str) -> None:
        live = self.registry.of(session.label)
        if live is None:
            return
        info = live.info
        live.last_active = self.clock.now_ms()
        request_id = names.new_id()
        found = self.find(info.api_id, None)
        parts = _served(found, info.stage)
        if found is None or parts is None:
            session.close(1001, "Going away")  # the API or its stage is gone
            return
        keys = [r["RouteKey"] for r in parts["Routes"].values()]
        keys = [k for k in keys if k not in (names.CONNECT, names.DISCONNECT)]
        expression = found.doc["Api"].get("RouteSelectionExpression", "")
        key = selection.select(expression, text, keys)
        route = _route(parts, key) if key is not None else None
        if route is None:
            _send(session, answers.error_message("Forbidden", info.connection_id, request_id))
            return
        now = self.clock.now_ms()
        event = ws_events.message_event(info, key or "", text, names.new_id(), request_id, now)
        result = await self._invoke(found, info.stage, parts, route, event)
        if result is None or result.function_error is not None:
            message = answers.error_message("Internal server error", info.connection_id, request_id)
            _send(session, message)
        elif answers.two_way(route):
            reply = answers.reply(result.payload)
            if reply is not None:
                _send(session, reply)

    def on_close(self, session: Session, code: int, reason: str) -> None:
        live = self.registry.remove(session.label)
        if live is None:
            return
        task = asyncio.get_running_loop().create_task(self._disconnect(live, code, reason))
        self._disconnects.add(task)
        task.add_done_callback(self._disconnects.discard)

    async def _disconnect(self, live: Live, code: int, reason: str) -> None:
        try:
            await self._run_disconnect(live, code, reason)
        except Exception as exc:  # the server may be stopping: said, not raised
            log.warning("API %s: $disconnect failed (%r)", live.info.api_id, exc)

    async def _run_disconnect(self, live: Live, code: int, reason: str) -> None:
        info = live.info
        found = self.find(info.api_id, None)
        parts = _served(found, info.stage)
        route = _route(parts, names.DISCONNECT) if parts is not None else None
        if found is None or parts is None or route is None:
            return
        event = ws_events.disconnect_event(info, names.new_id(), self.clock.now_ms(), code, reason)
        await self._invoke(found, info.stage, parts, route, event)

    # -- invoking -----------------------------------------------------------------------

    async def _invoke(
        self, found: Found, stage: str, parts: dict[str, Any], route: dict[str, Any], event: Any
    ) -> InvokeResponse | None:
        """The function's answer, or None when it cannot be invoked (no integration or
        function, no permission, throttled, failed to run)."""
        owner = found.scope
        integration = parts["Integrations"].get(
            (route.get("Target") or "").removeprefix("integrations/")
        )
        variables = found.doc["Stages"].get(stage, {}).get("StageVariables") or {}
        arn = apigw_names.source_arn(
            owner.region, owner.account, found.doc["ApiId"], stage, "", route["RouteKey"]
        )
        uri = integration["IntegrationUri"] if integration else ""
        return await self._call(found, uri, variables, arn, event)

    async def _ask(
        self, found: Found, uri: str, variables: Mapping[str, str], arn: str, event: Any
    ) -> bytes | None:
        """An authorizer's answer (None: it cannot be asked, or failed)."""
        result = await self._call(found, uri, variables, arn, event)
        return None if result is None or result.function_error else result.payload

    async def _call(
        self, found: Found, uri: str, variables: Mapping[str, str], arn: str, event: Any
    ) -> InvokeResponse | None:
        api_id, owner = found.doc["ApiId"], found.scope
        function = dispatch.function_of(uri, variables) if uri else None
        if function is None or not self._rights.may_invoke(found, function, arn):
            log.info("API %s cannot invoke a function for %s", api_id, arn)
            return None
        try:
            return await self.invoker.invoke(
                InvokeRequest(
                    scope=owner,
                    function_name=function.name,
                    qualifier=function.qualifier,
                    payload=event_json(event),
                    payload_is_json=True,
                )
            )
        except AwsError as error:
            log.info("API %s: invoking %s failed: %s", api_id, function.name, error)
            return None


def _served(found: Found | None, stage_name: str) -> dict[str, Any] | None:
    """The routes and integrations a stage of the API serves (None: no such stage, or
    nothing deployed to it)."""
    stage = found.doc["Stages"].get(stage_name) if found is not None else None
    if found is None or stage is None:
        return None
    return http_stages.served_parts(found.doc, stage)


def _send(session: Session, message: str | bytes) -> None:
    try:
        session.send(message)
    except Exception:  # gone or busy: the client hears nothing more
        log.debug("WebSocket connection %s: a reply was dropped", session.label)


def _route(parts: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((r for r in parts["Routes"].values() if r["RouteKey"] == key), None)


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k == name), None)


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _switching(key: str, subprotocol: str | None) -> bytes:
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + accept,
    ]
    if subprotocol:
        lines.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode("ascii"))  # a token
    return b"\r\n".join(lines) + b"\r\n\r\n"
